"""One table names every metric: history keys and the analysis results' bare names read the
same, headings get a capital (code names excepted), and a chart seen alone says "validation"."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.metric_names import METRIC_LABELS, metric_label, metric_title


def test_history_keys_and_bare_names_share_one_label() -> None:
    assert metric_label("val_exact_match") == metric_label("exact_match") == "exact match"
    assert metric_label("accuracy") == "accuracy (argmax)"
    assert metric_label("train_loss") == "training loss"
    with pytest.raises(KeyError):
        metric_label("no_such_metric")


def test_titles_capitalise_words_but_not_code_names() -> None:
    assert metric_title("val_macro_f1") == "Macro F1"
    assert metric_title("val_accuracy_multi") == "accuracy_multi"
    assert metric_title("val_accuracy", say_validation=True) == "Validation accuracy (argmax)"
    assert metric_title("val_loss", say_validation=True) == "Validation loss"
    assert metric_title("train_loss", say_validation=True) == "Training loss"


@pytest.mark.parametrize("mode", ["multi-class", "multi-label"])
def test_every_metric_a_run_records_has_a_label(mode: str) -> None:
    import torch

    from engine.training import epoch_metrics

    logits = torch.tensor([[2.0, -1.0, 0.5], [-1.0, 3.0, 0.0], [0.0, 0.2, 1.5]])
    recorded = {"train_loss", *epoch_metrics(logits, torch.tensor([0, 1, 2]), mode)}
    assert {key: metric_label(key) for key in recorded}  # a KeyError names the missing one
    if mode == "multi-label":
        assert recorded == set(METRIC_LABELS)


def test_the_table_imports_without_torch() -> None:
    probe = "import sys, engine.metric_names; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
