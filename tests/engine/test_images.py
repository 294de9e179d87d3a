"""Decoding uploads (every case of the bad-input corpus) and MNIST-style preprocessing."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from engine.datasets.shipped import MNIST_5K_PATH
from engine.errors import ImageError
from engine.images import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    MAX_WORKING_SIDE,
    decode_image,
    preprocess,
)
from tests.engine.bad_inputs import (
    IMAGE_CASES,
    BadInput,
    compressed_bomb_png,
    distance,
    draw_digit,
    encode,
    gray16_png,
    header_bomb_png,
    png_with_header,
    rgba_black_ink_in_alpha,
    rgba_white_ink_in_alpha,
)

REFUSED = [case for case in IMAGE_CASES if case.error is not None]
ACCEPTED = [case for case in IMAGE_CASES if case.error is None]


def digit(image: Image.Image, shape: tuple[int, int, int] = (1, 28, 28)) -> np.ndarray:
    """The digit-style model input as a float (H, W) array, for comparisons."""
    return preprocess(image, "digit", shape)[0].numpy().astype(np.float64)


def reference(name: str) -> np.ndarray:
    return digit(draw_digit(name, (56, 56)))


def ink_box(array: np.ndarray) -> tuple[int, int]:
    """Height and width of the bounding box of the non-zero pixels."""
    rows, cols = np.flatnonzero(array.any(axis=1)), np.flatnonzero(array.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def centre_of_mass(array: np.ndarray) -> tuple[float, float]:
    total = array.sum()
    return (
        float(array.sum(axis=1) @ np.arange(array.shape[0]) / total),
        float(array.sum(axis=0) @ np.arange(array.shape[1]) / total),
    )


# --- the corpus ----------------------------------------------------------------------------


def test_corpus_has_the_cases_issue_6_lists() -> None:
    names = {case.case for case in IMAGE_CASES}
    assert len(IMAGE_CASES) >= 30 and len(names) == len(IMAGE_CASES)
    for needed in (
        "zero-bytes", "truncated-png", "truncated-jpeg", "text-named-png", "header-bomb-50000",
        "animated-gif", "gray-16-bit", "cmyk-jpeg", "rgba-black-ink-in-alpha", "one-pixel",
        "all-white", "all-black", "huge-photo", "exif-rotated-6",
    ):  # fmt: skip
        assert needed in names


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.case)
def test_refused_upload_says_what_is_wrong(case: BadInput) -> None:
    with pytest.raises(ImageError, match=re.escape(case.error)) as caught:
        decode_image(case.data, case.filename)
    assert str(caught.value).startswith(case.filename)  # names the file the user picked


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.case)
def test_accepted_upload_is_normalised(case: BadInput) -> None:
    image = decode_image(case.data, case.filename)
    assert image.mode in ("L", "RGB")
    assert image.size == case.size
    model_input = digit(image)
    if case.blank:
        assert model_input.max() == 0
    if case.same_digit_as:
        expected = reference(case.same_digit_as)
        other = reference("1" if case.same_digit_as == "7" else "7")
        gap = distance(model_input, expected)
        assert gap < 12, gap  # 255 = every pixel wrong
        assert gap < 0.5 * distance(model_input, other)


def test_decoding_never_loads_truncated_images() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("build", [header_bomb_png, compressed_bomb_png])
def test_pixel_bombs_are_refused_from_the_header_without_decoding(
    build, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = build()

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError, match="the limit is 40 megapixels"):
        decode_image(data, "bomb.png")


def test_limits_are_what_the_readme_states() -> None:
    assert MAX_UPLOAD_BYTES == 10 * 1024 * 1024
    assert MAX_PIXELS == 40_000_000
    just_under = png_with_header(6_000, 6_000)  # 36 megapixels in 70 KB: decoded, then shrunk
    image = decode_image(just_under, "tall.png")
    assert image.size == (MAX_WORKING_SIDE, MAX_WORKING_SIDE)


def test_sixteen_bit_gray_scales_rather_than_clips() -> None:
    mid_gray = np.full((8, 8), 128 * 257, dtype=np.uint16)
    decoded = np.asarray(decode_image(encode(Image.fromarray(mid_gray)), "mid.png"))
    assert decoded.dtype == np.uint8 and (decoded == 128).all()
    seven = np.asarray(decode_image(gray16_png(), "deep.png"))
    assert seven.min() == 0 and seven.max() == 255


def test_alpha_only_digit_lands_on_a_contrasting_background() -> None:
    black_ink = np.asarray(decode_image(rgba_black_ink_in_alpha(), "a.png").convert("L"))
    white_ink = np.asarray(decode_image(rgba_white_ink_in_alpha(), "b.png").convert("L"))
    assert black_ink[0, 0] == 255 and black_ink.min() == 0  # black 7 on white
    assert white_ink[0, 0] == 0 and white_ink.max() == 255  # white 7 on black
    assert np.array_equal(black_ink, 255 - white_ink)


def test_exif_orientation_turns_the_photo_upright() -> None:
    upright = digit(draw_digit("7", (200, 300), ink=20, paper=235))
    for case in (c for c in IMAGE_CASES if c.case.startswith("exif-rotated")):
        stored = Image.open(io.BytesIO(case.data))
        ignoring_exif = digit(stored.convert("L"))
        honouring_exif = digit(decode_image(case.data, case.filename))
        assert distance(honouring_exif, upright) < 8
        assert distance(ignoring_exif, upright) > 20  # the test would notice no rotation


# --- digit preprocessing -------------------------------------------------------------------


def test_digit_fits_a_20_pixel_box_centred_by_mass() -> None:
    for name in ("7", "4", "0", "1"):
        model_input = digit(draw_digit(name, (300, 300)))
        height, width = ink_box(model_input)
        assert max(height, width) == 20 and min(height, width) <= 20
        row, col = centre_of_mass(model_input)
        assert abs(row - 14) <= 0.5 + 1e-9 and abs(col - 14) <= 0.5 + 1e-9


def test_digit_output_is_uint8_light_ink_on_black() -> None:
    tensor = preprocess(draw_digit("7", (90, 90)), "digit", (1, 28, 28))
    assert tensor.dtype == torch.uint8 and tuple(tensor.shape) == (1, 28, 28)
    assert tensor[0, 0, 0] == 0 and tensor.max() == 255  # background black, ink full white


def test_dark_on_light_and_light_on_dark_give_the_same_input() -> None:
    dark_ink = digit(draw_digit("7", (40, 40), ink=0, paper=255))
    light_ink = digit(draw_digit("7", (40, 40), ink=255, paper=0))
    assert np.array_equal(dark_ink, light_ink)
    # big ones are box-averaged down first, where rounding may differ by one grey level
    dark_ink = digit(draw_digit("7", (600, 400), ink=0, paper=255))
    light_ink = digit(draw_digit("7", (600, 400), ink=255, paper=0))
    assert np.abs(dark_ink - light_ink).mean() < 1


def test_colour_photo_of_a_digit_is_read_through_its_brightness() -> None:
    photo = draw_digit("4", (240, 240), ink=(180, 20, 20), paper=(250, 240, 120), mode="RGB")
    assert distance(digit(photo), digit(draw_digit("4", (240, 240)))) < 6


def test_aspect_ratio_is_kept_for_a_thin_one() -> None:
    height, width = ink_box(digit(draw_digit("1", (300, 300))))
    assert height == 20 and width <= 12  # a "1" is not stretched into a square


@pytest.mark.parametrize("value", [0, 128, 255])
def test_featureless_images_give_a_blank_canvas(value: int) -> None:
    assert digit(Image.new("L", (50, 80), value)).max() == 0


def test_faint_marks_below_the_contrast_floor_count_as_blank() -> None:
    faint = draw_digit("7", (100, 100), ink=235, paper=255)  # 20 grey levels of contrast
    assert digit(faint).max() == 0
    clear = draw_digit("7", (100, 100), ink=180, paper=255)
    assert digit(clear).max() == 255


def test_thin_pen_strokes_are_thickened_to_mnist_width() -> None:
    thin = digit(draw_digit("7", (600, 600), width=3))  # 3 px on 600: 0.1 px once shrunk
    solid = thin > 127
    edges = (solid[1:] != solid[:-1]).sum() + (solid[:, 1:] != solid[:, :-1]).sum()
    assert 2 * solid.sum() / edges >= 1.9  # MNIST's median is 2.3 by this measure
    assert distance(thin, reference("7")) < 12


def test_a_stray_speck_on_a_photo_does_not_move_the_digit() -> None:
    clean = draw_digit("7", (400, 400), ink=30, paper=220)
    specked = clean.copy()
    specked.paste(30, (385, 385, 392, 392))  # a 7x7 dot in the corner
    assert distance(digit(specked), digit(clean)) < 3


def test_mnist_digits_pass_through_almost_unchanged() -> None:
    with np.load(MNIST_5K_PATH) as archive:
        images = archive["images"][:200]
    distances = [np.abs(digit(Image.fromarray(image)) - image).mean() for image in images]
    assert np.median(distances) < 2 and np.mean(distances) < 6  # out of 255; the thinnest
    # tenth of MNIST is thickened towards the median stroke width


def test_digit_style_fills_every_channel_the_run_expects() -> None:
    tensor = preprocess(draw_digit("7", (60, 60)), "digit", (3, 28, 28))
    assert tuple(tensor.shape) == (3, 28, 28)
    assert torch.equal(tensor[0], tensor[1]) and torch.equal(tensor[1], tensor[2])


# --- resize preprocessing ------------------------------------------------------------------


def test_resize_crops_the_centre_to_keep_the_aspect_ratio() -> None:
    wide = np.zeros((50, 100, 3), dtype=np.uint8)
    wide[:, :25] = (255, 0, 0)  # red left edge: cropped away
    wide[:, 25:75] = (0, 200, 0)  # green centre square: kept
    wide[:, 75:] = (0, 0, 255)
    tensor = preprocess(Image.fromarray(wide), "resize", (3, 32, 32))
    assert tensor.dtype == torch.uint8 and tuple(tensor.shape) == (3, 32, 32)
    inner = tensor[:, :, 1:-1]  # Lanczos may borrow a little colour from just outside the crop
    assert inner[0].max() <= 10 and inner[2].max() <= 10 and inner[1].min() >= 190


def test_resize_converts_to_the_run_channels() -> None:
    colour = Image.new("RGB", (40, 40), (255, 0, 0))
    gray = preprocess(colour, "resize", (1, 28, 28))
    assert tuple(gray.shape) == (1, 28, 28) and int(gray[0, 5, 5]) == 76  # ITU-R 601 luma of red
    rgb = preprocess(Image.new("L", (40, 40), 90), "resize", (3, 16, 16))
    assert tuple(rgb.shape) == (3, 16, 16) and (rgb == 90).all()


def test_unknown_style_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown preprocess style"):
        preprocess(Image.new("L", (4, 4)), "sharpen", (1, 28, 28))
