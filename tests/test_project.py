"""The project as an installable package: one version, the `lme` command, the shipped assets
declared as package data, and no code that edits `sys.path` to find its own packages."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

import engine
from engine import __main__ as engine_main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_is_written_once_and_recorded_by_runs() -> None:
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "engine.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", engine.__version__)
    writers = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "engine").rglob("*.py")
        if f'"{engine.__version__}"' in path.read_text(encoding="utf-8")
    ]
    assert writers == ["engine/__init__.py"]


def test_dependencies_are_the_pins_of_requirements_txt() -> None:
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["dependencies"] == {
        "file": ["requirements.txt"]
    }


def test_the_lme_command_is_python_dash_m_engine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert PYPROJECT["project"]["scripts"] == {"lme": "engine.__main__:run"}
    monkeypatch.setattr("sys.argv", ["lme", "models"])
    with pytest.raises(SystemExit) as exited:
        engine_main.run()
    assert exited.value.code == 0
    assert capsys.readouterr().out.split()[:2] == ["cnn", "mlp"]


def test_every_shipped_asset_is_package_data() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["engine"]
    assets = [
        path.relative_to(ROOT / "engine").as_posix()
        for path in (ROOT / "engine" / "assets").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert "assets/mnist_5k.npz" in assets and "assets/demo_run/weights.pt" in assets
    declared = {  # the files setuptools' globs pick (`**` is any depth of folders)
        path.relative_to(ROOT / "engine").as_posix()
        for pattern in patterns
        for path in (ROOT / "engine").glob(pattern)
        if path.is_file()
    }
    assert set(assets) <= declared


def test_packages_cover_the_engine_dashboard_and_bench() -> None:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in ("engine", "engine.analysis", "dashboard", "dashboard.views", "bench"):
        assert any(fnmatch.fnmatch(package, pattern) for pattern in include), package


def test_no_code_edits_sys_path() -> None:
    offenders = [
        path.relative_to(ROOT).as_posix()
        for folder in ("engine", "dashboard", "bench", "tools", "tests")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"sys\.path\.(insert|append|extend)", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_pytest_knows_the_markers_and_finds_the_root() -> None:
    options = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert options["pythonpath"] == ["."]
    assert {m.split(":")[0] for m in options["markers"]} == {"slow", "browser"}
    assert "--strict-markers" in options["addopts"]
