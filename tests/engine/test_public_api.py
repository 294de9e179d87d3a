"""The package's public API: every exported name resolves, and `import engine` stays light."""

from __future__ import annotations

import subprocess
import sys

import engine


def test_every_exported_name_resolves() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    assert engine.RunStore is __import__("engine.runs").runs.RunStore
    assert "train_run" in dir(engine)


def test_importing_engine_loads_neither_streamlit_nor_torch() -> None:
    probe = "import sys, engine; print('streamlit' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "False"]


def test_the_whole_engine_imports_without_streamlit() -> None:
    probe = (
        "import sys, engine; [getattr(engine, name) for name in engine.__all__]; "
        "import engine.cli, engine.jobs; print('streamlit' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        engine.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("expected AttributeError")
