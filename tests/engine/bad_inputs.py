"""The corpus of bad uploads, generated in memory (PIL, zipfile, struct): nothing downloaded.

Each `BadInput` is one case: the file name a user would upload, a builder for its bytes and the
exact user-facing outcome, either a fragment of the error message or "accepted" with what the
accepted image normalises to. The engine tests (test_images.py, test_archives.py) assert every
case; the dashboard's upload tests import the same cases:

    from tests.engine.bad_inputs import IMAGE_CASES, ARCHIVE_CASES, draw_digit

Builders are cached, so a case's bytes are made once per test process (the slowest, the
6000x4000 photo, takes about 0.2 s).
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from engine.archives import MAX_ARCHIVE_BYTES, MAX_ARCHIVE_MEMBERS
from engine.images import MAX_UPLOAD_BYTES, MAX_WORKING_SIDE


@dataclass(frozen=True)
class BadInput:
    """One upload and what the user must see for it."""

    case: str  # test id
    filename: str  # the name it is uploaded under
    build: Callable[[], bytes]
    kind: str  # "image" (Predict upload) or "archive" (Data page's image-folder zip)
    error: str | None  # fragment of the error message; None when the upload is accepted
    stage: str  # which step answers: "decode", "extract" or "dataset" (engine.datasets' loader)
    outcome: str  # the expected outcome in words (for accepted inputs, the normalised result)
    blank: bool = False  # accepted image whose digit preprocessing is an empty canvas
    size: tuple[int, int] | None = None  # accepted image: (width, height) after decoding
    same_digit_as: str | None = None  # accepted image that must preprocess like this drawing

    @property
    def data(self) -> bytes:
        return self.build()


_FIRST_STAGE = {"image": "decode", "archive": "extract"}


def refused(
    case: str, filename: str, build: Callable[[], bytes], error: str, stage: str = ""
) -> BadInput:
    """A case the user must see refused with a message containing `error`."""
    kind = "archive" if filename.endswith(".zip") else "image"
    return BadInput(case, filename, build, kind, error, stage or _FIRST_STAGE[kind], "refused")


def accepted(
    case: str,
    filename: str,
    build: Callable[[], bytes],
    outcome: str,
    stage: str = "",
    **expected: Any,
) -> BadInput:
    """A case the engine must accept and normalise as `outcome` says."""
    kind = "archive" if filename.endswith(".zip") else "image"
    return BadInput(
        case, filename, build, kind, None, stage or _FIRST_STAGE[kind], outcome, **expected
    )


# ---------------------------------------------------------------------------------------------
# Drawn digits: the known right answers


_STROKES = {  # polylines in the unit square, drawn with round-ish joints
    "1": [[(0.36, 0.28), (0.52, 0.14), (0.52, 0.86)]],
    "7": [[(0.24, 0.18), (0.76, 0.18), (0.42, 0.86)]],
    "4": [[(0.62, 0.86), (0.62, 0.14), (0.22, 0.62), (0.8, 0.62)]],
    "0": [],  # an ellipse, below
}


def distance(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute difference (0-255), forgiving a one-pixel shift: centring by mass rounds
    to whole pixels, so two drawings of one digit may land a pixel apart."""
    padded = np.pad(second, 1)
    height, width = first.shape
    return min(
        float(np.abs(first - padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]).mean())
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


def draw_digit(
    digit: str = "7",
    size: tuple[int, int] = (280, 280),
    ink: int | tuple[int, ...] = 0,
    paper: int | tuple[int, ...] = 255,
    width: int | None = None,
    mode: str = "L",
) -> Image.Image:
    """A digit drawn with lines, like a marker on paper (defaults: black on white)."""
    image = Image.new(mode, size, paper)
    draw = ImageDraw.Draw(image)
    side = min(size)
    width = width or max(1, side // 12)
    offset_x, offset_y = (size[0] - side) / 2, (size[1] - side) / 2

    def point(x: float, y: float) -> tuple[float, float]:
        return offset_x + x * side, offset_y + y * side

    if digit == "0":
        draw.ellipse([point(0.28, 0.14), point(0.72, 0.86)], outline=ink, width=width)
    for line in _STROKES[digit]:
        draw.line([point(x, y) for x, y in line], fill=ink, width=width, joint="curve")
    return image


def encode(image: Image.Image, format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Image builders


@cache
def zero_bytes() -> bytes:
    return b""


@cache
def truncated_png() -> bytes:
    noisy = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)  # big IDAT
    data = encode(Image.fromarray(noisy))
    return data[: len(data) // 2]


@cache
def truncated_jpeg() -> bytes:
    data = encode(draw_digit("7").convert("RGB"), "JPEG", quality=90)
    return data[: len(data) * 2 // 3]


@cache
def text_named_png() -> bytes:
    return b"This is a text file, not a picture of a digit.\nIt only has a .png name.\n" * 3


@cache
def svg_named_png() -> bytes:
    return b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'


@cache
def pdf_named_png() -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@cache
def heic_named_jpg() -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)


@cache
def random_bytes() -> bytes:
    return b"\x01\x02" + np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()


@cache
def ppm_image() -> bytes:
    """A real image in a format Pillow reads but uploads do not accept (allow-list)."""
    return encode(draw_digit("7", (28, 28)), "PPM")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_with_header(width: int, height: int, idat: bytes | None = None) -> bytes:
    """A grayscale PNG claiming width x height; by default only one row of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray, no interlace
    idat = zlib.compress(bytes(width + 1)) if idat is None else idat
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


@cache
def header_bomb_png() -> bytes:
    return png_with_header(50_000, 50_000)


@cache
def over_limit_png() -> bytes:
    return png_with_header(8_000, 8_000)  # 64 megapixels: over ours, under Pillow's own limit


def _deflate_zeros(segment: int, repeats: int) -> tuple[bytes, int, int]:
    """Raw deflate of segment * repeats zero bytes, with its CRC-32 and Adler-32, made fast:
    one segment compressed with a full flush decodes on its own, so it can be repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(segment)) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty last block
    crc, adler, zeros = 0, 1, bytes(segment)
    for _ in range(repeats):
        crc, adler = zlib.crc32(zeros, crc), zlib.adler32(zeros, adler)
    return block * repeats + final, crc, adler


@cache
def compressed_bomb_png() -> bytes:
    """A genuine 12,000 x 12,000 black PNG (144 megapixels) in about 130 KB."""
    side, rows_per_segment = 12_000, 100
    raw, _, adler = _deflate_zeros((side + 1) * rows_per_segment, side // rows_per_segment)
    return png_with_header(side, side, b"\x78\xda" + raw + struct.pack(">I", adler))


@cache
def too_many_bytes() -> bytes:
    return encode(draw_digit("7", (28, 28))) + bytes(MAX_UPLOAD_BYTES)


@cache
def animated_gif() -> bytes:
    frames = [draw_digit("1", (56, 56)), draw_digit("7", (56, 56))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)


@cache
def mpo_two_frames() -> bytes:
    """A camera's multi-picture JPEG (MPO): a 7, then a 1."""
    frames = [draw_digit(digit, (56, 56)).convert("RGB") for digit in "71"]
    return encode(frames[0], "MPO", save_all=True, append_images=frames[1:])


@cache
def gray16_png() -> bytes:
    """16-bit grayscale: white paper is 65535; a naive convert("L") would clip it to 255 = ok but
    turn a mid-gray 32768 into white too. The digit must survive."""
    digit = np.asarray(draw_digit("7", (56, 56)), dtype=np.uint16) * 257
    return encode(Image.fromarray(digit))


@cache
def cmyk_jpeg() -> bytes:
    gray = np.asarray(draw_digit("7", (56, 56)))
    cmyk = np.zeros((56, 56, 4), dtype=np.uint8)
    cmyk[..., 3] = 255 - gray  # black plate only: ink where the digit is
    return encode(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95)


def _alpha_only(colour: int) -> bytes:
    """Every pixel has the same RGB colour; only the alpha channel draws the digit."""
    alpha = 255 - np.asarray(draw_digit("7", (56, 56)))
    rgba = np.zeros((56, 56, 4), dtype=np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = alpha
    return encode(Image.fromarray(rgba, "RGBA"))


@cache
def rgba_black_ink_in_alpha() -> bytes:
    return _alpha_only(0)


@cache
def rgba_white_ink_in_alpha() -> bytes:
    return _alpha_only(255)


@cache
def gray_alpha_png() -> bytes:
    alpha = 255 - np.asarray(draw_digit("7", (56, 56)))
    la = np.stack([np.zeros_like(alpha), alpha], axis=-1)
    return encode(Image.fromarray(la, "LA"))


@cache
def palette_transparent_png() -> bytes:
    image = draw_digit("7", (56, 56)).convert("P")
    return encode(image, transparency=255)  # palette index 255 (white paper) is transparent


@cache
def bilevel_png() -> bytes:
    return encode(draw_digit("7", (56, 56)).convert("1"))


@cache
def one_pixel_png() -> bytes:
    return encode(Image.new("L", (1, 1), 0))


@cache
def all_white_png() -> bytes:
    return encode(Image.new("RGB", (64, 64), (255, 255, 255)))


@cache
def all_black_jpeg() -> bytes:
    return encode(Image.new("RGB", (64, 64), (0, 0, 0)), "JPEG")


@cache
def huge_photo_jpeg() -> bytes:
    """6000 x 4000, a dark 7 on light gray paper: valid, to be shrunk, never refused."""
    photo = draw_digit("7", (6000, 4000), ink=(30, 30, 40), paper=(200, 196, 190), mode="RGB")
    return encode(photo, "JPEG", quality=80)


EXIF_ORIENTATION = 0x0112
# Orientation tag -> how the camera stored an upright picture (exif_transpose undoes it).
_STORED_AS = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,  # tag 6: "rotate 90 degrees clockwise to display"
    8: Image.Transpose.ROTATE_270,
}


def exif_rotated_jpeg(orientation: int) -> bytes:
    """A photo of an upright "7" (200x300) stored rotated, with the EXIF tag that undoes it."""
    upright = draw_digit("7", (200, 300), ink=(20, 20, 20), paper=(235, 235, 235), mode="RGB")
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    stored = upright.transpose(_STORED_AS[orientation])
    return encode(stored, "JPEG", quality=92, exif=exif)


@cache
def bmp_digit() -> bytes:
    return encode(draw_digit("7", (56, 56)), "BMP")


@cache
def webp_digit() -> bytes:
    return encode(draw_digit("7", (56, 56)).convert("RGB"), "WEBP", lossless=True)


@cache
def tiff_digit() -> bytes:
    return encode(draw_digit("7", (56, 56)), "TIFF")


@cache
def png_named_jpg() -> bytes:
    return encode(draw_digit("7", (56, 56)))


@cache
def light_on_dark_png() -> bytes:
    return encode(draw_digit("7", (56, 56), ink=255, paper=0))


IMAGE_CASES: tuple[BadInput, ...] = (
    refused("zero-bytes", "empty.png", zero_bytes, "is empty (0 bytes)"),
    refused("truncated-png", "cut.png", truncated_png, "damaged or truncated"),
    refused("truncated-jpeg", "cut.jpg", truncated_jpeg, "damaged or truncated"),
    refused("text-named-png", "notes.png", text_named_png, "is text, not an image"),
    refused("svg-named-png", "vector.png", svg_named_png, "is text, not an image"),
    refused("pdf-named-png", "scan.png", pdf_named_png, "is a PDF document"),
    refused("heic-named-jpg", "IMG_0001.jpg", heic_named_jpg, "HEIC/AVIF photo (export it as JPEG"),
    refused("random-bytes", "noise.webp", random_bytes, "not an image format we read"),
    refused("ppm-not-allowed", "digit.ppm", ppm_image, "not an image format we read"),
    refused(
        "header-bomb-50000",
        "bomb.png",
        header_bomb_png,
        "claims 2,500 megapixels; the limit is 40 megapixels",
    ),
    refused(
        "over-pixel-limit",
        "big.png",
        over_limit_png,
        "8000 x 8000 pixels (64 megapixels); the limit is 40",
    ),
    refused(
        "compressed-bomb", "black.png", compressed_bomb_png, "12000 x 12000 pixels (144 megapixels)"
    ),
    refused("over-upload-limit", "large.png", too_many_bytes, "the upload limit is 10 MB"),
    accepted(
        "animated-gif",
        "anim.gif",
        animated_gif,
        "first frame (a 1)",
        size=(56, 56),
        same_digit_as="1",
    ),
    accepted(
        "mpo-two-frames",
        "camera.jpg",
        mpo_two_frames,
        "first picture (a 7)",
        size=(56, 56),
        same_digit_as="7",
    ),
    accepted(
        "gray-16-bit", "deep.png", gray16_png, "scaled to 8 bits", size=(56, 56), same_digit_as="7"
    ),
    accepted(
        "cmyk-jpeg", "print.jpg", cmyk_jpeg, "converted to RGB", size=(56, 56), same_digit_as="7"
    ),
    accepted(
        "rgba-black-ink-in-alpha",
        "alpha.png",
        rgba_black_ink_in_alpha,
        "black 7 on white",
        size=(56, 56),
        same_digit_as="7",
    ),
    accepted(
        "rgba-white-ink-in-alpha",
        "alpha-white.png",
        rgba_white_ink_in_alpha,
        "white 7 on black",
        size=(56, 56),
        same_digit_as="7",
    ),
    accepted(
        "gray-alpha", "la.png", gray_alpha_png, "black 7 on white", size=(56, 56), same_digit_as="7"
    ),
    accepted(
        "palette-transparent",
        "palette.png",
        palette_transparent_png,
        "black 7 on white",
        size=(56, 56),
        same_digit_as="7",
    ),
    accepted("bilevel", "fax.png", bilevel_png, "8-bit gray", size=(56, 56), same_digit_as="7"),
    accepted("one-pixel", "dot.png", one_pixel_png, "blank canvas", size=(1, 1), blank=True),
    accepted("all-white", "white.png", all_white_png, "blank canvas", size=(64, 64), blank=True),
    accepted("all-black", "black.jpg", all_black_jpeg, "blank canvas", size=(64, 64), blank=True),
    accepted(
        "huge-photo",
        "photo.jpg",
        huge_photo_jpeg,
        "shrunk to 1024 x 683",
        size=(MAX_WORKING_SIDE, 683),
        same_digit_as="7",
    ),
    accepted(
        "exif-rotated-6",
        "rot6.jpg",
        lambda: exif_rotated_jpeg(6),
        "turned upright",
        size=(200, 300),
        same_digit_as="7",
    ),
    accepted(
        "exif-rotated-8",
        "rot8.jpg",
        lambda: exif_rotated_jpeg(8),
        "turned upright",
        size=(200, 300),
        same_digit_as="7",
    ),
    accepted(
        "exif-rotated-3",
        "rot3.jpg",
        lambda: exif_rotated_jpeg(3),
        "turned upright",
        size=(200, 300),
        same_digit_as="7",
    ),
    accepted("bmp", "digit.bmp", bmp_digit, "read", size=(56, 56), same_digit_as="7"),
    accepted("webp", "digit.webp", webp_digit, "read", size=(56, 56), same_digit_as="7"),
    accepted("tiff", "digit.tif", tiff_digit, "read", size=(56, 56), same_digit_as="7"),
    accepted(
        "png-named-jpg",
        "digit.jpg",
        png_named_jpg,
        "content wins over the name",
        size=(56, 56),
        same_digit_as="7",
    ),
    accepted(
        "light-on-dark",
        "chalk.png",
        light_on_dark_png,
        "not inverted",
        size=(56, 56),
        same_digit_as="7",
    ),
)


# ---------------------------------------------------------------------------------------------
# Archive builders


def digit_png(digit: str = "7", size: int = 28) -> bytes:
    return encode(draw_digit(digit, (size, size)))


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def two_classes(prefix: str = "", count: int = 3) -> dict[str, bytes]:
    """A valid class-folder layout: `1/` and `7/` with `count` images each."""
    return {
        f"{prefix}{digit}/{digit}_{number}.png": digit_png(digit)
        for digit in ("1", "7")
        for number in range(count)
    }


@cache
def good_archive() -> bytes:
    return zip_of(two_classes())


@cache
def wrapped_archive() -> bytes:
    """Finder-style: everything in one top folder, plus __MACOSX and .DS_Store junk."""
    members = two_classes("digits/")
    members["__MACOSX/digits/1/._1_0.png"] = b"\x00\x05\x16\x07resource fork"
    members["digits/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    members["digits/7/.hidden.png"] = b"not really a png"
    return zip_of(members)


@cache
def traversal_archive() -> bytes:
    return zip_of({**two_classes(), "../escaped.png": digit_png()})


@cache
def backslash_traversal_archive() -> bytes:
    return zip_of({**two_classes(), "7\\..\\..\\escaped.png": digit_png()})


@cache
def absolute_path_archive() -> bytes:
    return zip_of({**two_classes(), "/tmp/lme-absolute.png": digit_png()})


@cache
def symlink_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in two_classes().items():
            archive.writestr(name, payload)
        link = zipfile.ZipInfo("7/passwd.png")
        link.create_system = 3  # Unix, so external_attr carries the file mode
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def _raw_zip(name: str, raw: bytes, crc: int, size: int) -> bytes:
    """A one-member zip whose member is already deflated (zipfile cannot write that)."""
    encoded = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(raw), size, len(encoded), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(raw), size, len(encoded), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    offset = len(local) + len(encoded) + len(raw)
    directory = central + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), offset, 0)
    return local + encoded + raw + directory + end


@cache
def zip_bomb() -> bytes:
    """300 MB of zeros in about 300 KB: refused from the declared size, never expanded."""
    megabyte = 1024 * 1024
    raw, crc, _ = _deflate_zeros(megabyte, 300)
    return _raw_zip("7/zeros.png", raw, crc, 300 * megabyte)


def _patch_central(data: bytes, field_offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of the first central-directory entry (and the local header's twin)."""
    patched = bytearray(data)
    central = data.index(b"PK\x01\x02")
    struct.pack_into(fmt, patched, central + field_offset, value)
    local_offset = {8: 6, 24: 22}.get(field_offset)  # flags, uncompressed size
    if local_offset is not None:
        struct.pack_into(fmt, patched, local_offset, value)
    return bytes(patched)


@cache
def lying_size_archive() -> bytes:
    """A member declares 10 bytes but holds 5,000: the streamed bytes, not the claim, count."""
    data = zip_of({"7/a.png": bytes(range(250)) * 20})
    return _patch_central(data, 24, "<I", 10)


@cache
def encrypted_archive() -> bytes:
    data = zip_of({"7/a.png": digit_png()})
    return _patch_central(data, 8, "<H", 0x1)


@cache
def too_many_members_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(MAX_ARCHIVE_MEMBERS + 1):
            archive.writestr(f"{number % 2}/{number}.png", b"")
    return buffer.getvalue()


@cache
def empty_class_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in two_classes().items():
            archive.writestr(name, payload)
        archive.writestr(zipfile.ZipInfo("3/"), b"")  # a class folder with no images
    return buffer.getvalue()


@cache
def single_class_archive() -> bytes:
    return zip_of({f"7/{number}.png": digit_png() for number in range(4)})


@cache
def corrupt_archive() -> bytes:
    """Valid headers, damaged compressed data in the middle of a member."""
    noisy = np.random.default_rng(2).integers(0, 256, (64, 64), dtype=np.uint8)
    data = bytearray(
        zip_of({**two_classes(), "7/noise.bmp": encode(Image.fromarray(noisy), "BMP")})
    )
    start = data.index(b"7/noise.bmp") + len("7/noise.bmp")
    for index in range(start + 200, start + 260):
        data[index] ^= 0x5A
    return bytes(data)


@cache
def truncated_archive() -> bytes:
    data = good_archive()
    return data[: len(data) // 2]


@cache
def png_named_zip() -> bytes:
    return digit_png()


@cache
def empty_archive() -> bytes:
    return zip_of({})


ARCHIVE_CASES: tuple[BadInput, ...] = (
    refused("zip-traversal", "escape.zip", traversal_archive, "escapes the target folder"),
    refused(
        "zip-backslash-traversal",
        "windows.zip",
        backslash_traversal_archive,
        "escapes the target folder",
    ),
    refused("zip-absolute-path", "absolute.zip", absolute_path_archive, "holds an absolute path"),
    refused("zip-symlink", "link.zip", symlink_archive, "holds a symbolic link"),
    refused(
        "zip-bomb",
        "bomb.zip",
        zip_bomb,
        f"expands to more than {MAX_ARCHIVE_BYTES // 2**20} MB (declares 300 MB)",
    ),
    refused("zip-lying-size", "liar.zip", lying_size_archive, "is damaged and cannot be extracted"),
    refused("zip-encrypted", "secret.zip", encrypted_archive, "is password-protected"),
    refused(
        "zip-too-many-members",
        "many.zip",
        too_many_members_archive,
        f"more than the limit of {MAX_ARCHIVE_MEMBERS:,} files",
    ),
    refused("zip-corrupt", "corrupt.zip", corrupt_archive, "is damaged and cannot be extracted"),
    refused(
        "zip-truncated", "cut.zip", truncated_archive, "is not a zip archive, or it is damaged"
    ),
    refused("zip-not-a-zip", "digit.zip", png_named_zip, "is not a zip archive, or it is damaged"),
    refused("zip-empty", "empty.zip", empty_archive, "holds no files"),
    refused(
        "zip-empty-class-folder",
        "gap.zip",
        empty_class_archive,
        "class folder(s) 3 in",
        stage="dataset",
    ),
    refused(
        "zip-single-class",
        "one.zip",
        single_class_archive,
        "has 1 class sub-folder(s)",
        stage="dataset",
    ),
    accepted(
        "zip-wrapped-with-junk",
        "finder.zip",
        wrapped_archive,
        "classes 1 and 7, junk skipped",
        stage="dataset",
    ),
)

ALL_CASES = IMAGE_CASES + ARCHIVE_CASES
