r"""A finite set of trader types: distinct values, their weights, and the belief point.

The LP of ``docs/math/types_lp.md`` has one utility and one gradient per **distinct** type:
duplicated rows of a sample are one type whose weight is their share, so

.. math::

    \frac1m \sum_{r=1}^m \phi(v_r) = \sum_i w_i\, \phi(t_i), \qquad
    w_i = \frac{\#\{r : v_r = t_i\}}{m} .

The belief :math:`c` is one more point with weight 0 (or the weight of the type equal to it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...errors import UnsupportedProblemError

__all__ = ["AUTO_DRAWS", "DEFAULT_DRAWS", "EXACT_MAX_TYPES", "TypeSet", "default_draws",
           "distinct_count", "exact_max_types"]

FloatArray = NDArray[np.float64]

#: Types per draw of a quick statistical bound (``draws=None``), by goods: one LP of this size
#: takes a fraction of a second on 2 cores, so the default 10 draws take seconds.
DEFAULT_DRAWS = {1: 500, 2: 200, 3: 150, 4: 100, 5: 100}
#: Types per draw of the automatic rule's bound: one LP of this size takes about a second or two
#: on 2 cores (BENCHMARKS.md, "Finite types"), so 20 draws stay within a minute.
AUTO_DRAWS = {1: 2000, 2: 500, 3: 400, 4: 300, 5: 300}
#: Most distinct types the exact LP takes by default (``max_types=None``), by goods. Its time
#: grows like m^3 (BENCHMARKS.md, "Finite types"): 2 goods x 4000 types take 39 s and 8000 more
#: than 10 minutes, 3 goods x 1000 take 11 s, 5 goods x 1500 70 s, 1 good x 20 000 207 s. The
#: limits sit near the sizes that finish within about half an hour on 2 cores, so that a default
#: call is refused at once rather than running for hours; ``max_types=`` raises them.
EXACT_MAX_TYPES = {1: 30000, 2: 8000, 3: 3000, 4: 3000, 5: 3000}
# Beyond the goods of each table above.
_BEYOND = {"default": 80, "auto": 250, "exact": 3000}


def default_draws(goods: int, auto: bool = False) -> int:
    """Types per draw of a statistical bound for ``goods`` goods: :data:`DEFAULT_DRAWS`, or
    :data:`AUTO_DRAWS` for the automatic rule."""
    if auto:
        return AUTO_DRAWS.get(goods, _BEYOND["auto"])
    return DEFAULT_DRAWS.get(goods, _BEYOND["default"])


def exact_max_types(goods: int) -> int:
    """Default largest number of distinct types of an exact solve (:data:`EXACT_MAX_TYPES`)."""
    return EXACT_MAX_TYPES.get(goods, _BEYOND["exact"])


def _rows_view(values: FloatArray) -> NDArray[np.void]:
    """Each row as one opaque scalar (for fast exact row comparisons)."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    # -0.0 and 0.0 are the same type
    arr = arr + 0.0
    return arr.view(np.dtype((np.void, arr.dtype.itemsize * arr.shape[1]))).ravel()


def distinct_count(values: FloatArray) -> int:
    """Number of distinct rows of ``values`` (exact equality)."""
    return int(np.unique(_rows_view(np.asarray(values, dtype=np.float64))).size)


@dataclass(frozen=True, eq=False)
class TypeSet:
    """Distinct types with weights, plus the belief.

    Attributes
    ----------
    points : array of shape (N, n)
        The distinct types and, unless it is one of them, the belief :math:`c` (last).
    weights : array of shape (N,)
        Their probabilities (sum 1; 0 at an added belief point).
    belief_index : int
        Row of :math:`c` in ``points``.
    samples : int
        Number of rows the types were read from (with duplicates).
    """

    points: FloatArray
    weights: FloatArray
    belief_index: int
    samples: int

    @property
    def size(self) -> int:
        return int(self.points.shape[0])

    @property
    def types(self) -> int:
        """Distinct types with positive weight."""
        return int(np.count_nonzero(self.weights > 0))

    @classmethod
    def from_values(cls, values: FloatArray, belief: FloatArray, field: str = "values"
                    ) -> TypeSet:
        """Merge duplicate rows of ``values`` (shape (m, n)) into weights and add ``belief``.

        Raises :class:`UnsupportedProblemError` with fewer than 2 distinct types: one type's
        problem is degenerate (the belief, inside the value box, must then equal it, and the
        optimum is 0), so it is certainly a mistake in the data.
        """
        v = np.asarray(values, dtype=np.float64)
        m = int(v.shape[0])
        keys = _rows_view(v)
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        if len(first) < 2:
            raise UnsupportedProblemError(
                f"has {m} sample row(s) but only {len(first)} distinct type(s)", field=field,
                value=v.shape, allowed="at least 2 distinct samples (the finite-type LP of one "
                                       "type is degenerate: its optimum is 0)")
        order = np.argsort(first)                     # keep the order of first appearance
        points = v[first[order]] + 0.0
        weights = counts[order].astype(np.float64) / m
        c = np.asarray(belief, dtype=np.float64)
        at = np.flatnonzero(np.all(points == c[None, :], axis=1))
        if at.size:
            return cls(points, weights, int(at[0]), m)
        return cls(np.vstack([points, c[None, :]]), np.append(weights, 0.0), len(points), m)
