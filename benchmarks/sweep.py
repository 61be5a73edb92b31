"""Sweeps: parallel speed-up, the store's cost per point, and a long c-grid sweep that resumes.

Run: ``python benchmarks/sweep.py`` (all three parts; ``--part speedup|store|cgrid`` for one).

1. **Speed-up**: the same 16 grid-LP points (the paper's problem, λ ∈ [0, 0.9]) swept with 1 and
   with 2 local worker processes, one after the other in this run; the ratio of the wall times
   (each pool started and warmed first, so that process start and imports are not timed) is the
   speed-up. Target ≥ 1.7×. The load average is printed: on a
   shared machine other jobs take cores, and the ratio says so.
2. **Store overhead**: (a) the time of :meth:`SweepStore.record` per point (one committed WAL
   transaction with a grid-LP menu's JSON) over many points in a file store; (b) a sweep of
   ``separate`` points run inline against the same solves in a plain loop: the difference per
   point is everything the sweep adds (keys, the worker row, the store, the table). Target ≤ 5 ms.
3. **c-grid**: a ``cells × cells`` grid of beliefs c ∈ [0,1]² (400 points by default) with the
   grid LP, run in a child process that is killed after ``--kill-after`` seconds, then run again
   to the end (it must compute only the missing points), then once more (it must compute none).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from amm_opt import Problem, Uniform, solve, sweep
from amm_opt.sweep import SweepStore
from amm_opt.sweep.task import PointTask, solve_point

os.environ.setdefault("OMP_NUM_THREADS", "1")
GRID = {"grid": 48, "max_refinements": 0}


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _warm(_: int) -> None:
    import highspy  # noqa: F401

    import amm_opt.solvers.grid_lp  # noqa: F401
    time.sleep(1.0)


def speedup(points: int = 16, top: float = 0.9, grid: dict | None = None) -> None:
    """2 workers vs 1 on ``points`` values of lambda in [0, top]. With top = 0.9 the last point
    (lambda = 0.9) costs as much as the other 15 together and is submitted last, so no
    scheduler can overlap it: the speed-up is bounded by the set, not by the sweep. top = 0.6
    gives points of similar cost."""
    grid = GRID if grid is None else grid
    lams = np.linspace(0.0, top, points).round(6).tolist()
    problem = Problem.paper_two_goods()
    times = {}
    print(f"## speed-up: {points} grid-LP points, lambda in [0, {top}] ({grid}), {load()}")
    for workers in (1, 2):
        spawn = multiprocessing.get_context("spawn")
        start = time.perf_counter()
        with ProcessPoolExecutor(workers, mp_context=spawn) as pool:
            # Start every worker first: the pool spawns processes on demand, and a quick
            # warm-up sweep can run on one of them while the other is still importing during the
            # timed run. Each _warm call holds its process for 1 s, so `workers` calls need all.
            list(pool.map(_warm, range(workers)))
            # warm the pool: every process imports amm_opt and HiGHS before the timing
            sweep(problem, over={"adverse_selection": [0.95 + 0.001 * i
                                                       for i in range(workers)]},
                  backend="grid_lp", executor=pool, grid=8, max_refinements=0)
            warm = time.perf_counter()
            table = sweep(problem, over={"adverse_selection": lams}, backend="grid_lp",
                          executor=pool, **grid)
            times[workers] = time.perf_counter() - warm
        assert (table["state"] == "done").all()
        busy = table["point_seconds"].sum() / times[workers]
        share = table["cpu_seconds"].sum() / table["point_seconds"].sum()
        wall, cpu = table["point_seconds"].mean(), table["cpu_seconds"].mean()
        longest = table["point_seconds"].max()
        print(f"workers {workers}: {times[workers]:.2f} s wall for the {points} points (longest "
              f"{longest:.2f} s; pool start "
              f"and warm-up {warm - start:.1f} s not included); per point {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU (mean); points in "
              f"flight on average {busy:.2f}; share of a core each point got {share:.2f}; "
              f"{load()}")
    print(f"speed-up 2 vs 1 workers: {times[1] / times[2]:.2f}x (target >= 1.7x)\n")


def store_overhead(records: int = 400, points: int = 200) -> None:
    print(f"## store overhead, {load()}")
    problem = Problem.paper_two_goods()
    base = {"goods": 2, **problem.to_dict()}
    row = solve_point(PointTask("x", {"adverse_selection": 0.0}, base, "grid_lp",
                                {"grid": 16, "max_refinements": 0}))
    with tempfile.TemporaryDirectory() as folder:
        with SweepStore(Path(folder) / "bench.sqlite") as store:
            store.add_sweep("s", base, "grid_lp", {}, "bench")
            start = time.perf_counter()
            for i in range(records):
                store.record("s", {"i": i}, {**row, "key": f"{i:064d}"})
            per = (time.perf_counter() - start) / records
    print(f"record(): {1e3 * per:.3f} ms per point ({records} committed rows, menu JSON of "
          f"{len(row['menu'])} bytes, WAL, synchronous=NORMAL)")
    one = Problem(goods=1, values=Uniform(0, 1), belief=0.5)
    lams = np.linspace(0.0, 0.9, points).tolist()
    with tempfile.TemporaryDirectory() as folder:
        sweep(one, over={"adverse_selection": [0.5]}, backend="separate", executor="inline",
              store=Path(folder) / "warm.sqlite")  # imports (pandas) outside the timing
        start = time.perf_counter()
        for lam in lams:
            solve(Problem(goods=1, values=Uniform(0, 1), belief=0.5, adverse_selection=lam),
                  backend="separate")
        plain = time.perf_counter() - start
        start = time.perf_counter()
        table = sweep(one, over={"adverse_selection": lams}, backend="separate",
                      executor="inline", store=Path(folder) / "s.sqlite")
        swept = time.perf_counter() - start
    print(f"{points} separate points: plain loop {plain:.3f} s, sweep {swept:.3f} s -> "
          f"{1e3 * (swept - plain) / points:.2f} ms per point added by the sweep, of which "
          f"{1e3 * table.attrs['sweep']['store_seconds'] / points:.2f} ms writing the store "
          f"(target <= 5 ms), {load()}\n")


_CHILD = """
import sys
import numpy as np
from amm_opt import Problem, sweep
cells, workers, grid = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = np.linspace(0.0, 1.0, cells).round(6).tolist()
t = sweep(Problem.paper_two_goods(), over={"belief[0]": c, "belief[1]": c}, backend="grid_lp",
          store=sys.argv[1], workers=workers, grid=grid, max_refinements=0)
info = t.attrs["sweep"]
print(f"computed {info['computed']} reused {info['reused']} failed {info['failed']}")
"""


def cgrid(cells: int, workers: int, grid: int, kill_after: float) -> None:
    print(f"## c-grid: {cells}x{cells} = {cells * cells} grid-LP points (grid {grid}), "
          f"{workers} workers, {load()}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cgrid.sqlite"
        argv = [sys.executable, "-c", _CHILD, str(path), str(cells), str(workers), str(grid)]
        start = time.perf_counter()
        child = subprocess.Popen(argv, start_new_session=True)
        try:
            child.wait(timeout=kill_after)
            print("the first run finished before it was killed")
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)  # the driver and its workers, as a kill -9 would
            child.wait()
        first = time.perf_counter() - start
        with SweepStore(path, readonly=True) as store:
            kept = sum(s["points"] for s in store.sweeps())
            ok = store.integrity()
        print(f"run 1 killed after {first:.1f} s: {kept} points stored, integrity {ok}")
        for run in (2, 3):
            start = time.perf_counter()
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            print(f"run {run}: {out.strip()} in {time.perf_counter() - start:.1f} s")
        with SweepStore(path, readonly=True) as store:
            (info,) = store.sweeps()
            table = store.frame(info["sweep"])
        print(f"stored {len(table)} rows, {table['point'].nunique()} distinct, "
              f"{int((table['state'] == 'failed').sum())} failed, {load()}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("speedup", "store", "cgrid"), action="append")
    parser.add_argument("--cells", type=int, default=20, help="c-grid cells per axis (20)")
    parser.add_argument("--cgrid-grid", type=int, default=16, help="grid LP cells (16)")
    parser.add_argument("--workers", type=int, default=2, help="c-grid workers (2)")
    parser.add_argument("--kill-after", type=float, default=60.0,
                        help="seconds before the first c-grid run is killed (60)")
    args = parser.parse_args()
    parts = args.part or ["speedup", "store", "cgrid"]
    if "speedup" in parts:
        speedup()
        speedup(top=0.6, grid={"grid": 128, "max_refinements": 0})
    if "store" in parts:
        store_overhead()
    if "cgrid" in parts:
        cgrid(args.cells, args.workers, args.cgrid_grid, args.kill_after)


if __name__ == "__main__":
    main()
