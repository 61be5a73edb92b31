"""RochetNet on allocation sets beyond boxes and beliefs outside the value box (issue 14).

Each case trains RochetNet (``--steps``, default 2000) and prints a markdown row: the learned
menu's exact profit, the reference (a closed form where one is known, else selling separately
at Myerson's prices, a lower bound that the learned menu should beat), the relative gap to a
closed form, the items kept, the time, and whether every item lies in X (to 1e-12).

Cases:

``swap``      pure swap x = t(e1 - e2), |t| <= 1, U[0,1]^2, c = 1/2: optimum 4/27 (one-good
              problem in v1 - v2, see docs/allocation_sets.md)
``unit``      unit demand {x >= 0, x1 + x2 <= 1}, U[0,1]^2, c = 0 (no closed form here)
``budget``    [-1,1]^2 with x1 + x2 <= 1, U[0,1]^2, c = 1/2 (no closed form here)
``box_r2``    R2 with X = [-1,1]^2 given as a polytope: optimum (12 + 2 sqrt 2)/54
``mono_off``  selling-only monopolist, U[0.5,1.5]^2, c = 0, X = [0,1]^2 (belief outside V):
              reference = selling separately at 0.75, 1.125

Usage: ``OMP_NUM_THREADS=1 python benchmarks/allocation_sets.py [--cases swap unit] [--steps N]``.
No certified upper bound is computed: grid_lp and ot_dual do not take polytopes yet.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from amm_opt import Polytope, Problem, Uniform, references, solve


def cases() -> dict[str, tuple[Problem, float | None]]:
    u = Uniform(0, 1)
    return {
        "swap": (Problem(goods=2, values=u, belief=0.5, allocation=Polytope.pure_swap(2)),
                 4 / 27),
        "unit": (Problem(goods=2, values=u, belief=0.0, allocation=Polytope.unit_demand(2)),
                 None),
        "budget": (Problem(goods=2, values=u, belief=0.5,
                           allocation=Polytope.budget([-1, -1], [1, 1], 1.0)), None),
        "box_r2": (Problem(goods=2, values=u, belief=0.5,
                           allocation=Polytope.box([-1, -1], [1, 1])), references.r2_profit()),
        "mono_off": (Problem(goods=2, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1)),
                     None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(cases()))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--menu-size", type=int, default=32)
    args = parser.parse_args()
    print("| case | profit | reference | rel. gap | separate | items | seconds | in X |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.cases:
        problem, optimum = cases()[name]
        start = time.perf_counter()
        res = solve(problem, backend="rochetnet", menu_size=args.menu_size, steps=args.steps,
                    batch_size=4096, device="cpu", progress=False, threads=1)
        seconds = time.perf_counter() - start
        sep = "-" if not problem.allocation_is_box else \
            f"{solve(problem, backend='separate').profit:.6f}"
        inside = bool(problem.allocation_contains(np.asarray(res.menu.allocations), 1e-12).all())
        gap = "-" if optimum is None else f"{(optimum - res.profit) / optimum:.2e}"
        ref = "-" if optimum is None else f"{optimum:.6f}"
        print(f"| {name} | {res.profit:.6f} | {ref} | {gap} | {sep} | {res.menu.size} | "
              f"{seconds:.1f} | {inside} |")
        assert math.isfinite(res.profit)


if __name__ == "__main__":
    main()
