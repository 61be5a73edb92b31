"""The optimal pure-swap menu and its choice regions (issue 14).

A trader may only swap good 2 for good 1 (x = t(e1 - e2), |t| <= 1). The problem reduces to one
good with value v1 - v2 (docs/allocation_sets.md); for U[0,1]^2 values and belief (1/2, 1/2) the
optimal menu swaps a whole unit either way at price 1/3, earning 4/27. The grid LP finds that
menu and certifies it (relative gap <= 1e-3), RochetNet learns it too (a cross-check below the
certified bound); the picture shows the grid LP menu's three regions (swap one way, the other
way, no trade).

Usage: ``python examples/pure_swap.py [--out swap_regions.png] [--steps 2000]``.
"""

from __future__ import annotations

import argparse

from amm_opt import Menu, Polytope, Problem, Uniform, evaluate, solve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="swap_regions.png")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                      allocation=Polytope.pure_swap(2))
    exact = evaluate(problem, Menu([[1, -1], [-1, 1]], [1 / 3, 1 / 3]))
    print(f"closed form: swaps at 1/3, profit {exact.profit:.6f} (4/27 = {4 / 27:.6f})")
    result = solve(problem, backend="grid_lp", target_gap=1e-3, time_limit=60)
    lo, hi = result.bounds.lower, result.bounds.upper
    print(f"grid LP: certified bracket [{lo:.6f}, {hi:.6f}], relative gap {(hi - lo) / lo:.1e}")
    print(result.menu.table(probability=result.evaluation.item_probability))
    learned = solve(problem, backend="rochetnet", menu_size=8, steps=args.steps,
                    progress=False)
    print(f"RochetNet: profit {learned.profit:.6f} (below the certified bound: "
          f"{learned.profit <= hi})")

    import matplotlib

    matplotlib.use("Agg")
    from amm_opt.plot.regions import plot_regions

    plot_regions(problem, result.menu).savefig(args.out, dpi=120)
    print(f"regions written to {args.out}")


if __name__ == "__main__":
    main()
