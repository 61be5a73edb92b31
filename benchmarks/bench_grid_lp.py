"""Grid LP backend (``grid_lp``): certified brackets on the references, and cutting planes
against the full pairwise LP.

Prints markdown tables for BENCHMARKS.md:

``r1``     one good (R1, several beliefs and lambda): gap with ``target_gap=1e-6``;
``r2``     R2 at lambda in {0, 1/2}: bracket, gap and time with ``target_gap`` and
           ``time_limit`` (default 1e-3 in 60 s; ``--r2-gap 1e-4 --r2-time 600`` for the long
           target), plus the polished menu against the closed form (items, max price error);
``three``  three goods, uniform, c = (1/2, 1/2, 1/2), lambda = 0: certified gap in a time budget;
``pairs``  the naive baseline, the textbook LP (a tangent plane at every point, every ordered
           pair from the start: ``pairs="all", planes="all"``), against cutting planes with a
           plane at every point and k-nearest-neighbour start pairs (the first cutting-plane
           version) and against the default (planes at positive mass only, Delaunay start) on R2
           grids: time, rows and peak memory, each run in a fresh subprocess so that its peak
           resident memory (``ru_maxrss``) is its own; then the largest grid each reaches within
           ``--pairs-budget`` seconds.

Usage: ``python benchmarks/bench_grid_lp.py [--sections r1 r2 three pairs] [...]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from amm_opt import Problem, Uniform
from amm_opt import references as ref
from amm_opt.solvers.grid_lp import GridLP


def _fmt(x: float | None, digits: int = 7) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def r1_table() -> None:
    print("\n| R1 case | optimum | lower | upper | relative gap | stages | points | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for lam, c in ((0.0, 0.5), (0.5, 0.5), (0.3, 0.2), (0.0, 0.9)):
        problem, _, best = ref.r1_bid_ask(0.0, 1.0, c, lam)
        start = time.perf_counter()
        res = GridLP(target_gap=1e-6, time_limit=60).solve(problem)
        secs = time.perf_counter() - start
        lo, hi = res.bounds.lower, res.bounds.upper
        assert lo <= best + 1e-14 and best <= hi
        print(f"| λ = {lam}, c = {c} | {best:.9f} | {lo:.9f} | {hi:.9f} | "
              f"{res.bounds.relative_gap:.1e} | {res.stats['refinements'] + 1} | "
              f"{res.stats['lp_points']} | {secs:.2f} |")


def r2_table(gap: float, budget: float, grid: int) -> None:
    print(f"\n| R2 λ | optimum | lower | upper | relative gap | target {gap:g} met | stages | "
          "LP points | seconds | polished items | max price error |")
    print("|---|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|")
    for lam in (0.0, 0.5):
        problem, reference, best = ref.r2_two_goods(lam)
        start = time.perf_counter()
        res = GridLP(grid=grid, target_gap=gap, time_limit=budget).solve(problem)
        secs = time.perf_counter() - start
        lo, hi = res.bounds.lower, res.bounds.upper
        assert lo <= best + 1e-14 and best <= hi
        x, p = np.asarray(res.menu.allocations), np.asarray(res.menu.prices)
        errors = []
        for xr, pr in reference:
            hit = np.flatnonzero(np.all(x == xr, axis=1))
            errors.append(abs(p[hit[0]] - pr) if hit.size == 1 else np.inf)
        rel = res.bounds.relative_gap
        print(f"| {lam} | {best:.7f} | {lo:.7f} | {hi:.7f} | {rel:.2e} | "
              f"{'yes' if rel <= gap else 'no'} | {res.stats['refinements'] + 1} | "
              f"{res.stats['lp_points']} | {secs:.1f} | {res.menu.size} | {max(errors):.1e} |")


def three_table(grid: int, budget: float, gap: float, refine: bool) -> None:
    problem = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    start = time.perf_counter()
    res = GridLP(grid=grid, target_gap=gap if refine else None, time_limit=budget).solve(problem)
    secs = time.perf_counter() - start
    t = res.stats["timings"]
    print("\n| 3 goods | grid | refinement | lower | upper | relative gap | LP points | pairs "
          "| rounds | LP s | polish s | total s | status |")
    print("|---|---:|:-:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(f"| uniform, c = ½ | {grid}³ | {'yes' if refine else 'no'} | "
          f"{res.bounds.lower:.6f} | {res.bounds.upper:.6f} | {res.bounds.relative_gap:.4f} | "
          f"{res.stats['lp_points']} | {res.stats['lp_pairs']} | {res.stats['rounds']} | "
          f"{t['lp']:.0f} | {t['polish']:.0f} | {secs:.0f} | {res.status.value} |")


# ---------------------------------------------------------------------------------------------
# Cutting planes vs all pairs (one run per subprocess: peak memory is per run)
# ---------------------------------------------------------------------------------------------
# The variants compared in ``pairs``: the naive baseline first.
VARIANTS = {
    "all": {"pairs": "all", "planes": "all"},
    "cuts_every": {"pairs": "cuts", "planes": "all", "start_pairs": "knn"},
    "cuts": {},
}


def one_run(pairs: str, grid: int, budget: float) -> dict:
    import resource

    problem = ref.r2_two_goods(0.0).problem
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    res = GridLP(grid=grid, polish=False, time_limit=budget, max_all_pairs=200_000_000,
                 **VARIANTS[pairs]).solve(problem)
    secs = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"pairs": pairs, "grid": grid, "seconds": secs, "lp_seconds": res.stats["timings"]["lp"],
            "status": res.status.value, "upper": res.bounds.upper,
            "points": res.stats["lp_points"], "rows": res.stats["lp_pairs"],
            "rounds": res.stats["rounds"], "peak_mib": peak / 1024,
            "baseline_mib": base / 1024}


def _subprocess(pairs: str, grid: int, budget: float) -> dict | None:
    cmd = [sys.executable, __file__, "--one", pairs, str(grid), str(budget)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=budget * 3 + 120,
                             check=False)
    except subprocess.TimeoutExpired:
        return None
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def pairs_table(grids: list[int], budget: float) -> None:
    print("\n| grid | points | rows (all) | rows (cuts, every plane) | rows (default) "
          "| s (all) | s (cuts, every plane) | s (default) | ratio all/default "
          "| peak MiB (all) | peak MiB (cuts, every plane) | peak MiB (default) | same bound |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|")
    reach = dict.fromkeys(VARIANTS, 0)
    alive = dict.fromkeys(VARIANTS, True)
    for grid in grids:
        row = {}
        for kind in VARIANTS:
            if not alive[kind]:
                continue
            out = _subprocess(kind, grid, budget)
            ok = out is not None and out["status"] == "optimal" and out["seconds"] <= budget
            if ok:
                reach[kind] = grid
                row[kind] = out
            else:
                alive[kind] = False
        if not row:
            break
        first = next(iter(row.values()))
        uppers = [r["upper"] for r in row.values()]
        same = "yes" if max(uppers) - min(uppers) < 1e-6 else "no"
        a, c = row.get("all"), row.get("cuts")
        ratio = "—" if not (a and c) else f"{a['seconds'] / c['seconds']:.1f}"
        cells = []
        for key in ("rows", "seconds", "peak_mib"):
            for kind in VARIANTS:
                r = row.get(kind)
                value = None if r is None else r[key]
                cells.append("—" if value is None else
                             (str(value) if key == "rows" else
                              _fmt(value, 1 if key == "seconds" else 0)))
            if key == "seconds":
                cells.append(ratio)
        print(f"| {grid} | {first['points']} | " + " | ".join(cells) + f" | {same} |")
        sys.stdout.flush()
    print(f"\nLargest R2 grid solved within {budget:.0f} s: all pairs {reach['all']}, "
          f"cutting planes with every plane {reach['cuts_every']}, "
          f"default {reach['cuts']}.")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one_run(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["r1", "r2", "pairs"],
                        choices=["r1", "r2", "three", "pairs"])
    parser.add_argument("--r2-gap", type=float, default=1e-3)
    parser.add_argument("--r2-time", type=float, default=60.0)
    parser.add_argument("--r2-grid", type=int, default=32)
    parser.add_argument("--three-grid", type=int, default=20)
    parser.add_argument("--three-time", type=float, default=600.0)
    parser.add_argument("--three-refine", action="store_true")
    parser.add_argument("--pairs-grids", type=int, nargs="+",
                        default=[8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256])
    parser.add_argument("--pairs-budget", type=float, default=60.0)
    args = parser.parse_args()
    if "r1" in args.sections:
        r1_table()
    if "r2" in args.sections:
        r2_table(args.r2_gap, args.r2_time, args.r2_grid)
    if "three" in args.sections:
        three_table(args.three_grid, args.three_time, 0.02, args.three_refine)
    if "pairs" in args.sections:
        pairs_table(args.pairs_grids, args.pairs_budget)


if __name__ == "__main__":
    main()
