"""Generated non-digit images: deterministic, MNIST-like, every kind present and drawn."""

import pytest
import torch

from engine.errors import EngineError
from engine.nondigits import NON_DIGIT_KINDS, make_non_digits


def test_shapes_dtype_and_kinds_take_turns():
    images, kinds = make_non_digits(12, seed=0)
    assert images.dtype == torch.uint8
    assert images.shape == (12, 1, 28, 28)
    assert kinds == [NON_DIGIT_KINDS[i % 5] for i in range(12)]
    assert set(kinds) == set(NON_DIGIT_KINDS)


def test_same_seed_same_images_other_seed_other_images():
    first, _ = make_non_digits(10, seed=7)
    again, _ = make_non_digits(10, seed=7)
    other, _ = make_non_digits(10, seed=8)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_first_images_do_not_depend_on_count():
    few, _ = make_non_digits(5, seed=3)
    many, _ = make_non_digits(20, seed=3)
    assert torch.equal(few, many[:5])


def test_blank_is_all_zeros_and_the_rest_have_ink():
    images, kinds = make_non_digits(50, seed=1)
    for image, kind in zip(images, kinds, strict=True):
        if kind == "blank":
            assert int(image.max()) == 0
        else:
            assert int(image.max()) > 60 and int((image > 0).sum()) >= 10, kind


def test_drawn_kinds_are_white_on_black_and_roughly_centred():
    images, kinds = make_non_digits(60, seed=2, kinds=("letters", "shapes", "strokes"))
    for image in images:
        plane = image[0].float()
        # the border (outer 2 pixels) stays black, like MNIST's
        assert (
            int(plane[:2].sum() + plane[-2:].sum() + plane[:, :2].sum() + plane[:, -2:].sum()) == 0
        )
        ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
        total = plane.sum()
        centre_y, centre_x = float((plane * ys).sum() / total), float((plane * xs).sum() / total)
        assert abs(centre_y - 13.5) < 5 and abs(centre_x - 13.5) < 5
        # mostly background: ink covers well under half the canvas
        assert int((plane > 127).sum()) < 28 * 28 // 2


def test_letters_have_ink_and_differ():
    images, kinds = make_non_digits(12, seed=0, kinds=("letters",))
    assert kinds == ["letters"] * 12
    ink = (images > 127).flatten(1).sum(dim=1)
    assert int(ink.min()) >= 25
    assert len({bytes(image.numpy()) for image in images}) == 12


def test_noise_fills_the_canvas():
    images, _ = make_non_digits(6, seed=0, kinds=("noise",))
    nonzero = (images > 0).flatten(1).float().mean(dim=1)
    assert float(nonzero.min()) > 0.5


def test_other_sizes():
    images, _ = make_non_digits(5, seed=0, size=64)
    assert images.shape == (5, 1, 64, 64)
    assert int(images[2].max()) > 200  # letters


def test_zero_count_and_bad_kinds():
    images, kinds = make_non_digits(0)
    assert images.shape == (0, 1, 28, 28) and kinds == []
    with pytest.raises(EngineError, match="unknown non-digit kinds"):
        make_non_digits(3, kinds=("digits",))
