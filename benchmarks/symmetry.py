"""Certified bounds for 3 to 6 goods with the grid LP folded onto orbits (issue 17).

Each case runs ``GridLP`` (``symmetry="auto"``) on one base grid in a fresh subprocess, so that
its peak resident memory (``ru_maxrss``) is its own, and prints a markdown row: group and
order, points of the full and of the folded LP, rows, the bracket (the lower bound with its
method, and its standard error for QMC), the certified relative gap (UB - LB) / LB, the time and
the peak memory. ``--crosscheck`` also trains RochetNet (``rochetnet_steps`` steps) on the same
problem and checks that its menu's profit lies below the certified upper bound (within
``amm_opt.result.bracket_slack``): every bracket must hold against a learned menu too.

Cases (``--cases``; each with its issue-17 target):

``mono3``   selling-only monopolist, 3 i.i.d. U[0,1] goods, c = 0, X = [0,1]^3: <= 0.1% in 2 min
``mono4``   the same with 4 goods: <= 1% in 10 min
``mono5``   5 goods: <= 3% in 10 min
``mono6``   6 goods: <= 3% in 10 min
``amm3``    AMM, U[0,1]^3, c = 1/2, X = [-1,1]^3, lambda = 0: <= 0.3% in 5 min
``amm3l``   the same at lambda = 1/2: <= 0.3% in 5 min
``amm4``    AMM, U[0,1]^4, c = 1/2, lambda = 0: <= 1% in 10 min
``beta3``   AMM, Beta(2,2) x U[0,1] x U[0,1], c = 1/2, X = [-1,1]^3 (group Z2 x B2, order 16;
            "3 goods without symmetry" in the issue): <= 1% in 10 min

Usage: ``python benchmarks/symmetry.py --cases mono3 amm3 [--grid mono3=45] [--crosscheck STEPS]
[--fine-tune]``; ``--fine-tune`` trains RochetNet from the LP's menu (the automatic rule's hand-off,
:mod:`amm_opt.handoff`) and keeps the better lower bound.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

CASES: dict[str, dict[str, Any]] = {
    # name: goods, belief, allocation, lambda, default grid, time limit (s), target gap, polish
    "mono3": dict(goods=3, belief=0.0, allocation=(0, 1), lam=0.0, grid=45, limit=120,
                  target=1e-3),
    "mono4": dict(goods=4, belief=0.0, allocation=(0, 1), lam=0.0, grid=20, limit=600,
                  target=1e-2),
    "mono5": dict(goods=5, belief=0.0, allocation=(0, 1), lam=0.0, grid=10, limit=600,
                  target=3e-2),
    "mono6": dict(goods=6, belief=0.0, allocation=(0, 1), lam=0.0, grid=7, limit=600,
                  target=3e-2),
    "amm3": dict(goods=3, belief=0.5, allocation=(-1, 1), lam=0.0, grid=60, limit=300,
                 target=3e-3),
    "amm3l": dict(goods=3, belief=0.5, allocation=(-1, 1), lam=0.5, grid=72, limit=300,
                  target=3e-3),
    "amm4": dict(goods=4, belief=0.5, allocation=(-1, 1), lam=0.0, grid=20, limit=600,
                 target=1e-2),
    "beta3": dict(goods=3, belief=0.5, allocation=(-1, 1), lam=0.0, grid=32, limit=600,
                  target=1e-2, values="beta-uniform-uniform"),
}


def _problem(case: dict[str, Any]) -> Any:
    from amm_opt import Beta, Problem, Product, Uniform

    values = Product([Beta(2, 2), Uniform(0, 1), Uniform(0, 1)]) \
        if case.get("values") == "beta-uniform-uniform" else Uniform(0, 1)
    return Problem(goods=case["goods"], values=values, belief=case["belief"],
                   allocation=case["allocation"], adverse_selection=case["lam"])


def run_case(name: str, grid: int, limit: float, crosscheck_steps: int,
             fine_tune: bool = False) -> dict[str, Any]:
    """One case in this process; returns its numbers (JSON-ready)."""
    from amm_opt.result import bracket_slack
    from amm_opt.solvers.grid_lp import GridLP

    case = CASES[name]
    problem = _problem(case)
    start = time.perf_counter()
    res = GridLP(grid=grid, time_limit=limit).solve(problem)
    seconds = time.perf_counter() - start
    sym = res.stats["symmetry"]
    lo, hi = res.bounds.lower, res.bounds.upper
    out = {
        "case": name, "goods": case["goods"], "grid": grid, "group": sym["description"],
        "order": sym["order"], "full_points": sym.get("full_points"),
        "points": res.stats["lp_points"], "rows": res.stats["lp_pairs"],
        "rounds": res.stats["rounds"], "lower": lo, "lower_method": res.bounds.lower_method,
        "lower_stderr": res.bounds.lower_stderr, "upper": hi, "gap": (hi - lo) / lo,
        "seconds": seconds, "status": res.status.value, "menu_items": res.menu.size,
        "timings": res.stats["timings"], "target": case["target"], "limit": case["limit"],
        "allowance": sym.get("allowance"),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if fine_tune and res.menu is not None:
        # The automatic rule's hand-off (amm_opt.handoff): RochetNet from the LP's menu; the
        # better menu is the lower bound, by a fresh evaluation (seed 1).
        from amm_opt import evaluate
        from amm_opt.handoff import fine_tune

        t0 = time.perf_counter()
        tuned, why = fine_tune(problem, res.menu)
        if tuned is None:
            raise RuntimeError(f"the fine-tune did not run: {why}")
        ev = evaluate(problem, tuned.menu, seed=1)
        out["seconds"] += time.perf_counter() - t0
        out["lp_menu_lower"] = lo
        if ev.profit > lo:
            out.update(lower=ev.profit, lower_method=ev.method, lower_stderr=ev.stderr,
                       gap=(hi - ev.profit) / ev.profit, fine_tuned=True)
    if crosscheck_steps:
        from amm_opt import solve

        t0 = time.perf_counter()
        rn = solve(problem, backend="rochetnet", steps=crosscheck_steps, check=False)
        out["rochetnet"] = rn.profit
        out["rochetnet_stderr"] = rn.bounds.lower_stderr
        out["rochetnet_seconds"] = time.perf_counter() - t0
        out["rochetnet_below_upper"] = bool(
            rn.profit <= hi + bracket_slack(rn.bounds.lower_stderr, hi))
    return out


def _row(r: dict[str, Any]) -> str:
    lower = f"{r['lower']:.6f}"
    if r["lower_method"] in ("qmc", "sample-mean"):
        lower += f" ± {r['lower_stderr']:.1e} (QMC)"
    met = r["gap"] <= r["target"] and r["seconds"] <= r["limit"]
    cross = ""
    if "rochetnet" in r:
        cross = (f" | {r['rochetnet']:.6f} "
                 f"{'≤ UB' if r['rochetnet_below_upper'] else '**> UB**'}")
    return (f"| {r['case']} | {r['group']} ({r['order']}) | {r['grid']} | {r['full_points']} → "
            f"{r['points']} | {r['rows']} | {lower} | {r['upper']:.6f} | "
            f"{100 * r['gap']:.3f}% | {r['seconds']:.1f} | {r['peak_mb']:.0f} | "
            f"≤ {100 * r['target']:g}% in {r['limit'] / 60:g} min: {'yes' if met else 'no'}"
            f"{cross} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["mono3", "amm3"], choices=sorted(CASES))
    parser.add_argument("--grid", nargs="*", default=[], help="case=cells overrides")
    parser.add_argument("--limit", type=float, default=None, help="time limit for every case")
    parser.add_argument("--crosscheck", type=int, default=0, metavar="STEPS",
                        help="RochetNet steps for the crosscheck (0: none)")
    parser.add_argument("--fine-tune", action="store_true",
                        help="train RochetNet from the LP's menu (the automatic rule's hand-off)")
    parser.add_argument("--json", help="also append each case's raw numbers to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    grids = {k: int(v) for k, v in (g.split("=") for g in args.grid)}
    if args.one:
        name, grid, limit = args.one.split(":")
        print(json.dumps(run_case(name, int(grid), float(limit), args.crosscheck,
                                  args.fine_tune)))
        return
    head = "| case | group (order) | grid | LP points full → folded | rows | lower | upper | " \
           "gap | seconds | peak MB | target met"
    head += " | RochetNet |" if args.crosscheck else " |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name in args.cases:
        case = CASES[name]
        grid = grids.get(name, case["grid"])
        limit = args.limit if args.limit is not None else case["limit"]
        proc = subprocess.run([sys.executable, __file__, "--one", f"{name}:{grid}:{limit}",
                               "--crosscheck", str(args.crosscheck)]
                              + (["--fine-tune"] if args.fine_tune else []),
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"| {name} | failed: {proc.stderr.strip().splitlines()[-1:]} |")
            continue
        raw = json.loads(proc.stdout.strip().splitlines()[-1])
        print(_row(raw), flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(raw) + "\n")


if __name__ == "__main__":
    main()
