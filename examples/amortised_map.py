"""One network for every belief and adverse-selection level, and its certified accuracy map.

Trains a menu family over U[0,1]^2 with c in [0.25, 0.75]^2 and lambda in [0, 0.6] (or loads
one with --family), then compares, at held-out parameters, the exact profit of the family's
menu with grid_lp's certified upper bound:

- a table at 25 Latin-hypercube points (``map.md``, ``map.json``),
- a heatmap on a 5 x 5 grid over c_1 and lambda, c_2 = 1/2 (``heatmap.png``),
- the family itself (``family.json`` and its weights file), reusable with --family.

Run:  python examples/amortised_map.py --out DIR [--time-limit 300] [--family FILE]
(about the time limit plus two minutes for the bounds on a 2-core CPU)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from amm_opt import Uniform
from amm_opt.amortised import (
    AmortisedTrainer,
    FamilySpec,
    accuracy_map,
    grid_parameters,
    heldout_parameters,
    load_family,
    save_family,
)
from amm_opt.amortised.heatmap import plot_accuracy_map


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the outputs (created)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="training seconds")
    ap.add_argument("--steps", type=int, default=3000, help="schedule length")
    ap.add_argument("--family", default=None, help="use this saved family instead")
    ap.add_argument("--points", type=int, default=25)
    ap.add_argument("--grid", type=int, default=128, help="grid_lp cells per axis")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.family is not None:
        family = load_family(args.family)
    else:
        spec = FamilySpec(2, Uniform(0, 1), belief=(0.25, 0.75), adverse_selection=(0.0, 0.6))
        family = AmortisedTrainer(steps=args.steps, time_limit=args.time_limit).train(spec)
        save_family(family, out / "family.json")
        print(f"trained {family.info['steps_run']} steps in "
              f"{family.info['train_seconds']:.0f} s ({family.info['stop_reason']})")
    spec = family.spec
    upper = {"grid": args.grid}

    amap = accuracy_map(family, heldout_parameters(spec, args.points), upper_options=upper)
    print(amap.table())
    (out / "map.md").write_text(amap.table() + "\n", encoding="utf-8")
    (out / "map.json").write_text(json.dumps(amap.to_dict(), indent=1), encoding="utf-8")

    axes = (0, spec.dim - 1)
    grid = accuracy_map(family, grid_parameters(spec, axes, (5, 5)), upper_options=upper,
                        grid_shape=(5, 5), axes=axes)
    plot_accuracy_map(grid, out / "heatmap.png")
    summary = {"held_out": amap.summary(), "grid": grid.summary()}
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(json.dumps(summary, indent=1))
    print(f"written to {out}: map.md, map.json, heatmap.png, summary.json")


if __name__ == "__main__":
    main()
