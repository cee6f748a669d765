#!/usr/bin/env bash
# The project's checks: lint, types, then every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# The engine tests run the Pulumi CLI the set-up step installed.
PATH="$(./scripts/install-pulumi.sh):$PATH"
export PATH
venv/bin/ruff check .
venv/bin/ruff format --check .
venv/bin/mypy
venv/bin/python -m pytest -q "$@"
