"""What the automatic rule gives for 3 to 6 goods: ``solve(problem)`` with no backend.

Each case runs in its own subprocess (its own peak memory) and reports the menu engine, the
bound engine, the certified bracket and the wall time of the whole call (menu, bound, evaluation).
The lower bound is the menu's profit by ``evaluate`` (exact for uniform values in 3 goods, QMC with
a standard error beyond); the upper bound is certified unless the table says statistical.

Cases (U[0,1] values; ``mono`` = selling-only monopolist c = 0, X = [0,1]^n; ``amm`` = c = 1/2,
X = [-1,1]^n, lambda = 0)::

    amm3       3 goods, B3 (order 48)
    amm3skew   3 goods, c = (0.4, 0.5, 0.6) (only good 1 reflects: order 2)
    beta3      3 goods, Beta(2,2) x U x U, c = 1/2 (a non-uniform density; order 16)
    mono4 amm4 mono5 mono6

Usage: ``python benchmarks/auto_bounds.py --cases amm3 mono4 [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

CASES: dict[str, dict[str, Any]] = {
    "amm3": dict(goods=3, belief=0.5, allocation=(-1, 1)),
    "amm3skew": dict(goods=3, belief=[0.4, 0.5, 0.6], allocation=(-1, 1)),
    "beta3": dict(goods=3, belief=0.5, allocation=(-1, 1), beta=True),
    "mono4": dict(goods=4, belief=0.0, allocation=(0, 1)),
    "amm4": dict(goods=4, belief=0.5, allocation=(-1, 1)),
    "mono5": dict(goods=5, belief=0.0, allocation=(0, 1)),
    "mono6": dict(goods=6, belief=0.0, allocation=(0, 1)),
}


def run_case(name: str) -> dict[str, Any]:
    import warnings

    from amm_opt import Beta, Problem, Product, Uniform, solve

    case = CASES[name]
    values = Product([Beta(2, 2), Uniform(0, 1), Uniform(0, 1)]) if case.get("beta") else \
        Uniform(0, 1)
    problem = Problem(goods=case["goods"], values=values, belief=case["belief"],
                      allocation=case["allocation"])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # a time-limited bound warns; it is recorded
        res = solve(problem)
    seconds = time.perf_counter() - start
    info = res.stats.get("auto_choice", {})
    lo, hi = res.bounds.lower, res.bounds.upper
    return {
        "case": name, "menu_backend": res.backend,
        "menu_reason": res.stats["backend_choice"]["reason"],
        "upper_backend": info.get("upper_backend") or res.backend,
        "upper_options": info.get("upper_options"), "upper_seconds": info.get("upper_seconds"),
        "upper_kind": res.bounds.upper_kind, "status": res.status.value,
        "lower": lo, "lower_method": res.bounds.lower_method,
        "lower_stderr": res.bounds.lower_stderr, "upper": hi,
        "gap": None if hi is None else (hi - lo) / lo, "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _row(r: dict[str, Any]) -> str:
    lower = f"{r['lower']:.6f}"
    if r["lower_stderr"]:
        lower += f" ± {r['lower_stderr']:.1e}"
    gap = "—" if r["gap"] is None else f"{100 * r['gap']:.3f}%"
    upper = "—" if r["upper"] is None else f"{r['upper']:.6f} ({r['upper_kind']})"
    opts = r["upper_options"] or {}
    return (f"| {r['case']} | {r['menu_backend']} | {r['upper_backend']} {opts} | {lower} | "
            f"{upper} | {gap} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['status']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--json", help="also append each case's raw numbers to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one)))
        return
    print("| case | menu engine | bound engine (options) | lower | upper | gap | s | peak MB | "
          "status |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.cases:
        out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True,
                             text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(_row(row), flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
