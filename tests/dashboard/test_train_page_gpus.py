"""Train page on a machine with several GPUs: a toggle trains on all of them (torchrun child
processes, engine.training_jobs); with one GPU or none the form has no such toggle."""

from __future__ import annotations

import pytest

from engine import training_jobs
from engine.errors import EngineError

PAGE = "views/train.py"


def test_one_gpu_or_none_shows_no_gpu_toggle(open_page) -> None:
    app = open_page(PAGE)
    assert not app.exception
    assert not [toggle for toggle in app.toggle if "GPUs" in toggle.label]


@pytest.mark.slow
def test_several_gpus_train_on_all_of_them(open_page, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int | None] = []

    def fake_start(config, store, split=None, processes=None, **visitor):  # owner, abandon_after
        started.append(processes)
        raise EngineError("not started in this test")

    monkeypatch.setattr(training_jobs, "default_processes", lambda config: 4)
    monkeypatch.setattr(training_jobs, "start_training", fake_start)
    app = open_page(PAGE, limit="300")
    [toggle] = [toggle for toggle in app.toggle if "GPUs" in toggle.label]
    assert toggle.label.startswith("Use all 4 GPUs") and toggle.value
    app.button[0].click().run()
    toggle = next(toggle for toggle in app.toggle if "GPUs" in toggle.label)
    toggle.set_value(False)
    app.button[0].click().run()
    assert started == [4, 1]
    assert app.error[0].value == "not started in this test"
