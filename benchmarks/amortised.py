"""Amortised menus (issue 16): one network for U[0,1]^2, c in [0.25, 0.75]^2, lambda in [0, 0.6].

1. Ours: :class:`amm_opt.amortised.AmortisedTrainer` within the training budget (default 570 s,
   under the 10-minute target), one CPU thread.
2. Baseline, same budget, same run: the authors' published recipe as the issue states it: an
   MLP on ``(c, lambda)`` that outputs 1024 items (allocations through tanh into [-1, 1]^2,
   absolute prices), batch 256, fixed inverse temperature 100, Adam at 1e-3, trained on the
   same soft-choice objective (:func:`amm_opt.amortised.torch_net.soft_family_profit`).
3. Certified accuracy map at 25 held-out points (Latin hypercube, seed 2024): exact profit of
   each family's menu / ``grid_lp``'s certified upper bound (grid 128, gap < 0.1%).
4. Warm start: per-instance refinement (RochetNet's kernel and schedule, :mod:`amm_opt.
   amortised.warm`) from the family's menu and from RochetNet's own start, steps until the
   exact profit is within 0.1% of a certified bound (grid 192).

Run:  python benchmarks/amortised.py [--budget SECONDS] [--points 25] [--out FILE.json]
      [--save FAMILY.json | --family FAMILY.json]
      (--quick: a 60-second smoke run with 6 points)
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from amm_opt import Menu, Uniform, evaluate, solve
from amm_opt.amortised import AmortisedTrainer, FamilySpec, load_family, save_family
from amm_opt.amortised.accuracy import accuracy_map, heldout_parameters
from amm_opt.amortised.torch_net import soft_family_profit
from amm_opt.amortised.warm import cold_start, refine, warm_start

SPEC = FamilySpec(2, Uniform(0, 1), belief=(0.25, 0.75), adverse_selection=(0.0, 0.6))


def train_baseline(budget: float, seed: int = 0) -> tuple[torch.nn.Module, int]:
    """The authors' recipe (see the module docstring) for ``budget`` seconds."""
    torch.manual_seed(seed)
    items, hidden = 1024, 256
    net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, items * 3))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    lo = torch.tensor(SPEC.theta_low, dtype=torch.float32)
    span = torch.tensor(SPEC.theta_high - SPEC.theta_low, dtype=torch.float32)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < budget:
        theta = lo + span * torch.rand((256, 3), generator=gen)
        v = torch.rand((256, 2), generator=gen)
        x, p = baseline_menus(net, theta)
        loss = soft_family_profit(x, p, v, theta, 100.0)
        opt.zero_grad()
        (-loss).backward()
        opt.step()
        steps += 1
    return net, steps


def baseline_menus(net: torch.nn.Module, theta: torch.Tensor) -> tuple[torch.Tensor, ...]:
    out = net(theta).reshape(theta.shape[0], -1, 3)
    return torch.tanh(out[..., :2]), out[..., 2]


def baseline_ratio(net: torch.nn.Module, points: np.ndarray, uppers: list[float]) -> list[float]:
    out = []
    with torch.no_grad():
        x, p = baseline_menus(net, torch.tensor(points, dtype=torch.float32))
    for i, t in enumerate(points):
        problem = SPEC.problem(t[:2], t[2])
        menu = Menu(x[i].double().numpy().clip(-1, 1), p[i].double().numpy())
        out.append(evaluate(problem, menu).profit / uppers[i])
    return out


def warm_vs_cold(family, points: np.ndarray, max_steps: int) -> list[dict]:
    rows = []
    for t in points:
        c, lam = t[:2], float(t[2])
        problem = SPEC.problem(c, lam)
        upper = solve(problem, backend="grid_lp", grid=192, polish=False).bounds.upper
        target = (1 - 1e-3) * upper
        th, pr = warm_start(problem, family.raw_menu(c, lam))
        # Warm: the menu is already close; a low temperature would first melt it.
        warm = refine(problem, th, pr, steps=max_steps, check_every=25, target=target,
                      lr=1e-3, lr_final=1e-4, temperature=1000.0, temperature_final=None)
        th, pr = cold_start(problem, family.architecture.items)
        cold = refine(problem, th, pr, steps=max_steps, check_every=25, target=target)
        rows.append({"belief": c.tolist(), "adverse_selection": lam, "upper": upper,
                     "warm_steps": warm.steps_to_target, "warm_best": warm.best,
                     "cold_steps": cold.steps_to_target, "cold_best": cold.best,
                     "warm_start_profit": warm.history[0][1]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=570.0, help="training seconds per method")
    ap.add_argument("--steps", type=int, default=5000, help="our schedule length")
    ap.add_argument("--points", type=int, default=25)
    ap.add_argument("--warm-points", type=int, default=3)
    ap.add_argument("--warm-steps", type=int, default=3000)
    ap.add_argument("--out", default=None, help="write every number as JSON here")
    ap.add_argument("--save", default=None, help="save our family here (FILE.json)")
    ap.add_argument("--family", default=None, help="load our family instead of training it")
    ap.add_argument("--seed", type=int, default=0, help="our trainer's seed")
    ap.add_argument("--no-baseline", action="store_true", help="skip the authors' recipe")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.budget, args.steps, args.points, args.warm_points, args.warm_steps = \
            60.0, 600, 6, 1, 300
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if args.family is not None:
        family = load_family(args.family)
    else:
        family = AmortisedTrainer(steps=args.steps, time_limit=args.budget, seed=args.seed,
                                  device="cpu").train(SPEC)
    ours_seconds = time.perf_counter() - t0 if args.family is None else \
        family.info["train_seconds"]
    if args.save is not None:
        save_family(family, args.save)
    print(f"ours: {family.info['steps_run']} steps in {ours_seconds:.0f} s "
          f"({family.info['stop_reason']})", flush=True)
    points = heldout_parameters(SPEC, args.points)
    amap = accuracy_map(family, points)
    print(amap.table(), flush=True)
    uppers = [p.upper for p in amap.points]
    base_r: list[float] = [np.nan]
    base_steps, base_seconds = 0, 0.0
    if not args.no_baseline:
        t0 = time.perf_counter()
        base, base_steps = train_baseline(args.budget)
        base_seconds = time.perf_counter() - t0
        base_r = baseline_ratio(base, points, uppers)
        print(f"baseline: {base_steps} steps in {base_seconds:.0f} s; median "
              f"{100 * np.median(base_r):.2f}%, min {100 * np.min(base_r):.2f}%", flush=True)
    warm = warm_vs_cold(family, points[:args.warm_points], args.warm_steps)
    record = {"ours": {"seconds": ours_seconds, "steps": family.info["steps_run"],
                       "stop_reason": family.info["stop_reason"], **amap.summary(),
                       "map": amap.to_dict()},
              "baseline": {"seconds": base_seconds, "steps": base_steps,
                           "median": float(np.median(base_r)), "min": float(np.min(base_r)),
                           "ratios": base_r},
              "warm_start": warm, "load": os.getloadavg()}
    print(json.dumps({k: v for k, v in record.items() if k != "ours"}, indent=1))
    print(json.dumps({k: v for k, v in record["ours"].items() if k != "map"}, indent=1))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1)


if __name__ == "__main__":
    main()
