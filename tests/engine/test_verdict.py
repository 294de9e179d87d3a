"""The verdict follows the run's label mode and names its reading; the other reading stays
visible, labelled; images of multi-label data read "1 and 7"; near misses are named; an image
falls between a confused pair only when both sigmoids are meaningfully high."""

from __future__ import annotations

import json

import pytest
import torch

from engine.cli import main
from engine.prediction import (
    near_miss_text,
    other_reading_text,
    pairs_between,
    predict_images,
    verdict_text,
)
from engine.runs import RunStore
from tests.engine.test_prediction import SEVEN, constant_logits, fake_run

DIGITS = tuple(str(k) for k in range(10))


def digit_logits(**values: float) -> list[float]:
    """Logits for the ten digits: -8 everywhere but the digits given (d7=3.0 -> "7")."""
    logits = [-8.0] * 10
    for key, value in values.items():
        logits[int(key.removeprefix("d"))] = value
    return logits


def read(logits, mode="multi-label", labels="one", threshold=0.5):
    run = fake_run(constant_logits(logits), classes=DIGITS)
    run.reading = "softmax" if mode == "multi-class" else "sigmoid"
    run.labels_per_image = labels
    (prediction,) = predict_images(run, [("seven.png", SEVEN)], threshold=threshold)
    return prediction


def test_a_softmax_run_answers_with_its_softmax_winner_even_where_sigmoids_fire_twice():
    # A clean 7 to a softmax-trained model: softmax 7 wins clearly, yet the sigmoid of 3 fires.
    prediction = read(digit_logits(d7=9.0, d3=2.0), mode="multi-class")
    assert prediction.reading == "softmax"
    assert prediction.verdict == ["7"] and verdict_text(prediction) == "7"
    assert prediction.fired == ["3", "7"]
    assert other_reading_text(prediction) == (
        "read with sigmoids, which this model was not trained for: 7 or 3 — ambiguous"
    )


def test_a_softmax_run_always_names_one_class():
    prediction = read(digit_logits(), mode="multi-class")  # every logit equal: a blank page
    assert len(prediction.verdict) == 1 and prediction.fired == []
    assert other_reading_text(prediction).endswith("none of the classes")


def test_a_sigmoid_run_answers_with_every_class_that_fires():
    prediction = read(digit_logits(d7=3.0, d1=2.0))
    assert prediction.reading == "sigmoid"
    assert prediction.verdict == ["1", "7"]
    assert verdict_text(prediction) == "7 or 1 — ambiguous"  # one label per image: ambiguity
    assert other_reading_text(prediction) == (
        "read with softmax, which this model was not trained for: 7"
    )


def test_two_firing_classes_on_multi_label_data_are_both_there():
    prediction = read(digit_logits(d7=3.0, d1=2.0), labels="several")
    assert verdict_text(prediction) == "1 and 7"
    assert verdict_text(read(digit_logits(d7=3, d1=2, d4=1), labels="several")) == "1, 4 and 7"
    assert verdict_text(read(digit_logits(), labels="several")) == "none of the classes"


def test_a_class_just_below_the_threshold_is_named_as_a_near_miss():
    # sigmoid(-0.04) = 0.49: just below 0.5
    prediction = read(digit_logits(d3=-0.04))
    assert verdict_text(prediction) == "none of the classes"
    assert prediction.near_misses == ["3"]
    assert near_miss_text(prediction) == "3 nearly fired: 0.49"
    assert read(digit_logits(d3=-0.5)).near_misses == []  # 0.38: not near


def test_a_blank_page_falls_between_no_pair_and_a_real_doubt_does():
    pairs = [("1", "7"), ("3", "5"), ("4", "9")]
    blank = read(digit_logits(d1=-1.5, d7=-1.5, d3=-2.0, d5=-2.0))  # sigmoids 0.18 and 0.12
    assert pairs_between(blank, pairs, 0.5) == []
    doubt = read(digit_logits(d1=0.4, d7=-0.2))  # 0.60 and 0.45: 7 nearly fires
    assert [(a, b) for a, b, _ in pairs_between(doubt, pairs, 0.5)] == [("1", "7")]


def test_predict_json_says_which_reading_the_verdict_is(tmp_path, capsys):
    from tests.engine.bad_inputs import draw_digit, encode

    image = tmp_path / "seven.png"
    image.write_bytes(encode(draw_digit("7")))
    for run_id, reading in (("demo-softmax", "softmax"), ("demo", "sigmoid")):
        assert main(["predict", run_id, str(image), "--json", "--runs-dir", str(tmp_path)]) == 0
        (answer,) = json.loads(capsys.readouterr().out)
        assert answer["reading"] == reading
        sigmoid = torch.tensor(answer["sigmoid"])
        assert answer["fired"] == [answer["classes"][k] for k in torch.nonzero(sigmoid >= 0.5)]
        if reading == "softmax":
            winner = answer["classes"][int(torch.tensor(answer["softmax"]).argmax())]
            assert answer["verdict"] == [winner]
        else:
            assert answer["verdict"] == answer["fired"]


@pytest.mark.parametrize("run_id", ["demo", "demo-softmax", "demo-pairs"])
def test_shipped_demo_runs_know_their_reading_and_data(run_id):
    run = RunStore(include_demo=True).load_run(run_id)
    assert run.reading == ("softmax" if run.mode == "multi-class" else "sigmoid")
    # MNIST: one digit per image; two-digits: two
    assert run.labels_per_image == ("several" if run_id == "demo-pairs" else "one")
    assert run.warnings == []
