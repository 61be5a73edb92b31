#!/usr/bin/env bash
# Build the HTML documentation into docs/_build/html; every Sphinx warning is an error.
# Needs the docs extra (sphinx, myst-parser), which scripts/setup.sh installs with ".[all,dev]".
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
