"""Make the engines check each other, and catch a regression of a learned menu.

1. Runs every installed engine on the paper's two-good problem (small settings) and checks that
   every lower bound (an exactly evaluated menu) lies below every upper bound (the grid LP's and
   the transport dual's certified numbers) and below/above the closed-form optimum.
2. Shows what a broken bound looks like: an "engine" claiming an upper bound below the optimum
   is caught and named.
3. Compares a learned menu with the closed-form one (profit, share of types whose trade changes,
   largest price change) and draws both region maps side by side.

Run:  python examples/crosscheck_engines.py --out out/crosscheck      (well under a minute)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from amm_opt import references, solve
from amm_opt.plot import plot_regions
from amm_opt.result import Bounds, Result, Status
from amm_opt.solvers import available_backends, get_solver_class
from amm_opt.validation import CrosscheckError, compare_menus, crosscheck

SMALL = {
    "separate": {},
    "rochetnet": {"steps": 1000, "menu_size": 32, "batch_size": 2048, "eval_every": 250,
                  "validation_size": 8192, "progress": False},
    "ot_dual": {"grid": 32},
    "grid_lp": {"grid": 16, "progress": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/crosscheck"))
    parser.add_argument("--adverse-selection", type=float, default=0.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ref = references.r2_two_goods(args.adverse_selection)

    # 1. every installed engine, checked against each other and the closed form
    engines = [name for name, (ok, _) in available_backends().items() if ok]
    options = {n: {k: v for k, v in SMALL.get(n, {}).items()
                   if k in get_solver_class(n).option_names()} for n in engines}
    report = crosscheck(ref.problem, engines, options=options, reference=ref.profit)
    print(report.table())

    # 2. a deliberately broken bound is caught, naming the engines involved
    def broken(problem):
        return Result(menu=None, profit=None,
                      bounds=Bounds(upper=0.95 * ref.profit, upper_method="wrong on purpose"),
                      status=Status.OPTIMAL, backend="broken")

    try:
        crosscheck(ref.problem, {"separate": "separate", "broken": broken},
                   reference=ref.profit)
    except CrosscheckError as exc:
        print("\nbroken bound caught:", str(exc).splitlines()[0])

    # 3. a learned menu against the closed form
    learner = "rochetnet" if "rochetnet" in engines else engines[0]
    learned = solve(ref.problem, backend=learner, **options[learner])
    diff = compare_menus(ref.menu, learned.menu, ref.problem)
    print(f"\n{learner} menu vs the closed form:\n" + diff.summary())
    problems = diff.regressions(profit_rtol=0.005)
    print("regression beyond 0.5% of profit: " + ("; ".join(problems) if problems else "none"))

    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 6), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_regions(ref.problem, ref.menu, ax=left, title="closed form (R2)")
    plot_regions(ref.problem, learned.menu, ax=right, title=f"learned ({learner})")
    fig.savefig(args.out / "closed_form_vs_learned.png", dpi=120, bbox_inches="tight")
    print(f"\npicture: {args.out / 'closed_form_vs_learned.png'}")


if __name__ == "__main__":
    main()
