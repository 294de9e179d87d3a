"""Datasets: the shipped mnist-5k, splits, limits, non-digits, two-digits, torchvision's real
file formats (IDX and CIFAR pickles, written here in miniature), image folders and zips."""

import gzip
import hashlib
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image

from engine.config import DataConfig
from engine.datasets import shipped, two_digits
from engine.datasets.loading import load_dataset
from engine.datasets.none_examples import NON_DIGIT_TRAIN_SEED
from engine.datasets.registry import DIGIT_CLASSES, available_datasets, default_data_root
from engine.datasets.splitting import stratified_split
from engine.datasets.two_digits import make_two_digits
from engine.errors import DatasetError, LabelShapeError
from engine.labels import to_multi_class
from engine.nondigits import make_non_digits

# --- catalogue and data root --------------------------------------------------------------


def test_available_datasets_offline_default_first():
    infos = available_datasets()
    assert [info.name for info in infos] == [
        "mnist-5k",
        "two-digits",
        "mnist",
        "fashion-mnist",
        "kmnist",
        "cifar10",
    ]
    offline = {info.name for info in infos if info.offline}
    assert offline == {"mnist-5k", "two-digits", "mnist"}
    assert {info.name: info.preprocess for info in infos}["cifar10"] == "resize"
    assert {info.name: info.preprocess for info in infos}["mnist"] == "digit"


def test_default_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LME_DATA_DIR", str(tmp_path / "data"))
    assert default_data_root() == tmp_path / "data"
    monkeypatch.delenv("LME_DATA_DIR")
    assert default_data_root() == Path.home() / ".cache" / "label-mode-explorer"


def test_unknown_dataset_names_the_choices():
    with pytest.raises(DatasetError, match="unknown dataset 'mnist-6k'.*mnist-5k.*folder:PATH"):
        load_dataset(DataConfig(dataset="mnist-6k"))


# --- mnist-5k -----------------------------------------------------------------------------


def test_shipped_file_is_the_one_the_readme_records():
    path = shipped.MNIST_5K_PATH
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    readme = (path.parent / "README.md").read_text()
    assert digest in readme
    assert path.stat().st_size < 2_000_000
    with np.load(path, allow_pickle=False) as archive:
        assert archive["images"].shape == (5000, 28, 28) and archive["images"].dtype == np.uint8
        assert np.bincount(archive["labels"]).tolist() == [500] * 10


def test_mnist_5k_is_a_fixed_stratified_4000_1000_split():
    split = load_dataset(DataConfig())
    assert split.name == "mnist-5k" and split.preprocess == "digit"
    assert split.class_names == DIGIT_CLASSES and split.image_shape == (1, 28, 28)
    assert split.train.images.shape == (4000, 1, 28, 28) and split.valid.images.shape == (
        1000,
        1,
        28,
        28,
    )
    assert split.train.images.dtype == torch.uint8 and split.train.targets.dtype == torch.int64
    assert torch.bincount(split.train.targets).tolist() == [400] * 10
    assert torch.bincount(split.valid.targets).tolist() == [100] * 10
    assert int(split.train.images.max()) == 255 and split.warnings == ()
    # train and validation hold different images, and together all 5,000
    _, _, train, valid = shipped.mnist_5k_arrays()
    assert sorted(torch.cat([train, valid]).tolist()) == list(range(5000))


def test_mnist_5k_split_ignores_the_config_and_copies_are_safe_to_change():
    first = load_dataset(DataConfig())
    other = load_dataset(DataConfig(valid_fraction=0.5, split_seed=123))
    assert torch.equal(first.valid.images, other.valid.images)
    assert torch.equal(first.train.targets, other.train.targets)
    first.train.images.zero_()  # a caller scribbling on its copy
    assert int(load_dataset(DataConfig()).train.images.sum()) > 0


def test_limit_keeps_a_stratified_proportional_subset():
    split = load_dataset(DataConfig(limit=100))
    assert (len(split.train), len(split.valid)) == (80, 20)
    assert torch.bincount(split.train.targets).tolist() == [8] * 10
    assert torch.bincount(split.valid.targets).tolist() == [2] * 10
    again = load_dataset(DataConfig(limit=100))
    assert torch.equal(split.train.images, again.train.images)
    with pytest.raises(DatasetError, match="limit must be at least 2"):
        load_dataset(DataConfig(limit=1))


# --- stratified_split ---------------------------------------------------------------------


def test_stratified_split_exact_per_class_counts():
    targets = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    train, valid = stratified_split(targets, 0.2, seed=0)
    assert torch.bincount(targets[valid]).tolist() == [10, 6, 4]
    assert torch.bincount(targets[train]).tolist() == [40, 24, 16]
    assert sorted(torch.cat([train, valid]).tolist()) == list(range(100))
    assert torch.equal(train, train.sort().values)


def test_stratified_split_largest_remainder_keeps_the_total():
    targets = torch.tensor([0] * 7 + [1] * 7 + [2] * 7)  # 21 * 0.3 = 6.3 -> 6
    _, valid = stratified_split(targets, 0.3, seed=1)
    assert len(valid) == 6
    assert torch.bincount(targets[valid]).tolist() == [2, 2, 2]


def test_stratified_split_is_seeded():
    targets = torch.arange(200) % 4
    assert torch.equal(stratified_split(targets, 0.25, 3)[1], stratified_split(targets, 0.25, 3)[1])
    assert not torch.equal(
        stratified_split(targets, 0.25, 3)[1], stratified_split(targets, 0.25, 4)[1]
    )


def test_stratified_split_of_multi_hot_targets_and_bad_fractions():
    targets = torch.zeros(40, 3)
    targets[:20, 0] = 1
    targets[20:30, 1] = 1  # rows 30-39 are "none"
    _, valid = stratified_split(targets, 0.5, seed=0)
    assert (valid < 20).sum() == 10 and ((valid >= 20) & (valid < 30)).sum() == 5
    with pytest.raises(DatasetError, match="strictly between 0 and 1"):
        stratified_split(targets, 1.0, seed=0)
    with pytest.raises(DatasetError, match="at least 2 images"):
        stratified_split(torch.tensor([0]), 0.5, seed=0)


# --- non-digits added to training ----------------------------------------------------------


def test_none_examples_append_all_zero_targets_to_training_only():
    plain = load_dataset(DataConfig(limit=200))
    split = load_dataset(DataConfig(limit=200, none_examples=30))
    assert len(split.train) == len(plain.train) + 30 and len(split.valid) == len(plain.valid)
    assert split.train.targets.dtype == torch.float32 and split.train.targets.shape == (190, 10)
    assert torch.equal(split.train.targets[:160].argmax(dim=1), plain.train.targets)
    assert torch.equal(split.train.targets[:160].sum(dim=1), torch.ones(160))
    assert int(split.train.targets[160:].abs().sum()) == 0
    expected, _ = make_non_digits(30, seed=NON_DIGIT_TRAIN_SEED)
    assert torch.equal(split.train.images[160:], expected)
    assert split.valid.targets.dtype == torch.int64  # validation stays digits only
    with pytest.raises(LabelShapeError, match="'multi-label' mode"):
        to_multi_class(split.train.targets)


# --- two-digits ---------------------------------------------------------------------------


def _block_digits(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fake digits: class k is a uniform block of brightness 20 * (k + 1)."""
    labels = torch.arange(count) % 10
    images = torch.zeros((count, 1, 28, 28), dtype=torch.uint8)
    for index, label in enumerate(labels.tolist()):
        images[index, 0, 6:22, 9:19] = 20 * (label + 1)
    return images, labels


def test_two_digits_targets_are_exactly_the_digits_drawn():
    images, labels = _block_digits(50)
    pairs, targets = make_two_digits(images, labels, 200, seed=0)
    assert pairs.shape == (200, 1, 28, 28) and pairs.dtype == torch.uint8
    assert targets.shape == (200, 10) and targets.dtype == torch.float32
    left = pairs[:, 0, :, :14].flatten(1).max(dim=1).values // 20 - 1
    right = pairs[:, 0, :, 14:].flatten(1).max(dim=1).values // 20 - 1
    assert bool((left != right).all())
    expected = torch.zeros(200, 10)
    expected[torch.arange(200), left.long()] = 1
    expected[torch.arange(200), right.long()] = 1
    assert torch.equal(targets, expected)
    # each digit fits its half: a blank column between them, rows 4-23 only
    assert int(pairs[:, 0, :4].sum() + pairs[:, 0, 24:].sum()) == 0
    assert torch.equal(make_two_digits(images, labels, 200, seed=0)[0], pairs)


@pytest.mark.slow
def test_two_digits_dataset_is_multi_label_and_does_not_leak():
    split = load_dataset(DataConfig(dataset="two-digits"))
    assert (len(split.train), len(split.valid)) == (4000, 1000)
    assert split.image_shape == (1, 28, 28) and split.class_names == DIGIT_CLASSES
    assert split.preprocess == "digit-pair"  # uploads are laid out as the pairs were built
    assert torch.equal(split.train.targets.sum(dim=1), torch.full((4000,), 2.0))
    assert int(split.valid.targets.sum(dim=0).min()) > 50  # every digit appears often
    # every validation half is a validation digit of mnist-5k, never a training one
    images, _, train, valid = shipped.mnist_5k_arrays()
    valid_tiles = {bytes(tile.numpy()) for tile in two_digits.digit_tiles(images[valid])}
    train_tiles = {bytes(tile.numpy()) for tile in two_digits.digit_tiles(images[train])}
    halves = [split.valid.images[:, 0, 4:24, :14], split.valid.images[:, 0, 4:24, 14:]]
    for half in halves:
        found = [bytes(tile.numpy()) in valid_tiles for tile in half]
        assert all(found)
        assert not any(bytes(tile.numpy()) in train_tiles - valid_tiles for tile in half)
    with pytest.raises(LabelShapeError, match="'multi-label' mode"):
        to_multi_class(split.train.targets)


# --- torchvision: MNIST family in IDX files -------------------------------------------------


def _write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format: 0, 0, type 0x08 (ubyte), number of dimensions, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_mnist_like(root: Path, class_name: str, per_class: int = 3) -> np.ndarray:
    """Train images whose pixel (0, 0) is the index, (1, 1) the label; returns the labels."""
    raw = root / class_name / "raw"
    raw.mkdir(parents=True)
    for part, count in (("train", per_class * 10), ("t10k", 10)):
        labels = np.arange(count) % 10
        images = np.zeros((count, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(count)
        images[:, 1, 1] = labels
        images[:, 14, 14] = 200
        _write_idx(raw / f"{part}-images-idx3-ubyte", images)
        _write_idx(raw / f"{part}-labels-idx1-ubyte", labels)
    return labels


@pytest.mark.parametrize(
    ("name", "class_name", "first_class"),
    [
        ("fashion-mnist", "FashionMNIST", "T-shirt/top"),
        ("kmnist", "KMNIST", "o"),
    ],
)
def test_mnist_family_reads_idx_files_through_torchvision(tmp_path, name, class_name, first_class):
    _write_mnist_like(tmp_path, class_name)
    calls = []
    config = DataConfig(dataset=name, root=str(tmp_path), valid_fraction=0.2, split_seed=0)
    split = load_dataset(config, progress=lambda message, fraction: calls.append(fraction))
    assert split.name == name and split.preprocess == "digit"
    assert split.class_names[0] == first_class and split.num_classes == 10
    assert (len(split.train), len(split.valid)) == (24, 6)
    assert split.train.images.dtype == torch.uint8 and split.image_shape == (1, 28, 28)
    everything = torch.cat([split.train.images, split.valid.images])
    labels = torch.cat([split.train.targets, split.valid.targets])
    assert sorted(everything[:, 0, 0, 0].tolist()) == list(range(30))  # the train file, all of it
    assert torch.equal(everything[:, 0, 1, 1].long(), labels)  # each image kept its label
    assert bool((everything[:, 0, 14, 14] == 200).all())
    assert bool((torch.bincount(split.valid.targets, minlength=10) <= 1).all())
    assert calls[-1] == 1.0 and all(0.0 <= value <= 1.0 for value in calls)


def test_mnist_trains_on_its_training_file_and_validates_on_its_test_file(tmp_path):
    """A copy already in the data root (here: small IDX files) is read as it is."""
    _write_mnist_like(tmp_path, "MNIST", per_class=3)
    calls = []
    split = load_dataset(
        DataConfig(dataset="mnist", root=str(tmp_path), split_seed=5),
        progress=lambda message, fraction: calls.append(fraction),
    )
    assert split.name == "mnist" and split.preprocess == "digit"
    assert split.class_names == DIGIT_CLASSES
    assert split.train.images[:, 0, 0, 0].tolist() == list(range(30))  # all 30, in order
    assert split.valid.images[:, 0, 0, 0].tolist() == list(range(10))  # the t10k file
    assert torch.equal(split.valid.images[:, 0, 1, 1].long(), split.valid.targets)
    assert calls[-1] == 1.0
    limited = load_dataset(DataConfig(dataset="mnist", root=str(tmp_path), limit=20))
    assert (len(limited.train), len(limited.valid)) == (15, 5)


def test_the_full_mnist_is_shipped_with_its_recorded_digests():
    assets = shipped.MNIST_ASSETS
    assert sorted(p.name for p in assets.iterdir() if p.suffix == ".gz") == sorted(
        f"{name}.gz" for name in shipped.MNIST_FILES
    )
    readme = (assets.parent / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme
    for name, digest in shipped.MNIST_FILES.items():
        assert digest in readme
        assert (
            hashlib.sha256(gzip.decompress((assets / f"{name}.gz").read_bytes())).hexdigest()
            == digest
        )


def _small_shipped_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A small stand-in for the shipped MNIST, with its own digests, keeps the tests fast:
    60 training and 10 test digits, image i's pixel (0, 0) is i and pixel (1, 1) its label."""
    small = tmp_path / "assets"
    small.mkdir()
    digests = {}
    for name in shipped.MNIST_FILES:
        count = 60 if name.startswith("train") else 10
        labels = np.arange(count) % 10
        if "images" in name:
            array = np.zeros((count, 28, 28), dtype=np.uint8)
            array[:, 0, 0] = np.arange(count)
            array[:, 1, 1] = labels
        else:
            array = labels
        _write_idx(tmp_path / name, array)
        raw = (tmp_path / name).read_bytes()
        (small / f"{name}.gz").write_bytes(gzip.compress(raw))
        digests[name] = hashlib.sha256(raw).hexdigest()
    monkeypatch.setattr(shipped, "MNIST_ASSETS", small)
    monkeypatch.setattr(shipped, "MNIST_FILES", digests)
    return digests


def test_mnist_is_extracted_offline_on_first_use(tmp_path, monkeypatch):
    """The shipped files are checked by sha256 and renamed into place."""
    digests = _small_shipped_mnist(tmp_path, monkeypatch)
    small = tmp_path / "assets"
    root = tmp_path / "root"
    split = load_dataset(DataConfig(dataset="mnist", root=str(root)))
    assert (len(split.train), len(split.valid)) == (60, 10)
    assert torch.equal(split.valid.images[:, 0, 1, 1].long(), split.valid.targets)
    raw_dir = root / "MNIST" / "raw"
    assert sorted(p.name for p in raw_dir.iterdir()) == sorted(digests)  # no temporary left
    # Read again: nothing to extract, the same images
    (small / "train-images-idx3-ubyte.gz").unlink()
    again = load_dataset(DataConfig(dataset="mnist", root=str(root)))
    assert torch.equal(again.train.images, split.train.images)


def test_each_extracted_mnist_file_is_fsynced_before_its_rename(tmp_path, monkeypatch):
    """A power cut after the rename must not leave an empty or half-written file in place."""
    digests = _small_shipped_mnist(tmp_path, monkeypatch)
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append("fsync")
        real_fsync(descriptor)

    def replace(source: str, destination: str) -> None:
        events.append(f"rename {Path(destination).name}")
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    raw = shipped.install_shipped_mnist(tmp_path / "root")
    renames = [index for index, event in enumerate(events) if event.startswith("rename")]
    assert sorted(events[index].removeprefix("rename ") for index in renames) == sorted(digests)
    assert all(events[index - 1] == "fsync" for index in renames)
    assert sorted(path.name for path in raw.iterdir()) == sorted(digests)


def test_a_damaged_shipped_mnist_file_is_refused_and_not_installed(tmp_path, monkeypatch):
    small = tmp_path / "assets"
    small.mkdir()
    for name in shipped.MNIST_FILES:
        (small / f"{name}.gz").write_bytes(gzip.compress(b"not mnist"))
    monkeypatch.setattr(shipped, "MNIST_ASSETS", small)
    with pytest.raises(DatasetError, match="damaged .sha256 mismatch.: reinstall"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path / "root")))
    assert list((tmp_path / "root" / "MNIST" / "raw").iterdir()) == []


def test_missing_mnist_offline_says_where_to_put_the_files(tmp_path):
    with pytest.raises(DatasetError) as caught:
        load_dataset(DataConfig(dataset="fashion-mnist", root=str(tmp_path)))
    message = str(caught.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert "download" in message


def test_data_root_comes_from_the_environment(tmp_path, monkeypatch):
    _write_mnist_like(tmp_path, "KMNIST")
    monkeypatch.setenv("LME_DATA_DIR", str(tmp_path))
    assert len(load_dataset(DataConfig(dataset="kmnist")).train) == 24


# --- torchvision: CIFAR-10 pickle batches ---------------------------------------------------


def _write_cifar(root: Path, monkeypatch, per_batch: int = 10) -> None:
    """Five train batches and a test batch in CIFAR's python format; torchvision checks the
    md5 of each file against the official ones, so the test points it at these files' md5s."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def dump(name: str, content: dict) -> list[str]:
        (folder / name).write_bytes(pickle.dumps(content))
        return [name, hashlib.md5((folder / name).read_bytes()).hexdigest()]

    train_list = []
    for batch in range(5):
        labels = [(batch * per_batch + i) % 10 for i in range(per_batch)]
        pixels = np.zeros((per_batch, 3, 32, 32), dtype=np.uint8)
        pixels[:, 0] = 10  # red plane
        pixels[:, 1] = 20  # green plane
        pixels[:, 2, 0, 0] = np.array(labels) * 10  # blue corner codes the label
        train_list.append(
            dump(
                f"data_batch_{batch + 1}", {"data": pixels.reshape(per_batch, -1), "labels": labels}
            )
        )
    test_list = [dump("test_batch", {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]})]
    names = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    _, meta_md5 = dump("batches.meta", {"label_names": names})
    cifar = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cifar, "train_list", train_list)
    monkeypatch.setattr(cifar, "test_list", test_list)
    monkeypatch.setattr(cifar, "meta", {**cifar.meta, "md5": meta_md5})


def test_cifar10_reads_pickle_batches_through_torchvision(tmp_path, monkeypatch):
    _write_cifar(tmp_path, monkeypatch)
    split = load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path), valid_fraction=0.2))
    assert split.preprocess == "resize" and split.image_shape == (3, 32, 32)
    assert split.class_names[:3] == ("airplane", "automobile", "bird")
    assert (len(split.train), len(split.valid)) == (40, 10)
    assert torch.bincount(split.valid.targets).tolist() == [1] * 10
    images = torch.cat([split.train.images, split.valid.images])
    labels = torch.cat([split.train.targets, split.valid.targets])
    assert bool((images[:, 0] == 10).all()) and bool((images[:, 1, 5, 5] == 20).all())
    assert torch.equal(images[:, 2, 0, 0].long(), labels * 10)  # channels in NCHW order


def test_missing_cifar_offline_says_where_to_put_the_files(tmp_path):
    with pytest.raises(DatasetError, match="cifar-10-batches-py.*data_batch_1.*download"):
        load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path)))


# --- image folders and zips -----------------------------------------------------------------


def _png(value, size=(8, 8), mode="L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, value).save(buffer, format="PNG")
    return buffer.getvalue()


def _class_folders(root: Path, mode="L", size=(8, 8)) -> Path:
    """zebra/ holds 4 images of brightness 200, ant/ 4 of brightness 50, plus a stray text."""
    for name, value in (("zebra", 200), ("ant", 50)):
        (root / name).mkdir(parents=True)
        for i in range(4):
            colour = value if mode == "L" else (value, value, value)
            (root / name / f"{i}.png").write_bytes(_png(colour, size, mode))
    (root / "zebra" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return root


def test_folder_classes_are_sorted_folder_names_with_known_pixels(tmp_path):
    folder = _class_folders(tmp_path / "pets")
    calls = []
    config = DataConfig(dataset=f"folder:{folder}", valid_fraction=0.25)
    split = load_dataset(config, progress=lambda message, fraction: calls.append(message))
    assert calls[0] == "reading images 0/9" and calls[-1] == "dataset ready"
    assert split.class_names == ("ant", "zebra") and split.preprocess == "resize"
    assert split.image_shape == (1, 28, 28)  # small grayscale images -> 28x28, one channel
    assert (len(split.train), len(split.valid)) == (6, 2)
    assert torch.bincount(split.valid.targets).tolist() == [1, 1]
    for part in (split.train, split.valid):
        brightness = part.images.flatten(1).float().mean(dim=1)
        assert torch.equal(brightness, torch.where(part.targets == 0, 50.0, 200.0))
    assert len(split.warnings) == 1 and "1 file" in split.warnings[0]
    assert "zebra/notes.txt" in split.warnings[0]


def test_folder_of_large_colour_images_is_rgb_64(tmp_path):
    folder = _class_folders(tmp_path / "big", mode="RGB", size=(40, 30))
    (folder / "ant" / "red.png").write_bytes(_png((255, 0, 0), (40, 30), "RGB"))
    split = load_dataset(DataConfig(dataset=f"folder:{folder}", valid_fraction=0.25))
    assert split.image_shape == (3, 64, 64)
    images = torch.cat([split.train.images, split.valid.images])
    red = images[(images[:, 1] == 0).flatten(1).all(dim=1)]
    assert len(red) == 1 and bool((red[:, 0] == 255).all())
    grown = load_dataset(
        DataConfig(dataset=f"folder:{folder}", valid_fraction=0.25, none_examples=3)
    )
    extra = grown.train.images[len(split.train) :]
    assert extra.shape == (3, 3, 64, 64)  # non-digits drawn at the data's size, in 3 channels
    assert torch.equal(extra[:, 0], extra[:, 2]) and int(extra[2].max()) > 100
    assert grown.train.targets.shape == (len(split.train) + 3, 2)


def test_gray_content_saved_as_rgb_stays_one_channel(tmp_path):
    folder = _class_folders(tmp_path / "grey", mode="RGB")
    assert load_dataset(DataConfig(dataset=f"folder:{folder}")).image_shape == (1, 28, 28)


def test_folder_errors_say_what_to_fix(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(DataConfig(dataset=f"folder:{tmp_path / 'nowhere'}"))
    single = tmp_path / "single"
    (single / "only").mkdir(parents=True)
    (single / "only" / "a.png").write_bytes(_png(9))
    with pytest.raises(DatasetError, match="at least 2 classes"):
        load_dataset(DataConfig(dataset=f"folder:{single}"))
    empty = _class_folders(tmp_path / "empty")
    (empty / "yak").mkdir()
    (empty / "yak" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DatasetError, match="yak .*hold no readable images"):
        load_dataset(DataConfig(dataset=f"folder:{empty}"))
    junk = tmp_path / "junk"
    for name in ("a", "b"):
        (junk / name).mkdir(parents=True)
        (junk / name / "x.txt").write_text("text")
    with pytest.raises(DatasetError, match="no readable images"):
        load_dataset(DataConfig(dataset=f"folder:{junk}"))


def test_zip_of_class_folders_loads_like_the_folder(tmp_path):
    folder = _class_folders(tmp_path / "pets")
    archive = tmp_path / "pets.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                bundle.write(file, file.relative_to(folder).as_posix())
    from_zip = load_dataset(DataConfig(dataset=f"zip:{archive}", valid_fraction=0.25))
    from_folder = load_dataset(DataConfig(dataset=f"folder:{folder}", valid_fraction=0.25))
    assert from_zip.class_names == ("ant", "zebra") and from_zip.name == f"zip:{archive}"
    assert torch.equal(from_zip.train.images, from_folder.train.images)
    assert torch.equal(from_zip.valid.targets, from_folder.valid.targets)
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(DataConfig(dataset=f"zip:{tmp_path / 'missing.zip'}"))
