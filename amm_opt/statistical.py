r"""Statistical upper bounds: a one-sided confidence bound from independent replications.

If :math:`Y_1, \dots, Y_K` are i.i.d. with mean :math:`\mathbb{E}[Y] \ge \Pi^\star` (for the
finite-type LP, :math:`Y_k = \mathrm{OPT}_m` on the k-th independent draw of ``m`` types, see
``docs/math/types_lp.md``), then

.. math::

    \overline\Pi_\alpha = \bar Y + t_{K-1,\,\alpha}\, \frac{s}{\sqrt K}

is an upper bound on :math:`\Pi^\star` at confidence :math:`\alpha` (one-sided Student t: exact
for normal :math:`Y`, asymptotically valid otherwise). It is **statistical, not certified**:
it fails with probability about :math:`1 - \alpha`, and it says so wherever it is shown
(:func:`statistical_method` writes the label, :mod:`amm_opt.result` reads it back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import OptionError

__all__ = ["STATISTICAL_PREFIX", "StatisticalBound", "bound_kind", "one_sided_upper",
           "parse_statistical", "statistical_method"]

#: Every statistical upper bound's ``upper_method`` starts with this, followed by the level in
#: percent (``"statistical upper bound at 95% confidence: ..."``), so that the label travels with
#: the number through files and the automatic rule of :func:`amm_opt.solve`.
STATISTICAL_PREFIX = "statistical upper bound at "


@dataclass(frozen=True)
class StatisticalBound:
    """A one-sided confidence upper bound from ``replications`` values.

    Attributes
    ----------
    bound : float
        :math:`\\bar Y + t_{K-1,\\alpha} s / \\sqrt K`.
    mean, std : float
        Sample mean and standard deviation (``ddof=1``) of the replications.
    half_width : float
        ``bound - mean``.
    replications : int
        ``K``.
    confidence : float
        :math:`\\alpha`.
    values : tuple of float
        The replications themselves.
    """

    bound: float
    mean: float
    std: float
    half_width: float
    replications: int
    confidence: float
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"bound": self.bound, "mean": self.mean, "std": self.std,
                "half_width": self.half_width, "replications": self.replications,
                "confidence": self.confidence, "values": list(self.values)}


def one_sided_upper(values: ArrayLike, confidence: float = 0.95) -> StatisticalBound:
    r"""The one-sided Student-t upper confidence bound on the mean of ``values``.

    Parameters
    ----------
    values : array of shape (K,), K >= 2
        Independent replications, finite.
    confidence : float
        Level :math:`\alpha \in (0, 1)`.

    Examples
    --------
    >>> b = one_sided_upper([1.0, 2.0, 3.0], 0.95)
    >>> round(b.mean, 6), round(b.bound, 4)
    (2.0, 3.6858)
    """
    from scipy import stats

    y = np.asarray(values, dtype=np.float64).ravel()
    if y.size < 2:
        raise OptionError("needs at least 2 replications for a confidence bound",
                          field="replications", value=int(y.size), allowed="an integer >= 2")
    if not np.all(np.isfinite(y)):
        raise OptionError("contains NaN or inf", field="values", value=y.tolist(),
                          allowed="finite replications")
    if not (isinstance(confidence, (int, float)) and 0.0 < float(confidence) < 1.0):
        raise OptionError("is not a level", field="confidence", value=confidence,
                          allowed="a number in (0, 1), e.g. 0.95")
    k = int(y.size)
    mean = float(y.mean())
    std = float(y.std(ddof=1))
    half = float(stats.t.ppf(float(confidence), k - 1)) * std / math.sqrt(k)
    return StatisticalBound(bound=mean + half, mean=mean, std=std, half_width=half,
                            replications=k, confidence=float(confidence),
                            values=tuple(float(v) for v in y))


def statistical_method(confidence: float, detail: str) -> str:
    """The ``upper_method`` text of a statistical bound: the label, the level, then ``detail``."""
    return f"{STATISTICAL_PREFIX}{100 * confidence:g}% confidence: {detail}"


def parse_statistical(method: str) -> float | None:
    """The confidence level in an ``upper_method`` written by :func:`statistical_method`
    (anywhere in the text, so that prefixes such as ``"types_lp: "`` keep it), else None."""
    at = method.find(STATISTICAL_PREFIX)
    if at < 0:
        return None
    rest = method[at + len(STATISTICAL_PREFIX):]
    number = rest.split("%", 1)[0]
    try:
        level = float(number) / 100.0
    except ValueError:
        return None
    return level if 0.0 < level < 1.0 else None


def bound_kind(upper: float | None, confidence: float | None) -> str | None:
    """``"certified"``, ``"statistical"`` (a confidence level is given), or None without an
    upper bound: how every report names an upper bound."""
    if upper is None:
        return None
    return "certified" if confidence is None else "statistical"
