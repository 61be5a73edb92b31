r"""Menu polishing: merge near-identical items, then re-optimise the exact profit.

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

On a polytope allocation set (``MATH.md`` §9) only the prices are re-optimised: clusters merge
into probability-weighted means, convex combinations that stay in :math:`X`, snapped only where
the snapped trade is still in :math:`X`, and allocations are not moved afterwards.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import AmmOptWarning, UnsupportedProblemError
from .evaluate import Evaluation, evaluate
from .menu import Menu
from .options import Choice, Flag, Integer, Real, Rule, check_value
from .problem import Problem

__all__ = ["MAX_POLISH_GOODS", "PolishResult", "cluster_menu", "polish", "polish_refusal",
           "snap_allocations"]

FloatArray = NDArray[np.float64]

_EVAL_METHODS = ("auto", "exact", "quadrature")
#: Polishing optimises an exact or quadrature profit, available up to this many goods.
MAX_POLISH_GOODS = 3
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


def snap_allocations(x: FloatArray, low: FloatArray, high: FloatArray, tol: float
                     ) -> FloatArray:
    r"""Allocation coordinates within ``tol`` times the box width of a face of the box or of 0
    moved onto the nearest of them, the result clipped into the box.

    The one snapping rule of amm_opt (polishing, RochetNet): optimal menus trade whole units at
    the faces of :math:`X` or nothing, which learned and optimised allocations reach only up to
    a tolerance.
    """
    x = np.asarray(x, dtype=np.float64)
    width = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
    targets = np.stack(np.broadcast_arrays(np.zeros_like(x), low, high))       # (3, ...)
    dist = np.abs(x[None] - targets)
    nearest = np.take_along_axis(targets, dist.argmin(axis=0)[None], axis=0)[0]
    out = np.where(dist.min(axis=0) <= tol * width, nearest, x)
    return np.clip(out, low, high)


def polish_refusal(problem: Problem, evaluate_method: str = "auto") -> str | None:
    """Why ``problem`` cannot be polished (None when it can): polishing optimises an exact or
    quadrature profit, which needs a density, at most 3 goods and a smooth evaluation method."""
    if not problem.has_density or problem.goods > MAX_POLISH_GOODS or \
            evaluate_method not in _EVAL_METHODS:
        return (f"polishing needs a density, goods <= {MAX_POLISH_GOODS} and an exact or "
                "quadrature evaluation (Monte-Carlo profits are not smooth in the prices)")
    return None


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
    from scipy.spatial.distance import pdist

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
        # Condensed distances: a square array of observations (e.g. the unit-demand vertices
        # e_1, e_2) would otherwise be taken for a distance matrix and warned about.
        tree = linkage(pdist(scaled, metric="chebyshev"), method="complete")
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
    snapped = snap_allocations(xs, low, high, snap_tol)
    if problem.allocation_is_box:
        xs = snapped
    else:                 # a snap that leaves the polytope is not taken (the mean is in X)
        xs = np.where(problem.allocation_contains(snapped, 0.0)[:, None], snapped, xs)
    # A cluster that snapped onto no-trade is no-trade (the Menu adds the exact (0, 0) itself).
    keep = ~(np.all(xs == 0.0, axis=1))
    return Menu(xs[keep], ps[keep])


_OPTION_RULES: dict[str, Rule] = {
    "cluster_tol": Real(0, 1, open_high=True, example="1e-3"),
    "snap_tol": Real(0, 0.5, open_high=True, example="1e-6"),
    "optimize_allocations": Flag(), "max_evaluations": Integer(1, example="4000"),
    "evaluate_method": Choice(_EVAL_METHODS),
    "prune_rtol": Real(0, 1e-3, open_high=True, example="1e-9 (0 turns pruning off)"),
    "time_limit": Real(0, open_low=True, optional=True),
}


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
    given = {"cluster_tol": cluster_tol, "snap_tol": snap_tol,
             "optimize_allocations": optimize_allocations, "max_evaluations": max_evaluations,
             "evaluate_method": evaluate_method, "prune_rtol": prune_rtol,
             "time_limit": time_limit}
    for name, rule in _OPTION_RULES.items():
        check_value(name, given[name], rule)
    refusal = polish_refusal(problem, evaluate_method)
    if refusal is not None:
        raise UnsupportedProblemError(
            refusal, field="problem",
            value=f"goods={problem.goods}, density={problem.has_density}",
            allowed=f"density values with goods <= {MAX_POLISH_GOODS}")
    menu.check_fits(problem)
    return _Polisher(problem, evaluate_method, snap_tol, int(max_evaluations),
                     time_limit).run(menu, cluster_tol, optimize_allocations, prune_rtol)


class _Polisher:
    """One polish: a counted, time-limited exact objective and the steps that use it."""

    def __init__(self, problem: Problem, evaluate_method: str, snap_tol: float,
                 max_evaluations: int, time_limit: float | None) -> None:
        self.problem, self.evaluate_method, self.snap_tol = problem, evaluate_method, snap_tol
        self.max_evaluations = max_evaluations
        self.start = time.perf_counter()
        self.deadline = math.inf if time_limit is None else self.start + float(time_limit)
        self.low, self.high = problem.allocation_low, problem.allocation_high
        self.width = self.high - self.low
        # Prices are optimised in units of the problem's utility scale.
        self.scale = float(np.mean(problem.value_high - problem.value_low)
                           * np.mean(np.abs(self.width)))
        self.calls = 0
        self.limit = max_evaluations

    # ------------------------------------------------------------------ objective
    def smooth_evaluation(self, menu: Menu) -> Evaluation | None:
        """Exact/quadrature profit, or None when the evaluation would fall back to Monte Carlo
        (not a smooth objective: the candidate is treated as unusable)."""
        with warnings.catch_warnings():
            warnings.simplefilter("error", AmmOptWarning)
            try:
                return evaluate(self.problem, menu, method=self.evaluate_method)
            except AmmOptWarning:
                return None

    def profit_of(self, candidate: Menu, best: dict[str, Any]) -> Evaluation | None:
        if self.calls >= self.limit or time.perf_counter() > self.deadline:
            raise _Budget
        self.calls += 1
        ev = self.smooth_evaluation(candidate)
        if ev is not None and (not best or ev.profit > best["ev"].profit):
            best.update(ev=ev, menu=candidate)
        return ev

    def optimise(self, start_menu: Menu, free_x: NDArray[np.bool_], budget: int
                 ) -> tuple[dict[str, Any], str]:
        """L-BFGS-B over the prices (scaled) and the ``free_x`` allocation coordinates, with
        at most ``budget`` more evaluations (the best menu evaluated is returned)."""
        from scipy import optimize

        self.limit = self.calls + budget
        best: dict[str, Any] = {}
        x0 = np.asarray(start_menu.allocations)
        p0 = np.asarray(start_menu.prices)
        movable = np.arange(start_menu.size) != start_menu.no_trade_index
        n_p = int(movable.sum())
        if n_p == 0:
            try:
                self.profit_of(start_menu, best)
            except _Budget:
                pass
            return best, "nothing to optimise"

        def unpack(theta: FloatArray) -> Menu:
            p = p0.copy()
            p[movable] = theta[:n_p] * self.scale
            x = x0.copy()
            x[free_x] = theta[n_p:]
            return Menu(x, p)

        def objective(theta: FloatArray) -> float:
            ev = self.profit_of(unpack(theta), best)
            # An unusable candidate scores far below any menu (profits are O(scale)).
            return -ev.profit / self.scale if ev is not None else 10.0

        theta0 = np.concatenate([p0[movable] / self.scale, x0[free_x]])
        bounds = [(None, None)] * n_p + [(float(self.low[d]), float(self.high[d]))
                                        for d in np.nonzero(free_x)[1]]
        try:
            out = optimize.minimize(objective, theta0, method="L-BFGS-B", jac="3-point",
                                    bounds=bounds,
                                    options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-12,
                                             "maxfun": self.max_evaluations})
            return best, str(out.message)
        except _Budget:
            return best, "evaluation budget or time limit reached"

    def reprice(self, menu: Menu) -> dict[str, Any]:
        """Best prices for ``menu``'s allocations (a short price-only optimisation)."""
        try:
            again, _ = self.optimise(menu, np.zeros((menu.size, menu.goods), dtype=bool),
                                     _REPRICE_EVALUATIONS)
        except _Budget:
            again = {}
        return again

    # ------------------------------------------------------------------ steps
    def run(self, menu: Menu, cluster_tol: float, optimize_allocations: bool,
            prune_rtol: float) -> PolishResult:
        initial = self.smooth_evaluation(menu)
        if initial is None:
            # Even the input cannot be evaluated exactly: cluster with the QMC frequencies.
            initial = evaluate(self.problem, menu, method="qmc")
        # Items almost nobody chooses only add parameters: leave them out from the start (the
        # result is compared with the input menu's exact profit in any case).
        prob = np.where(initial.item_probability >= _NEGLIGIBLE, initial.item_probability, 0.0)
        if not prob.any():
            prob = initial.item_probability
        reduced = cluster_menu(self.problem, menu, prob, cluster_tol=cluster_tol,
                               snap_tol=self.snap_tol)
        free_x = self.free_coordinates(reduced) \
            if optimize_allocations and self.problem.allocation_is_box else \
            np.zeros((reduced.size, reduced.goods), dtype=bool)         # polytope: prices only
        best, message = self.optimise(reduced, free_x, self.max_evaluations)
        best, snapped = self.snap(best, free_x)
        best, pruned = self.prune(best, prune_rtol)
        polished, ev, improved = self.final(best, menu, initial)
        return PolishResult(menu=polished, profit=float(ev.profit),
                            initial_profit=float(initial.profit), improved=improved,
                            items_before=menu.size, items_after=reduced.size,
                            evaluations=self.calls, seconds=time.perf_counter() - self.start,
                            evaluation=ev, message=message,
                            details={"free_allocation_coordinates": int(free_x.sum()),
                                     "snapped_coordinates": snapped, "pruned_items": pruned,
                                     "price_parameters": reduced.size - 1})

    def free_coordinates(self, menu: Menu) -> NDArray[np.bool_]:
        """Allocation coordinates strictly inside the box and away from 0 (no-trade fixed)."""
        x0 = np.asarray(menu.allocations)
        tol = self.snap_tol * self.width
        interior = (x0 > self.low + tol) & (x0 < self.high - tol) & (np.abs(x0) > tol)
        return interior & (np.arange(menu.size) != menu.no_trade_index)[:, None]

    def snap(self, best: dict[str, Any], free_x: NDArray[np.bool_]
             ) -> tuple[dict[str, Any], int]:
        """Free coordinates converge to a face or to 0 only up to the optimiser's tolerance:
        snap them there and re-price; keep the snapped menu (the interpretable one) unless it
        is worse beyond round-off."""
        if not best or not free_x.any():
            return best, 0
        xb = np.asarray(best["menu"].allocations)
        xs = snap_allocations(xb, self.low, self.high, self.snap_tol)
        snapped = int((xs != xb).sum())
        if snapped:
            again = self.reprice(Menu(xs, best["menu"].prices))
            tol = 4 * np.finfo(np.float64).eps * max(1.0, abs(best["ev"].profit))
            if again and again["ev"].profit >= best["ev"].profit - tol:
                best = again
        return best, snapped

    def prune(self, best: dict[str, Any], prune_rtol: float) -> tuple[dict[str, Any], int]:
        """Items chosen by a sliver of types (the optimiser cannot remove them: their profit
        gradient vanishes) are dropped when re-pricing without them loses at most
        ``prune_rtol`` of the profit."""
        if not best or prune_rtol <= 0:
            return best, 0
        floor = best["ev"].profit - prune_rtol * abs(best["ev"].profit)
        cur, prob = best["menu"], best["ev"].item_probability
        rare = [k for k in np.argsort(prob, kind="stable")
                if k != cur.no_trade_index and prob[k] < _PRUNE_PROBABILITY]
        pruned = 0
        for xt in [np.asarray(cur.allocations)[k] for k in rare[:_PRUNE_MAX_TRIES]]:
            cur = best["menu"]
            keep = ~np.all(np.asarray(cur.allocations) == xt, axis=1)
            if keep.all():
                continue
            again = self.reprice(cur.subset(keep))
            if time.perf_counter() > self.deadline:
                break
            if again and again["ev"].profit >= floor:
                best, pruned = again, pruned + 1
        return best, pruned

    def final(self, best: dict[str, Any], menu: Menu, initial: Evaluation
              ) -> tuple[Menu, Evaluation, bool]:
        """The polished menu if it beats the input (items nobody chooses dropped), else the
        input."""
        polished = best.get("menu")
        if polished is None or not best["ev"].profit > initial.profit:
            return menu, initial, False
        ev = best["ev"]
        final = polished.subset(ev.item_probability > 0)
        if final.size < polished.size:
            ev_final = evaluate(self.problem, final, method=self.evaluate_method)
            if ev_final.profit >= ev.profit:
                return final, ev_final, True
        return polished, ev, True
