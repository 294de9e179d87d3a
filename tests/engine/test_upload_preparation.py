"""Uploads prepared the way the run's data was: photos cleaned of uneven light, shadows, paper
texture, ink colour and borders; two digits laid out each in its own half as the two-digits set
was built; and, on the held-out user-style set (tests/data/user_digits.npz, made by
tools/make_user_digits.py, never trained on), how the shipped demo runs read real-looking
uploads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter

from engine.datasets.shipped import mnist_5k_arrays
from engine.datasets.two_digits import make_two_digits
from engine.images import decode_image, preprocess
from engine.prediction import predict_images, verdict_text
from engine.runs import RunStore
from tests.engine.bad_inputs import distance, draw_digit

USER_DIGITS = Path(__file__).resolve().parents[1] / "data" / "user_digits.npz"


def digit(image: Image.Image, style: str = "digit") -> np.ndarray:
    return preprocess(image, style, (1, 28, 28))[0].numpy().astype(np.float64)


def photograph(
    image: Image.Image,
    light: float = 0.45,
    shadow: float = 0.4,
    border: bool = True,
    paper: tuple[int, int, int] = (235, 228, 210),
) -> Image.Image:
    """Black-on-white `image` as a photo: tinted, textured paper, light falling off across the
    page, a soft shadow over the lower half, and a dark table along the left edge."""
    ink = 1 - np.asarray(image.convert("L"), dtype=np.float64) / 255
    height, width = ink.shape
    rng = np.random.default_rng(0)
    texture = np.asarray(
        Image.fromarray((rng.random((height, width)) * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(3)
        ),
        dtype=np.float64,
    )
    sheet = np.array(paper, dtype=np.float64) + (texture - texture.mean())[..., None] * 0.8
    pen = np.array([30, 45, 150], dtype=np.float64)  # blue ink
    scene = sheet * (1 - ink[..., None]) + pen * ink[..., None]
    cols = np.linspace(0, 1, width)[None, :]
    rows = np.linspace(0, 1, height)[:, None]
    lighting = (1 - light * cols) * (1 - shadow / (1 + np.exp(-(rows - 0.6) / 0.03)))
    scene = scene * lighting[..., None]
    if border:
        scene[:, : width // 25] = (60, 50, 45)
    return Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8), "RGB")


@pytest.mark.parametrize("name", ["1", "4", "7", "0"])
def test_a_photo_with_uneven_light_a_shadow_and_a_border_reads_like_a_clean_scan(name):
    clean = digit(draw_digit(name, (240, 240)))
    photo = digit(photograph(draw_digit(name, (240, 240))))
    assert distance(photo, clean) < 12
    # Without the cleaning the shadow and the border would be ink: the canvas stays as sparse.
    assert (photo > 64).sum() <= 1.3 * (clean > 64).sum()


def test_a_photographed_blank_page_is_blank() -> None:
    page = photograph(Image.new("L", (200, 160), 255))
    assert digit(page).max() == 0
    dark = Image.new("RGB", (120, 120), (12, 10, 8))  # a photo in the dark: no ink either
    assert digit(dark).max() == 0


@pytest.mark.parametrize("name", ["1", "4", "7", "0"])
def test_a_small_photo_is_cleaned_like_a_large_one(name):
    # 36 px: below PHOTO_SIDE, but its shadow and the table at its edge are no flat ground.
    small = photograph(draw_digit(name, (240, 240))).resize((36, 36), Image.Resampling.LANCZOS)
    assert distance(digit(small), digit(draw_digit(name, (240, 240)))) < 12


def test_a_pen_mark_apart_from_the_digit_does_not_shrink_it() -> None:
    page = draw_digit("7", (600, 400), ink=30, paper=220)
    marked = page.copy()
    ImageDraw.Draw(marked).line((520, 300, 575, 290), fill=30, width=8)  # 2% of the ink
    assert distance(digit(marked), digit(page)) < 3


def test_a_band_just_inside_the_edge_of_a_tilted_page_is_no_ink() -> None:
    page = np.asarray(photograph(Image.new("L", (200, 160), 255), border=False)).copy()
    page[6:150, 4:12] = (60, 50, 45)  # the table, with a rim of paper beyond it
    assert digit(Image.fromarray(page)).max() == 0


def test_light_ink_on_a_dark_ground_is_found_despite_a_gradient() -> None:
    drawn = np.asarray(draw_digit("7", (200, 200)), dtype=np.float64)
    ramp = np.linspace(20, 90, 200)[None, :]
    chalk = np.where(drawn < 128, 230, ramp)  # a light 7 on a dark, unevenly lit board
    board = Image.fromarray(chalk.astype(np.uint8))
    assert distance(digit(board), digit(draw_digit("7", (200, 200)))) < 12


def a_one_and_a_seven() -> tuple[torch.Tensor, int, int]:
    """mnist-5k's images and the index of its first training 1 and 7."""
    images, labels, train, _ = mnist_5k_arrays()
    one = int(train[(labels[train] == 1).nonzero()[0]])
    seven = int(train[(labels[train] == 7).nonzero()[0]])
    return images, one, seven


def test_two_digits_are_laid_out_as_the_two_digits_set_was_built() -> None:
    images, one, seven = a_one_and_a_seven()
    # The set's own layout of this 1 and 7 (make_two_digits puts either one on the left).
    built, _ = make_two_digits(images[[one, seven]], torch.tensor([1, 7]), 1, seed=0)
    expected = built[0, 0].numpy().astype(np.float64)
    swapped = np.concatenate([expected[:, 14:], expected[:, :14]], axis=1)
    # The upload: the 1 and the 7 side by side at 3x, a gap between, photographed.
    pair = np.zeros((84, 180), dtype=np.uint8)
    pair[:, :84] = np.asarray(Image.fromarray(images[one, 0].numpy()).resize((84, 84)))
    pair[:, 96:] = np.asarray(Image.fromarray(images[seven, 0].numpy()).resize((84, 84)))
    prepared = digit(photograph(Image.fromarray(255 - pair), border=False), "digit-pair")
    assert prepared[:4].max() == 0 and prepared[24:].max() == 0  # rows 4-23, as built
    assert prepared[:, :14].sum() > 0 and prepared[:, 14:].sum() > 0  # a digit in each half
    assert min(distance(prepared, expected), distance(prepared, swapped)) < 25
    # The single-digit recipe would shrink both into one 20x20 box instead.
    assert distance(digit(Image.fromarray(255 - pair)), expected) > distance(prepared, expected)


def test_a_band_or_a_speck_beside_two_digits_does_not_take_a_digit_s_place() -> None:
    images, one, seven = a_one_and_a_seven()
    pair = np.zeros((200, 300), dtype=np.uint8)  # the digits in the middle of a wide page
    pair[58:142, 50:134] = np.asarray(Image.fromarray(images[one, 0].numpy()).resize((84, 84)))
    pair[58:142, 146:230] = np.asarray(Image.fromarray(images[seven, 0].numpy()).resize((84, 84)))
    clean = digit(Image.fromarray(255 - pair), "digit-pair")
    cluttered = pair.copy()
    cluttered[10:190, 270:278] = 255  # a ruled line down the page, clear of its edge
    cluttered[185:190, 20:260] = 255  # and one along its foot
    cluttered[20:22, 20:22] = 255  # a speck
    prepared = digit(Image.fromarray(255 - cluttered), "digit-pair")
    # The same 1 and 7, up to the ink's levels (measured 6.8); left in, the vertical line
    # would squeeze both digits into the left half and stand in the right one (measured 30.2).
    assert distance(prepared, clean) < 15


# --- the held-out user-style set ------------------------------------------------------------


def user_digits(kinds: tuple[str, ...]) -> list[tuple[str, bytes, set[str]]]:
    with np.load(USER_DIGITS, allow_pickle=False) as archive:
        data, offsets = archive["data"], archive["offsets"]
        targets, all_kinds = archive["targets"], archive["kinds"]
    return [
        (
            kind,
            data[offsets[i] : offsets[i + 1]].tobytes(),
            {str(d) for d in np.flatnonzero(targets[i])},
        )
        for i, kind in enumerate(all_kinds.tolist())
        if kind in kinds
    ]


def read(run_id: str, kinds: tuple[str, ...]):
    run = RunStore(Path("/nonexistent-runs"), include_demo=True).load_run(run_id)
    items = user_digits(kinds)
    predictions = predict_images(run, [(f"{i}.jpg", data) for i, (_, data, _) in enumerate(items)])
    assert all(p.error is None for p in predictions)
    return run, items, predictions


def test_the_held_out_set_is_small_and_as_described() -> None:
    assert USER_DIGITS.stat().st_size < 400_000
    items = user_digits(("font", "photo", "pair", "blank", "letters", "shapes", "strokes"))
    kinds = [kind for kind, _, _ in items]
    assert {kind: kinds.count(kind) for kind in set(kinds)} == {
        "font": 100,
        "photo": 200,
        "pair": 100,
        "blank": 10,
        "letters": 10,
        "shapes": 10,
        "strokes": 10,
    }
    assert all(decode_image(data).format == "JPEG" for _, data, _ in items[:20])


@pytest.mark.slow
def test_the_sigmoid_demo_reads_user_style_digits() -> None:
    _, items, predictions = read("demo", ("font", "photo"))
    pairs = zip(items, predictions, strict=True)
    right = sum(set(p.verdict) == truth for (_, _, truth), p in pairs)
    none = sum(not p.verdict for p in predictions)
    # The aim (issue 11): 95% right, "none" at most 5%. The shipped demo reads 289 of 300
    # (96.3%, "none" 2.3%; see the README).
    assert right >= 0.95 * len(items)
    assert none <= 0.05 * len(items)


@pytest.mark.slow
def test_the_softmax_demo_reads_user_style_digits() -> None:
    _, items, predictions = read("demo-softmax", ("font", "photo"))
    top = [p.classes[int(np.argmax(p.softmax))] for p in predictions]
    right = sum(guess in truth for (_, _, truth), guess in zip(items, top, strict=True))
    assert right >= 0.95 * len(items)


@pytest.mark.slow
def test_the_pairs_demo_reads_photos_of_two_test_digits_as_the_right_pair() -> None:
    run, items, predictions = read("demo-pairs", ("pair",))
    assert run.multi_label_data and run.config.data.dataset == "two-digits"
    right = [
        (truth, p)
        for (_, _, truth), p in zip(items, predictions, strict=True)
        if set(p.verdict) == truth
    ]
    # Exactly the two digits, neither more nor fewer: 80% is the aim (the README's figure).
    assert len(right) >= 0.8 * len(items)
    truth, prediction = right[0]
    first, second = sorted(truth)
    assert verdict_text(prediction) == f"{first} and {second}"  # both there, not a doubt


@pytest.mark.slow
def test_the_sigmoid_demo_says_none_to_blank_pages_and_most_non_digits() -> None:
    _, items, predictions = read("demo", ("blank", "letters", "shapes", "strokes"))
    verdicts = {}
    for (kind, _, _), prediction in zip(items, predictions, strict=True):
        verdicts.setdefault(kind, []).append(not prediction.verdict)
    assert all(verdicts["blank"])
    assert np.mean([said_none for kind in verdicts for said_none in verdicts[kind]]) >= 0.75
