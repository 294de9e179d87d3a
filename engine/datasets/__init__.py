"""Datasets: every source comes back as uint8 image tensors, targets and class names, with a
seeded, stratified train/validation split. Label modes, models and training live elsewhere.

One module per concept:
- `registry`: one row per built-in dataset (name, title, offline or not, how it loads), the
  data root and the class limit; torch-free, so listing datasets stays instant.
- `dataset`: `ImageDataset` and `DatasetSplit`, what every loader returns.
- `loading`: `load_dataset`, which picks the loader a name asks for, then limits the split and
  adds non-digits as the config says.
- `shipped`: mnist-5k and the full MNIST, both shipped in engine/assets.
- `two_digits`: the multi-label pairs built from mnist-5k (`make_two_digits`).
- `none_examples`: generated non-digits appended to training (`add_non_digits`).
- `torchvision_sets`: torchvision's classes reading their official files.
- `folders`: image folders, label tables and zips.
- `splitting`: the stratified split and pick, and the `limit` of a split.

Nothing is re-exported here, so importing `engine.datasets.registry` never loads torch; the
public names are exported by `engine` itself.
"""
