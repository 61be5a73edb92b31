#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job: solve the paper's two-good instance
# (U[0,1]^2 values, belief (1/2, 1/2), trades in [-1,1]^2, no adverse selection), print the menu
# and its certified bounds (the grid LP, chosen automatically, refined until the certified gap is
# at most 0.01%: about 30 s on 2 cores), and write the region map and the result JSON to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/amm-opt solve --paper --set target_gap=1e-4 --out out/paper_two_goods.json --plot out/paper_two_goods.png "$@"
