"""Uploaded images in, model-ready uint8 tensors out.

Owns two steps: `decode_image` turns bytes from a stranger into a plain PIL image ("L" or "RGB")
or refuses them with an `ImageError` that says what to do, and `preprocess` turns that image
into the (C, H, W) uint8 tensor a run's model expects. Normalisation to the training statistics
and the forward pass live in engine/prediction.py.

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
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from engine.errors import ImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MB; .streamlit/config.toml maxUploadSize = 10
MAX_PIXELS = 40_000_000  # 40 megapixels as decoded (a 12 MP phone photo needs 12)
MAX_WORKING_SIDE = 1024  # plenty for a 28x28 digit or a 224x224 photo model
LARGE_DECODE_PIXELS = 4_000_000  # images above this decode at most MAX_LARGE_DECODES at a time
MAX_LARGE_DECODES = 1
_LARGE_DECODES = threading.BoundedSemaphore(MAX_LARGE_DECODES)
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
PREPROCESS_STYLES = ("digit", "digit-pair", "resize")

# Digit style, after the MNIST paper: ink fitted into a 20x20 box, centred by mass in 28x28.
DIGIT_BOX_FRACTION = 20 / 28
MIN_CONTRAST = 32  # ink must differ from the background by this much (0-255) to count
# Of the ink's peak: below LOW is background, above HIGH full ink. Photos get a firm cut (paper
# texture, shadows); small drawings a gentle one, so an MNIST digit passes through almost as is.
PHOTO_INK_LEVELS, DRAWING_INK_LEVELS = (0.25, 0.6), (0.1, 1.0)
# MNIST strokes are 2.7 px wide in the 28 px canvas (median; a tenth are under 1.9). Thinner
# strokes (a pen photographed from afar, a thin canvas brush) are thickened to 2.7; never thinned.
TARGET_STROKE_WIDTH, THIN_STROKE_WIDTH = 2.7, 1.9  # MNIST's median and 10th percentile
WORK_SCALE = 0.25  # thickening works at 4x the final size
PHOTO_SIDE = (
    40  # from this size on, treat the input as a photo: cleaned, firm levels, specks trimmed
)
# Smaller images are photos too when their ground is not flat: the plain recipe subtracts one
# background level, so a shadow or a dark edge would count as ink. MNIST-sized drawings keep it.
SMALL_PHOTO_SIDE = 24
UNEVEN_GROUND = 16  # spread (5th to 95th percentile, 0-255) of the border pixels' brightness
DIGIT_WORKING_SIDE = 256  # larger inputs are box-averaged down first: fast, and it averages
# away sensor and JPEG noise (thin strokes fade but survive: ink is measured against its peak)

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


def preprocess(image: Image.Image, style: str, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """Turn a decoded image into the uint8 (C, H, W) tensor a run's model was trained on.

    "digit" (MNIST-like data): grayscale, invert when the background is light, crop to the ink,
    fit into a 20x20 box (for 28x28) keeping the aspect ratio, centre by mass. Photos (from
    PHOTO_SIDE pixels) are cleaned first (`photo_ink`): uneven light and paper texture
    removed, the ink's colour found, borders at the edges ignored. A blank or featureless
    image gives an all-zero canvas, not an error.
    "digit-pair" (the two-digits set): the same ink, cut between its two digits, each digit
    fitted into 20 rows by 12 columns and centred in its own half, as that set was built.
    "resize" (photos): convert to the run's channels and resize to (H, W), keeping the aspect
    ratio by cropping the centre (like torchvision's Resize + CenterCrop).
    """
    channels, height, width = (int(v) for v in image_shape)
    if channels not in (1, 3):
        raise ValueError(f"image_shape {tuple(image_shape)}: expected 1 or 3 channels")
    if style in ("digit", "digit-pair"):
        ink = digit_ink(image)
        if ink is None:
            canvas = np.zeros((height, width), dtype=np.uint8)
        elif style == "digit":
            canvas = _digit_canvas(ink, height, width)
        else:
            canvas = _pair_canvas(ink, height, width)
        array = np.repeat(canvas[None], channels, axis=0)
    elif style == "resize":
        fitted = ImageOps.fit(
            image.convert("L" if channels == 1 else "RGB"),
            (width, height),
            Image.Resampling.LANCZOS,
        )
        array = np.array(fitted, dtype=np.uint8)  # a copy: torch wants writable memory
        array = array[None] if channels == 1 else array.transpose(2, 0, 1)
    else:
        raise ValueError(f"unknown preprocess style {style!r}; expected one of {PREPROCESS_STYLES}")
    return torch.from_numpy(np.ascontiguousarray(array))


def to_display(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A uint8 (C, H, W) image as image widgets and PIL want it: (H, W) for one channel,
    (H, W, C) otherwise, as a contiguous uint8 array."""
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    array = array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))
    return np.ascontiguousarray(array, dtype=np.uint8)


def digit_ink(image: Image.Image) -> np.ndarray | None:
    """The ink of a digit image, float (h, w) in 0..1 cropped to its box; None when blank.

    Photos (smaller side from PHOTO_SIDE, or from SMALL_PHOTO_SIDE when the ground is uneven)
    go through `photo_ink`, then lose specks apart from the digit (`_drop_specks`); small flat
    images and drawings keep the plain recipe: invert a light background, subtract it, scale
    to the ink's peak.
    """
    photo = min(image.size) >= PHOTO_SIDE or (
        min(image.size) >= SMALL_PHOTO_SIDE and _uneven_ground(image)
    )
    factor = -(-max(image.size) // DIGIT_WORKING_SIDE)
    if photo:
        ink = photo_ink(image.reduce(factor) if factor > 1 else image)
        if ink is None:
            return None
    else:
        gray = image.convert("L")
        if factor > 1:
            gray = gray.reduce(factor)
        values = np.asarray(gray, dtype=np.float32)
        border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
        background = float(np.median(border))
        if background > 127.5:  # dark ink on light paper: make it light ink on black, as MNIST
            values, background = 255.0 - values, 255.0 - background
        values = values - background
        peak = float(values.max())
        if peak < MIN_CONTRAST:
            return None
        ink = values / peak
    low, high = PHOTO_INK_LEVELS if photo else DRAWING_INK_LEVELS
    ink = np.clip((ink - low) / (high - low), 0.0, 1.0)
    if photo:
        ink = _drop_specks(ink)
    box = _ink_box(ink, trim=photo)
    if box is None:
        return None
    top, bottom, left, right = box
    return ink[top:bottom, left:right]


def _uneven_ground(image: Image.Image) -> bool:
    """Whether the pixels along the image's edges (mostly ground) vary in brightness more than
    a flat scan or drawing does: lighting, shadow, a table or the page's edge."""
    values = np.asarray(image.convert("L"), dtype=np.float32)
    border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
    low, high = np.percentile(border, [5, 95])
    return bool(high - low >= UNEVEN_GROUND)


def _digit_canvas(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """The MNIST recipe on cropped ink; returns uint8 (height, width), light ink on black."""
    box_height = max(1, round(height * DIGIT_BOX_FRACTION))
    box_width = max(1, round(width * DIGIT_BOX_FRACTION))
    digit = _fit_ink(ink, box_height, box_width)
    if digit is None:
        return np.zeros((height, width), dtype=np.uint8)
    return _paste_centred_by_mass(digit, height, width)


def _fit_ink(
    ink: np.ndarray, box_height: int, box_width: int, thicken: bool = True
) -> np.ndarray | None:
    """Thicken thin strokes (if asked), then shrink the ink (aspect kept) into the box; 0..255
    float."""
    scale = min(box_height / ink.shape[0], box_width / ink.shape[1])
    if thicken:
        ink = _thicken_thin_strokes(ink, scale)
    scale = min(box_height / ink.shape[0], box_width / ink.shape[1])
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    fitted = Image.fromarray(np.rint(ink * 255).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS
    )
    digit = np.asarray(fitted, dtype=np.float32)
    if digit.max() <= 0:
        return None
    return digit * (255.0 / digit.max())  # a thin stroke shrunk to 20 px would look faint


def _ink_box(ink: np.ndarray, trim: bool) -> tuple[int, int, int, int] | None:
    """Bounding box (top, bottom, left, right; end-exclusive) of the ink.

    For photos, rows and columns at the edges holding under 0.5% of all ink are trimmed, so a
    stray speck far from the digit does not shrink the digit into a corner.
    """
    rows, cols = ink.sum(axis=1), ink.sum(axis=0)
    total = float(rows.sum())
    if total <= 0:
        return None
    cut = 0.005 * total if trim else 0.0
    top, bottom = _span(rows, cut)
    left, right = _span(cols, cut)
    return top, bottom, left, right


def _span(profile: np.ndarray, cut: float) -> tuple[int, int]:
    cumulative = np.cumsum(profile)
    start = int(np.searchsorted(cumulative, cut, side="right"))
    end = int(np.searchsorted(cumulative, cumulative[-1] - cut, side="left")) + 1
    return start, max(end, start + 1)


def _thicken_thin_strokes(ink: np.ndarray, scale: float) -> np.ndarray:
    """Dilate strokes that would end up thinner than MNIST's once the crop is scaled by `scale`.

    The crop is first brought to ~4x the box size: large crops by max pooling (which keeps a
    one-pixel line that averaging would fade away), small ones by upsampling; there the dilation
    is a few pixels wide and its granularity a quarter of a final pixel.
    """
    if _stroke_width(ink) * scale >= THIN_STROKE_WIDTH:
        return ink
    pool = int(WORK_SCALE / scale)
    if pool > 1:
        ink = _max_pool(ink, pool)
        scale *= pool
    elif scale > WORK_SCALE:  # a small crop: upsample, so the growth can be a fraction of a pixel
        factor = scale / WORK_SCALE
        size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
        ink = np.asarray(Image.fromarray(ink, mode="F").resize(size, Image.Resampling.BILINEAR))
        scale = WORK_SCALE
    grow = TARGET_STROKE_WIDTH / scale - _stroke_width(ink)  # crop pixels, both sides together
    radius = int(grow / 2)  # whole pixels each side: round down rather than overshoot
    if radius < 1:
        return ink
    return _dilate(np.pad(ink, radius), radius)  # padded: the stroke grows past the crop


def _stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels: 2 * area / perimeter of the solid ink, the perimeter
    estimated with Crofton's formula over four directions (within ~15% at any angle)."""
    solid = np.pad(ink >= 0.5, 1)
    area = int(solid.sum())
    straight = (solid[1:] != solid[:-1]).sum() + (solid[:, 1:] != solid[:, :-1]).sum()
    diagonal = (solid[1:, 1:] != solid[:-1, :-1]).sum() + (solid[1:, :-1] != solid[:-1, 1:]).sum()
    perimeter = np.pi / 8 * (straight + diagonal / np.sqrt(2))
    return 2.0 * area / perimeter if perimeter else float("inf")


def _max_pool(values: np.ndarray, factor: int) -> np.ndarray:
    height, width = values.shape
    padded = np.pad(values, ((0, -height % factor), (0, -width % factor)))
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    return blocks.max(axis=(1, 3))


def _dilate(values: np.ndarray, radius: int) -> np.ndarray:
    """Grey dilation by a near-disc (octagon): alternate 3x3 square and plus-shaped steps, so
    diagonal strokes do not grow 1.4x faster than straight ones."""
    out = values
    for step in range(radius):
        grown = out.copy()
        grown[1:] = np.maximum(grown[1:], out[:-1])
        grown[:-1] = np.maximum(grown[:-1], out[1:])
        grown[:, 1:] = np.maximum(grown[:, 1:], out[:, :-1])
        grown[:, :-1] = np.maximum(grown[:, :-1], out[:, 1:])
        if step % 2 == 0:  # the square step also reaches the diagonal neighbours
            rows = grown.copy()
            grown[:, 1:] = np.maximum(grown[:, 1:], rows[:, :-1])
            grown[:, :-1] = np.maximum(grown[:, :-1], rows[:, 1:])
        out = grown
    return out


def _paste_centred_by_mass(digit: np.ndarray, height: int, width: int) -> np.ndarray:
    """Place `digit` so its centre of mass lands on the canvas centre (index height // 2, as
    MNIST: its mean centre of mass is (14.0, 14.0)), shifted only as far as the canvas allows."""
    total = float(digit.sum())
    rows = np.arange(digit.shape[0], dtype=np.float64)
    cols = np.arange(digit.shape[1], dtype=np.float64)
    centre_row = float(digit.sum(axis=1) @ rows) / total
    centre_col = float(digit.sum(axis=0) @ cols) / total
    top = int(np.clip(round(height / 2 - centre_row), 0, height - digit.shape[0]))
    left = int(np.clip(round(width / 2 - centre_col), 0, width - digit.shape[1]))
    canvas = np.zeros((height, width), dtype=np.uint8)
    canvas[top : top + digit.shape[0], left : left + digit.shape[1]] = np.rint(digit).astype(
        np.uint8
    )
    return canvas


# --- photos: light, paper and borders -----------------------------------------------------
# A photographed page is lit unevenly, its paper has texture, its ink may be blue or red, and
# the table or the page's edge may show at a border. The paper's brightness is estimated
# everywhere by a grey closing (a max then a min filter wider than a pen stroke), the ink read
# as how much darker than that paper each pixel is (a ratio, so a shadow that darkens paper and
# ink alike cancels out), in the colour channel where the ink stands out most; ink that touches
# the image's edge is dropped when it is the minority (a border, not the digit).

PAPER_WINDOW_FRACTION = 1 / 8  # of the smaller side: wider than any stroke of a framed digit
MIN_INK_RATIO = 0.2  # the darkest ink must be this much darker than its paper (0-1)
DARK_PAPER = 64.0  # paper darker than this is not paper: ink is measured against this much
INK_PEAK_PERCENTILE = 99.7  # the ink's peak, robust to a few stray dark pixels
BORDER_KEEP_SHARE = 0.2  # edge strokes stay unless an inner stroke holds this share of the ink
BORDER_SPAN = 0.5  # a stroke along this much of the edge it touches is a border, not ink,
BORDER_DEPTH = 0.35  # when it reaches at most this far into the image (a shadow band too)
EDGE_MARGIN = 0.04  # of the side: a band this near the edge is at it (a tilted photo's rim)
SPECK_SHARE = 0.1  # a mark with under this share of the heaviest stroke's ink, lying further
SPECK_GAP = 0.25  # than this (of the digit's larger side) from the digit's strokes, is a speck


def photo_ink(image: Image.Image) -> np.ndarray | None:
    """Ink of a photographed digit, float (H, W) in 0..1 of its peak; None when blank."""
    from scipy import ndimage  # imported here: only photos need it

    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    side = min(rgb.shape[:2])
    window = max(5, int(side * PAPER_WINDOW_FRACTION)) | 1
    if _light_ink(rgb.mean(axis=2)):  # light ink on a dark ground: flip it
        rgb = 255.0 - rgb
    ratios = []
    for channel in range(3):
        values = rgb[..., channel]
        paper = ndimage.grey_closing(values, size=(window, window), mode="nearest")
        ratios.append(np.clip((paper - values) / np.maximum(paper, DARK_PAPER), 0.0, 1.0))
    stack = np.stack(ratios)
    # The channel where the ink stands out most (blue ink: red and green), by its peak.
    peaks = [float(np.percentile(r, INK_PEAK_PERCENTILE)) for r in ratios]
    ink = stack[int(np.argmax(peaks))]
    ink = ndimage.uniform_filter(ink, size=3, mode="nearest")  # JPEG and sensor noise
    peak = float(np.percentile(ink, INK_PEAK_PERCENTILE))
    if peak < MIN_INK_RATIO:
        return None
    ink = np.clip(ink / peak, 0.0, 1.0)
    return _drop_border_ink(ink)


def _light_ink(gray: np.ndarray) -> bool:
    """Whether the strokes are lighter than their ground. Against the local median (the
    ground, which is the majority of any neighbourhood, shadows and gradients included), do
    the strongest departures go up rather than down, in a dark image? Worked out on a copy
    at most 64 pixels wide, where a wide median filter is cheap."""
    from scipy import ndimage

    step = max(1, -(-max(gray.shape) // 64))
    small = gray[: gray.shape[0] // step * step, : gray.shape[1] // step * step]
    small = small.reshape(small.shape[0] // step, step, small.shape[1] // step, step).mean((1, 3))
    ground = ndimage.median_filter(small, size=max(3, min(small.shape) // 3) | 1, mode="nearest")
    low, high = np.percentile(small - ground, [0.5, 99.5])
    # A light page with a dark table at its edge has bright departures too: light ink also
    # needs a dark image overall.
    return bool(high > -low and np.median(small) < 127.5)


def _drop_border_ink(ink: np.ndarray) -> np.ndarray:
    """Remove strokes touching the image's edge that are a border (a band along a good part
    of that edge, thin across it: the table, the page's edge, a frame) and, when a stroke away
    from the edges holds a good share of the ink (the digit), every stroke at the edge; a
    digit that itself reaches the edge is kept."""
    from scipy import ndimage

    solid = ink >= PHOTO_INK_LEVELS[0]
    labels, count = ndimage.label(solid, structure=np.ones((3, 3)))
    if count == 0:
        return ink
    height, width = ink.shape
    weights = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    touching = np.zeros(count, dtype=bool)
    border = np.zeros(count, dtype=bool)
    rim_rows, rim_cols = int(EDGE_MARGIN * height), int(EDGE_MARGIN * width)
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels)):
        tall, wide = rows.stop - rows.start, cols.stop - cols.start
        touching[index] = (
            rows.start == 0 or rows.stop == height or cols.start == 0 or cols.stop == width
        )
        # Near the edge is at it, for a band: a tilted photo leaves a rim of paper beyond.
        at_top_or_bottom = rows.start <= rim_rows or rows.stop >= height - rim_rows
        at_side = cols.start <= rim_cols or cols.stop >= width - rim_cols
        # A band along the edge it touches, thin across it (a band from side to side counts
        # as along the top or bottom even when a sliver of paper lies above it).
        along_width = wide >= BORDER_SPAN * width and tall <= BORDER_DEPTH * height
        along_height = tall >= BORDER_SPAN * height and wide <= BORDER_DEPTH * width
        border[index] = (along_width and (at_top_or_bottom or wide == width)) or (
            along_height and (at_side or tall == height)
        )
    inside = weights[~touching]
    if len(inside) and inside.max() >= BORDER_KEEP_SHARE * weights.sum():
        border |= touching
    if not border.any():
        return ink
    return np.where(np.isin(labels, np.flatnonzero(border) + 1), 0.0, ink)


def _drop_specks(ink: np.ndarray) -> np.ndarray:
    """Remove small marks lying apart from the digit (dust, a dot of the paper's texture, a
    stray pen mark), which would otherwise widen the ink box and shrink the digit. The digit
    is every stroke holding a good share of the heaviest one's ink; a small piece near it (the
    bar of a 5, a broken stroke) stays."""
    from scipy import ndimage

    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count < 2:
        return ink
    weights = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(labels)
    heavy = weights >= SPECK_SHARE * weights.max()
    top = min(boxes[i][0].start for i in np.flatnonzero(heavy))
    bottom = max(boxes[i][0].stop for i in np.flatnonzero(heavy))
    left = min(boxes[i][1].start for i in np.flatnonzero(heavy))
    right = max(boxes[i][1].stop for i in np.flatnonzero(heavy))
    gap = SPECK_GAP * max(bottom - top, right - left)
    specks = [
        index + 1
        for index, (rows, cols) in enumerate(boxes)
        if not heavy[index]
        and max(top - rows.stop, rows.start - bottom, left - cols.stop, cols.start - right) > gap
    ]
    if not specks:
        return ink
    return np.where(np.isin(labels, specks), 0.0, ink)


# --- two digits side by side --------------------------------------------------------------
PAIR_TILE = (20, 12)  # each digit fits into 20 rows by 12 columns, as make_two_digits built it


# What is not a digit in a photo of two: a band (the table or the page's edge, a ruled line)
# much longer than it is thick, longer than the digits are tall, and a solid patch (a shadow).
PAIR_BAND_ASPECT = 2.5  # a band's length over its thickness, at least
PAIR_BAND_LENGTH = 1.5  # a band's length over the tallest digit stroke's height, at least
PAIR_SOLID_FILL = 0.85  # a patch filling this much of its box, at least, is not a pen stroke
PAIR_SOLID_ASPECT = 0.35  # ... when it is this wide for its height, at least (unlike a "1")


def _pair_canvas(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """Cut the ink between its two digits and centre each in its half, rows 4-23 of 28."""
    canvas = np.zeros((height, width), dtype=np.float32)
    half = width // 2
    box_height = max(1, round(height * PAIR_TILE[0] / 28))
    box_width = max(1, round(width * PAIR_TILE[1] / 28))
    top = (height - box_height) // 2
    ink = _without_pair_clutter(ink)
    box = _ink_box(ink, trim=False)  # the digits' own box: the cut is sought in its middle
    if box is not None:
        ink = ink[box[0] : box[1], box[2] : box[3]]
    for part, offset in zip(_split_pair(ink), (0, half), strict=True):
        box = _ink_box(part, trim=False)
        if box is None:
            continue
        crop = part[box[0] : box[1], box[2] : box[3]]
        # Not thickened: the set's digits were shrunk from MNIST's into 12 columns, thinner too.
        digit = _fit_ink(crop, box_height, box_width, thicken=False)
        if digit is None:
            continue
        rows, cols = digit.shape
        row = top + (box_height - rows) // 2
        col = offset + (half - cols) // 2
        canvas[row : row + rows, col : col + cols] = digit
    return np.rint(canvas).astype(np.uint8)


def _split_pair(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink left and right of the emptiest column in the middle half of the ink's width."""
    profile = ink.sum(axis=0)
    width = len(profile)
    if width < 4:
        return ink, np.zeros_like(ink)
    low, high = width // 4, width - width // 4
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    cut = low + int(np.argmin(smooth[low:high]))
    left, right = ink.copy(), ink.copy()
    left[:, cut:] = 0.0
    right[:, :cut] = 0.0
    return left, right


def _without_pair_clutter(ink: np.ndarray) -> np.ndarray:
    """The ink without strokes that cannot be part of two handwritten digits: bands (long and
    thin, and longer than the digit strokes are tall by half) and solid patches (specks are
    gone already, `_drop_specks`).

    Two digits side by side are each a minority of the ink, so the single-digit rule that drops
    edge strokes when one inner stroke dominates (`_drop_border_ink`) leaves these in, and a
    band beside the digits would take the place of one of them once the ink is cut in two.
    """
    from scipy import ndimage

    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count < 2:
        return ink
    weights = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(labels)
    sizes = np.array([(rows.stop - rows.start, cols.stop - cols.start) for rows, cols in boxes])
    tall, wide = sizes[:, 0].astype(np.float64), sizes[:, 1].astype(np.float64)
    thin = (wide >= PAIR_BAND_ASPECT * tall) | (tall >= PAIR_BAND_ASPECT * wide)
    solid = (weights >= PAIR_SOLID_FILL * tall * wide) & (wide >= PAIR_SOLID_ASPECT * tall)
    solid &= np.minimum(tall, wide) > 2  # not a dot or a short dash: a stroke's width is more
    strokes = ~(thin | solid)
    tallest = float(tall[strokes].max()) if strokes.any() else float(tall.max())
    # Long for the digits too: a "1", or the bar of a 5 written apart, is a stroke.
    band = thin & (np.maximum(tall, wide) >= PAIR_BAND_LENGTH * tallest)
    clutter = band | solid
    if clutter.all():
        return ink
    return np.where(np.isin(labels, np.flatnonzero(clutter) + 1), 0.0, ink)
