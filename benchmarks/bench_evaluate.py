"""Exact menu evaluation: Qhull half-space intersection vs naive per-item polygon clipping.

Run: ``python benchmarks/bench_evaluate.py``. Both methods are exact for uniform values on two
goods; the naive baseline clips the value square by the K - 1 half-planes of every item (O(K^2)
clips, the textbook way), ours computes all regions at once as facets of the epigraph of u.
Prints timings, the ratio and the agreement, and the peak memory (tracemalloc) of ours.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from amm_opt import Menu, Problem, evaluate


def _clip(poly: np.ndarray, a: np.ndarray, b: float) -> np.ndarray:
    """Clip a convex polygon (r, 2) to the half-plane a.v >= b (Sutherland–Hodgman)."""
    if len(poly) == 0:
        return poly
    s = poly @ a - b
    out = []
    for i in range(len(poly)):
        j = (i + 1) % len(poly)
        if s[i] >= 0:
            out.append(poly[i])
        if (s[i] >= 0) != (s[j] >= 0):
            t = s[i] / (s[i] - s[j])
            out.append(poly[i] + t * (poly[j] - poly[i]))
    return np.array(out).reshape(-1, 2)


def naive_profit(problem: Problem, menu: Menu) -> float:
    """Exact profit by clipping the box once per (item, other item) pair."""
    x = np.asarray(menu.allocations)
    p = np.asarray(menu.prices)
    box = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    total = 0.0
    for k in range(len(p)):
        poly = box
        for j in range(len(p)):
            if j != k:
                # v.(x_k - x_j) >= p_k - p_j
                poly = _clip(poly, x[k] - x[j], p[k] - p[j])
        if len(poly) < 3:
            continue
        xs, ys = poly[:, 0], poly[:, 1]
        cross = xs * np.roll(ys, -1) - np.roll(xs, -1) * ys
        area = 0.5 * cross.sum()
        if abs(area) < 1e-15:
            continue
        cx = ((xs + np.roll(xs, -1)) * cross).sum() / (6 * area)
        cy = ((ys + np.roll(ys, -1)) * cross).sum() / (6 * area)
        post = problem.posterior(np.array([[cx, cy]]))[0]
        total += abs(area) * (p[k] - x[k] @ post)
    return total


def tangent_menu(side: int) -> Menu:
    """Tangent planes of a smooth convex u at side x side points: every item has a region."""
    g = np.linspace(0, 1, side)
    v = np.array(np.meshgrid(g, g, indexing="ij")).reshape(2, -1).T
    d = v - 0.5
    grad = np.clip(d, -1, 1)
    return Menu(grad, (v * grad).sum(axis=1) - 0.5 * (d**2).sum(axis=1))


def main() -> None:
    problem = Problem.paper_two_goods(0.25)
    rng = np.random.default_rng(0)
    print("random menus (most items dominated)")
    print(f"{'items':>6} {'ours [s]':>10} {'naive [s]':>10} {'speed-up':>9} {'|diff|':>9} "
          f"{'peak MiB':>9}")
    for items in (10, 100, 400, 1000):
        menu = Menu(rng.uniform(-1, 1, (items, 2)), rng.uniform(-0.5, 1.0, items))
        tracemalloc.start()
        t0 = time.perf_counter()
        ours = evaluate(problem, menu).profit
        t_ours = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        t0 = time.perf_counter()
        base = naive_profit(problem, menu)
        t_naive = time.perf_counter() - t0
        print(f"{menu.size:>6} {t_ours:>10.4f} {t_naive:>10.3f} {t_naive / t_ours:>8.1f}x "
              f"{abs(ours - base):>9.1e} {peak:>9.1f}")
    for items in (10_000, 100_000):
        menu = Menu(rng.uniform(-1, 1, (items, 2)), rng.uniform(-0.5, 1.0, items))
        t0 = time.perf_counter()
        evaluate(problem, menu)
        print(f"{menu.size:>6} {time.perf_counter() - t0:>10.3f}   (naive: not run, O(K^2))")
    print("tangent-plane menus (every item chosen somewhere, like LP menus)")
    for side in (10, 20, 32):
        menu = tangent_menu(side)
        t0 = time.perf_counter()
        ours = evaluate(problem, menu).profit
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        base = naive_profit(problem, menu)
        t_naive = time.perf_counter() - t0
        print(f"{menu.size:>6} {t_ours:>10.4f} {t_naive:>10.3f} {t_naive / t_ours:>8.1f}x "
              f"{abs(ours - base):>9.1e}")
    for side in (64, 128):
        menu = tangent_menu(side)
        t0 = time.perf_counter()
        evaluate(problem, menu)
        print(f"{menu.size:>6} {time.perf_counter() - t0:>10.3f}   (naive: not run, O(K^2))")


if __name__ == "__main__":
    main()
