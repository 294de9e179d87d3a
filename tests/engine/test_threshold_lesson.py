"""The threshold lesson: metrics against the threshold (fastbook's plot), per-class thresholds
tuned on one half of the validation images and scored on the other, saved beside run.json and
used by `predict --threshold tuned`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from engine.analysis import held_out_tuning, threshold_curve, threshold_metrics, tune_thresholds
from engine.analysis.outputs import fired, truth_matrix
from engine.cli import main
from engine.errors import RunError
from engine.prediction import predict_images
from engine.runs import (
    THRESHOLDS_FILE,
    RunStore,
    load_run_folder,
    read_tuned_thresholds,
    save_tuned_thresholds,
)
from tests.engine.bad_inputs import draw_digit, encode
from tests.engine.synthetic import FOUR_NAMES, FOUR_PROBABILITIES, FOUR_TARGETS


def test_the_curve_agrees_with_threshold_metrics_at_every_point():
    curve = threshold_curve(FOUR_PROBABILITIES, FOUR_TARGETS)
    assert curve["threshold"].iloc[0] == 0.05 and curve["threshold"].iloc[-1] == 0.95
    assert len(curve) == 91
    for threshold in (0.05, 0.15, 0.5, 0.65, 0.85, 0.95):
        row = curve.loc[np.isclose(curve["threshold"], threshold)].iloc[0]
        expected = threshold_metrics(FOUR_PROBABILITIES, FOUR_TARGETS, FOUR_NAMES, threshold)
        assert row["accuracy_multi"] == pytest.approx(expected.accuracy_multi)
        assert row["exact_match"] == pytest.approx(expected.exact_match)
        assert row["macro_f1"] == pytest.approx(expected.macro_f1)
    # Known values: at 0.5, 9 of 12 cells right and only image 3 ({a}) read exactly.
    middle = curve.loc[np.isclose(curve["threshold"], 0.5)].iloc[0]
    assert middle["accuracy_multi"] == pytest.approx(9 / 12)
    assert middle["exact_match"] == pytest.approx(1 / 4)


def _shifted_scores(count: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0's sigmoids run low (positives 0.25-0.45, negatives 0-0.2): 0.5 misses every
    positive, a tuned threshold finds them; classes 1 and 2 are read well at 0.5."""
    generator = torch.Generator().manual_seed(seed)
    truth = torch.rand(count, 3, generator=generator) < 0.4
    low = torch.where(
        truth[:, 0],
        0.25 + 0.2 * torch.rand(count, generator=generator),
        0.2 * torch.rand(count, generator=generator),
    )
    rest = torch.where(
        truth[:, 1:],
        0.6 + 0.4 * torch.rand(count, 2, generator=generator),
        0.4 * torch.rand(count, 2, generator=generator),
    )
    return torch.cat([low.unsqueeze(1), rest], dim=1), truth.float()


def test_tuning_scored_on_the_other_half_shows_the_real_gain():
    scores, targets = _shifted_scores()
    tuning = held_out_tuning(scores, targets, ("low", "b", "c"), threshold=0.5, seed=3)
    assert tuning.half_sizes == (200, 200)
    assert tuning.per_class.loc["low", "f1_before"] == 0.0
    assert tuning.per_class.loc["low", "f1_held_out"] > 0.95
    assert 0.2 < tuning.per_class.loc["low", "threshold"] < 0.25
    assert tuning.held_out["macro_f1"] > tuning.before["macro_f1"] + 0.3
    # Every image is decided by the thresholds tuned on the other half: recompute it.
    order = torch.randperm(400, generator=torch.Generator().manual_seed(3))
    first, second = order[:200].sort().values, order[200:].sort().values
    truth = truth_matrix(targets, 3)
    decided = torch.zeros_like(truth)
    decided[first] = fired(scores[first], tune_thresholds(scores[second], targets[second]))
    decided[second] = fired(scores[second], tune_thresholds(scores[first], targets[first]))
    assert tuning.held_out["exact_match"] == pytest.approx(
        float((decided == truth).all(dim=1).float().mean())
    )


def test_on_noise_tuning_in_sample_looks_better_than_it_is():
    generator = torch.Generator().manual_seed(1)
    scores = torch.rand(300, 4, generator=generator)
    targets = (torch.rand(300, 4, generator=generator) < 0.3).float()  # unrelated to scores
    tuning = held_out_tuning(scores, targets, list("abcd"))
    assert tuning.in_sample["macro_f1"] > tuning.held_out["macro_f1"] + 0.02
    assert tuning.to_dict()["held_out"] == tuning.held_out


@pytest.fixture
def own_run(tmp_path, tiny_runs):
    """A copy of the tiny multi-label run in a store of its own, free to change."""
    root, multi_label, _ = tiny_runs
    shutil.copytree(root / multi_label, tmp_path / "runs" / multi_label)
    return tmp_path / "runs", multi_label


def test_saved_thresholds_reload_and_predict_uses_them(own_run):
    root, run_id = own_run
    run = RunStore(root).load_run(run_id)
    assert read_tuned_thresholds(run) is None
    seven = [("seven.png", encode(draw_digit("7")))]
    everything = save_tuned_thresholds(run, [1e-6] * 10, {"held_out": {"macro_f1": 0.5}})
    assert everything == run.path / THRESHOLDS_FILE
    saved = read_tuned_thresholds(run)
    assert saved.values == (1e-6,) * 10 and saved.scores["held_out"]["macro_f1"] == 0.5
    assert predict_images(run, seven, threshold=list(saved.values))[0].verdict == list("0123456789")
    save_tuned_thresholds(run, [0.999999] * 10)
    assert (
        predict_images(run, seven, threshold=list(read_tuned_thresholds(run).values))[0].verdict
        == []
    )
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]  # atomic write


def test_predict_threshold_tuned_on_the_command_line(own_run, capsys):
    root, run_id = own_run
    image = root / "seven.png"
    image.write_bytes(encode(draw_digit("7")))
    args = [
        "predict",
        run_id,
        str(image),
        "--threshold",
        "tuned",
        "--json",
        "--runs-dir",
        str(root),
    ]
    assert main(args) == 2
    assert "has no tuned thresholds" in capsys.readouterr().err
    run = RunStore(root).load_run(run_id)
    save_tuned_thresholds(run, [1e-6] * 10)
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)[0]["verdict"] == list("0123456789")
    with pytest.raises(SystemExit) as usage:  # argparse's usage error: one line, status 2
        main([*args[:4], "sometimes", "--runs-dir", str(root)])
    assert usage.value.code == 2
    assert "invalid threshold 'sometimes'" in capsys.readouterr().err


def test_the_demo_run_is_read_only_and_bad_files_are_refused(own_run, tmp_path):
    demo = RunStore(tmp_path / "empty").load_run("demo")
    with pytest.raises(RunError, match="ships with the program and is read-only"):
        save_tuned_thresholds(demo, [0.5] * 10)
    root, run_id = own_run
    run = load_run_folder(root / run_id)
    with pytest.raises(RunError, match="one threshold per class"):
        save_tuned_thresholds(run, [0.5] * 3)
    (run.path / THRESHOLDS_FILE).write_text("{not json")
    with pytest.raises(RunError, match="is damaged"):
        read_tuned_thresholds(run)
    (run.path / THRESHOLDS_FILE).write_text(
        json.dumps({"thresholds": [0.5] * 10, "class_names": list("abcdefghij")})
    )
    with pytest.raises(RunError, match="does not fit its classes"):
        read_tuned_thresholds(run)
