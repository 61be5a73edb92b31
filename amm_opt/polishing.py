r"""Menu polishing (MATH §3): merge near-identical items, then re-optimise the exact profit.

Menus read off a grid LP or learned by RochetNet carry many near-duplicate items and prices that
are right only up to the discretisation. Polishing

1. drops items no type chooses,
2. clusters the remaining allocations (complete linkage in the max-norm, relative to the width of
   the allocation box), replacing each cluster by its choice-probability-weighted mean allocation
   and price, and snaps coordinates within ``snap_tol`` of a box face or of 0 onto it,
3. maximises the **exact** expected profit (:func:`amm_opt.evaluate`) of the reduced menu over
   its prices :math:`p` and its interior allocation coordinates :math:`x_F`
   (L-BFGS-B with central finite differences: few parameters, piecewise-polynomial objective),

.. math::

    \max_{p,\; x_F}\; \Pi(x, p) = \sum_k \int_{R_k(x, p)} \big(p_k - x_k\cdot c'(v)\big) f(v)\,dv,
    \qquad l \le x_F \le h ,

and returns the best menu it evaluated, but only if its exact profit is higher than the input
menu's (so polishing never lowers a lower bound). Every candidate is a menu evaluated exactly,
hence a valid lower bound whatever the optimiser does.

Polishing needs an evaluation that is a smooth function of the menu: exact (uniform values) or
Gauss quadrature (other densities), i.e. a density and at most 3 goods.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import AmmOptWarning, OptionError, UnsupportedProblemError
from .evaluate import Evaluation, evaluate
from .menu import Menu
from .problem import Problem

__all__ = ["PolishResult", "cluster_menu", "polish"]

FloatArray = NDArray[np.float64]

_EVAL_METHODS = ("auto", "exact", "quadrature")
_MAX_POLISH_GOODS = 3
# Items chosen with a probability below this are candidates for pruning (at most this many tries).
_PRUNE_PROBABILITY = 1e-3
# Items chosen with a probability below this are left out before optimising.
_NEGLIGIBLE = 1e-4
# Evaluations for each price-only re-optimisation (after snapping, after each pruning).
_REPRICE_EVALUATIONS = 1500
_PRUNE_MAX_TRIES = 10
# Above this many chosen items the O(K^2) linkage is replaced by rounding to the cluster scale.
_MAX_LINKAGE_ITEMS = 4000


class _Budget(Exception):
    """Raised inside the objective when the evaluation budget is spent."""


@dataclass(frozen=True)
class PolishResult:
    """What :func:`polish` did.

    Attributes
    ----------
    menu : Menu
        The polished menu if it beats the input, else the input menu.
    profit : float
        Exact (or quadrature) profit of ``menu``.
    initial_profit : float
        Profit of the input menu.
    improved : bool
        Whether ``menu`` is the polished one.
    items_before, items_after : int
        Items (no-trade included) of the input and of the reduced menu.
    evaluations : int
        Profit evaluations spent.
    seconds : float
    evaluation : Evaluation
        The evaluation of ``menu``.
    message : str
        Why the optimiser stopped.
    """

    menu: Menu
    profit: float
    initial_profit: float
    improved: bool
    items_before: int
    items_after: int
    evaluations: int
    seconds: float
    evaluation: Evaluation
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly numbers (for ``Result.stats``)."""
        return {"profit": self.profit, "initial_profit": self.initial_profit,
                "improved": self.improved, "items_before": self.items_before,
                "items_after": self.items_after, "evaluations": self.evaluations,
                "seconds": self.seconds, "message": self.message, **self.details}


def _snap(x: FloatArray, low: FloatArray, high: FloatArray, tol: float) -> FloatArray:
    """Coordinates within ``tol * (high - low)`` of a face or of 0 moved onto it."""
    out = x.copy()
    width = high - low
    for target in (np.zeros_like(low), low, high):
        out = np.where(np.abs(x - target) <= tol * width, target, out)
    return np.clip(out, low, high)


def cluster_menu(problem: Problem, menu: Menu, probability: FloatArray, *,
                 cluster_tol: float = 1e-3, snap_tol: float = 1e-6) -> Menu:
    r"""Merge items whose allocations are within ``cluster_tol`` (max-norm, relative to the box
    width) of each other, dropping items chosen with probability 0.

    Complete linkage guarantees every pair inside a cluster is that close. Each cluster becomes
    one item at the probability-weighted mean allocation (snapped, see :func:`polish`) and
    price; no-trade stays exactly ``(0, 0)``.

    Parameters
    ----------
    problem : Problem
    menu : Menu
    probability : array of shape (K,)
        Choice probability of each item of ``menu``.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    x = np.asarray(menu.allocations)
    p = np.asarray(menu.prices)
    prob = np.asarray(probability, dtype=np.float64)
    low, high = problem.allocation_low, problem.allocation_high
    width = np.where(high > low, high - low, 1.0)
    chosen = np.flatnonzero((prob > 0) & (np.arange(menu.size) != menu.no_trade_index))
    if chosen.size == 0:
        return Menu(np.zeros((0, menu.goods)), np.zeros(0))
    scaled = x[chosen] / width
    if chosen.size == 1:
        labels = np.zeros(1, dtype=np.int64)
    elif chosen.size <= _MAX_LINKAGE_ITEMS:
        tree = linkage(scaled, method="complete", metric="chebyshev")
        labels = fcluster(tree, t=cluster_tol, criterion="distance").astype(np.int64) - 1
    else:
        # Rounding to a lattice of spacing cluster_tol also keeps clusters within cluster_tol.
        _, labels = np.unique(np.floor(scaled / cluster_tol), axis=0, return_inverse=True)
        labels = labels.ravel().astype(np.int64)
    count = int(labels.max()) + 1
    w = prob[chosen]
    tot = np.bincount(labels, weights=w, minlength=count)
    xs = np.stack([np.bincount(labels, weights=w * x[chosen, d], minlength=count)
                   for d in range(menu.goods)], axis=1) / tot[:, None]
    ps = np.bincount(labels, weights=w * p[chosen], minlength=count) / tot
    xs = _snap(xs, low, high, snap_tol)
    # A cluster that snapped onto no-trade is no-trade (the Menu adds the exact (0, 0) itself).
    keep = ~(np.all(xs == 0.0, axis=1))
    return Menu(xs[keep], ps[keep])


def _check_options(problem: Problem, cluster_tol: Any, snap_tol: Any, max_evaluations: Any,
                   evaluate_method: Any) -> None:
    for name, val, hi in (("cluster_tol", cluster_tol, 1.0), ("snap_tol", snap_tol, 0.5)):
        if isinstance(val, bool) or not isinstance(val, (int, float)) or \
                not math.isfinite(val) or not 0 <= val < hi:
            raise OptionError(f"must be a number in [0, {hi:g})", field=name, value=val,
                              allowed="a small fraction of the allocation box width, e.g. 1e-3")
    if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, (int, np.integer)) \
            or max_evaluations < 1:
        raise OptionError("must be a positive integer", field="max_evaluations",
                          value=max_evaluations, allowed="e.g. 4000")
    if evaluate_method not in _EVAL_METHODS:
        raise OptionError("is not a smooth evaluation method", field="evaluate_method",
                          value=evaluate_method, allowed=", ".join(_EVAL_METHODS))
    if not problem.has_density or problem.goods > _MAX_POLISH_GOODS:
        raise UnsupportedProblemError(
            "polishing needs an exact or quadrature evaluation (a density and goods <= 3); "
            "Monte-Carlo profits are not smooth in the prices",
            field="problem", value=f"goods={problem.goods}, density={problem.has_density}",
            allowed="density values with goods <= 3")


def polish(problem: Problem, menu: Menu, *, cluster_tol: float = 1e-3, snap_tol: float = 1e-6,
           optimize_allocations: bool = True, max_evaluations: int = 4000,
           evaluate_method: str = "auto", prune_rtol: float = 1e-9,
           time_limit: float | None = None) -> PolishResult:
    r"""Cluster a menu's items and maximise its exact profit over prices (and interior trades).

    .. math::

        \max_{p,\; x_F}\; \Pi(x, p) \quad \text{s.t.}\quad l \le x_F \le h

    Parameters
    ----------
    problem : Problem
        Values with a density, ``goods <= 3``.
    menu : Menu
        The menu to polish (allocations (K, goods), prices (K,)).
    cluster_tol : float
        Items whose allocations differ by at most this fraction of the box width (max-norm,
        complete linkage) are merged; 0 merges only identical allocations.
    snap_tol : float
        Coordinates this close (relative) to a face of the box or to 0 are moved onto it.
    optimize_allocations : bool
        Also optimise allocation coordinates strictly inside the box (not at a face, not 0).
    max_evaluations : int
        Profit evaluations of the main optimisation; the best menu evaluated so far is used
        when they are spent. Each later price-only re-optimisation (after snapping, after
        each pruning) gets 1500 more.
    time_limit : float or None
        Seconds for the whole polish (checked before every evaluation).
    evaluate_method : {"auto", "exact", "quadrature"}
        Passed to :func:`amm_opt.evaluate`.
    prune_rtol : float
        Items chosen with probability below 1e-3 are dropped (and the rest re-priced) when
        that loses at most this fraction of the profit; 0 disables pruning.

    Returns
    -------
    PolishResult

    Examples
    --------
    >>> import numpy as np
    >>> from amm_opt import Menu, references
    >>> from amm_opt.polishing import polish
    >>> problem, best_menu, best = references.r1_bid_ask()
    >>> rough = Menu([[1.0], [0.999], [-1.0]], [0.74, 0.745, -0.26])
    >>> out = polish(problem, rough)
    >>> out.improved, out.items_after, round(out.profit, 9) == round(best, 9)
    (True, 3, True)
    """
    _check_options(problem, cluster_tol, snap_tol, max_evaluations, evaluate_method)
    if isinstance(prune_rtol, bool) or not isinstance(prune_rtol, (int, float)) or \
            not math.isfinite(prune_rtol) or not 0 <= prune_rtol < 1e-3:
        raise OptionError("must be a small non-negative number", field="prune_rtol",
                          value=prune_rtol, allowed="0 (off) or e.g. 1e-9 (< 1e-3)")
    menu.check_fits(problem)
    start = time.perf_counter()
    low, high = problem.allocation_low, problem.allocation_high
    width = high - low
    scale = float(np.mean(problem.value_high - problem.value_low) * np.mean(np.abs(width)))
    deadline = math.inf if time_limit is None else start + float(time_limit)
    counter = {"calls": 0, "limit": int(max_evaluations)}

    def profit_of(candidate: Menu, best: dict[str, Any]) -> Evaluation | None:
        if counter["calls"] >= counter["limit"] or time.perf_counter() > deadline:
            raise _Budget
        counter["calls"] += 1
        with warnings.catch_warnings():
            # A tiling failure means a Monte-Carlo fallback: not a smooth objective. Treat the
            # candidate as unusable instead of optimising noise.
            warnings.simplefilter("error", AmmOptWarning)
            try:
                ev = evaluate(problem, candidate, method=evaluate_method)
            except AmmOptWarning:
                return None
        if not best or ev.profit > best["ev"].profit:
            best.update(ev=ev, menu=candidate)
        return ev

    def optimise(start_menu: Menu, free_x: NDArray[np.bool_], budget: int
                 ) -> tuple[dict[str, Any], str]:
        """L-BFGS-B over the prices (scaled) and the ``free_x`` allocation coordinates, with
        at most ``budget`` more evaluations (the best menu evaluated is returned)."""
        from scipy import optimize

        counter["limit"] = counter["calls"] + budget
        best: dict[str, Any] = {}
        x0 = np.asarray(start_menu.allocations)
        p0 = np.asarray(start_menu.prices)
        movable = np.arange(start_menu.size) != start_menu.no_trade_index
        n_p = int(movable.sum())
        if n_p == 0:
            try:
                profit_of(start_menu, best)
            except _Budget:
                pass
            return best, "nothing to optimise"

        def unpack(theta: FloatArray) -> Menu:
            p = p0.copy()
            p[movable] = theta[:n_p] * scale
            x = x0.copy()
            x[free_x] = theta[n_p:]
            return Menu(x, p)

        def objective(theta: FloatArray) -> float:
            ev = profit_of(unpack(theta), best)
            # An unusable candidate scores far below any menu (profits are O(scale)).
            return -ev.profit / scale if ev is not None else 10.0

        theta0 = np.concatenate([p0[movable] / scale, x0[free_x]])
        bounds = [(None, None)] * n_p + [(float(low[d]), float(high[d]))
                                        for d in np.nonzero(free_x)[1]]
        try:
            out = optimize.minimize(objective, theta0, method="L-BFGS-B", jac="3-point",
                                    bounds=bounds,
                                    options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-12,
                                             "maxfun": int(max_evaluations)})
            return best, str(out.message)
        except _Budget:
            return best, "evaluation budget or time limit reached"

    with warnings.catch_warnings():
        warnings.simplefilter("error", AmmOptWarning)
        try:
            initial = evaluate(problem, menu, method=evaluate_method)
        except AmmOptWarning:
            initial = None
    if initial is None:
        # Even the input cannot be evaluated exactly: cluster with the QMC choice frequencies.
        initial = evaluate(problem, menu, method="qmc")
    # Items almost nobody chooses only add parameters: leave them out from the start (the
    # result is compared with the input menu's exact profit in any case).
    prob = np.where(initial.item_probability >= _NEGLIGIBLE, initial.item_probability, 0.0)
    if not prob.any():
        prob = initial.item_probability
    reduced = cluster_menu(problem, menu, prob, cluster_tol=cluster_tol, snap_tol=snap_tol)
    x0 = np.asarray(reduced.allocations)
    interior = (x0 > low + snap_tol * width) & (x0 < high - snap_tol * width) & \
        (np.abs(x0) > snap_tol * width)
    movable = (np.arange(reduced.size) != reduced.no_trade_index)[:, None]
    free_x = interior & movable if optimize_allocations else np.zeros_like(interior)
    best, message = optimise(reduced, free_x, int(max_evaluations))
    snapped_coordinates = 0
    if best and free_x.any():
        # Free coordinates may converge to a face or to 0 only up to the optimiser's
        # tolerance: snap them there, re-price with those trades fixed, and keep the snapped
        # menu unless it is worse beyond round-off (it is the interpretable one).
        xb = np.asarray(best["menu"].allocations)
        xs = _snap(xb, low, high, snap_tol)
        snapped_coordinates = int((xs != xb).sum())
        if snapped_coordinates:
            try:
                again, _ = optimise(Menu(xs, best["menu"].prices), np.zeros_like(xs, bool),
                                    _REPRICE_EVALUATIONS)
            except _Budget:
                again = {}
            tol = 4 * np.finfo(np.float64).eps * max(1.0, abs(best["ev"].profit))
            if again and again["ev"].profit >= best["ev"].profit - tol:
                best = again

    pruned = 0
    if best and prune_rtol > 0:
        # Items chosen by a sliver of types (the optimiser cannot remove them: their profit
        # gradient vanishes) are dropped when re-pricing without them loses at most
        # prune_rtol of the profit: a shorter, interpretable menu for a negligible change.
        floor = best["ev"].profit - prune_rtol * abs(best["ev"].profit)
        cur = best["menu"]
        prob = best["ev"].item_probability
        rare = [k for k in np.argsort(prob, kind="stable")
                if k != cur.no_trade_index and prob[k] < _PRUNE_PROBABILITY]
        targets = [np.asarray(cur.allocations)[k] for k in rare[:_PRUNE_MAX_TRIES]]
        for xt in targets:
            cur = best["menu"]
            idx = np.flatnonzero(np.all(np.asarray(cur.allocations) == xt, axis=1))
            if idx.size == 0:
                continue
            keep = np.ones(cur.size, dtype=bool)
            keep[idx] = False
            try:
                again, _ = optimise(cur.subset(keep),
                                    np.zeros((int(keep.sum()), cur.goods), dtype=bool),
                                    _REPRICE_EVALUATIONS)
            except _Budget:
                break
            if time.perf_counter() > deadline:
                break
            if again and again["ev"].profit >= floor:
                best, pruned = again, pruned + 1

    polished = best.get("menu")
    improved = polished is not None and best["ev"].profit > initial.profit
    if improved:
        ev = best["ev"]
        # Items nobody chooses after re-pricing carry no information: drop them (profit equal).
        final = polished.subset(ev.item_probability > 0)
        if final.size < polished.size:
            ev_final = evaluate(problem, final, method=evaluate_method)
            if ev_final.profit >= ev.profit:
                polished, ev = final, ev_final
    else:
        polished, ev = menu, initial
    calls = counter["calls"]
    n_p = int(movable.sum())
    return PolishResult(menu=polished, profit=float(ev.profit),
                        initial_profit=float(initial.profit), improved=bool(improved),
                        items_before=menu.size, items_after=reduced.size, evaluations=calls,
                        seconds=time.perf_counter() - start, evaluation=ev, message=message,
                        details={"free_allocation_coordinates": int(free_x.sum()),
                                 "snapped_coordinates": snapped_coordinates,
                                 "pruned_items": pruned,
                                 "price_parameters": n_p})
