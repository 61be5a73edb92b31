"""Where the transport dual moves mass: the picture behind a certified upper bound (R2, λ = 0).

The optimal profit equals the cheapest way to move the positive part of the signed measure μ
onto its negative part (docs/math/transport.md); any plan's cost bounds the profit from
above. This script solves the transport problem on a coarse grid with dense POT (so every arc
goes straight from a source to a sink, as in the paper's Figs. 3 and 11), prints the bound
against the closed-form
optimum, and draws the plan; then shows how the bound tightens as the grid refines.

Run:  python examples/transport_plan.py --out out/transport      (a few seconds)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from amm_opt import references, solve
from amm_opt.plot import plot_transport
from amm_opt.solvers import available_backends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/transport"))
    parser.add_argument("--grid", type=int, default=12, help="grid of the drawn plan")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not available_backends()["ot_dual"][0]:
        print("ot_dual is not installed: pip install 'amm-opt[ot]'")
        return
    problem, _, best = references.r2_two_goods(0.0)
    result = solve(problem, backend="ot_dual", grid=args.grid, costs="transport",
                   method="dense")
    cert = result.certificate
    print(f"transport bound on a {args.grid}x{args.grid} grid: {result.bounds.upper:.6f} "
          f"(optimum {best:.6f}, {100 * (result.bounds.upper / best - 1):.2f}% above)")
    plot_transport(cert, path=args.out / "transport_plan.png")
    print(f"plan drawn in {args.out / 'transport_plan.png'}")
    print("\n grid   bound      above optimum")
    for grid in (16, 32, 64, 128):
        upper = solve(problem, backend="ot_dual", grid=grid).bounds.upper
        print(f"{grid:5d}   {upper:.6f}   {100 * (upper / best - 1):6.2f}%")


if __name__ == "__main__":
    main()
