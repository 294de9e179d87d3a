"""Bytes from a stranger in, a plain PIL image ("L" or "RGB") out, or an `ImageError` that
says what to do: `decode_image`, and `header_pixels` for a dataset's budget before decoding.

Preparing the decoded image for a model is engine/images/prepare.py's.

Limits (stated in the README; the dashboard's `server.maxUploadSize` matches MAX_UPLOAD_BYTES):
- MAX_UPLOAD_BYTES: larger files are refused before any decoding.
- MAX_PIXELS: the width x height in the file header, checked before any pixel is decoded, so a
  50,000 x 50,000 "decompression bomb" is refused without allocating it. JPEGs are first asked
  to decode at a reduced scale (`draft`), so a big photo is shrunk, not refused.
- MAX_WORKING_SIDE: every accepted image is downscaled so its longest side is at most this.
- Decoding memory: a decoded image is box-averaged down at once (`reduce`), before any
  conversion, so one decode peaks near twice its decoded size (a 6300 x 6300 transparent PNG
  of 154 KB: about +310 MB, not +2.1 GB); images above LARGE_DECODE_PIXELS decode
  MAX_LARGE_DECODES (one) at a time, whatever the number of visitors, and the freed pixels
  are handed back to the system at once.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
import warnings
from contextlib import suppress

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from engine.errors import ImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MB; .streamlit/config.toml maxUploadSize = 10
MAX_PIXELS = 40_000_000  # 40 megapixels as decoded (a 12 MP phone photo needs 12)
MAX_WORKING_SIDE = 1024  # plenty for a 28x28 digit or a 224x224 photo model
LARGE_DECODE_PIXELS = 4_000_000  # images above this decode at most MAX_LARGE_DECODES at a time
MAX_LARGE_DECODES = 1
_LARGE_DECODES = threading.BoundedSemaphore(MAX_LARGE_DECODES)
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")

_FORMAT_NAMES = "PNG, JPEG, BMP, GIF, WebP or TIFF"


def decode_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode an upload into an "L" or "RGB" image; `ImageError` says why a file is refused.

    Takes the first frame of animations, applies the EXIF orientation, composites transparency
    onto a background that contrasts with the opaque pixels (so a digit drawn only in the alpha
    channel stays visible), scales 16-bit images to 8-bit and shrinks huge photos.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone flipped Pillow's global: truncated files
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    data = bytes(data)
    if not data:
        raise ImageError(f"{name} is empty (0 bytes): choose an image file ({_FORMAT_NAMES}).")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"{name} is {len(data) / 2**20:.1f} MB; the upload limit is "
            f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB. Save it smaller (for example as JPEG) and retry."
        )
    image = _open(data, name)
    large = image.width * image.height > LARGE_DECODE_PIXELS
    try:
        # Full-size pixels exist only inside this block, for at most a few images at once.
        with _LARGE_DECODES if large else contextlib.nullcontext():
            try:
                image = _load_first_frame(image, name)
                image = _shrink_decoded(image)
            finally:
                if large:
                    _return_freed_memory()
        image = _apply_orientation(image)
        image = _to_l_or_rgb(image)
    except ImageError:
        raise
    except MemoryError as error:
        raise ImageError(f"{name} is too large to decode: scale it down and retry.") from error
    except Exception as error:  # any decoder failure on untrusted bytes is the file's
        raise ImageError(
            f"{name} is damaged or truncated ({_describe(error)}): save the image again and "
            "upload the new file."
        ) from error
    if max(image.size) > MAX_WORKING_SIDE:
        image.thumbnail((MAX_WORKING_SIDE, MAX_WORKING_SIDE), Image.Resampling.LANCZOS)
    return image


def _open(data: bytes, name: str) -> Image.Image:
    """Read the header only, refusing unknown formats and too many pixels before decoding."""
    try:
        # Our MAX_PIXELS is stricter than Pillow's warning. (catch_warnings is not thread-safe:
        # at worst, concurrent uploads leave this one "ignore" filter in place, which is fine.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as error:  # Pillow's own guard, far above ours
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(claimed.group(1)) / 1e6:,.0f} megapixels" if claimed else "too many pixels"
        raise ImageError(
            f"{name} claims {size}; the limit is {MAX_PIXELS / 1e6:.0f} megapixels. Scale it "
            "down and retry."
        ) from error
    except UnidentifiedImageError as error:
        raise ImageError(_unknown_format_message(data, name)) from error
    except Exception as error:  # a header that crashes a plugin is a bad file
        raise ImageError(
            f"{name} is damaged ({_describe(error)}): save the image again and upload it."
        ) from error
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels ({width} x {height}): choose another image.")
    if image.format in ("JPEG", "MPO"):
        # Decode at 1/2, 1/4 or 1/8 scale when that still covers the working size: fast and small.
        scale = MAX_WORKING_SIDE / max(width, height)
        if scale < 1:
            image.draft(None, (max(1, int(width * scale)), max(1, int(height * scale))))
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); the "
            f"limit is {MAX_PIXELS / 1e6:.0f} megapixels. Scale it down and retry."
        )
    return image


def header_pixels(path: str | os.PathLike[str]) -> int:
    """The pixels decode_image would decode from this file (JPEGs at their draft scale),
    read from its header alone; 0 for a file that is no image (decoding will say why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as image:
                width, height = image.size
                if image.format in ("JPEG", "MPO"):
                    scale = MAX_WORKING_SIDE / max(width, height, 1)
                    if scale < 1:
                        image.draft(None, (max(1, int(width * scale)), max(1, int(height * scale))))
                return image.width * image.height
    except Image.DecompressionBombError:
        return 0  # refused by decode_image without decoding
    except Exception:  # unreadable: decode_image gives the message
        return 0


def _return_freed_memory() -> None:
    """Hand the full-size pixels just freed back to the system. Pillow allocates them in
    16 MB blocks, which glibc keeps in the decoding thread's heap, so three sessions
    decoding one after another held three copies (seen: +650 MB instead of +320 MB)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> object | None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only; elsewhere nothing to do
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


# Modes whose pixels cannot be box-averaged as they are, and what to average them as; alpha
# is averaged premultiplied, so the hidden colour of transparent pixels does not bleed in.
_REDUCE_AS = {"1": "L", "P": None, "PA": "RGBa", "RGBA": "RGBa", "LA": "La"}


def _shrink_decoded(image: Image.Image) -> Image.Image:
    """Box-average a decoded image down towards MAX_WORKING_SIDE at once, before any
    conversion makes full-size copies (a float copy of a 40 MP RGBA image is 640 MB): at
    most one full-size converted copy exists beside the decoded pixels."""
    factor = max(image.size) // MAX_WORKING_SIDE
    if factor < 2:
        return image
    info = dict(image.info)
    mode = image.mode
    if mode == "P":
        target = "RGBa" if "transparency" in image.info else "RGB"
    elif mode.startswith("I;16"):
        target = "I"
    else:
        target = _REDUCE_AS.get(mode, mode)
    working = image.convert(target) if target != mode else image
    del image  # the decoded pixels can go as soon as the converted copy exists
    shrunk = working.reduce(factor)
    if shrunk.mode in ("RGBa", "La"):
        shrunk = shrunk.convert("RGBA" if shrunk.mode == "RGBa" else "LA")
    shrunk.info.update(info)  # the EXIF orientation, a palette's transparency
    return shrunk


def _unknown_format_message(data: bytes, name: str) -> str:
    head = data[:512]
    if head.startswith(b"%PDF"):
        kind = "a PDF document"
    elif head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
        kind = "a HEIC/AVIF photo (export it as JPEG first)"
    elif _looks_like_text(head):
        kind = "text, not an image"
    else:
        kind = "not an image format we read"
    return f"{name} is {kind}: upload a {_FORMAT_NAMES} image."


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head[:-4].decode("utf-8", errors="replace")  # the cut may split a character
        if "\ufffd" in text:
            return False
    return sum(ch.isprintable() or ch in "\r\n\t" for ch in text) >= 0.95 * max(1, len(text))


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__


def _load_first_frame(image: Image.Image, name: str) -> Image.Image:
    """Force the decode now (Pillow is lazy) so truncation surfaces here, as an ImageError.

    A freshly opened animation stands on its first frame; asking for `n_frames` would walk
    every frame of a GIF, which a hostile file can make slow, so it is not asked."""
    image.load()
    return image


def _apply_orientation(image: Image.Image) -> Image.Image:
    """Undo the camera's EXIF rotation; a broken EXIF block is ignored rather than fatal."""
    with suppress(Exception):  # orientation is a nicety; the pixels are fine
        ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of an upright photo
    return image


def _to_l_or_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":
        return _wide_gray_to_l(image)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        return _to_l_or_rgb(image)
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        return _composite_alpha(image)
    return image.convert("RGB")  # CMYK (Pillow undoes Adobe's inversion), YCbCr, LAB, HSV


def _wide_gray_to_l(image: Image.Image) -> Image.Image:
    """16-bit (and 32-bit/float) grayscale to 8-bit by scaling, not by clipping at 255."""
    values = np.asarray(image).astype(np.float64)
    if image.mode == "F":
        peak = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
    elif image.mode.startswith("I;16") or values.max(initial=0) <= 65535:
        peak = 65535.0
    else:
        peak = float(values.max())
    scaled = np.clip(np.rint(values * (255.0 / peak)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


def _composite_alpha(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white or black, whichever contrasts with the opaque pixels.

    A digit drawn only in the alpha channel (ink and background share one RGB colour) then
    stays visible: black ink lands on white, white ink on black.
    """
    gray_alpha = image.mode in ("LA", "La")
    rgba = np.asarray(image.convert("LA" if gray_alpha else "RGBA"), dtype=np.float32)
    colour, alpha = rgba[..., :-1], rgba[..., -1:] / 255.0
    if alpha.min() >= 1.0:
        return Image.fromarray(
            colour.astype(np.uint8)[..., 0] if gray_alpha else colour.astype(np.uint8)
        )
    luminance = colour.mean(axis=-1, keepdims=True)
    weight = float(alpha.sum())
    ink = float((luminance * alpha).sum() / weight) if weight > 0 else 0.0
    background = 0.0 if ink > 127.5 else 255.0
    flat = np.rint(colour * alpha + background * (1.0 - alpha)).astype(np.uint8)
    return Image.fromarray(flat[..., 0] if gray_alpha else flat)
