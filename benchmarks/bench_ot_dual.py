"""Transport-dual bounds (backend ``ot_dual``): quality on the references and speed.

Prints markdown tables for BENCHMARKS.md:

1. certified bounds (transport and radial ground costs) against the known optima of R1, R2
   (lambda in {0, 1/2}) and R3 on several grids, with the grid LP's bound beside them on R2
   when that backend is installed;
2. the one-good convergence of the radial bound to the R1 optimum;
3. time of the grid flow (POT sparse network simplex, the default; HiGHS on the arc LP) against
   the naive baseline run in the same process: the dense cost matrix and ``ot.emd2``.

Usage: ``python benchmarks/bench_ot_dual.py [--dense-max 128] [--flow-max 256] [--lp-max 32]``.
"""

from __future__ import annotations

import argparse
import time

from amm_opt import Problem, Uniform, solve
from amm_opt import references as ref
from amm_opt.discretisation import discretize
from amm_opt.errors import AmmOptError
from amm_opt.solvers import available_backends
from amm_opt.solvers.ot_dual import OTDual
from amm_opt.solvers.ot_dual.dense import dense_cost_matrix


def _bounds(problem: Problem, grid: int, costs=("transport", "radial"), **options
            ) -> tuple[dict[str, float], float]:
    start = time.perf_counter()
    res = OTDual(grid=grid, costs=costs, **options).solve(problem)
    seconds = time.perf_counter() - start
    if res.stats["transport_bounds"] == {}:
        raise RuntimeError(f"no bound: {res.status} {res.stats['solver_message']}")
    return res.stats["transport_bounds"], seconds


def _lp_upper(problem: Problem, grid: int) -> str:
    try:
        res = solve(problem, backend="grid_lp", grid=grid)
    except AmmOptError as exc:                     # not installed, or options differ
        return f"n/a ({type(exc).__name__})"
    return "—" if res.bounds.upper is None else f"{res.bounds.upper:.6f}"


def quality_table(grids: list[int], lp_max: int) -> None:
    cases = [
        ("R1 (λ = 0)", ref.r1_bid_ask(0.0, 1.0, 0.5, 0.0)),
        ("R1 (λ = ½)", ref.r1_bid_ask(0.0, 1.0, 0.5, 0.5)),
        ("R2 (λ = 0)", ref.r2_two_goods(0.0)),
        ("R2 (λ = ½)", ref.r2_two_goods(0.5)),
        ("R3", ref.r3_monopolist()),
    ]
    lp_ok = available_backends().get("grid_lp", (False, ""))[0]
    print("\n| reference | optimum | grid | transport bound | radial bound | radial error "
          "| radial ≤ transport | grid LP bound | seconds (both) |")
    print("|---|---:|---:|---:|---:|---:|:-:|---:|---:|")
    for name, (problem, _, best) in cases:
        for grid in grids:
            if problem.goods == 1 and grid > 256:
                continue
            b, secs = _bounds(problem, grid)
            assert min(b.values()) >= best * (1 - 1e-14), (name, grid, b)
            lp = "not run"
            if problem.goods == 2 and grid <= lp_max:
                lp = _lp_upper(problem, grid) if lp_ok else "backend absent"
            err = (b["radial"] - best) / best
            print(f"| {name} | {best:.7f} | {grid} | {b['transport']:.7f} | {b['radial']:.7f} "
                  f"| {100 * err:.3f}% | {'yes' if b['radial'] <= b['transport'] else 'NO'} "
                  f"| {lp} | {secs:.2f} |")


def one_good_convergence(grids: list[int]) -> None:
    problem, _, best = ref.r1_bid_ask(0.0, 1.0, 0.5, 0.5)
    print(f"\nR1 at λ = ½ (optimum {best:.8f}), radial bound per grid:\n")
    print("| cells | radial bound | error | error × cells |")
    print("|---:|---:|---:|---:|")
    for grid in grids:
        b, _ = _bounds(problem, grid, costs="radial")
        err = b["radial"] - best
        print(f"| {grid} | {b['radial']:.9f} | {err:.3e} | {err * grid:.4f} |")


def _dense_emd2(problem: Problem, grid: int) -> tuple[float, float, int]:
    """Naive baseline: the full cost matrix (transport cost, free atom) and ot.emd2."""
    import ot

    gm = discretize(problem, grid)
    points, masses, kind = gm.point_masses()
    pos = masses > 0
    start = time.perf_counter()
    cost = dense_cost_matrix(problem, "transport", points[pos], points[~pos], kind[pos] == 2)
    a = masses[pos].copy()
    b = -masses[~pos]
    a[kind[pos] == 2] += b.sum() - a.sum()       # balance through the atom (free in the bound)
    value = float(ot.emd2(a, b, cost, numItermax=10**9))
    return value, time.perf_counter() - start, cost.size


def timing_table(flow_grids: list[int], dense_max: int, highs_max: int) -> None:
    problem, _, best = ref.r2_two_goods(0.0)
    print("\nR2 (λ = 0), transport cost. Flow = grid graph (O(N²) arcs); dense = cost matrix "
          "(sources × sinks) + `ot.emd2`, the baseline.\n")
    print("| grid | bound | rel. error | flow, network simplex (s) | flow, HiGHS (s) "
          "| dense ot.emd2 (s) | dense matrix entries | dense / flow | |flow − dense| |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for grid in flow_grids:
        b, t_flow = _bounds(problem, grid, costs="transport", method="flow")
        t_highs = "—"
        if grid <= highs_max:
            bh, th = _bounds(problem, grid, costs="transport", method="flow",
                             flow_solver="highs")
            assert abs(bh["transport"] - b["transport"]) < 1e-9
            t_highs = f"{th:.2f}"
        dense = ("—", "—", "—", "—")
        if grid <= dense_max:
            value, t_dense, entries = _dense_emd2(problem, grid)
            dense = (f"{t_dense:.2f}", f"{entries:,}", f"{t_dense / t_flow:.0f}×",
                     f"{abs(value - b['transport']):.1e}")
        print(f"| {grid}×{grid} | {b['transport']:.7f} | "
              f"{100 * (b['transport'] - best) / best:.3f}% | {t_flow:.2f} | {t_highs} | "
              f"{dense[0]} | {dense[1]} | {dense[2]} | {dense[3]} |")


def interior_mass_table(grid: int) -> None:
    """Where nu+ has interior mass (non-uniform densities), radial moves help; the dense radial
    bound (exact per-pair radial cost) and the flow's radial bound differ slightly."""
    from amm_opt import Beta, TruncatedNormal

    cases = [
        ("Beta(2,2), c = (½, 0.4)", Problem(goods=2, values=Beta(2, 2), belief=[0.5, 0.4])),
        ("TruncNormal(½, 0.3), λ = 0.2",
         Problem(goods=2, values=TruncatedNormal(0.5, 0.3), belief=0.5, adverse_selection=0.2)),
        ("uniform, X = [−½,1]×[0,1], c = (0.4, 0.3)",
         Problem(goods=2, values=Uniform(0, 1), belief=[0.4, 0.3], adverse_selection=0.25,
                 allocation=[[-0.5, 1.0], [0.0, 1.0]])),
    ]
    print(f"\nInterior positive mass, {grid}×{grid} grid (separate selling = a lower bound):\n")
    print("| problem | separate (lower) | transport | radial (flow) | radial (dense) |")
    print("|---|---:|---:|---:|---:|")
    for name, problem in cases:
        lower = solve(problem, backend="separate").profit
        bf, _ = _bounds(problem, grid, method="flow")
        bd, _ = _bounds(problem, grid, costs="radial", method="dense")
        print(f"| {name} | {lower:.6f} | {bf['transport']:.6f} | {bf['radial']:.6f} "
              f"| {bd['radial']:.6f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense-max", type=int, default=128,
                        help="largest grid for the dense ot.emd2 baseline")
    parser.add_argument("--flow-max", type=int, default=256)
    parser.add_argument("--highs-max", type=int, default=128)
    parser.add_argument("--lp-max", type=int, default=32)
    args = parser.parse_args()
    import ot  # noqa: F401  (imported once up front: POT's import takes ~2 s and is not timed)

    grids = [g for g in (8, 16, 32, 64, 128, 256, 512) if g <= args.flow_max]
    quality_table([g for g in grids if g in (8, 32, 64, 128, 256)], args.lp_max)
    one_good_convergence([8, 16, 32, 64, 128, 256, 512, 1024])
    interior_mass_table(32)
    timing_table([g for g in grids if g >= 32], args.dense_max, args.highs_max)


if __name__ == "__main__":
    main()
