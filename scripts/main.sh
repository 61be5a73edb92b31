#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job: solve the paper's two-good instance
# (U[0,1]^2 values, belief (1/2, 1/2), trades in [-1,1]^2, no adverse selection), print the menu
# and its certified bounds, and write the allocation-region map and the result JSON to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/amm-opt solve --paper --out out/paper_two_goods.json --plot out/paper_two_goods.png "$@"
