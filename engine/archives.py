"""Safe extraction of uploaded zip archives (an image folder with one sub-folder per class).

Owns the defences against hostile archives: members that escape the target folder (`../`,
absolute paths, drive letters), symbolic links, password-protected members, zip bombs (the
declared sizes are summed before anything is written, and the bytes actually written are
counted while streaming, since declared sizes can lie) and archives with too many members.
Reading the extracted folder as a dataset is engine/datasets/folders.py's job.

Everything is written into a temporary folder inside `destination` and moved into place only
when the whole archive extracted cleanly; on any failure that folder is removed, so nothing
lands outside `destination` and a failed upload leaves `destination` as it was.

Limits (stated in the README): MAX_ARCHIVE_MEMBERS entries, MAX_ARCHIVE_BYTES expanded.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path

from engine.errors import ArchiveError

MAX_ARCHIVE_MEMBERS = 20_000  # files and folders, counted before extraction
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024  # 200 MB once expanded
_CHUNK = 1024 * 1024
_ADVICE = "zip a folder holding one sub-folder of images per class and upload that"


def extract_zip(
    archive: Path | str | bytes,
    destination: Path | str,
    *,
    max_members: int | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Extract `archive` into `destination` (created if missing; must be empty) and return the
    folder that holds the class sub-folders: `destination` itself, or the single top folder the
    archive wraps them in. `__MACOSX/` and dotfiles are skipped. Raises `ArchiveError`.

    `max_members` / `max_bytes` default to MAX_ARCHIVE_MEMBERS / MAX_ARCHIVE_BYTES.
    """
    max_members = MAX_ARCHIVE_MEMBERS if max_members is None else max_members
    max_bytes = MAX_ARCHIVE_BYTES if max_bytes is None else max_bytes
    label, source = _source(archive)
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise ValueError(f"extract_zip needs an empty destination; {destination} is not empty")
    try:
        zip_file = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as error:
        raise ArchiveError(
            f"{label} is not a zip archive, or it is damaged ({error}): {_ADVICE}."
        ) from error
    with zip_file:
        folders, files = _checked_members(zip_file, label, max_members, max_bytes)
        missing = [folder for folder in (destination, *destination.parents) if not folder.exists()]
        destination.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=destination))
        try:
            _extract(zip_file, folders, files, staging, label, max_bytes)
            for child in staging.iterdir():
                os.replace(child, destination / child.name)
            staging.rmdir()
        except BaseException as error:
            shutil.rmtree(staging, ignore_errors=True)
            if missing:  # remove the folders this call created, the outermost with the rest
                shutil.rmtree(missing[-1], ignore_errors=True)
            if isinstance(error, (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)):
                raise ArchiveError(
                    f"{label} is damaged and cannot be extracted ({error}): zip the folder "
                    "again and upload the new archive."
                ) from error
            if isinstance(error, OSError):
                raise ArchiveError(f"{label} could not be extracted: {error}.") from error
            raise
    return _class_root(destination)


def _source(archive: Path | str | bytes) -> tuple[str, Path | io.BytesIO]:
    if isinstance(archive, (bytes, bytearray, memoryview)):
        return "the archive", io.BytesIO(bytes(archive))
    path = Path(archive)
    if not path.is_file():
        raise ArchiveError(f"archive {path.name} does not exist: check its name and folder.")
    return path.name, path


def _member_parts(name: str) -> list[str]:
    """Path components of a member name; backslashes count as separators (Windows zips)."""
    return [part for part in re.split(r"[/\\]", name) if part not in ("", ".")]


def _checked_members(
    zip_file: zipfile.ZipFile, label: str, max_members: int, max_bytes: int
) -> tuple[list[list[str]], list[tuple[zipfile.ZipInfo, list[str]]]]:
    """Refuse the whole archive on any unsafe member; return the folders and files to extract."""
    members = zip_file.infolist()
    if len(members) > max_members:
        raise ArchiveError(
            f"{label} holds {len(members):,} entries, more than the limit of {max_members:,} "
            "files: upload fewer images."
        )
    folders: list[list[str]] = []
    files: list[tuple[zipfile.ZipInfo, list[str]]] = []
    for info in members:
        name = info.filename
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            raise ArchiveError(
                f"{label} holds an absolute path ({name!r}), which could write anywhere: {_ADVICE}."
            )
        parts = _member_parts(name)
        if ".." in parts:
            raise ArchiveError(
                f"{label} holds {name!r}, a path that escapes the target folder: {_ADVICE}."
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError(
                f"{label} holds a symbolic link ({name!r}); links are not allowed: zip the "
                "images themselves."
            )
        if info.flag_bits & 0x1:
            raise ArchiveError(
                f"{label} is password-protected ({name!r}): zip the folder without a password."
            )
        if not parts or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
            continue  # Finder's resource forks, .DS_Store and other hidden files
        if info.is_dir():
            folders.append(parts)
        else:
            files.append((info, parts))
    if not files:
        raise ArchiveError(f"{label} holds no files: {_ADVICE}.")
    declared = sum(info.file_size for info, _ in files)
    if declared > max_bytes:
        raise ArchiveError(_too_big(label, max_bytes, f"declares {_size(declared)}"))
    return folders, files


def _too_big(label: str, max_bytes: int, detail: str) -> str:
    return (
        f"{label} expands to more than {_size(max_bytes)} ({detail}); it may be a zip bomb. "
        "Upload a smaller set of images."
    )


def _size(count: int) -> str:
    return f"{count / 2**20:,.0f} MB" if count >= 2**20 else f"{count:,} bytes"


def _extract(
    zip_file: zipfile.ZipFile,
    folders: list[list[str]],
    files: list[tuple[zipfile.ZipInfo, list[str]]],
    staging: Path,
    label: str,
    max_bytes: int,
) -> None:
    root = staging.resolve()
    for parts in folders:
        _inside(root, staging.joinpath(*parts)).mkdir(parents=True, exist_ok=True)
    written = 0
    for info, parts in files:
        target = _inside(root, staging.joinpath(*parts))
        target.parent.mkdir(parents=True, exist_ok=True)
        with zip_file.open(info) as source, open(target, "wb") as sink:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:  # declared sizes can lie; the bytes cannot
                    raise ArchiveError(_too_big(label, max_bytes, "while extracting"))
                sink.write(chunk)


def _inside(root: Path, target: Path) -> Path:
    """Belt and braces after the name checks: the resolved target must stay under root."""
    if not target.resolve().is_relative_to(root):
        raise ArchiveError(f"archive member {target.name!r} escapes the target folder.")
    return target


def _class_root(folder: Path) -> Path:
    """Descend through single wrapper folders (`digits/0/...`, `digits/1/...` -> `digits`)."""
    while True:
        entries = list(folder.iterdir())
        if len(entries) != 1 or not entries[0].is_dir():
            return folder
        inner = entries[0]
        if not any(child.is_dir() for child in inner.iterdir()):
            return folder  # `7/*.png`: the single entry is itself a class folder
        folder = inner
