r"""The market-making problem.

A trader with private values :math:`v \sim F` on the box :math:`V` chooses from the menu; the
market maker, with belief :math:`c`, values the goods after a trade at the posterior
:math:`c'(v) = (1-\lambda) c + \lambda v` (or a user rule) and maximises

.. math::

    \Pi = \mathbb{E}_v\big[p_{k^*(v)} - x_{k^*(v)} \cdot c'(v)\big].

The model is described in ``docs/model.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .allocation import Polytope, allocation_from_dict
from .distributions import Distribution, Product, Samples, Uniform, distribution_from_dict
from .errors import ProblemError
from .limits import MAX_GOODS

__all__ = ["Problem"]

FloatArray = NDArray[np.float64]
UpdateRule = Callable[[FloatArray], ArrayLike]


def _vector(value: Any, goods: int, name: str, allowed: str) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProblemError("must be numeric", field=name, value=value, allowed=allowed) from None
    if arr.ndim == 0:
        arr = np.full(goods, float(arr))
    if arr.shape != (goods,):
        raise ProblemError(f"has shape {arr.shape} but there are {goods} goods", field=name,
                           value=value, allowed=allowed)
    if not np.all(np.isfinite(arr)):
        raise ProblemError("must be finite (no NaN or inf)", field=name, value=value,
                           allowed=allowed)
    return arr


def _allocation_bounds(allocation: Any, goods: int) -> tuple[FloatArray, FloatArray]:
    allowed = ("a pair (low, high) with low <= 0 <= high, or per-good pairs of shape "
               f"({goods}, 2)")
    try:
        arr = np.asarray(allocation, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProblemError("must be numeric", field="allocation", value=allocation,
                           allowed=allowed) from None
    if arr.shape == (2,):
        low, high = np.full(goods, arr[0]), np.full(goods, arr[1])
    elif arr.shape == (goods, 2):
        low, high = arr[:, 0].copy(), arr[:, 1].copy()
    else:
        raise ProblemError(f"has shape {arr.shape}", field="allocation", value=allocation,
                           allowed=allowed)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ProblemError("must be finite", field="allocation", value=allocation,
                           allowed=allowed)
    if np.any(low > 0) or np.any(high < 0):
        raise ProblemError("must contain 0 (no trade) in every good", field="allocation",
                           value=allocation, allowed=allowed)
    if np.all(low == high):
        raise ProblemError("allows no trade at all", field="allocation", value=allocation,
                           allowed="at least one good with low < high")
    return low, high


@dataclass(frozen=True, eq=False)
class Problem:
    r"""A multi-good market-making (or selling) problem.

    Parameters
    ----------
    goods : int
        Number of goods ``n >= 1``.
    values : Distribution
        Trader value law: ``Uniform``, ``Beta``, ``TruncatedNormal``, ``Product`` or ``Samples``.
        Scalar-parameter families apply to every good.
    belief : float or array of shape (goods,)
        Market-maker belief ``c``, any point of :math:`\mathbb{R}^n` (inside or outside the
        value box: the selling-only monopolist with values away from 0 has ``c = 0``).
    adverse_selection : float
        :math:`\lambda \in [0, 1)`; the posterior is :math:`(1-\lambda)c + \lambda v`.
    allocation : pair, array of shape (goods, 2), or Polytope
        Allocation box :math:`X = \prod_i [l_i, h_i]` with :math:`l_i \le 0 \le h_i`.
        ``(-1, 1)`` is the AMM; ``(0, 1)`` the selling-only monopolist. A
        :class:`~amm_opt.Polytope` containing 0 (unit demand, a pure swap, a budget set, or
        any vertices) is kept as given (``allocation_low/high`` are then its bounding box);
        engines that need a box refuse it.
    update : callable, optional
        ``update(v) -> posterior`` mapping ``(m, goods)`` values to ``(m, goods)`` posteriors,
        replacing the linear rule (then ``adverse_selection`` must stay 0).

    Examples
    --------
    >>> from amm_opt import Problem, Uniform
    >>> p = Problem(goods=2, values=Uniform(0, 1), belief=0.5)
    >>> p.belief, p.allocation_low
    (array([0.5, 0.5]), array([-1., -1.]))
    """

    goods: int
    values: Distribution
    belief: ArrayLike
    adverse_selection: float = 0.0
    allocation: Any = (-1.0, 1.0)
    update: UpdateRule | None = None
    distribution: Product | Samples = field(init=False, repr=False)
    allocation_low: FloatArray = field(init=False, repr=False)
    allocation_high: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        goods = self.goods
        if isinstance(goods, bool) or not isinstance(goods, (int, np.integer)) or \
                not 1 <= goods <= MAX_GOODS:
            raise ProblemError("must be a positive integer", field="goods", value=goods,
                               allowed=f"1, 2, 3, ... up to {MAX_GOODS}")
        object.__setattr__(self, "goods", int(goods))
        if not isinstance(self.values, Distribution):
            raise ProblemError("must be a distribution object", field="values",
                               value=self.values,
                               allowed="Uniform, Beta, TruncatedNormal, Product or Samples")
        dist = self.values.resolve(self.goods)
        object.__setattr__(self, "distribution", dist)

        belief = _vector(self.belief, self.goods, "belief", "a number or one number per good")
        belief.setflags(write=False)
        object.__setattr__(self, "belief", belief)

        lam = self.adverse_selection
        if isinstance(lam, bool) or not isinstance(lam, (int, float, np.floating, np.integer)):
            raise ProblemError("must be a number", field="adverse_selection", value=lam,
                               allowed="0 <= adverse_selection < 1")
        lam = float(lam)
        if not (0.0 <= lam < 1.0):
            raise ProblemError("is outside [0, 1)", field="adverse_selection", value=lam,
                               allowed="0 <= adverse_selection < 1 (1 = fully informed traders, "
                                       "where no trade is profitable)")
        object.__setattr__(self, "adverse_selection", lam)

        allocation = self.allocation
        if isinstance(allocation, dict):
            allocation = allocation_from_dict(allocation, self.goods)
        if isinstance(allocation, Polytope):
            if allocation.goods != self.goods:
                raise ProblemError(f"has {allocation.goods} goods but the problem has "
                                   f"{self.goods}", field="allocation", value=allocation,
                                   allowed=f"a polytope in {self.goods} goods")
            a_low, a_high = allocation.low, allocation.high
        else:
            a_low, a_high = _allocation_bounds(allocation, self.goods)
            allocation = np.column_stack([a_low, a_high])
        for arr in (a_low, a_high):
            arr.setflags(write=False)
        object.__setattr__(self, "allocation_low", a_low)
        object.__setattr__(self, "allocation_high", a_high)
        object.__setattr__(self, "allocation", allocation)

        if self.update is not None:
            self._check_update()

    def _check_update(self) -> None:
        if not callable(self.update):
            raise ProblemError("must be callable v -> posterior", field="update",
                               value=self.update, allowed="a function of an (m, goods) array")
        if self.adverse_selection != 0.0:
            raise ProblemError("cannot be combined with a custom update rule",
                               field="adverse_selection", value=self.adverse_selection,
                               allowed="0 when update= is given (put the strength in the rule)")
        probe = np.vstack([self.belief, self.value_low, self.value_high])
        try:
            out = np.asarray(self.update(probe.copy()), dtype=np.float64)
        except Exception as exc:  # the user's function: report whatever it raised
            raise ProblemError(f"raised {type(exc).__name__}: {exc}", field="update",
                               value=self.update,
                               allowed="a function mapping (m, goods) values to (m, goods)"
                               ) from exc
        if out.shape != probe.shape:
            raise ProblemError(f"returned shape {out.shape} for input shape {probe.shape}",
                               field="update", value=self.update,
                               allowed="an (m, goods) array for (m, goods) input")
        if not np.all(np.isfinite(out)):
            raise ProblemError("returned NaN or inf", field="update", value=self.update,
                               allowed="finite posteriors")

    # ------------------------------------------------------------------ derived quantities
    @property
    def value_low(self) -> FloatArray:
        """Lower corner ``a`` of the value box, shape (goods,)."""
        return self.distribution.low

    @property
    def value_high(self) -> FloatArray:
        """Upper corner ``b`` of the value box, shape (goods,)."""
        return self.distribution.high

    @property
    def kappa(self) -> float:
        r""":math:`\kappa = 1 - \lambda`."""
        return 1.0 - self.adverse_selection

    @property
    def has_density(self) -> bool:
        return self.distribution.has_density

    @property
    def linear_update(self) -> bool:
        return self.update is None

    def posterior(self, v: ArrayLike) -> FloatArray:
        r"""Market-maker valuation after trading with ``v`` (shape (m, goods)) → (m, goods)."""
        v = np.asarray(v, dtype=np.float64)
        if self.update is not None:
            return np.asarray(self.update(v), dtype=np.float64)
        lam = self.adverse_selection
        return (1.0 - lam) * self.belief + lam * v

    @property
    def allocation_is_box(self) -> bool:
        """Whether ``X`` was given as a box (engines' fast paths); False for a Polytope."""
        return not isinstance(self.allocation, Polytope)

    @property
    def belief_inside_values(self) -> bool:
        """Whether the belief ``c`` lies in the value box ``V`` (every engine handles that)."""
        c = np.asarray(self.belief)
        return bool(np.all(c >= self.value_low) and np.all(c <= self.value_high))

    def support_function(self, z: ArrayLike) -> FloatArray:
        r""":math:`\sigma_X(z) = \max_{x \in X} z \cdot x` for z of shape (..., goods):
        :math:`\sum_i \max(h_i z_i, l_i z_i)` on a box, a vertex maximum on a polytope."""
        z = np.asarray(z, dtype=np.float64)
        if isinstance(self.allocation, Polytope):
            return self.allocation.support(z)
        return np.maximum(z * self.allocation_high, z * self.allocation_low).sum(axis=-1)

    def allocation_contains(self, x: ArrayLike, atol: float = 1e-9) -> NDArray[np.bool_]:
        """Whether each row of ``x`` (shape (m, goods)) lies in ``X`` up to ``atol``."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if isinstance(self.allocation, Polytope):
            return self.allocation.contains(x, atol)
        return np.all((x >= self.allocation_low - atol) & (x <= self.allocation_high + atol),
                      axis=1)

    def sample(self, m: int, rng: np.random.Generator | int | None = None) -> FloatArray:
        """``m`` i.i.d. trader values, shape (m, goods)."""
        return self.distribution.sample(m, rng)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; a custom ``update`` callable cannot be serialised."""
        if self.update is not None:
            raise ProblemError("cannot be written to a file", field="update", value=self.update,
                               allowed="problems with the linear update rule")
        return {
            "goods": self.goods,
            "values": self.values.to_dict(),
            "belief": np.asarray(self.belief).tolist(),
            "adverse_selection": self.adverse_selection,
            "allocation": self.allocation.to_dict() if isinstance(self.allocation, Polytope)
            else np.asarray(self.allocation).tolist(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Problem:
        """Inverse of :meth:`to_dict`; accepts the same keys in a hand-written JSON/TOML file."""
        if not isinstance(data, dict):
            raise ProblemError("must be a table", field="problem", value=data,
                               allowed="keys goods, values, belief, adverse_selection, "
                                       "allocation")
        known = {"goods", "values", "belief", "adverse_selection", "allocation"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProblemError("has unknown keys", field="problem", value=unknown,
                               allowed=", ".join(sorted(known)))
        for key in ("goods", "belief"):
            if key not in data:
                raise ProblemError("is missing", field=key, allowed="a value for it")
        values = data.get("values", {"type": "uniform", "low": 0.0, "high": 1.0})
        return cls(
            goods=data["goods"],
            values=distribution_from_dict(values),
            belief=data["belief"],
            adverse_selection=data.get("adverse_selection", 0.0),
            allocation=data.get("allocation", (-1.0, 1.0)),
        )

    @classmethod
    def paper_two_goods(cls, adverse_selection: float = 0.0) -> Problem:
        """The paper's instance: two goods, U[0,1]^2 values, belief (1/2, 1/2), trades [-1,1]^2."""
        return cls(goods=2, values=Uniform(0.0, 1.0), belief=0.5,
                   adverse_selection=adverse_selection)
