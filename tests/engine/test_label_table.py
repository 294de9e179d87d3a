"""Bring-your-own multi-label data: a folder or zip of images with a CSV of space-separated
labels (fastbook's PASCAL train.csv) loads as float multi-hot targets; every bad CSV gets one
message in the user's terms, naming the CSV by its own name, never a temporary path."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch

from engine.cli import main
from engine.config import DataConfig
from engine.datasets.loading import load_dataset
from engine.errors import DatasetError
from engine.label_table import MAX_TABLE_ROWS, label_set_text
from tests.engine import labelled_data
from tests.engine.labelled_data import CLASSES, LABEL_SETS


def _expected_targets(indices: list[int]) -> torch.Tensor:
    expected = torch.zeros((len(indices), len(CLASSES)))
    for row, index in enumerate(indices):
        for label in LABEL_SETS[index % len(LABEL_SETS)]:
            expected[row, CLASSES.index(label)] = 1.0
    return expected


@pytest.mark.parametrize("layout", ["folder", "zip"])
def test_a_pascal_style_set_loads_as_float_multi_hot_split_by_is_valid(tmp_path, layout):
    if layout == "folder":
        dataset = f"folder:{labelled_data.write_folder(tmp_path / 'pascal')}"
    else:
        (tmp_path / "pascal.zip").write_bytes(labelled_data.zip_bytes())
        dataset = f"zip:{tmp_path / 'pascal.zip'}"
    split = load_dataset(DataConfig(dataset=dataset))
    assert split.class_names == CLASSES
    assert split.image_shape == (3, 28, 28) and split.preprocess == "resize"
    train_rows = [i for i in range(48) if i % 4 != 3]
    valid_rows = [i for i in range(48) if i % 4 == 3]
    assert split.train.targets.dtype == torch.float32
    assert torch.equal(split.train.targets, _expected_targets(train_rows))
    assert torch.equal(split.valid.targets, _expected_targets(valid_rows))
    # An empty label list is allowed: an all-zero target, "none".
    assert int((split.train.targets.sum(dim=1) == 0).sum()) == sum(i % 6 == 0 for i in train_rows)
    # The cat block (red, top left) is where the CSV says: red in the images labelled cat.
    is_cat = split.train.targets[:, 0] == 1
    red_corner = split.train.images[:, 0, 1:8, 1:8].float().mean(dim=(1, 2))
    assert bool((red_corner[is_cat] > 180).all()) and bool((red_corner[~is_cat] < 150).all())


def test_without_is_valid_the_split_is_drawn_and_limit_applies(tmp_path):
    folder = labelled_data.write_folder(tmp_path / "pascal", with_valid=False)
    split = load_dataset(DataConfig(dataset=f"folder:{folder}", valid_fraction=0.25))
    assert (len(split.train), len(split.valid)) == (36, 12)
    limited = load_dataset(DataConfig(dataset=f"folder:{folder}", limit=20))
    assert len(limited.train) + len(limited.valid) == 20


def test_label_set_text_writes_labels_as_the_csv_does():
    assert label_set_text(torch.tensor([1.0, 0.0, 1.0]), CLASSES) == "cat person"
    assert label_set_text(torch.tensor([0.0, 0.0, 0.0]), CLASSES) == "none"


def test_an_unreadable_image_is_skipped_and_named(tmp_path):
    folder = labelled_data.write_folder(tmp_path / "pascal")
    (folder / "train" / "000004.png").write_bytes(b"not a picture")
    split = load_dataset(DataConfig(dataset=f"folder:{folder}"))
    assert len(split.train) + len(split.valid) == 47
    assert "000004.png" in split.warnings[0] and "skipped 1 image" in split.warnings[0]


def _zip_with(tmp_path: Path, csv: str | bytes, count: int = 12) -> str:
    path = tmp_path / "mine.zip"
    path.write_bytes(labelled_data.zip_bytes(count=count, csv=csv))
    return f"zip:{path}"


BAD_TABLES = {
    "wrong columns": (
        "file,tags\n000000.png,cat\n",
        r"train\.csv has no 'fname' or 'labels' column .*'file', 'tags'.*fname,labels",
    ),
    "labels column missing": ("fname\n000000.png\n", r"train\.csv has no 'labels' column"),
    "unknown file names": (
        "fname,labels\n000000.png,cat\n000001.png,dog\nghost.png,cat\nmissing.jpg,dog\n",
        r"train\.csv names 2 file\(s\) that are not in the dataset: 'ghost\.png' \(row 4\), "
        r"'missing\.jpg' \(row 5\)",
    ),
    "duplicate rows": (
        "fname,labels\n000000.png,cat\n000001.png,dog\n000000.png,dog\n",
        r"train\.csv lists '000000\.png' twice \(rows 2 and 4\)",
    ),
    "non-UTF-8": (
        "fname,labels\n000000.png,chat\n000001.png,caf\xe9\n".encode("latin-1"),
        r"train\.csv is not UTF-8 text \(byte 0xe9 on line 3\): save it as UTF-8",
    ),
    "labels with commas (quoted)": (
        'fname,labels\n000000.png,"cat,dog"\n000001.png,dog\n',
        r"train\.csv row 2: the labels 'cat,dog' contain a comma .* separate labels with spaces",
    ),
    "labels with commas (unquoted)": (
        "fname,labels\n000000.png,cat,dog\n000001.png,dog\n",
        r"train\.csv row 2 has 3 fields but the header has 2: separate the labels with spaces",
    ),
    "a bad is_valid": (
        "fname,labels,is_valid\n000000.png,cat,maybe\n000001.png,dog,False\n",
        r"train\.csv row 2: is_valid is 'maybe'; write True or False",
    ),
    "a single class": (
        "fname,labels\n000000.png,cat\n000001.png,cat\n",
        r"train\.csv names only 'cat': a classifier needs at least 2 classes",
    ),
    "empty": ("", r"train\.csv is empty"),
    "header only": ("fname,labels\n", r"train\.csv has a header but no rows"),
}


@pytest.mark.parametrize("case", list(BAD_TABLES))
def test_a_bad_csv_gets_one_clear_message_without_a_server_path(tmp_path, case):
    csv, message = BAD_TABLES[case]
    with pytest.raises(DatasetError, match=message) as caught:
        load_dataset(DataConfig(dataset=_zip_with(tmp_path, csv)))
    assert "lme-zip" not in str(caught.value) and str(tmp_path) not in str(caught.value)


@pytest.mark.slow
def test_a_table_of_100000_rows_is_refused_before_any_image_is_read(tmp_path):
    lines = ["fname,labels"] + [f"{i:06d}.png,cat dog" for i in range(100_000)]
    csv = "\n".join(lines) + "\n"
    with pytest.raises(DatasetError, match=r"lists 100,000 images, more than the 50,000") as caught:
        load_dataset(DataConfig(dataset=_zip_with(tmp_path, csv)))
    assert str(MAX_TABLE_ROWS) not in str(caught.value)  # written with separators: 50,000


def test_a_zip_without_class_folders_or_csv_names_both_layouts_not_a_temporary_path(tmp_path):
    path = tmp_path / "flat.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.png", labelled_data.image_bytes(("cat",), 0))
        archive.writestr("b.png", labelled_data.image_bytes(("dog",), 1))
    with pytest.raises(DatasetError) as caught:
        load_dataset(DataConfig(dataset=f"zip:{path}"))
    message = str(caught.value)
    assert message.startswith("flat.zip has 0 class sub-folder(s)")
    assert "fname,labels" in message and "/tmp" not in message.replace(str(path), "")


@pytest.mark.slow
def test_the_cli_trains_a_csv_zip_and_analyze_json_reads_it(tmp_path, capsys):
    archive = tmp_path / "pascal.zip"
    archive.write_bytes(labelled_data.zip_bytes(count=48))
    runs = str(tmp_path / "runs")
    common = ["--runs-dir", runs]
    status = main(
        ["train", "--dataset", f"zip:{archive}", "--epochs", "2", "--batch-size", "16"]
        + ["--device", "cpu", "--cpu-threads", "1", "--quiet", *common]
    )
    assert status == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1].removeprefix("run: ")
    assert main(["analyze", run_id, "--json", *common]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["class_names"] == list(CLASSES) and report["count"] == 12
    assert report["mode"] == "multi-label"
    assert {"a", "b", "strength"} <= set(report["pairs"][0])
