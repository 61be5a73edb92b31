r"""The certified accuracy map of a menu family.

At held-out parameters :math:`\theta_j = (c_j, \lambda_j)` the family's menu :math:`M(\theta_j)`
is feasible for the member problem, so its exact profit (:func:`amm_opt.evaluate`) is a lower
bound on that problem's optimum :math:`\Pi^*(\theta_j)`; ``grid_lp``'s certified upper bound
:math:`\overline\Pi(\theta_j) \ge \Pi^*(\theta_j)` is valid by construction (its dual with
allowances, docs/math/grid_lp.md). Hence

.. math::

    \frac{\Pi(M(\theta_j))}{\Pi^*(\theta_j)} \;\ge\; r_j =
    \frac{\Pi(M(\theta_j))}{\overline\Pi(\theta_j)},

and the map reports :math:`r_j` — a certified lower bound on the family's accuracy at each point
(pessimistic by the grid's own gap, which the map also shows through ``grid_lp``'s menu).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import qmc

from ..errors import OptionError
from ..evaluate import evaluate
from ..solving import solve
from .family import MenuFamily
from .spec import FamilySpec

__all__ = ["AccuracyMap", "AccuracyPoint", "accuracy_map", "grid_parameters",
           "heldout_parameters"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class AccuracyPoint:
    """One held-out member: the family's menu against the certified bound there."""

    belief: tuple[float, ...]
    adverse_selection: float
    profit: float            # exact profit of the family's menu (a lower bound)
    upper: float             # grid_lp's certified upper bound on the optimum
    grid_lower: float        # profit of grid_lp's own menu (how tight the bound is)
    items: int               # items of the family's menu (no-trade included)
    evaluation: str          # method of the profit's evaluation

    @property
    def ratio(self) -> float:
        """``profit / upper``: a certified lower bound on profit / optimum."""
        return self.profit / self.upper if self.upper > 0 else math.nan

    @property
    def bound_gap(self) -> float:
        """``1 - grid_lower / upper``: the relative gap of the bound itself."""
        return 1.0 - self.grid_lower / self.upper if self.upper > 0 else math.nan


@dataclass(frozen=True)
class AccuracyMap:
    """The map: points, and (for grid designs) the shape and the two varied parameters."""

    points: tuple[AccuracyPoint, ...]
    grid_shape: tuple[int, int] | None = None
    axes: tuple[int, int] | None = None
    upper_options: dict[str, Any] | None = None

    @property
    def ratios(self) -> FloatArray:
        return np.array([p.ratio for p in self.points])

    def summary(self) -> dict[str, float]:
        r = self.ratios
        return {"points": len(r), "median": float(np.median(r)), "min": float(np.min(r)),
                "mean": float(np.mean(r)), "max_bound_gap": float(
                    max(p.bound_gap for p in self.points))}

    def table(self) -> str:
        """A Markdown table, one row per point, then the median and minimum."""
        n = len(self.points[0].belief)
        head = "| " + " | ".join([f"c{i + 1}" for i in range(n)] + [
            "λ", "family profit", "certified upper", "ratio", "grid_lp gap", "items"]) + " |"
        rows = [head, "|" + "---|" * (n + 6)]
        for p in self.points:
            rows.append("| " + " | ".join([f"{c:.3f}" for c in p.belief] + [
                f"{p.adverse_selection:.3f}", f"{p.profit:.6f}", f"{p.upper:.6f}",
                f"{100 * p.ratio:.2f}%", f"{100 * p.bound_gap:.2f}%", str(p.items)]) + " |")
        s = self.summary()
        rows.append(f"\nmedian {100 * s['median']:.2f}%, min {100 * s['min']:.2f}% of the "
                    f"certified upper bound over {s['points']} points")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"points": [{"belief": list(p.belief), "adverse_selection": p.adverse_selection,
                            "profit": p.profit, "upper": p.upper, "grid_lower": p.grid_lower,
                            "items": p.items, "evaluation": p.evaluation, "ratio": p.ratio}
                           for p in self.points],
                "grid_shape": None if self.grid_shape is None else list(self.grid_shape),
                "axes": None if self.axes is None else list(self.axes),
                "upper_options": self.upper_options, "summary": self.summary()}


def heldout_parameters(spec: FamilySpec, count: int = 25, seed: int = 2024) -> FloatArray:
    """``count`` points of the parameter box on a Latin hypercube (rows ``(c_1..c_n, λ)``).

    Training draws parameters from a continuous law, so any fixed points are held out; a seed
    different from the training's keeps them off its validation points too.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise OptionError("must be a positive integer", field="count", value=count,
                          allowed="e.g. 25")
    lo, hi = spec.theta_low, spec.theta_high
    unit = qmc.LatinHypercube(spec.dim, seed=np.random.default_rng(seed)).random(count)
    return lo + (hi - lo) * unit


def grid_parameters(spec: FamilySpec, axes: tuple[int, int] = (0, -1),
                    shape: tuple[int, int] = (5, 5)) -> FloatArray:
    """A ``shape`` grid over two parameters (indices into ``(c_1..c_n, λ)``; -1 is λ) with
    the others at the middle of their ranges; rows ordered row-major (first axis slow)."""
    dim = spec.dim
    try:
        ax = tuple(int(a) % dim for a in axes)
    except (TypeError, ValueError):
        raise OptionError("must be two parameter indices", field="axes", value=axes,
                          allowed=f"two of 0..{dim - 1} (-1 is λ)") from None
    if len(ax) != 2 or ax[0] == ax[1]:
        raise OptionError("must be two different parameter indices", field="axes", value=axes,
                          allowed=f"two of 0..{dim - 1} (-1 is λ)")
    if len(shape) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                              for s in shape):
        raise OptionError("must be two positive integers", field="shape", value=shape,
                          allowed="e.g. (5, 5)")
    lo, hi = spec.theta_low, spec.theta_high
    base = (lo + hi) / 2
    a = np.linspace(lo[ax[0]], hi[ax[0]], shape[0])
    b = np.linspace(lo[ax[1]], hi[ax[1]], shape[1])
    out = np.repeat(base[None], shape[0] * shape[1], axis=0)
    out[:, ax[0]] = np.repeat(a, shape[1])
    out[:, ax[1]] = np.tile(b, shape[0])
    return out


def accuracy_map(family: MenuFamily, parameters: ArrayLike | None = None, *,
                 upper_options: dict[str, Any] | None = None,
                 grid_shape: tuple[int, int] | None = None,
                 axes: tuple[int, int] | None = None,
                 evaluate_method: str = "auto") -> AccuracyMap:
    """Exact profit of the family's menu against ``grid_lp``'s certified bound at each point.

    Parameters
    ----------
    family : MenuFamily
    parameters : array of shape (m, goods + 1), optional
        Rows ``(c_1, ..., c_n, λ)``; default :func:`heldout_parameters` (25 points).
    upper_options : dict, optional
        Options of ``solve(problem, backend="grid_lp", ...)`` (default ``grid=128``,
        ``polish=False``: the bound, not the menu, is what is needed).
    grid_shape, axes : optional
        Set when ``parameters`` come from :func:`grid_parameters` (for the heatmap).
    evaluate_method : str
        Method of :func:`amm_opt.evaluate` for the family's menus.
    """
    spec = family.spec
    theta = heldout_parameters(spec) if parameters is None else \
        np.atleast_2d(np.asarray(parameters, dtype=np.float64))
    if theta.ndim != 2 or theta.shape[1] != spec.dim:
        raise OptionError(f"must have {spec.dim} columns (c_1..c_n, λ)", field="parameters",
                          value=theta.shape, allowed=f"an (m, {spec.dim}) array")
    options = {"grid": 128, "polish": False, **(upper_options or {})}
    n = spec.goods
    points = []
    for t in theta:
        c, lam = t[:n], float(t[n])
        problem = family.problem(c, lam)
        menu = family.menu(c, lam, evaluate_method=evaluate_method)
        ev = evaluate(problem, menu, method=evaluate_method)
        res = solve(problem, backend="grid_lp", **options)
        points.append(AccuracyPoint(belief=tuple(float(x) for x in c), adverse_selection=lam,
                                    profit=float(ev.profit), upper=float(res.bounds.upper),
                                    grid_lower=float(res.bounds.lower), items=menu.size,
                                    evaluation=str(ev.method)))
    return AccuracyMap(points=tuple(points), grid_shape=grid_shape, axes=axes,
                       upper_options=options)
