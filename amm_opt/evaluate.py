r"""Exact, quadrature, quasi-Monte-Carlo and sample-mean profit of a menu (the lower bound).

The expected profit of a menu on a problem is

.. math::

    \Pi = \int_V \big(p_{k^*(v)} - x_{k^*(v)} \cdot c'(v)\big) f(v)\, dv
        = \sum_k \int_{R_k} (p_k - x_k \cdot c'(v)) f(v)\, dv,

where :math:`R_k = \{v \in V : v \cdot x_k - p_k \ge v \cdot x_j - p_j \;\forall j\}` is the convex
polytope of types choosing item ``k``. For ``goods <= 3`` the polytopes are computed exactly (as the
facets of the epigraph of :math:`u` over the box, by Qhull's half-space intersection) and
triangulated. With a uniform density and the linear update the profit on a simplex is
``vol * (p - x . c'(centroid))``: exact. Otherwise a collapsed Gauss rule of high order integrates
on each simplex, and the difference to the rule of two orders less is the error estimate.
More goods use scrambled Sobol points with independent replications (a confidence interval);
``Samples`` use the plain sample mean.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.stats import qmc

from .distributions import Product, Samples
from .errors import AmmOptWarning, OptionError, UnsupportedProblemError
from .menu import Menu, require_problem_and_menu
from .problem import Problem
from .regions import Region, box_regions, integrate_simplices, simplex_volumes, triangulate

__all__ = ["Evaluation", "Region", "evaluate", "menu_regions"]

FloatArray = NDArray[np.float64]

_METHODS = ("auto", "exact", "quadrature", "qmc", "sample-mean")
_MAX_POLYTOPE_GOODS = 3
# A region whose volume is below this fraction of the box is numerically a boundary piece.
_VOLUME_RTOL = 1e-13
# Regions must tile the box; a mismatch above this relative level means Qhull merged or lost
# facets (near-duplicate items), and we fall back to QMC rather than report a wrong number.
_TILING_RTOL = 1e-9


@dataclass(frozen=True)
class Evaluation:
    """Expected profit of a menu and how it was computed.

    Attributes
    ----------
    profit : float
        Expected market-maker profit.
    stderr : float
        0 for ``exact``; the quadrature error estimate for ``quadrature``; the standard error for
        ``qmc`` and ``sample-mean``.
    method : str
        ``exact``, ``quadrature``, ``qmc`` or ``sample-mean``.
    item_probability : array of shape (K,)
        Probability that each item is chosen.
    item_profit : array of shape (K,)
        Contribution of each item to ``profit`` (sums to ``profit``).
    confidence_interval : (float, float)
        95% interval for Monte-Carlo methods; ``(profit - stderr, profit + stderr)`` otherwise.
    details : dict
        Method-specific numbers (points, replications, quadrature orders, ...).
    """

    profit: float
    stderr: float
    method: str
    item_probability: FloatArray
    item_profit: FloatArray
    confidence_interval: tuple[float, float]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_exact(self) -> bool:
        return self.method == "exact"


def menu_regions(problem: Problem, menu: Menu) -> list[Region]:
    """Exact choice regions of ``menu`` on ``problem``'s value box (``goods <= 3``).

    Regions of zero volume are dropped; duplicated items keep their first occurrence.
    Raises :class:`UnsupportedProblemError` for more goods.
    """
    n = problem.goods
    if n > _MAX_POLYTOPE_GOODS:
        raise UnsupportedProblemError("exact choice regions need goods <= 3", field="goods",
                                      value=n, allowed="method='qmc' for more goods")
    return box_regions(np.asarray(menu.allocations), np.asarray(menu.prices),
                       problem.value_low, problem.value_high)


def _integrate_items(problem: Problem, menu: Menu, simp: FloatArray, labels: NDArray[np.intp],
                     order: int) -> tuple[FloatArray, FloatArray]:
    """Per-item probability and profit by a Gauss rule of the given order on every simplex."""
    dist = problem.distribution
    assert isinstance(dist, Product)
    x = np.asarray(menu.allocations)
    p = np.asarray(menu.prices)
    n = problem.goods

    def integrand(pts: FloatArray, rows: slice) -> FloatArray:
        flat = pts.reshape(-1, n)
        dens = dist.pdf(flat).reshape(pts.shape[:2])
        item = labels[rows]
        post = problem.posterior(flat).reshape(pts.shape)
        gain = p[item][:, None] - np.einsum("sqn,sn->sq", post, x[item])
        return np.stack([dens, dens * gain], axis=-1)

    per_simplex = integrate_simplices(simp, integrand, order, n_out=2)
    prob = np.bincount(labels, weights=per_simplex[:, 0], minlength=menu.size)
    profit = np.bincount(labels, weights=per_simplex[:, 1], minlength=menu.size)
    return prob, profit


def _polytope_evaluation(problem: Problem, menu: Menu, method: str,
                         order: int) -> Evaluation | None:
    regions = menu_regions(problem, menu)
    simp, labels = triangulate(regions, problem.goods)
    box_volume = float(np.prod(problem.value_high - problem.value_low))
    volumes = simplex_volumes(simp)
    tiled = volumes.sum()
    if abs(tiled - box_volume) > _TILING_RTOL * box_volume:
        return None
    keep = volumes > _VOLUME_RTOL * box_volume
    simp, labels, volumes = simp[keep], labels[keep], volumes[keep]
    details: dict[str, Any] = {"regions": len(regions), "simplices": len(simp),
                               "tiling_error": float(abs(tiled - box_volume) / box_volume)}
    x = np.asarray(menu.allocations)
    p = np.asarray(menu.prices)
    if method == "exact":
        # Uniform density and linear posterior: the integrand is affine on each simplex, so
        # volume times its value at the centroid is exact.
        centroid = simp.mean(axis=1)
        mass = volumes / box_volume
        gain = p[labels] - np.einsum("sn,sn->s", problem.posterior(centroid), x[labels])
        prob = np.bincount(labels, weights=mass, minlength=menu.size)
        profit = np.bincount(labels, weights=mass * gain, minlength=menu.size)
        total = float(profit.sum())
        return Evaluation(total, 0.0, "exact", prob, profit, (total, total), details)
    prob_hi, profit_hi = _integrate_items(problem, menu, simp, labels, order)
    _, profit_lo = _integrate_items(problem, menu, simp, labels, max(2, order - 2))
    total = float(profit_hi.sum())
    err = float(abs(total - profit_lo.sum()))
    details.update(order=order, check_order=max(2, order - 2),
                   probability_total=float(prob_hi.sum()))
    return Evaluation(total, err, "quadrature", prob_hi, profit_hi, (total - err, total + err),
                      details)


# ---------------------------------------------------------------------------------------------
# Monte-Carlo style methods
# ---------------------------------------------------------------------------------------------
def _outcomes(problem: Problem, menu: Menu, v: FloatArray) -> tuple[NDArray[np.intp], FloatArray]:
    choice = menu.choose(v, problem)
    x = np.asarray(menu.allocations)[choice]
    gain = np.asarray(menu.prices)[choice] - np.einsum("mn,mn->m", problem.posterior(v), x)
    return choice, gain


def _sample_mean(problem: Problem, menu: Menu) -> Evaluation:
    dist = problem.distribution
    assert isinstance(dist, Samples)
    v = np.asarray(dist.values)
    choice, gain = _outcomes(problem, menu, v)
    m = len(v)
    profit = float(gain.mean())
    stderr = float(gain.std(ddof=1) / math.sqrt(m)) if m > 1 else math.inf
    prob = np.bincount(choice, minlength=menu.size) / m
    item_profit = np.bincount(choice, weights=gain, minlength=menu.size) / m
    half = 1.96 * stderr
    return Evaluation(profit, stderr, "sample-mean", prob, item_profit,
                      (profit - half, profit + half), {"samples": m})


def _qmc(problem: Problem, menu: Menu, points: int, replications: int, seed: int) -> Evaluation:
    dist = problem.distribution
    assert isinstance(dist, Product)
    m_log2 = max(1, math.ceil(math.log2(points)))
    n_pts = 1 << m_log2
    seeds = np.random.SeedSequence(seed).spawn(replications)
    estimates = np.empty(replications)
    prob = np.zeros(menu.size)
    item_profit = np.zeros(menu.size)
    for r, ss in enumerate(seeds):
        u = qmc.Sobol(problem.goods, scramble=True, seed=np.random.default_rng(ss)).random_base2(
            m_log2)
        v = dist.ppf(u)
        choice, gain = _outcomes(problem, menu, v)
        estimates[r] = gain.mean()
        prob += np.bincount(choice, minlength=menu.size)
        item_profit += np.bincount(choice, weights=gain, minlength=menu.size)
    total_pts = n_pts * replications
    profit = float(estimates.mean())
    stderr = float(estimates.std(ddof=1) / math.sqrt(replications))
    half = float(stats.t.ppf(0.975, replications - 1)) * stderr
    return Evaluation(profit, stderr, "qmc", prob / total_pts, item_profit / total_pts,
                      (profit - half, profit + half),
                      {"points_per_replication": n_pts, "replications": replications,
                       "seed": seed})


# ---------------------------------------------------------------------------------------------
def _resolve_method(problem: Problem, method: str) -> str:
    if method not in _METHODS:
        raise OptionError("unknown evaluation method", field="method", value=method,
                          allowed=", ".join(_METHODS))
    if not problem.has_density:
        if method not in ("auto", "sample-mean"):
            raise UnsupportedProblemError(
                f"method {method!r} needs a density but the values are samples", field="method",
                value=method, allowed="'sample-mean' (or 'auto')")
        return "sample-mean"
    if method == "sample-mean":
        raise UnsupportedProblemError("needs Samples values", field="method", value=method,
                                      allowed="'exact', 'quadrature', 'qmc' or 'auto'")
    exact_ok = problem.distribution.is_uniform and problem.linear_update
    if method == "auto":
        if problem.goods > _MAX_POLYTOPE_GOODS:
            return "qmc"
        return "exact" if exact_ok else "quadrature"
    if method in ("exact", "quadrature") and problem.goods > _MAX_POLYTOPE_GOODS:
        raise UnsupportedProblemError(f"method {method!r} needs goods <= 3", field="method",
                                      value=method, allowed="'qmc' for more goods")
    if method == "exact" and not exact_ok:
        raise UnsupportedProblemError(
            "closed-form integration needs uniform values and the linear update",
            field="method", value=method, allowed="'quadrature' (error estimate reported)")
    return method


def evaluate(problem: Problem, menu: Menu, *, method: str = "auto", quadrature_order: int = 12,
             qmc_points: int = 1 << 15, qmc_replications: int = 8, seed: int = 0) -> Evaluation:
    r"""Expected market-maker profit of ``menu`` on ``problem``.

    .. math::

        \Pi = \mathbb{E}_v\big[p_{k^*(v)} - x_{k^*(v)} \cdot c'(v)\big]

    Parameters
    ----------
    problem : Problem
    menu : Menu
        Allocations must lie in the problem's allocation box.
    method : {'auto', 'exact', 'quadrature', 'qmc', 'sample-mean'}
        ``auto``: ``exact`` for uniform values with the linear update and ``goods <= 3``;
        ``quadrature`` for other densities with ``goods <= 3``; ``qmc`` beyond; ``sample-mean``
        for ``Samples``.
    quadrature_order : int
        Gauss points per direction on each simplex. The error estimate is the difference to
        the rule with two points fewer (spectral convergence makes it pessimistic).
    qmc_points, qmc_replications : int
        Sobol points per replication (rounded up to a power of 2) and independent scramblings.
    seed : int
        Seed of the QMC scramblings.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> from amm_opt import Problem, Uniform, Menu, evaluate
    >>> prob = Problem(goods=1, values=Uniform(0, 1), belief=0.5)
    >>> ev = evaluate(prob, Menu([[1.0], [-1.0]], [0.75, -0.25]))
    >>> round(ev.profit, 12), ev.method
    (0.125, 'exact')
    """
    require_problem_and_menu(problem, menu)
    for name, val, lo in (("quadrature_order", quadrature_order, 2), ("qmc_points", qmc_points, 2),
                          ("qmc_replications", qmc_replications, 2)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
            raise OptionError("must be an integer", field=name, value=val,
                              allowed=f"an integer >= {lo}")
    menu.check_fits(problem)
    chosen = _resolve_method(problem, method)
    if chosen == "sample-mean":
        return _sample_mean(problem, menu)
    if chosen in ("exact", "quadrature"):
        result = _polytope_evaluation(problem, menu, chosen, int(quadrature_order))
        if result is not None:
            return result
        warnings.warn("the exact choice regions did not tile the value box (near-duplicate "
                      "items?); falling back to quasi-Monte Carlo with a confidence interval",
                      AmmOptWarning, stacklevel=2)
    return _qmc(problem, menu, int(qmc_points), int(qmc_replications), int(seed))
