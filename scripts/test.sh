#!/usr/bin/env bash
# Sets up the virtual environment with the test tools, then runs the linters, the type checker and
# the test suite (which starts its own fake Telegram and Eden AI servers on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The layers as a checked contract (pyproject.toml, [tool.importlinter]).
.venv/bin/lint-imports
# The end-to-end tests mostly wait on loopback HTTP (each bot forked from a process that imported
# it once: tests/fakes/zygote.py), so a few workers per core pay off.
.venv/bin/pytest -n 4 "$@"
