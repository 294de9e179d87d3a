"""The container: the Dockerfile at the root is the one the README shows, it builds the
CPU-only hosted demo (non-root, writable runs folder, LME_PUBLIC=1) on the port the Hugging
Face front matter names, and it builds where `docker` exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engine import hosting

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, comments left out."""
    lines = [line for line in DOCKERFILE.splitlines() if line and not line.startswith("#")]
    return [(line.split(" ", 1)[0], line.split(" ", 1)[1]) for line in lines]


def _environment() -> dict[str, str]:
    found = {}
    for instruction, arguments in _instructions():
        if instruction == "ENV":
            found.update(part.split("=", 1) for part in arguments.split())
    return found


def _front_matter() -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---\n", README, re.S)
    assert match, "README.md must open with the Hugging Face Spaces front matter"
    return dict(line.split(": ", 1) for line in match.group(1).splitlines())


def test_the_readme_shows_the_dockerfile_at_the_root() -> None:
    blocks = re.findall(r"```dockerfile\n(.*?)```", README, re.S)
    assert blocks == [DOCKERFILE]


def test_the_front_matter_and_the_image_name_the_same_port() -> None:
    front = _front_matter()
    assert front["sdk"] == "docker" and front["title"] == "Label Mode Explorer"
    exposed = [arguments for instruction, arguments in _instructions() if instruction == "EXPOSE"]
    [command] = [json.loads(arguments) for name, arguments in _instructions() if name == "CMD"]
    assert exposed == [front["app_port"]]
    assert f"--server.port={front['app_port']}" in command
    assert command[:3] == ["streamlit", "run", "dashboard/app.py"]
    assert (ROOT / command[2]).is_file()


def test_the_image_is_the_cpu_only_hosted_demo_run_by_a_plain_user() -> None:
    instructions = _instructions()
    installs = [
        arguments for name, arguments in instructions if name == "RUN" and "pip" in arguments
    ]
    assert installs == ["pip install --no-cache-dir -r dashboard/requirements.txt"]
    assert "whl/cpu" in (ROOT / "dashboard" / "requirements.txt").read_text()
    users = [arguments for name, arguments in instructions if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    environment = _environment()
    assert hosting.is_public(environment)
    # the folders the app writes exist and belong to that user
    prepare = next(arguments for name, arguments in instructions if "mkdir" in arguments)
    for variable in ("LME_RUNS_DIR", "LME_UPLOADS_DIR"):
        assert environment[variable] in prepare.split()
    assert f"chown -R {users[-1]} /data" in prepare
    assert all(environment[v].startswith("/data/") for v in ("LME_RUNS_DIR", "LME_UPLOADS_DIR"))
    assert hosting.hosting_limits(environment).public  # every setting it gives is valid


def test_the_image_builds_where_docker_exists() -> None:
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed here; the checks above still ran")
    daemon = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    if daemon.returncode != 0:
        pytest.skip("the docker command is here but no Docker daemon answers")
    result = subprocess.run(
        ["docker", "build", "-q", "-t", "label-mode-explorer-test", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
