#!/usr/bin/env bash
# The one test command (README, .ci/run): install the project and what the tests need, check
# style, run pytest (settings in pyproject.toml).
#   bash tests/run_tests.sh            # everything
#   bash tests/run_tests.sh tests/engine -k runs   # extra arguments go to pytest
#   bash tests/run_tests.sh -m "not slow and not browser"   # the fast subset: its pytest run
#       takes under a minute (57 s wall, 51 s CPU on a loaded 2-core machine, 2026-12-02)
# With CI=true the browser tests must run: LME_REQUIRE_BROWSER=1 turns a missing browser into
# a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

echo "== installing the project (editable) and the test requirements (installed packages are reused)"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    -r requirements-dev.txt -e .

if [ ! -x /usr/bin/chromium ] && [ -z "${LME_CHROMIUM:-}" ]; then
    echo "== installing Debian's chromium for the browser tests"
    if [ "$(id -u)" = 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        SUDO="none"
    fi
    if [ "$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then
        if ! { $SUDO apt-get update -qq &&
               $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
        then
            echo "   apt-get could not install chromium (offline?); browser tests will skip" \
                 "unless CI=true, where they fail"
        fi
    else
        echo "   cannot install chromium here (needs apt-get and root); browser tests will skip" \
             "unless CI=true, where they fail"
    fi
fi
if [ -x /usr/bin/chromium ] && [ -z "${LME_CHROMIUM:-}" ]; then
    export LME_CHROMIUM=/usr/bin/chromium
fi

if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
    export LME_REQUIRE_BROWSER=1
fi

folders=()
for folder in engine dashboard tests bench tools; do
    [ -d "$folder" ] && folders+=("$folder")
done
echo "== ruff format --check and ruff check: ${folders[*]}"
"$PYTHON" -m ruff format --check "${folders[@]}"
"$PYTHON" -m ruff check "${folders[@]}"

echo "== pytest"
status=0
"$PYTHON" -m pytest -q "$@" || status=$?
if [ "$status" = 5 ]; then
    echo "pytest collected no tests (exit 5): nothing to run is not a failure here"
    status=0
fi
exit "$status"
