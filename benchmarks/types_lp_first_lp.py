"""Why the finite-type LP stops near 8000 types in 2 goods: solvers and restarts, measured.

The exact solve of ``m`` uniform samples in 2 goods (``types_lp``) grows roughly like ``m^3``;
the size targets of issue 13 (20 000 samples in 2 minutes) need a different engine or a
different start. Prints markdown tables (BENCHMARKS.md, "Finite types", stop 23):

1. ``solvers``: the *first* LP of the cutting planes (Delaunay start rows, belief ½,
   ``X = [-1,1]^2``) solved once by every LP engine importable here: HiGHS dual simplex (one
   thread, the backend's engine), HiGHS's parallel dual simplex (``simplex_strategy`` 2 and 3
   on two threads), HiGHS's interior point IPX without crossover, HiGHS's HiPO interior point
   (only where ``highspy-extras`` supplies its factorisation: highspy 1.15.1 with
   highspy-extras 1.15.1), CLP's dual simplex (``cylp``) and GLOP (``ortools``), the last two
   through an MPS file;
2. ``loops``: the whole cutting-plane loop to optimality under three variants: the backend's
   (warm dual simplex, ``cuts_per_point=4``); HiPO from cold every round (``--per-point``
   rows per violated type); and *local separation first* (planes of each type's
   ``--neighbours`` nearest types until none is violated, then the global separation);
3. ``blocks``: a domain decomposition as a warm start. The types are split at medians into
   ``2^depth`` blocks; each block's LP is solved to optimality; their bases, with the basic
   slack of every Delaunay edge between blocks, form a *dual feasible* basis of the whole LP
   (the cross rows carry zero duals), from which the dual simplex repairs only the cross rows.
   Also printed: the sum of the block optima, a certified upper bound of the whole LP (each
   block is the whole LP without the rows between blocks, and the objective is separable).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/types_lp_first_lp.py [solvers|loops|blocks]
[--sizes 4000,8000,20000] [--time-limit 600] [--engines simplex,pami,...]``. HiPO needs
highspy 1.15.1 with highspy-extras 1.15.1 (no extras exist for 1.16).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from amm_opt import Problem, Samples
from amm_opt.solvers.grid_lp.interfaces import HighspyLP
from amm_opt.solvers.grid_lp.model import delaunay_pairs, pair_keys
from amm_opt.solvers.grid_lp.separation import find_cuts
from amm_opt.solvers.types_lp.lp import FEASIBILITY_TOL, start_rows
from amm_opt.solvers.types_lp.model import TypesData, certified_bound
from amm_opt.solvers.types_lp.types import TypeSet

# The backend's stopping tolerance on violations (TypesLP.cut_tol).
CUT_TOL = 1e-9


def _types(m: int, goods: int = 2, seed: int = 0) -> tuple[Problem, TypeSet]:
    values = np.random.default_rng(seed).uniform(size=(m, goods))
    problem = Problem(goods=goods, values=Samples(values), belief=0.5)
    return problem, TypeSet.from_values(values, problem.belief)


def _highs(data: TypesData, solver: str, **options: Any) -> HighspyLP:
    lp = HighspyLP(data, solver)                # sets HiGHS's ``solver`` option
    if solver == "hipo":
        lp.h.setOptionValue("run_crossover", "off")
        # Interior-point optimality to 1e-10 makes the certified bound meet the primal to ~1e-9.
        lp.h.setOptionValue("ipm_optimality_tolerance", 1e-10)
    else:
        lp.h.setOptionValue("primal_feasibility_tolerance", FEASIBILITY_TOL)
        lp.h.setOptionValue("dual_feasibility_tolerance", FEASIBILITY_TOL)
    for name, value in options.items():
        lp.h.setOptionValue(name, value)
    return lp


def hipo_available() -> bool:
    """HiPO runs only with highspy-extras' factorisation; without it HiGHS silently falls back
    to the simplex. A two-type LP tells which ran."""
    problem, types = _types(2)
    data = TypesData.build(problem, types)
    lp = _highs(data, "hipo")
    lp.add(*start_rows(data, "knn", 1))
    lp.solve(10.0)
    info = lp.h.getInfo()
    return int(info.ipm_iteration_count) > 0 and int(info.simplex_iteration_count) == 0


def _timed_highs(data: TypesData, rows: tuple[np.ndarray, np.ndarray], solver: str,
                 limit: float, **options: Any) -> tuple[str, float, float | None, float | None]:
    lp = _highs(data, solver, **options)
    lp.add(*rows)
    sol = lp.solve(limit)
    upper = certified_bound(data, lp.matrix(), sol.y, sol.y_allocation)[0] \
        if sol.y is not None else None
    primal = float(data.cost @ sol.z) if sol.z is not None else None
    return sol.raw_status, sol.seconds, primal, upper


_MPS_RUNNERS = {
    # cylp exposes no time limit: CLP runs to the end.
    "clp": ("from cylp.cy import CyClpSimplex\n"
            "s = CyClpSimplex(); s.readMps(path); s.logLevel = 0\n"
            "t = time.perf_counter(); status = str(s.dual())\n"
            "seconds = time.perf_counter() - t; objective = s.objectiveValue\n"),
    "glop": ("from ortools.linear_solver.python import model_builder as mb\n"
             "model = mb.Model(); model.import_from_mps_file(path)\n"
             "solver = mb.Solver('glop'); solver.set_time_limit_in_seconds(limit)\n"
             "t = time.perf_counter(); status = str(solver.solve(model))\n"
             "seconds = time.perf_counter() - t\n"
             # no solution at the time limit: the objective is pandas' NA
             "objective = float(solver.objective_value) if status.endswith('OPTIMAL') "
             "else None\n"),
}


def _timed_mps(path: str, engine: str, limit: float) -> tuple[str, float, float | None]:
    """CLP or GLOP on an MPS file, in a fresh interpreter: OR-Tools bundles its own HiGHS,
    whose symbols clash with highspy's in one process."""
    code = (f"import json, time\npath, limit = {path!r}, {limit!r}\n" + _MPS_RUNNERS[engine]
            + "print(json.dumps([status, seconds, None if objective is None else -objective]))\n")
    wall = limit + 120.0                 # CLP cannot be told the limit: stop it from outside
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=wall)
    except subprocess.TimeoutExpired:
        return f"stopped after {wall:.0f} s", wall, None
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1][:60]}", 0.0, None
    status, seconds, objective = json.loads(done.stdout.strip().splitlines()[-1])
    return status, seconds, objective


# HiGHS variants of the first-LP table: label, ``solver`` option, further options.
HIGHS_VARIANTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "simplex": ("HiGHS dual simplex, 1 thread", "simplex", {}),
    # HiGHS 1.15 refuses a change of ``threads`` once a solve has run in the process (the
    # status is then "Not Set"); 1.16 accepts it.
    "pami": ("HiGHS dual simplex PAMI, 2 threads", "simplex",
             {"simplex_strategy": 2, "threads": 2, "simplex_max_concurrency": 2}),
    "sip": ("HiGHS dual simplex SIP, 2 threads", "simplex",
            {"simplex_strategy": 3, "threads": 2, "simplex_max_concurrency": 2}),
    "ipx": ("HiGHS IPX, no crossover", "ipm", {"run_crossover": "off"}),
    "hipo": ("HiGHS HiPO, no crossover", "hipo", {}),
}
ENGINES = (*HIGHS_VARIANTS, "clp", "glop")


def available_engines(asked: list[str]) -> list[str]:
    """The ``asked`` engines this interpreter can run."""
    modules = {"clp": "cylp", "glop": "ortools"}
    keep = [e for e in asked if e not in modules or importlib.util.find_spec(modules[e])]
    if "hipo" in keep and not hipo_available():
        keep.remove("hipo")
    return keep


def solvers_table(sizes: list[int], limit: float, asked: list[str]) -> None:
    chosen = available_engines(asked)
    variants = [HIGHS_VARIANTS[e] for e in chosen if e in HIGHS_VARIANTS]
    engines = [e for e in chosen if e in ("clp", "glop")]
    print("\n| types | rows | engine | status | seconds | primal | certified upper |")
    print("|---:|---:|---|---|---:|---:|---:|")
    for m in sizes:
        problem, types = _types(m)
        data = TypesData.build(problem, types)
        rows = start_rows(data, "delaunay", 8)
        for label, solver, options in variants:
            status, seconds, primal, upper = _timed_highs(data, rows, solver, limit, **options)
            print(f"| {m} | {len(rows[0])} | {label} | {status} | {seconds:.1f} | "
                  f"{_num(primal)} | {_num(upper)} |", flush=True)
        if engines:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "first.mps")
                lp = _highs(data, "simplex")
                lp.add(*rows)
                lp.h.writeModel(path)
                for engine in engines:
                    status, seconds, primal = _timed_mps(path, engine, limit)
                    print(f"| {m} | {len(rows[0])} | {engine.upper()} | {status} | "
                          f"{seconds:.1f} | {_num(primal)} | |", flush=True)


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.10f}"


def _loop(data: TypesData, lp: HighspyLP, keys: np.ndarray, per_point: int, cold: bool,
          local: np.ndarray | None, limit: float) -> dict[str, Any]:
    """Cutting planes to optimality; ``local``: each type's nearest types, whose planes are
    separated first."""
    start = time.perf_counter()
    rounds, upper = 0, np.inf
    while time.perf_counter() - start < limit:
        if cold:
            lp.reset()
        sol = lp.solve(limit - (time.perf_counter() - start))
        if sol.z is None:
            break
        upper = min(upper, certified_bound(data, lp.matrix(), sol.y, sol.y_allocation)[0])
        rounds += 1
        u, g = data.split(sol.z)
        ci = np.empty(0, np.int64)
        if local is not None:
            ci, cj = _local_cuts(data.points, u, g, local, per_point, keys)
        if not len(ci):
            cuts = find_cuts(data.points, u, g, CUT_TOL, max(data.size, 1000) * per_point, keys,
                             per_point=per_point)
            ci, cj = cuts.i, cuts.j
        if not len(ci):
            return {"seconds": time.perf_counter() - start, "rounds": rounds,
                    "rows": len(keys), "primal": float(data.cost @ sol.z), "upper": upper,
                    "status": "optimal"}
        lp.add(ci, cj)
        keys = np.sort(np.concatenate([keys, pair_keys(ci, cj)]))
    return {"seconds": time.perf_counter() - start, "rounds": rounds, "rows": len(keys),
            "primal": None, "upper": upper, "status": "time_limit"}


def _local_cuts(points: np.ndarray, u: np.ndarray, g: np.ndarray, near: np.ndarray,
                per_point: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows into each type from its most violating planes among its nearest types."""
    excess = (u[near] + np.einsum("jkn,jkn->jk", g[near], points[:, None, :] - points[near])
              - u[:, None])
    top = np.argsort(-excess, axis=1)[:, :per_point]
    r, c = np.nonzero(np.take_along_axis(excess, top, axis=1) > CUT_TOL)
    i, j = near[r, top[r, c]], r
    new = ~np.isin(pair_keys(i, j), keys)
    return i[new], j[new]


def loops_table(sizes: list[int], limit: float, per_point: int, neighbours: int,
                asked: list[str]) -> None:
    print("\n| types | variant | status | seconds | rounds | rows | primal | certified upper |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    chosen = available_engines(asked)
    for m in sizes:
        problem, types = _types(m)
        data = TypesData.build(problem, types)
        rows = start_rows(data, "delaunay", 8)
        keys = np.sort(pair_keys(*rows))
        near = cKDTree(data.points).query(data.points, neighbours + 1)[1][:, 1:]
        variants = [("warm dual simplex, k = 4", "simplex", 4, False, None),
                    (f"local separation first ({neighbours} nearest), k = 4", "simplex", 4,
                     False, near)] if "simplex" in chosen else []
        if "hipo" in chosen:
            variants.append((f"HiPO cold every round, k = {per_point}", "hipo", per_point,
                             True, None))
        for label, solver, k, cold, local in variants:
            lp = _highs(data, solver)
            lp.add(*rows)
            out = _loop(data, lp, keys, k, cold, local, limit)
            print(f"| {m} | {label} | {out['status']} | {out['seconds']:.1f} | "
                  f"{out['rounds']} | {out['rows']} | {_num(out['primal'])} | "
                  f"{_num(out['upper'])} |", flush=True)


def _median_blocks(points: np.ndarray, idx: np.ndarray, depth: int) -> list[np.ndarray]:
    if depth == 0:
        return [idx]
    order = idx[np.argsort(points[idx, depth % points.shape[1]], kind="stable")]
    half = len(order) // 2
    return (_median_blocks(points, order[:half], depth - 1)
            + _median_blocks(points, order[half:], depth - 1))


def blocks_table(sizes: list[int], depths: list[int], limit: float) -> None:
    import highspy

    print("\n| types | blocks | blocks solved s | sum of block optima (certified upper) | "
          "stitch LP s | stitch iterations | total s | optimum |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in sizes:
        problem, full = _types(m)
        belief = full.belief_index
        others = np.flatnonzero(np.arange(full.size) != belief)
        for depth in depths:
            start = time.perf_counter()
            blocks = _median_blocks(full.points, others, depth)
            n1 = problem.goods + 1
            col_status: dict[int, Any] = {}
            row_i, row_j, row_status = [], [], []
            block_upper = 0.0
            for block in blocks:
                ext = np.append(block, belief)
                sub = TypeSet(full.points[ext], full.weights[ext], len(block), full.samples)
                data = TypesData.build(problem, sub)
                rows = start_rows(data, "delaunay", 8)
                lp = _highs(data, "simplex")
                lp.add(*rows)
                out = _loop(data, lp, np.sort(pair_keys(*rows)), 4, False, None, limit)
                block_upper += out["upper"]
                basis = lp.h.getBasis()
                cs = list(basis.col_status)
                for local, point in enumerate(ext):
                    for q in range(n1):
                        col_status[point * n1 + q] = cs[local * n1 + q]
                si, sj = lp.pairs()
                row_i.append(ext[si])
                row_j.append(ext[sj])
                row_status += list(basis.row_status)
            # Rounding of the sum: one ulp per addition at most, far below the printed digits.
            block_upper *= 1.0 + len(blocks) * np.finfo(float).eps
            blocks_seconds = time.perf_counter() - start
            label = np.full(full.size, -1)
            for q, block in enumerate(blocks):
                label[block] = q
            di, dj = delaunay_pairs(full.points)
            cross = (label[di] != label[dj]) & (label[di] >= 0) & (label[dj] >= 0)
            gi = np.concatenate([*row_i, di[cross]])
            gj = np.concatenate([*row_j, dj[cross]])
            row_status += [highspy.HighsBasisStatus.kBasic] * int(cross.sum())
            data = TypesData.build(problem, full)
            lp = _highs(data, "simplex")
            lp.add(gi, gj)
            start_basis = highspy.HighsBasis()
            start_basis.col_status = [col_status.get(c, highspy.HighsBasisStatus.kLower)
                                      for c in range(data.columns)]
            start_basis.row_status = row_status
            start_basis.valid = True
            lp.h.setBasis(start_basis)
            t0 = time.perf_counter()
            first = lp.solve(limit)
            stitch = time.perf_counter() - t0
            out = _loop(data, lp, np.sort(pair_keys(gi, gj)), 4, False, None, limit)
            print(f"| {m} | {len(blocks)} | {blocks_seconds:.1f} | {block_upper:.10f} | "
                  f"{stitch:.1f} | {first.iterations} | {time.perf_counter() - start:.1f} | "
                  f"{_num(out['primal'])} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["solvers", "loops", "blocks"])
    parser.add_argument("--sizes", default="4000,8000,20000")
    parser.add_argument("--loop-sizes", default="4000")
    parser.add_argument("--block-sizes", default="4000")
    parser.add_argument("--depths", default="2,4")
    parser.add_argument("--per-point", type=int, default=8)
    parser.add_argument("--neighbours", type=int, default=30)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="among " + ", ".join(ENGINES) + " (those not installed are left out)")
    args = parser.parse_args()
    asked = args.engines.split(",")
    unknown = sorted(set(asked) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engines {unknown}; choose among {', '.join(ENGINES)}")
    ints = lambda text: [int(x) for x in text.split(",")]  # noqa: E731
    if "solvers" in args.parts:
        solvers_table(ints(args.sizes), args.time_limit, asked)
    if "loops" in args.parts:
        loops_table(ints(args.loop_sizes), args.time_limit, args.per_point, args.neighbours,
                    asked)
    if "blocks" in args.parts:
        blocks_table(ints(args.block_sizes), ints(args.depths), args.time_limit)


if __name__ == "__main__":
    main()
