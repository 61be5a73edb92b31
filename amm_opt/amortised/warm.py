r"""Per-instance refinement of a menu by RochetNet's objective, from the family's menu or from
RochetNet's own start (imports torch).

RochetNet (:mod:`amm_opt.solvers.rochetnet`) can start from a given menu (``initial_menu``), but
its loop measures a validation estimate, not the exact profit every few steps; this module runs
the same per-instance objective (its fused
kernel ``soft_profit``, its ``initial_parameters`` for the cold start, its snapping rule) with
Adam on the logits :math:`\theta_k` and prices :math:`p_k`,

.. math::

    x_k = l + (h - l)\odot\operatorname{sigmoid}(\theta_k), \qquad
    \theta_k^{(0)} = \operatorname{logit}\big(\operatorname{clip}((x_k - l)/(h - l),
    \varepsilon, 1 - \varepsilon)\big)

for a warm start from a menu, and measures, every ``check_every`` steps, the *exact* profit of
the current menu (the better of it and its snapped copy), so that "steps to within 0.1% of the
certified bound" can be counted for both starts under the same loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.special import logit

from ..distributions import Product, Uniform
from ..errors import UnsupportedProblemError
from ..evaluate import evaluate
from ..menu import Menu
from ..polishing import snap_allocations
from ..problem import Problem
from ..solvers.rochetnet.kernel import Workspace, soft_profit
from ..solvers.rochetnet.training import initial_parameters, resolve_device

__all__ = ["RefineRun", "cold_start", "refine", "warm_start"]

FloatArray = NDArray[np.float64]
# Allocations on a face of the box have infinite logits; 1e-4 of the width from it is a logit
# of about ±9.2, where the sigmoid's slope (1e-4) still lets Adam move the item away.
_LOGIT_EPS = 1e-4


def _scale(problem: Problem) -> float:
    s = float(np.mean(problem.value_high - problem.value_low) *
              np.mean(problem.allocation_high - problem.allocation_low) / 2.0)
    return s if s > 0 else 1.0


def warm_start(problem: Problem, menu: Menu) -> tuple[FloatArray, FloatArray]:
    """``(theta, price / s)`` of ``menu``'s items without no-trade (RochetNet's units)."""
    x = np.asarray(menu.allocations)
    keep = np.any(x != 0, axis=1) | (np.asarray(menu.prices) != 0)
    low, high = problem.allocation_low, problem.allocation_high
    frac = np.clip((x[keep] - low) / (high - low), _LOGIT_EPS, 1 - _LOGIT_EPS)
    return logit(frac), np.asarray(menu.prices)[keep] / _scale(problem)


def cold_start(problem: Problem, items: int, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    """RochetNet's own initial parameters (:func:`~amm_opt.solvers.rochetnet.training.
    initial_parameters`)."""
    return initial_parameters(problem, items, seed, _scale(problem))


@dataclass(frozen=True)
class RefineRun:
    """Exact profits along a refinement and the first step that reached ``target``."""

    history: list[tuple[int, float]] = field(default_factory=list)
    steps_to_target: int | None = None
    menu: Menu | None = None
    seconds: float = 0.0

    @property
    def best(self) -> float:
        return max((v for _, v in self.history), default=-math.inf)


def _exact(problem: Problem, theta: torch.Tensor, price: torch.Tensor, scale: float,
           snap: float) -> tuple[float, Menu]:
    low, high = problem.allocation_low, problem.allocation_high
    th = theta.detach().to("cpu", torch.float64).numpy()
    menu = Menu(low + (high - low) / (1 + np.exp(-th)),
                price.detach().to("cpu", torch.float64).numpy() * scale)
    best, best_menu = evaluate(problem, menu).profit, menu
    if snap > 0:
        snapped = Menu(snap_allocations(np.asarray(menu.allocations), low, high, snap),
                       menu.prices)
        value = evaluate(problem, snapped).profit
        if value >= best:
            best, best_menu = value, snapped
    return float(best), best_menu


def refine(problem: Problem, theta0: FloatArray, price0: FloatArray, *, steps: int = 2000,
           batch_size: int = 4096, lr: float = 0.01, lr_final: float | None = 0.001,
           allocation_lr_scale: float = 3.0, temperature: float = 50.0,
           temperature_final: float | None = 1000.0, seed: int = 0, check_every: int = 50,
           target: float | None = None, snap: float = 1e-2, device: str = "cpu",
           threads: int | None = 1) -> RefineRun:
    r"""Adam on RochetNet's soft-choice profit from ``(theta0, price0)`` (RochetNet's units:
    logits and prices divided by the utility scale), with RochetNet's defaults.

    Every ``check_every`` steps (and at step 0) the exact profit of the current menu is
    recorded; with ``target`` the run stops at the first check that reaches it. Uniform
    values with the linear update only (the types are drawn uniformly on the box).
    """
    dist = problem.distribution
    if not (isinstance(dist, Product) and problem.linear_update and
            all(isinstance(m, Uniform) for m in dist.marginals)):
        raise UnsupportedProblemError("refine draws uniform types with the linear update",
                                      field="problem", value=repr(problem.values),
                                      allowed="uniform values and adverse_selection= (for other "
                                              "laws use solve(problem, backend='rochetnet'))")
    dev = resolve_device(device)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    try:
        scale = _scale(problem)
        dt = torch.float32
        theta = torch.tensor(theta0, dtype=dt, device=dev, requires_grad=True)
        price = torch.tensor(price0, dtype=dt, device=dev, requires_grad=True)
        opt = torch.optim.Adam([{"params": [theta], "mult": allocation_lr_scale},
                                {"params": [price], "mult": 1.0}], lr=lr)
        gen = torch.Generator(device=dev)
        gen.manual_seed(seed)
        low = torch.as_tensor(np.array(problem.allocation_low), dtype=dt, device=dev)
        width = torch.as_tensor(problem.allocation_high - problem.allocation_low, dtype=dt,
                                device=dev)
        vlow = torch.as_tensor(np.array(problem.value_low), dtype=dt, device=dev)
        vwidth = torch.as_tensor(problem.value_high - problem.value_low, dtype=dt, device=dev)
        belief = torch.as_tensor(np.array(problem.belief), dtype=dt, device=dev)
        ws = Workspace(batch_size, theta.shape[0], theta.detach())
        value, menu = _exact(problem, theta, price, scale, snap)
        history, reached = [(0, value)], 0 if target is not None and value >= target else None
        best_menu, best_value = menu, value
        for step in range(1, steps + 1):
            if reached is not None:
                break
            frac = (step - 1) / max(steps - 1, 1)
            rate = lr if lr_final is None else lr * (lr_final / lr) ** frac
            tau = temperature if temperature_final is None else \
                temperature * (temperature_final / temperature) ** frac
            for group in opt.param_groups:
                group["lr"] = rate * group["mult"]
            v = torch.rand((batch_size, problem.goods), generator=gen, device=dev,
                           dtype=dt) * vwidth + vlow
            x = low + width * torch.sigmoid(theta)
            loss = soft_profit(x, price * scale, v, None, belief, problem.kappa,
                               problem.adverse_selection, tau / scale, ws)
            opt.zero_grad(set_to_none=True)
            (-loss).backward()
            opt.step()
            if step % check_every == 0 or step == steps:
                value, menu = _exact(problem, theta, price, scale, snap)
                history.append((step, value))
                if value > best_value:
                    best_value, best_menu = value, menu
                if target is not None and value >= target:
                    reached = step
    finally:
        torch.set_num_threads(before)
    return RefineRun(history=history, steps_to_target=reached, menu=best_menu,
                     seconds=time.perf_counter() - start)
