r"""Expected profit of a menu (the lower bound): exact, quadrature, QMC or sample mean.

.. math::

    \Pi = \sum_k \int_{R_k} (p_k - x_k \cdot c'(v)) f(v)\, dv, \qquad
    R_k = \{v \in V : v \cdot x_k - p_k \ge v \cdot x_j - p_j \;\forall j\}.

Items no type in ``V`` prefers are dropped first. For ``goods <= 3`` the polytopes ``R_k`` are
computed exactly and triangulated. Uniform values with the linear update integrate in closed form
(``exact``). Other densities are integrated on cells cut at each marginal's resolving breakpoints
(pieces on which a Gauss rule reproduces the exact probability), with a Gauss rule and an error
estimate (``quadrature``); an estimate that cannot be trusted falls back to ``qmc``. More goods
use scrambled Sobol points (``qmc``), ``Samples`` the sample mean. See docs/math/evaluation.md.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from itertools import product as iter_product
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.stats import qmc

from . import limits
from .discretisation import interval_probability, resolving_breaks
from .distributions import Product, Samples
from .errors import AmmOptWarning, OptionError, ResourceLimitError, UnsupportedProblemError
from .menu import Menu, require_problem_and_menu
from .options import Integer, check_value
from .problem import Problem
from .regions import (
    LABEL_RTOL,
    TILING_RTOL,
    AxisRule,
    CellQuadrature,
    Region,
    axis_rule,
    box_regions,
    cell_quadrature,
    check_labels,
    relevant_items,
    simplex_volumes,
    triangulate,
    unique_items,
)

__all__ = ["Evaluation", "Region", "estimate_memory", "evaluate", "menu_regions"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_METHODS = ("auto", "exact", "quadrature", "qmc", "sample-mean")
_MAX_POLYTOPE_GOODS = 3


# Quadrature error relative to the profit scale S (largest |p_k - x_k . c'(v)| of a relevant
# item on the box): above _QUAD_TARGET_RTOL the cells are refined once; above _QUAD_ACCEPT_RTOL
# the estimate is not trusted and QMC (with a confidence interval) is used instead. Bounds are
# compared at a relative 1e-9 and gaps are rarely below 1e-6, so 1e-7 of S is a negligible error.
_QUAD_TARGET_RTOL = 1e-9
_QUAD_ACCEPT_RTOL = 1e-7
# Elements of one (points x items) block in the Monte-Carlo paths (16 MiB of float64), and the
# Sobol points drawn at a time.
_CHUNK_ELEMENTS = 1 << 21
_SOBOL_BLOCK = 1 << 16
# Bytes per relevant item of the exact geometry (Qhull's half-space intersection, the Region
# objects, the triangulation and its quadrature blocks), measured on menus whose items are all
# active (2-D: ~2.6 kB, 3-D: ~20 kB per item at 10^5 items) with a factor 2 of margin.
_GEOMETRY_BYTES_PER_ITEM = {1: 1_000, 2: 6_000, 3: 40_000}
_FIXED_BYTES = 64 * 2**20     # quadrature and choice blocks, whatever the menu size
# Option ranges. Gauss orders above 64 gain nothing in float64 (and the per-cell node tables
# grow as order^goods); 2^26 Sobol points times 1024 replications is already hours of work,
# so larger requests are typos, refused instead of running for ever.
_QUADRATURE_ORDER = Integer(2, 64, example="12")
_QMC_POINTS = Integer(2, 1 << 26, example="2**15")
_QMC_REPLICATIONS = Integer(2, 1024, example="8")
_SEED = Integer(0, 2**63 - 1, example="0")


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
        ``exact``, ``quadrature``, ``qmc`` or ``sample-mean``: the method actually used (a
        quadrature that could not be trusted reports ``qmc``, with the reason in
        ``details['fallback']``).
    item_probability : array of shape (K,)
        Probability that each item is chosen.
    item_profit : array of shape (K,)
        Contribution of each item to ``profit`` (sums to ``profit``).
    confidence_interval : (float, float)
        95% interval for Monte-Carlo methods; ``(profit - stderr, profit + stderr)`` otherwise.
    details : dict
        Method-specific numbers (points, replications, quadrature orders, cells, ...).
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

    Regions of zero volume and items no type prefers are dropped; duplicated items keep their
    first occurrence. Raises :class:`UnsupportedProblemError` for more goods.
    """
    n = problem.goods
    if n > _MAX_POLYTOPE_GOODS:
        raise UnsupportedProblemError("exact choice regions need goods <= 3", field="goods",
                                      value=n, allowed="method='qmc' for more goods")
    return box_regions(np.asarray(menu.allocations), np.asarray(menu.prices),
                       problem.value_low, problem.value_high)


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------
def estimate_memory(problem: Problem, menu: Menu, method: str = "auto",
                    qmc_points: int = 1 << 15) -> int:
    """Bytes an evaluation of ``menu`` on ``problem`` plans to hold at once (an upper estimate).

    The exact geometry grows with the number of items that some type may choose; Monte-Carlo
    methods work in blocks of points and items, so only the menu-sized arrays grow.
    """
    chosen = _resolve_method(problem, method)
    x = np.asarray(menu.allocations)
    k = len(relevant_items(x, np.asarray(menu.prices), problem.value_low, problem.value_high))
    menu_bytes = 8 * menu.size * (problem.goods + 1) * 6      # copies, |x|, masks, index maps
    if chosen in ("exact", "quadrature"):
        return int(_FIXED_BYTES + menu_bytes + _GEOMETRY_BYTES_PER_ITEM[problem.goods] * k)
    if chosen == "qmc":
        return int(_FIXED_BYTES + menu_bytes + 8 * problem.goods * 4 * _SOBOL_BLOCK)
    m = len(np.asarray(problem.distribution.values))                   # type: ignore[union-attr]
    return int(_FIXED_BYTES + menu_bytes + 8 * m * 4)


# ---------------------------------------------------------------------------------------------
# Exact geometry and integration (goods <= 3)
# ---------------------------------------------------------------------------------------------
@dataclass
class _Geometry:
    simp: FloatArray
    labels: IntArray           # indices into the reduced menu
    details: dict[str, Any]


def _geometry(problem: Problem, x: FloatArray, p: FloatArray) -> _Geometry | str:
    """Verified triangulation of the choice regions, or the reason it cannot be trusted."""
    low, high = problem.value_low, problem.value_high
    regions = box_regions(x, p, low, high)
    simp, labels = triangulate(regions, problem.goods)
    box_volume = float(np.prod(high - low))
    volumes = simplex_volumes(simp)
    tiled = float(volumes.sum())
    if abs(tiled - box_volume) > TILING_RTOL * box_volume:
        return (f"the exact choice regions cover {tiled / box_volume:.12g} of the value box "
                "(near-duplicate items?)")
    keep = volumes > 0.0                       # exactly flat pieces carry nothing
    simp, labels = simp[keep], labels[keep]
    worst, checked, total = check_labels(simp, labels, x, p)
    if worst > LABEL_RTOL:
        return (f"a region's item is below the best utility by {worst:.3g} (relative) at one of "
                "its vertices")
    details = {"regions": len(regions), "simplices": len(simp),
               "tiling_error": abs(tiled - box_volume) / box_volume,
               "vertices_checked": f"{checked} of {total}"}
    return _Geometry(simp, labels, details)


def _gain_bound(problem: Problem, x: FloatArray, p: FloatArray) -> FloatArray:
    """Largest |p_k - x_k . c'(v)| of each item over the box (at its vertices and centre)."""
    low, high = problem.value_low, problem.value_high
    corners = np.array(list(iter_product(*zip(low, high, strict=True))))
    pts = np.vstack([corners, 0.5 * (low + high)])
    post = problem.posterior(pts)                                    # (2^n + 1, n)
    # For the linear update the gain is affine in v, so its extremes are at the vertices.
    return np.abs(p[None, :] - post @ x.T).max(axis=0)


def _exact_integral(problem: Problem, geo: _Geometry, x: FloatArray,
                    p: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Uniform density, linear posterior: the integrand is affine on each simplex, so volume
    times its value at the centroid is exact."""
    box_volume = float(np.prod(problem.value_high - problem.value_low))
    centroid = geo.simp.mean(axis=1)
    mass = simplex_volumes(geo.simp) / box_volume
    gain = p[geo.labels] - np.einsum("sn,sn->s", problem.posterior(centroid), x[geo.labels])
    prob = np.bincount(geo.labels, weights=mass, minlength=len(p))
    profit = np.bincount(geo.labels, weights=mass * gain, minlength=len(p))
    return prob, profit


def _axis(marginal: Any, breaks: FloatArray, orders: tuple[int, int]) -> AxisRule:
    """Gauss data of one axis's pieces, with their exact probabilities from the CDF."""
    return axis_rule(marginal, breaks, orders,
                     interval_probability(marginal, breaks[:-1], breaks[1:]))


def _polytope_evaluation(problem: Problem, x: FloatArray, p: FloatArray, method: str,
                         order: int) -> tuple[FloatArray, FloatArray, float, str,
                                              dict[str, Any]] | str:
    """(prob, profit, error, method, details) on the reduced menu, or why it cannot be trusted."""
    if method == "exact":
        geo = _geometry(problem, x, p)
        if isinstance(geo, str):
            return geo
        prob, profit = _exact_integral(problem, geo, x, p)
        return prob, profit, 0.0, "exact", dict(geo.details)
    details: dict[str, Any] = {}
    dist = problem.distribution
    assert isinstance(dist, Product)
    gain_bound = _gain_bound(problem, x, p)
    scale = float(gain_bound.max()) if len(gain_bound) else 0.0
    # Round-off floor: the gains are differences of terms of size |p| + |x| |c'|, so an error
    # of a few thousand ulps of those is round-off, whatever the profit scale (which can be 0).
    reach = np.abs(problem.posterior(np.vstack([problem.value_low, problem.value_high]))).max(0)
    floor = 1e3 * np.finfo(np.float64).eps * float((np.abs(p) + np.abs(x) @ reach).max())
    breaks = [resolving_breaks(m, order) for m in dist.marginals]
    orders = (order, max(2, order - 2))

    def run(breaks: list[FloatArray]) -> CellQuadrature | str:
        axes = [_axis(m, b, orders) for m, b in zip(dist.marginals, breaks, strict=True)]
        return cell_quadrature(problem, x, p, axes, orders, gain_bound)

    quad = run(breaks)
    refined = False
    if not isinstance(quad, str) and quad.error > _QUAD_TARGET_RTOL * scale + floor:
        finer = [np.unique(np.concatenate([b, 0.5 * (b[1:] + b[:-1])])) for b in breaks]
        again = run(finer)
        if not isinstance(again, str) and again.error < quad.error:
            quad, refined = again, True
    if isinstance(quad, str):
        return quad
    details.update(quad.details, order=order, check_order=max(2, order - 2), refined=refined,
                   probability_total=float(quad.prob.sum()))
    if not quad.error <= _QUAD_ACCEPT_RTOL * scale + floor:
        return (f"the quadrature error estimate {quad.error:.3g} exceeds {_QUAD_ACCEPT_RTOL:g} "
                f"of the profit scale {scale:.3g}")
    return quad.prob, quad.profit, quad.error, "quadrature", details


# ---------------------------------------------------------------------------------------------
# Monte-Carlo style methods
# ---------------------------------------------------------------------------------------------
def _accumulate(problem: Problem, menu: Menu, v: FloatArray, prob: FloatArray,
                item_profit: FloatArray) -> tuple[float, float]:
    """Add the choices of the types ``v`` to ``prob``/``item_profit``; (sum, sum of squares)."""
    total, squares = 0.0, 0.0
    step = max(1, _CHUNK_ELEMENTS // max(1, menu.size))
    x = np.asarray(menu.allocations)
    p = np.asarray(menu.prices)
    for s in range(0, len(v), step):
        block = v[s:s + step]
        choice = menu.choose(block, problem)
        gain = p[choice] - np.einsum("mn,mn->m", problem.posterior(block), x[choice])
        prob += np.bincount(choice, minlength=menu.size)
        item_profit += np.bincount(choice, weights=gain, minlength=menu.size)
        total += float(gain.sum())
        squares += float((gain * gain).sum())
    return total, squares


def _sample_mean(problem: Problem, menu: Menu) -> Evaluation:
    dist = problem.distribution
    assert isinstance(dist, Samples)
    v = np.asarray(dist.values)
    m = len(v)
    prob, item_profit = np.zeros(menu.size), np.zeros(menu.size)
    total, squares = _accumulate(problem, menu, v, prob, item_profit)
    profit = total / m
    var = max(squares - m * profit * profit, 0.0) / (m - 1) if m > 1 else math.inf
    stderr = math.sqrt(var / m)
    half = 1.96 * stderr
    return Evaluation(profit, stderr, "sample-mean", prob / m, item_profit / m,
                      (profit - half, profit + half), {"samples": m})


def _qmc(problem: Problem, menu: Menu, points: int, replications: int, seed: int) -> Evaluation:
    dist = problem.distribution
    assert isinstance(dist, Product)
    m_log2 = max(1, math.ceil(math.log2(points)))
    n_pts = 1 << m_log2
    block = min(n_pts, _SOBOL_BLOCK)
    seeds = np.random.SeedSequence(seed).spawn(replications)
    estimates = np.empty(replications)
    prob = np.zeros(menu.size)
    item_profit = np.zeros(menu.size)
    for r, ss in enumerate(seeds):
        engine = qmc.Sobol(problem.goods, scramble=True, seed=np.random.default_rng(ss))
        total = 0.0
        with warnings.catch_warnings():
            # Equal power-of-2 blocks add up to the same 2^m points (balance kept): only the
            # running totals are not powers of 2, which is what scipy would warn about.
            warnings.filterwarnings("ignore", message="The balance properties")
            for _ in range(n_pts // block):
                v = dist.ppf(engine.random(block))
                total += _accumulate(problem, menu, v, prob, item_profit)[0]
        estimates[r] = total / n_pts
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


def _expand(values: FloatArray, index: IntArray, size: int) -> FloatArray:
    out = np.zeros(size)
    np.add.at(out, index, values)
    return out


def evaluate(problem: Problem, menu: Menu, *, method: str = "auto", quadrature_order: int = 12,
             qmc_points: int = 1 << 15, qmc_replications: int = 8, seed: int = 0,
             memory_limit: int | None = None) -> Evaluation:
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
        for ``Samples``. When the exact regions fail their checks or the quadrature's error
        estimate is not small, ``exact``/``quadrature`` warn and fall back to ``qmc``
        (``Evaluation.method`` says ``qmc``; ``details['fallback']`` says why).
    quadrature_order : int
        Gauss points per direction on each piece. The error estimate is the difference to the
        rule with two points fewer plus each cell's probability error (against the exact
        probability from the marginal CDFs) times the largest gain there.
    qmc_points, qmc_replications : int
        Sobol points per replication (rounded up to a power of 2) and independent scramblings.
    seed : int
        Seed of the QMC scramblings.
    memory_limit : int, optional
        Most bytes the evaluation may plan to use (default :func:`amm_opt.limits.memory_limit`:
        ``AMM_OPT_MEMORY_LIMIT`` or 60% of the machine's memory). The
        estimate (:func:`estimate_memory`) is made before anything large is allocated; above
        the limit an explicit method raises :class:`ResourceLimitError` stating both, and
        ``auto`` uses chunked QMC instead of the exact geometry.

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
    for name, val, rule in (("quadrature_order", quadrature_order, _QUADRATURE_ORDER),
                            ("qmc_points", qmc_points, _QMC_POINTS),
                            ("qmc_replications", qmc_replications, _QMC_REPLICATIONS),
                            ("seed", seed, _SEED)):
        check_value(name, val, rule)
    if memory_limit is None:
        memory_limit = limits.memory_limit()
    if (isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, np.integer))
            or memory_limit <= 0):
        raise OptionError("must be a positive number of bytes", field="memory_limit",
                          value=memory_limit, allowed="an integer > 0, e.g. 8 * 2**30")
    menu.check_fits(problem)
    chosen = _resolve_method(problem, method)
    fallback: str | None = None
    need = estimate_memory(problem, menu, chosen, int(qmc_points))
    if need > memory_limit:
        if method == "auto" and chosen in ("exact", "quadrature"):
            fallback = (f"the exact geometry needs an estimated {limits.format_bytes(need)}, "
                        f"above the memory_limit of {limits.format_bytes(memory_limit)}")
            chosen = "qmc"
            need = estimate_memory(problem, menu, "qmc", int(qmc_points))
        if need > memory_limit:
            raise ResourceLimitError(
                f"the evaluation would need an estimated {limits.format_bytes(need)} "
                f"({menu.size} items), above the limit of {limits.format_bytes(memory_limit)}",
                field="memory_limit", value=int(memory_limit),
                allowed="a larger memory_limit (or AMM_OPT_MEMORY_LIMIT), fewer items, or "
                        "method='qmc' (works in blocks)")

    x_all = np.asarray(menu.allocations)
    p_all = np.asarray(menu.prices)
    # Items no type in the value box prefers are never chosen: drop them before anything else
    # (duplicates keep their first occurrence).
    index = relevant_items(x_all, p_all, problem.value_low, problem.value_high)
    index = index[unique_items(x_all[index], p_all[index])]
    x, p = x_all[index], p_all[index]

    if chosen in ("exact", "quadrature"):
        out = _polytope_evaluation(problem, x, p, chosen, int(quadrature_order))
        if not isinstance(out, str):
            prob, profit, err, used, details = out
            total = float(profit.sum())
            return Evaluation(total, err, used, _expand(prob, index, menu.size),
                              _expand(profit, index, menu.size), (total - err, total + err),
                              details)
        fallback = out
        warnings.warn(f"{out}; falling back to quasi-Monte Carlo with a confidence interval",
                      AmmOptWarning, stacklevel=2)
    sub = Menu(x, p)
    if sub.size > len(index):      # Menu appended a no-trade item: it is the menu's no-trade
        index = np.append(index, menu.no_trade_index)
    if chosen == "sample-mean":
        ev = _sample_mean(problem, sub)
    else:
        ev = _qmc(problem, sub, int(qmc_points), int(qmc_replications), int(seed))
    details = dict(ev.details)
    if fallback is not None:
        details["fallback"] = fallback
    return replace(ev, item_probability=_expand(ev.item_probability, index, menu.size),
                   item_profit=_expand(ev.item_profit, index, menu.size), details=details)
