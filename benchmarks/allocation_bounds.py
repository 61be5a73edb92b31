"""Certified brackets on allocation sets beyond boxes and with beliefs outside V (issue 14).

Each case runs ``grid_lp`` with ``target_gap=1e-3`` and ``time_limit=60`` (the issue's target:
a certified relative gap <= 1e-3 within 60 s) and prints a markdown row: the bracket, its
relative gap ``(UB - LB) / LB``, the wall time, the LP points of the last stage, whether every
item lies in X (1e-12), and -- with ``--check`` -- RochetNet's menu profit (must lie below the
certified bound) and the ``ot_dual`` bound at grid 64 (must lie above the lower bound).
``box_r2`` also times the box given as a polytope against the plain box in the same process
(the polytope path adds rows the box's bounds imply, which :meth:`Polytope.relaxation_rows`
leaves out, so the two LPs are the same).

Cases (U[0,1] values unless stated)::

    unit       unit demand {x >= 0, x1 + x2 <= 1}, c = 1/2
    unit_mono  unit demand, c = 0 (the selling-only monopolist with unit demand)
    swap       pure swap x = t(e1 - e2), |t| <= 1, c = 1/2 (optimum 4/27)
    budget     [-1,1]^2 with x1 + x2 <= 1/2, c = 1/2
    mono_off   selling-only monopolist, U[0.5,1.5]^2, c = 0 (belief outside V)
    mono_far   selling-only monopolist, U[4,16] x U[4,7], c = 0
    amm_above  AMM, c = (1.3, 0.5), X = [-1,1]^2, lambda = 0 and 1/2
    box_r2     R2 with the box as a polytope (and the plain box, for the time ratio)

Usage: ``OMP_NUM_THREADS=1 python benchmarks/allocation_bounds.py [--cases swap unit] [--check]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from amm_opt import Polytope, Problem, Product, Uniform, solve

TARGET_GAP = 1e-3
TIME_LIMIT = 60.0


def cases() -> dict[str, Problem]:
    u = Uniform(0, 1)
    return {
        "unit": Problem(goods=2, values=u, belief=0.5, allocation=Polytope.unit_demand(2)),
        "unit_mono": Problem(goods=2, values=u, belief=0.0, allocation=Polytope.unit_demand(2)),
        "swap": Problem(goods=2, values=u, belief=0.5, allocation=Polytope.pure_swap(2)),
        "budget": Problem(goods=2, values=u, belief=0.5,
                          allocation=Polytope.budget([-1, -1], [1, 1], 0.5)),
        "mono_off": Problem(goods=2, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1)),
        "mono_far": Problem(goods=2, values=Product([Uniform(4, 16), Uniform(4, 7)]),
                            belief=0.0, allocation=(0, 1)),
        "amm_above": Problem(goods=2, values=u, belief=[1.3, 0.5]),
        "amm_above_half": Problem(goods=2, values=u, belief=[1.3, 0.5], adverse_selection=0.5),
        "box_r2": Problem(goods=2, values=u, belief=0.5,
                          allocation=Polytope.box([-1, -1], [1, 1])),
    }


def bracket(problem: Problem) -> tuple[object, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = solve(problem, backend="grid_lp", target_gap=TARGET_GAP, time_limit=TIME_LIMIT)
    return res, time.perf_counter() - start


def checks(problem: Problem, lower: float, upper: float) -> str:
    rn = solve(problem, backend="rochetnet", menu_size=32, steps=1500, batch_size=4096,
               device="cpu", progress=False, threads=1)
    ok = "ok" if rn.profit <= upper else "FAIL"
    try:
        ot = solve(problem, backend="ot_dual", grid=64).bounds.upper
        ot_text = f"{ot:.6f} ({'ok' if ot >= lower else 'FAIL'})"
    except Exception as exc:  # an engine that refuses the problem says why, in the table
        ot_text = f"refused: {type(exc).__name__}"
    return f" {rn.profit:.6f} ({ok}) | {ot_text} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(cases()))
    parser.add_argument("--check", action="store_true",
                        help="also RochetNet's profit and the ot_dual bound (slower)")
    args = parser.parse_args()
    head = "| case | lower | upper | rel. gap | seconds | points | in X |"
    print(head + (" RochetNet | ot_dual 64 |" if args.check else ""))
    print("|---" * (7 + 2 * args.check) + "|")
    for name in args.cases:
        problem = cases()[name]
        res, seconds = bracket(problem)
        lo, hi = res.bounds.lower, res.bounds.upper
        stages = res.stats.get("stages") or [{}]
        inside = bool(problem.allocation_contains(np.asarray(res.menu.allocations), 1e-12).all())
        row = (f"| {name} | {lo:.7f} | {hi:.7f} | {(hi - lo) / lo:.2e} | {seconds:.1f} | "
               f"{stages[-1].get('points', '-')} | {inside} |")
        if args.check:
            row += checks(problem, lo, hi)
        print(row, flush=True)
        if name == "box_r2":
            box = Problem(goods=2, values=Uniform(0, 1), belief=0.5)
            ref, box_seconds = bracket(box)
            print(f"|   plain box | {ref.bounds.lower:.7f} | {ref.bounds.upper:.7f} | "
                  f"{(ref.bounds.upper - ref.bounds.lower) / ref.bounds.lower:.2e} | "
                  f"{box_seconds:.1f} (polytope / box = {seconds / box_seconds:.2f}) | | |",
                  flush=True)


if __name__ == "__main__":
    main()
