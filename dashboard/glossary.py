"""fastai beside PyTorch: the one line that names each concept the way fastai (and fastbook's
chapter 6) names it, so a reader coming from the forum can map the app onto their code.

Pages show these with `st.caption(glossary.FASTAI[concept])`; the texts are ours, not user
input, so Markdown is safe here.
"""

from __future__ import annotations

FASTAI = {
    "targets": "fastai: `CategoryBlock` gives class indices, `MultiCategoryBlock` gives one-hot "
    "vectors (fastai v1: `label_cls=MultiCategoryList`). The labels change, not the model.",
    "loss": "fastai: `CrossEntropyLossFlat` (softmax + cross-entropy) and "
    "`BCEWithLogitsLossFlat` (a sigmoid per class + binary cross-entropy). Both flatten input "
    "and target first: that is why the forum's error counts 640 = 64 × 10 inputs.",
    "metrics": "fastai: `accuracy` (argmax, one winner) and `accuracy_multi(thresh=0.5)` (each "
    "sigmoid against the threshold, averaged over every image-class decision).",
    "head": "fastai: the head is `learn.model[-1]`; `vision_learner(dls, arch)` builds it with "
    "one output per class of `dls.vocab`, as `reset_classifier(model, K)` does here.",
    "bce": "`BCELoss` wants probabilities (you apply `torch.sigmoid` first); "
    "`BCEWithLogitsLoss` takes the logits and does sigmoid + binary cross-entropy in one "
    "numerically stable function, so use it. PyTorch combines the sigmoid and the loss, not "
    "the FC layer and the loss: the model still ends in its `Linear` head.",
    "threshold": "fastai: `accuracy_multi(thresh=...)`; fastbook picks `thresh` by plotting "
    "accuracy_multi against the threshold on the validation set, as this chart does.",
    "data": "fastai: `DataBlock(blocks=(ImageBlock, MultiCategoryBlock), get_x=..., "
    "get_y=ColSplitter...)` reads the same CSV; here `fname,labels[,is_valid]` is enough.",
}
