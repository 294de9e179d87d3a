"""Non-digit "neither" rates, running a model on uint8 images, and the JSON / text report."""

import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from engine.analysis import (
    analysis_report,
    check_non_digits,
    fit_images_to_shape,
    format_report,
    model_logits,
    neither_rates,
)
from engine.config import RunConfig
from engine.errors import RunError

NAMES = ("a", "b", "c")
# image 0: a and b fire (true a); 1: b alone (true b); 2: none (true c); 3: a alone (true b)
LOGITS = torch.tensor([[3.0, 1, -3], [-1, 2, -2], [-1, -2, -0.5], [2, -1, -1]])
TARGETS = torch.tensor([0, 1, 2, 1])


class MeanPixel(nn.Module):
    """Logits = (normalised mean pixel, its negative): shows exactly what the model received."""

    def forward(self, images):
        mean = images.mean(dim=(1, 2, 3))
        return torch.stack([mean, -mean], dim=1)


def _constant_model(bias):
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, len(bias)))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor(bias))
    return model


def _run(run_id, mode, logits, model_bias):
    return SimpleNamespace(
        id=run_id,
        config=RunConfig().with_changes(mode=mode),
        class_names=NAMES,
        image_shape=(1, 28, 28),
        normalization=([0.5], [0.25]),
        model=_constant_model(model_bias),
        validation=SimpleNamespace(
            logits=logits, targets=TARGETS, images=torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
        ),
    )


def test_model_logits_normalises_like_training():
    images = torch.tensor([255, 0], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 1, 4, 4)
    logits = model_logits(MeanPixel(), images, ([0.5], [0.25]), batch_size=1)
    torch.testing.assert_close(logits, torch.tensor([[2.0, -2.0], [-2.0, 2.0]]))
    as_mapping = model_logits(MeanPixel(), images, {"mean": [0.5], "std": [0.25]})
    torch.testing.assert_close(as_mapping, logits)


def test_fit_images_to_shape_resizes_and_repeats_channels():
    images = torch.full((2, 1, 28, 28), 200, dtype=torch.uint8)
    fitted = fit_images_to_shape(images, (3, 32, 32))
    assert fitted.shape == (2, 3, 32, 32) and fitted.dtype == torch.uint8
    assert int(fitted.min()) == 200 and int(fitted.max()) == 200


def test_neither_rates_per_reading_and_kind():
    logits = torch.tensor([[-3.0, -3], [2, -3], [-3, -3], [-3, 2]])
    kinds = ["blank", "noise", "blank", "noise"]
    check = neither_rates({"a": logits, "c": logits}, kinds, ("x", "y"), threshold=0.5)
    assert check.readings.loc["c", "neither_rate"] == 0.5
    assert check.readings.loc["a", "neither_rate"] == 0.0  # argmax always names a class
    # softmax of (-3, -3) is 0.5 each: exactly the threshold, which fires by the one rule
    # (sigmoid >= threshold), so no image is below it
    assert check.readings.loc["a", "low_confidence_rate"] == 0.0
    raised = neither_rates({"a": logits}, kinds, ("x", "y"), threshold=0.6)
    assert raised.readings.loc["a", "low_confidence_rate"] == 0.5  # images 0 and 2
    assert check.per_kind.loc["blank", "c"] == 1.0 and check.per_kind.loc["noise", "c"] == 0.0
    assert check.readings.loc["c", "top_class"] == "x"
    assert check.readings.loc["c", "top_class_share"] == 0.25
    assert 'reading (c) says "neither" for 50%' in check.explanation
    assert "names a class for all 4 by construction" in check.explanation
    assert json.loads(json.dumps(check.to_dict()))["per_kind"]["blank"]["c"] == 1.0


def test_check_non_digits_runs_each_model_on_generated_images():
    silent = _run("sig", "multi-label", LOGITS, [-4.0, -4.0, -4.0])  # never fires
    eager = _run("soft", "multi-class", LOGITS, [1.0, 3.0, -2.0])  # always "b"
    check = check_non_digits([eager, silent], threshold=0.5, count=10)
    assert check.count == 10
    assert list(check.readings.index) == ["a", "b", "c"]
    assert check.readings.loc["c", "neither_rate"] == 1.0
    assert check.readings.loc["b", "neither_rate"] == 0.0
    assert check.readings.loc["a", "top_class"] == "b"
    assert check.readings.loc["a", "top_class_share"] == 1.0


def test_report_holds_pairs_counts_and_metrics_as_strict_json():
    run = _run("r1", "multi-label", LOGITS, [-4.0, -4.0, -4.0])
    report = analysis_report(run, threshold=0.5, non_digits=5)
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert (report["both_count"], report["neither_count"]) == (1, 1)
    first = report["pairs"][0]
    assert (first["a"], first["b"]) == ("a", "b")
    strengths = [pair["strength"] for pair in report["pairs"]]
    assert strengths == sorted(strengths, reverse=True)
    assert first["both_count"] == 1
    assert report["metrics"]["accuracy"] == pytest.approx(0.75)
    assert report["metrics"]["exact_match"] == pytest.approx(0.25)
    assert report["per_class"][2] == {"class": "c", "images": 1, "both": 0, "neither": 1}
    assert report["non_digits"]["readings"][0]["neither_rate"] == 1.0
    assert "readings" not in report
    text = format_report(report)
    assert "a / b" in text and "Neither (no class fires): 1" in text


def test_report_compares_three_readings_in_either_order():
    softmax_run = _run("soft", "multi-class", LOGITS, [0.0, 0.0, 0.0])
    sigmoid_run = _run("sig", "multi-label", LOGITS * 2, [0.0, 0.0, 0.0])
    report = analysis_report(sigmoid_run, compare=softmax_run, non_digits=0)
    assert [r["key"] for r in report["readings"]] == ["a", "b", "c"]
    assert report["readings"][0]["accuracy"] == pytest.approx(0.75)
    assert report["readings"][1]["both_count"] == 1
    assert report["explanation"].startswith(
        "Argmax accuracy (the top class is right): the softmax-trained model 75.0%"
    )
    assert report["non_digits"] is None
    json.dumps(report, allow_nan=False)
    text = format_report(report)
    assert "The three readings" in text and report["explanation"] in text
    with pytest.raises(RunError):
        analysis_report(sigmoid_run, compare=sigmoid_run, non_digits=0)


def test_report_of_a_softmax_run_says_which_reading():
    report = analysis_report(_run("soft", "multi-class", LOGITS, [0.0] * 3), non_digits=0)
    assert report["reading"] == "sigmoid"
    assert "reading (b)" in format_report(report)
    softmax_read = analysis_report(
        _run("soft", "multi-class", LOGITS, [0.0] * 3), non_digits=0, reading="softmax"
    )
    assert softmax_read["both_count"] == 0
