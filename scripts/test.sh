#!/usr/bin/env bash
# The project's checks: lint, types, then every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
venv/bin/ruff check .
venv/bin/ruff format --check .
venv/bin/mypy
venv/bin/python -m pytest -q "$@"
