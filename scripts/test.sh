#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the default test suite: everything not marked slow.
# GPU and MOSEK tests skip themselves, with the reason, where there is no GPU or licence.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -m "not slow" "$@"
