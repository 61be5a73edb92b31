r"""A family of problems: fixed goods, value law and allocation box, ranges for :math:`c` and
:math:`\lambda`.

The family is the set of problems

.. math::

    \Theta = \{(c, \lambda) : c \in [c^{lo}, c^{hi}] \subseteq V,\;
    \lambda \in [\lambda^{lo}, \lambda^{hi}] \subseteq [0, 1)\},

each a :class:`~amm_opt.Problem` with the same ``goods``, ``values`` and ``allocation``. A range
may be a single point (``low == high``); it may not be empty, leave the value box, or reach
:math:`\lambda = 1` (fully informed traders, where no trade is profitable). Numpy only: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..distributions import Distribution, Product, distribution_from_dict
from ..errors import ProblemError, UnsupportedProblemError
from ..problem import Problem

__all__ = ["FamilySpec"]

FloatArray = NDArray[np.float64]


def _range(value: Any, goods: int, name: str, allowed: str) -> tuple[FloatArray, FloatArray]:
    """``(low, high)`` arrays of shape (goods,) from a pair of scalars or per-good pairs."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProblemError("must be numeric", field=name, value=value, allowed=allowed) from None
    if arr.shape == (2,):
        low, high = np.full(goods, arr[0]), np.full(goods, arr[1])
    elif arr.shape == (goods, 2):
        low, high = arr[:, 0].copy(), arr[:, 1].copy()
    else:
        raise ProblemError(f"has shape {arr.shape}", field=name, value=value, allowed=allowed)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ProblemError("must be finite (no NaN or inf)", field=name, value=value,
                           allowed=allowed)
    if np.any(low > high):
        raise ProblemError("is empty (low > high)", field=name, value=value,
                           allowed=f"low <= high; {allowed}")
    return low, high


@dataclass(frozen=True, eq=False)
class FamilySpec:
    r"""The problems a menu family covers.

    Parameters
    ----------
    goods : int
        Number of goods.
    values : Distribution
        Trader value law with a density (``Uniform``, ``Beta``, ``TruncatedNormal``,
        ``Product``), the same for every member.
    belief : pair or array of shape (goods, 2)
        Range of the belief: ``(low, high)`` for every good, or per-good pairs; it must lie in
        the value box.
    adverse_selection : pair
        Range ``(low, high)`` of :math:`\lambda`, with ``0 <= low <= high < 1``.
    allocation : pair or array of shape (goods, 2)
        Allocation box :math:`X` (as in :class:`~amm_opt.Problem`).

    Examples
    --------
    >>> from amm_opt import Uniform
    >>> spec = FamilySpec(2, Uniform(0, 1), belief=(0.25, 0.75), adverse_selection=(0, 0.6))
    >>> spec.problem([0.5, 0.5], 0.3).adverse_selection
    0.3
    """

    goods: int
    values: Distribution
    belief: Any
    adverse_selection: Any = (0.0, 0.0)
    allocation: Any = (-1.0, 1.0)
    belief_low: FloatArray = field(init=False, repr=False)
    belief_high: FloatArray = field(init=False, repr=False)
    lambda_low: float = field(init=False, repr=False)
    lambda_high: float = field(init=False, repr=False)
    reference: Problem = field(init=False, repr=False)

    def __post_init__(self) -> None:
        lam_allowed = "a pair (low, high) with 0 <= low <= high < 1"
        try:
            lam = np.asarray(self.adverse_selection, dtype=np.float64)
        except (TypeError, ValueError):
            raise ProblemError("must be numeric", field="adverse_selection",
                               value=self.adverse_selection, allowed=lam_allowed) from None
        if lam.shape != (2,) or not np.all(np.isfinite(lam)):
            raise ProblemError("must be a finite pair (low, high)", field="adverse_selection",
                               value=self.adverse_selection, allowed=lam_allowed)
        if lam[0] > lam[1]:
            raise ProblemError("is empty (low > high)", field="adverse_selection",
                               value=lam.tolist(), allowed=lam_allowed)
        if lam[0] < 0 or lam[1] >= 1:
            raise ProblemError("leaves [0, 1)", field="adverse_selection", value=lam.tolist(),
                               allowed=lam_allowed + " (1 = fully informed traders, with whom "
                                       "no trade is profitable)")
        # The centre problem checks goods, values and allocation with Problem's own messages.
        if not isinstance(self.values, Distribution):
            raise ProblemError("must be a distribution object", field="values",
                               value=self.values,
                               allowed="Uniform, Beta, TruncatedNormal or Product")
        goods = self.goods
        if isinstance(goods, bool) or not isinstance(goods, (int, np.integer)) or goods < 1:
            raise ProblemError("must be a positive integer", field="goods", value=goods,
                               allowed="1, 2, 3, ...")
        dist = self.values.resolve(int(goods))
        if not isinstance(dist, Product):
            raise UnsupportedProblemError(
                "must have a density: a family's menus are judged by exact evaluation and "
                "certified bounds", field="values", value=type(self.values).__name__,
                allowed="Uniform, Beta, TruncatedNormal or Product (for observed types, "
                        "solve each problem with backend='rochetnet')")
        allowed = (f"a pair (low, high) or per-good pairs of shape ({goods}, 2) inside the "
                   f"value box {dist.low.tolist()} .. {dist.high.tolist()}")
        low, high = _range(self.belief, int(goods), "belief", allowed)
        if np.any(low < dist.low) or np.any(high > dist.high):
            raise ProblemError("leaves the value box", field="belief",
                               value=np.column_stack([low, high]).tolist(), allowed=allowed)
        for arr in (low, high):
            arr.setflags(write=False)
        object.__setattr__(self, "goods", int(goods))
        object.__setattr__(self, "belief_low", low)
        object.__setattr__(self, "belief_high", high)
        object.__setattr__(self, "lambda_low", float(lam[0]))
        object.__setattr__(self, "lambda_high", float(lam[1]))
        object.__setattr__(self, "reference", Problem(
            goods=int(goods), values=self.values, belief=(low + high) / 2,
            adverse_selection=float(lam.mean()), allocation=self.allocation))

    # ------------------------------------------------------------------ members
    @property
    def dim(self) -> int:
        """Number of parameters :math:`\\theta = (c, \\lambda)`: ``goods + 1``."""
        return self.goods + 1

    @property
    def theta_low(self) -> FloatArray:
        """Lower corner of the parameter box, shape (goods + 1,)."""
        return np.append(self.belief_low, self.lambda_low)

    @property
    def theta_high(self) -> FloatArray:
        """Upper corner of the parameter box, shape (goods + 1,)."""
        return np.append(self.belief_high, self.lambda_high)

    def check_member(self, belief: ArrayLike, adverse_selection: float) -> tuple[FloatArray,
                                                                                float]:
        """``(c, λ)`` as an array and a float, refused with a clear error outside the family."""
        c = np.asarray(belief, dtype=np.float64) if not isinstance(belief, (int, float)) else \
            np.full(self.goods, float(belief))
        if c.shape != (self.goods,) or not np.all(np.isfinite(c)):
            raise ProblemError(f"must be {self.goods} finite numbers", field="belief",
                               value=belief, allowed="one number per good")
        # A relative 1e-12 of slack: points computed as low + t (high - low) may round outside.
        tol = 1e-12 * (1.0 + np.abs(self.theta_high))
        if np.any(c < self.belief_low - tol[:-1]) or np.any(c > self.belief_high + tol[:-1]):
            raise ProblemError("is outside the family's belief range", field="belief",
                               value=c.tolist(),
                               allowed=f"{self.belief_low.tolist()} <= belief <= "
                                       f"{self.belief_high.tolist()} (train a family over a "
                                       "wider range)")
        if isinstance(adverse_selection, bool) or not isinstance(
                adverse_selection, (int, float, np.floating, np.integer)) or \
                not np.isfinite(adverse_selection):
            raise ProblemError("must be a number", field="adverse_selection",
                               value=adverse_selection,
                               allowed=f"{self.lambda_low} <= adverse_selection <= "
                                       f"{self.lambda_high}")
        lam = float(adverse_selection)
        if not self.lambda_low - tol[-1] <= lam <= self.lambda_high + tol[-1]:
            raise ProblemError("is outside the family's range", field="adverse_selection",
                               value=lam,
                               allowed=f"{self.lambda_low} <= adverse_selection <= "
                                       f"{self.lambda_high} (train a family over a wider "
                                       "range)")
        c = np.clip(c, self.belief_low, self.belief_high)
        return c, float(np.clip(lam, self.lambda_low, self.lambda_high))

    def problem(self, belief: ArrayLike, adverse_selection: float) -> Problem:
        """The member problem at ``(belief, adverse_selection)`` (checked to be in the family)."""
        c, lam = self.check_member(belief, adverse_selection)
        return Problem(goods=self.goods, values=self.values, belief=c, adverse_selection=lam,
                       allocation=self.allocation)

    def sample_parameters(self, m: int, rng: np.random.Generator) -> FloatArray:
        """``m`` parameter vectors :math:`(c, \\lambda)` uniform on the box, shape (m, goods+1)."""
        lo, hi = self.theta_low, self.theta_high
        return lo + (hi - lo) * rng.random((m, self.dim))

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (see :meth:`from_dict`)."""
        return {"goods": self.goods, "values": self.values.to_dict(),
                "belief": np.column_stack([self.belief_low, self.belief_high]).tolist(),
                "adverse_selection": [self.lambda_low, self.lambda_high],
                "allocation": np.asarray(self.reference.allocation).tolist()}

    @classmethod
    def from_dict(cls, data: Any) -> FamilySpec:
        """Inverse of :meth:`to_dict`; bad data raise :class:`~amm_opt.errors.ProblemError`."""
        if not isinstance(data, dict) or set(data) != {"goods", "values", "belief",
                                                       "adverse_selection", "allocation"}:
            raise ProblemError("is not a family description", field="spec",
                               value=sorted(data) if isinstance(data, dict) else type(data),
                               allowed="keys goods, values, belief, adverse_selection, "
                                       "allocation (as written by FamilySpec.to_dict)")
        return cls(goods=data["goods"], values=distribution_from_dict(data["values"]),
                   belief=data["belief"], adverse_selection=data["adverse_selection"],
                   allocation=data["allocation"])
