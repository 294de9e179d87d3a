"""The one strict-JSON sanitiser (engine.json_values) and the StrEnum vocabularies, whose
members must stay the plain strings written on disk and read on the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.json_values import json_text, plain_json
from engine.modes import LABEL_MODES, LabelMode
from engine.states import FINISHED_JOB_STATES, JobState, RunState


def test_non_finite_numbers_become_null_at_any_depth() -> None:
    value = {"a": math.nan, "b": [1.5, math.inf, (-math.inf, 2)], "c": np.float32("nan")}
    assert plain_json(value) == {"a": None, "b": [1.5, None, [None, 2]], "c": None}
    assert json.loads(json_text(value)) == {"a": None, "b": [1.5, None, [None, 2]], "c": None}


def test_numpy_torch_and_paths_become_plain_values() -> None:
    value = {
        "int": np.int64(3),
        "array": np.array([0.5, np.nan]),
        "tensor": torch.tensor([[1, 2]]),
        "flag": np.bool_(True),
        "path": Path("runs") / "x",
    }
    plain = plain_json(value)
    assert plain == {
        "int": 3,
        "array": [0.5, None],
        "tensor": [[1, 2]],
        "flag": True,
        "path": str(Path("runs") / "x"),
    }
    assert type(plain["int"]) is int and type(plain["flag"]) is bool
    json.loads(json_text(value))  # strict JSON: no NaN token


def test_an_unknown_object_is_refused_not_written_as_garbage() -> None:
    with pytest.raises(TypeError):
        json_text({"x": object()})


def test_the_vocabularies_are_the_strings_on_disk_and_on_the_command_line() -> None:
    assert LABEL_MODES == ("multi-class", "multi-label")
    assert [type(mode) for mode in LABEL_MODES] == [str, str]
    assert LabelMode("multi-label") is LabelMode.MULTI_LABEL
    written = {"status": RunState.RUNNING, "state": JobState.DONE, "mode": LabelMode.MULTI_CLASS}
    assert json.loads(json.dumps(written, indent=2)) == {
        "status": "running",
        "state": "done",
        "mode": "multi-class",
    }
    assert f"{RunState.STOPPED}" == "stopped"
    assert "failed" in FINISHED_JOB_STATES and "queued" not in FINISHED_JOB_STATES
