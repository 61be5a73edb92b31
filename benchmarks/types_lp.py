"""The finite-type LP (backend ``types_lp``): exact solves of samples, cutting planes against
the all-pairs LP, and the statistical upper bound's bias and coverage.

Prints markdown tables (for BENCHMARKS.md, section "Finite types"):

1. ``exact``: uniform samples of ``m`` rows in ``n`` goods solved exactly: seconds, status,
   relative gap, pair rows used against the ``m^2`` of the full LP (issue targets: 2 goods and
   20 000 samples in 2 min, 5 goods and 10 000 in 10 min; runs stop at ``--time-limit`` with
   their certified bound);
2. ``pairs``: the cutting-plane LP against the all-pairs LP on the same samples, each in a fresh
   process: optimum, seconds and peak resident memory (baseline of the process subtracted);
3. ``bias``: ``E[OPT_m] - OPT`` on R1 and R2 (known optima) as a function of ``m``, from ``K``
   draws; ``bias3``: the same for 3 uniform goods, where the grid LP brackets the optimum;
4. ``coverage``: ``--repetitions`` statistical bounds (``K`` draws of ``m`` types each) on R2
   (known optimum) and on 4 uniform goods (optimum unknown: compared with the best lower bound
   available, selling separately), the share above it and the mean width above the optimum.

Usage: ``python benchmarks/types_lp.py [exact|pairs|bias|coverage ...] [--sizes 2:2000,2:20000]
[--time-limit 600]``. Set ``OMP_NUM_THREADS=1`` on a shared machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np

from amm_opt import Problem, Samples, Uniform, references, solve
from amm_opt.errors import InaccurateSolutionWarning


def _uniform_samples(m: int, goods: int, seed: int = 0) -> Problem:
    values = np.random.default_rng(seed).uniform(size=(m, goods))
    return Problem(goods=goods, values=Samples(values), belief=0.5)


def _quiet_solve(problem: Problem, **options):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InaccurateSolutionWarning)
        return solve(problem, backend="types_lp", **options)


def exact_table(sizes: list[tuple[int, int]], time_limit: float) -> None:
    print("\n| goods | samples | seconds | status | relative gap | rounds | pair rows "
          "| share of all pairs |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    for goods, m in sizes:
        problem = _uniform_samples(m, goods)
        start = time.perf_counter()
        res = _quiet_solve(problem, time_limit=time_limit, max_types=max(m, 2))
        seconds = time.perf_counter() - start
        gap = res.bounds.relative_gap
        pairs, full = res.stats["pairs"], res.stats["all_pairs"]
        print(f"| {goods} | {m} | {seconds:.1f} | {res.status.value} | "
              f"{'—' if gap is None else f'{gap:.2g}'} | {len(res.stats['rounds'])} | {pairs} | "
              f"{pairs / full:.3%} |", flush=True)


def _one_run(args: tuple[int, int, str]) -> tuple[float, float, float, int, int]:
    goods, m, pairs = args
    problem = _uniform_samples(m, goods, seed=1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    res = _quiet_solve(problem, pairs=pairs)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return res.bounds.upper, seconds, (peak - base) / 1024.0, res.stats["pairs"], \
        len(res.stats["rounds"])


def pairs_table(sizes: list[tuple[int, int]]) -> None:
    print("\n| goods | samples | LP | optimum (certified) | seconds | peak memory MiB | pair rows "
          "| rounds | time ratio all/cuts | memory ratio all/cuts |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    ctx = mp.get_context("spawn")
    for goods, m in sizes:
        out = {}
        for pairs in ("cuts", "all"):
            with ctx.Pool(1) as pool:
                out[pairs] = pool.map(_one_run, [(goods, m, pairs)])[0]
        for pairs in ("cuts", "all"):
            upper, seconds, mib, rows, rounds = out[pairs]
            ratio_t = out["all"][1] / out["cuts"][1]
            ratio_m = out["all"][2] / max(out["cuts"][2], 1e-9)
            tail = f"{ratio_t:.1f} | {ratio_m:.1f}" if pairs == "all" else " | "
            print(f"| {goods} | {m} | {pairs} | {upper:.10f} | {seconds:.2f} | {mib:.0f} | {rows} "
                  f"| {rounds} | {tail} |", flush=True)


def bias_table(ms: list[int], draws: int) -> None:
    print("\n| reference | optimum | m | mean OPT_m (K draws) | bias | bias / optimum | std "
          "| seconds per LP |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (problem, _, best) in (("R1", references.r1_bid_ask()),
                                    ("R2", references.r2_two_goods(0.0))):
        for m in ms:
            start = time.perf_counter()
            res = _quiet_solve(problem, draws=m, replications=draws, seed=m)
            per = (time.perf_counter() - start) / draws
            values = np.array(res.stats["statistical_bound"]["values"])
            mean = values.mean()
            print(f"| {name} | {best:.6f} | {m} | {mean:.6f} | {mean - best:.5f} | "
                  f"{(mean - best) / best:.2%} | {values.std(ddof=1):.5f} | {per:.2f} |",
                  flush=True)


def bias_bracketed(ms: list[int], draws: int, goods: int) -> None:
    """Bias where the optimum is only bracketed: ``goods`` uniform goods, the grid LP's menu
    (lower) and certified bound (upper) around the optimum."""
    problem = Problem(goods=goods, values=Uniform(0, 1), belief=0.5)
    start = time.perf_counter()
    grid = solve(problem, backend="grid_lp", progress=False)
    lo, hi = grid.bounds.lower, grid.bounds.upper
    print(f"\n{goods} goods U[0,1], c = 1/2: grid LP bracket [{lo:.6f}, {hi:.6f}] "
          f"({time.perf_counter() - start:.0f} s)")
    print("\n| goods | m | mean OPT_m (K draws) | bias at least | bias at most | std "
          "| seconds per LP |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for m in ms:
        start = time.perf_counter()
        res = _quiet_solve(problem, draws=m, replications=draws, seed=m)
        per = (time.perf_counter() - start) / draws
        values = np.array(res.stats["statistical_bound"]["values"])
        mean = values.mean()
        print(f"| {goods} | {m} | {mean:.6f} | {(mean - hi) / hi:.2%} | {(mean - lo) / lo:.2%} "
              f"| {values.std(ddof=1):.5f} | {per:.2f} |", flush=True)


def coverage_table(repetitions: int, replications: int, m2: int, m4: int) -> None:
    print("\n| problem | reference value | m | K | repetitions | share of bounds above it "
          "| mean bound | mean width above it | seconds per bound |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    r2_problem, _, r2_best = references.r2_two_goods(0.0)
    four = Problem(goods=4, values=Uniform(0, 1), belief=0.5)
    four_lower = solve(four, backend="separate").profit
    cases = (("R2 (optimum)", r2_problem, r2_best, m2),
             ("4 goods U[0,1] (separate's profit, a lower bound)", four, four_lower, m4))
    for name, problem, value, m in cases:
        bounds, start = [], time.perf_counter()
        for rep in range(repetitions):
            res = _quiet_solve(problem, draws=m, replications=replications, seed=1000 + rep)
            bounds.append(res.bounds.upper)
        per = (time.perf_counter() - start) / repetitions
        b = np.array(bounds)
        print(f"| {name} | {value:.6f} | {m} | {replications} | {repetitions} | "
              f"{np.mean(b >= value):.0%} | {b.mean():.6f} | {(b - value).mean():.5f} | "
              f"{per:.1f} |", flush=True)


def _sizes(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (item.split(":") for item in text.split(","))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["exact", "pairs", "bias", "coverage"])
    parser.add_argument("--sizes", default="1:5000,2:2000,2:20000,3:1000,5:600,5:10000")
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--pair-sizes", default="2:300,2:600,3:200")
    parser.add_argument("--bias-m", default="100,200,400,800")
    parser.add_argument("--bias-draws", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=40)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--m2", type=int, default=200)
    parser.add_argument("--m4", type=int, default=100)
    args = parser.parse_args()
    if "exact" in args.parts:
        exact_table(_sizes(args.sizes), args.time_limit)
    if "pairs" in args.parts:
        pairs_table(_sizes(args.pair_sizes))
    if "bias" in args.parts:
        bias_table([int(m) for m in args.bias_m.split(",")], args.bias_draws)
    if "bias3" in args.parts:
        bias_bracketed([int(m) for m in args.bias_m.split(",")], args.bias_draws, 3)
    if "coverage" in args.parts:
        coverage_table(args.repetitions, args.replications, args.m2, args.m4)


if __name__ == "__main__":
    main()
