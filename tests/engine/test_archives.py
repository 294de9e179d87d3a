"""Safe extraction of uploaded zips: every archive of the bad-input corpus, the limits, and
nothing written outside the destination, even when extraction fails half-way."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

import engine.archives as archives
from engine.archives import MAX_ARCHIVE_BYTES, MAX_ARCHIVE_MEMBERS, extract_zip
from engine.config import DataConfig
from engine.datasets.loading import load_dataset
from engine.errors import ArchiveError, DatasetError
from tests.engine.bad_inputs import (
    ARCHIVE_CASES,
    BadInput,
    digit_png,
    good_archive,
    traversal_archive,
    two_classes,
    wrapped_archive,
    zip_bomb,
    zip_of,
)

REFUSED_ON_EXTRACTION = [case for case in ARCHIVE_CASES if case.stage == "extract"]
REFUSED_AS_DATASET = [c for c in ARCHIVE_CASES if c.stage == "dataset" and c.error is not None]


def everything_under(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def test_corpus_has_the_archives_issue_6_lists() -> None:
    names = {case.case for case in ARCHIVE_CASES}
    for needed in (
        "zip-traversal", "zip-absolute-path", "zip-symlink", "zip-bomb", "zip-too-many-members",
        "zip-empty-class-folder", "zip-single-class", "zip-corrupt",
    ):  # fmt: skip
        assert needed in names


@pytest.mark.parametrize("case", REFUSED_ON_EXTRACTION, ids=lambda case: case.case)
def test_unsafe_or_broken_archive_is_refused_and_leaves_nothing(
    case: BadInput, tmp_path: Path
) -> None:
    destination = tmp_path / "upload" / "extracted"
    with pytest.raises(ArchiveError, match=re.escape(case.error)):
        extract_zip(case.data, destination)
    assert everything_under(tmp_path) == []  # not even the folders it created
    assert not Path("/tmp/lme-absolute.png").exists()


def test_failure_leaves_an_existing_destination_empty_and_in_place(tmp_path: Path) -> None:
    destination = tmp_path / "extracted"
    destination.mkdir()
    with pytest.raises(ArchiveError, match="escapes the target folder"):
        extract_zip(traversal_archive(), destination)
    assert destination.is_dir() and everything_under(tmp_path) == ["extracted"]


def test_a_file_on_disk_is_named_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "escape.zip"
    path.write_bytes(traversal_archive())
    with pytest.raises(ArchiveError, match=r"^escape\.zip holds '\.\./escaped\.png', a path"):
        extract_zip(path, tmp_path / "out")
    with pytest.raises(ArchiveError, match="does not exist"):
        extract_zip(tmp_path / "missing.zip", tmp_path / "out")


def test_zip_bomb_is_refused_from_its_declared_size_without_expanding(tmp_path: Path) -> None:
    bomb = zip_bomb()
    assert len(bomb) < 400_000  # 300 MB of zeros
    with pytest.raises(ArchiveError, match="declares 300 MB"):
        extract_zip(bomb, tmp_path / "out")
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written == []  # refused before a single member was expanded


def test_bytes_written_are_counted_while_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Declared sizes can lie: even with the declared-size check out of the way, extraction
    stops at the limit and removes what it wrote."""
    checked = archives._checked_members

    def trusting(zip_file, label, max_members, max_bytes):
        return checked(zip_file, label, max_members, max_bytes=10**12)

    monkeypatch.setattr(archives, "_checked_members", trusting)
    big = zip_of({"1/a.bin": bytes(3000), "7/b.bin": bytes(3000)})
    with pytest.raises(
        ArchiveError, match=r"expands to more than 4,000 bytes \(while extracting\)"
    ):
        extract_zip(big, tmp_path / "out", max_bytes=4000)
    assert everything_under(tmp_path) == []


def test_member_limit_counts_every_entry(tmp_path: Path) -> None:
    assert MAX_ARCHIVE_MEMBERS == 20_000 and MAX_ARCHIVE_BYTES == 200 * 1024 * 1024
    members = two_classes(count=3)  # 6 files
    with pytest.raises(ArchiveError, match="holds 6 entries, more than the limit of 5 files"):
        extract_zip(zip_of(members), tmp_path / "a", max_members=5)
    assert extract_zip(zip_of(members), tmp_path / "b", max_members=6) == tmp_path / "b"


def test_class_folders_are_extracted_as_they_are(tmp_path: Path) -> None:
    root = extract_zip(good_archive(), tmp_path / "out")
    assert root == tmp_path / "out"
    assert everything_under(root) == [
        "1", "1/1_0.png", "1/1_1.png", "1/1_2.png", "7", "7/7_0.png", "7/7_1.png", "7/7_2.png",
    ]  # fmt: skip
    assert (root / "7" / "7_0.png").read_bytes() == digit_png("7")


def test_single_top_folder_is_returned_and_finder_junk_skipped(tmp_path: Path) -> None:
    root = extract_zip(wrapped_archive(), tmp_path / "out")
    assert root == tmp_path / "out" / "digits"
    assert everything_under(tmp_path / "out") == [
        "digits", "digits/1", "digits/1/1_0.png", "digits/1/1_1.png", "digits/1/1_2.png",
        "digits/7", "digits/7/7_0.png", "digits/7/7_1.png", "digits/7/7_2.png",
    ]  # fmt: skip


def test_nested_wrappers_are_descended_but_a_lone_class_is_not(tmp_path: Path) -> None:
    nested = zip_of(two_classes("export/data/"))
    assert extract_zip(nested, tmp_path / "a") == tmp_path / "a" / "export" / "data"
    lone = zip_of({"7/a.png": digit_png(), "7/b.png": digit_png()})
    assert extract_zip(lone, tmp_path / "b") == tmp_path / "b"  # "7" is the class folder


def test_windows_backslashes_and_dot_segments_become_folders(tmp_path: Path) -> None:
    data = zip_of({"1\\a.png": digit_png("1"), "./7/./b.png": digit_png("7")})
    root = extract_zip(data, tmp_path / "out")
    assert everything_under(root) == ["1", "1/a.png", "7", "7/b.png"]


def test_symlink_member_is_detected_from_its_unix_mode(tmp_path: Path) -> None:
    data = next(case for case in ARCHIVE_CASES if case.case == "zip-symlink").data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        link = archive.getinfo("7/passwd.png")
        assert link.external_attr >> 28 == 0o12  # S_IFLNK in the top bits
    with pytest.raises(ArchiveError, match="'7/passwd.png'"):
        extract_zip(data, tmp_path / "out")


def test_destination_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="empty destination"):
        extract_zip(good_archive(), tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


# --- through the dataset loader (what the Data page's zip upload does) ----------------------


@pytest.mark.parametrize("case", REFUSED_AS_DATASET, ids=lambda case: case.case)
def test_archive_that_extracts_but_is_no_dataset_gets_the_loaders_message(
    case: BadInput, tmp_path: Path
) -> None:
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    extract_zip(path, tmp_path / "check")  # extraction itself is fine
    with pytest.raises(DatasetError, match=re.escape(case.error)):
        load_dataset(DataConfig(dataset=f"zip:{path}"))


def test_wrapped_archive_loads_as_a_two_class_dataset(tmp_path: Path) -> None:
    path = tmp_path / "finder.zip"
    path.write_bytes(wrapped_archive())
    split = load_dataset(DataConfig(dataset=f"zip:{path}", valid_fraction=1 / 3))
    assert split.class_names == ("1", "7")
    assert len(split.train) + len(split.valid) == 6  # the junk files are not images of a class
    assert split.preprocess == "resize"
