r"""Symmetry groups of a problem: signed permutations of the goods about the belief.

A map :math:`T(v) = c + Q(v - c)` with :math:`Q` a signed permutation matrix is a **symmetry**
of a problem when :math:`T(V) = V`, :math:`f \circ T = f`, :math:`QX = X` and the update commutes
with :math:`T` (the linear update always does). Then :math:`u \circ T` is feasible with the
profit of :math:`u`, so an optimal utility can be taken invariant under the group :math:`G` of
all symmetries (``docs/math/grid_lp.md``, symmetry).

The groups used here are products over **classes** of goods: within a class the goods may be
permuted (identical marginals, equal belief and allocation coordinates), and in a *reflected*
class each good may also be mirrored about its belief coordinate (marginal symmetric about
:math:`c_i`, allocation interval symmetric about 0). A class of :math:`k` goods contributes
:math:`k!` elements, times :math:`2^k` when reflected.

In coordinates :math:`w = v - c` a group element permutes (and negates) coordinates, so every
orbit has one **canonical** point: within each class the coordinates (their absolute values in
a reflected class) sorted ascending. By the rearrangement inequality,

.. math::

    \max_{T \in G} g \cdot (T w) = \hat g \cdot \hat w ,

with :math:`\hat g` the same canonical form of :math:`g`: separation over the group needs a
sort, not an enumeration.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise, permutations, product
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import OptionError
from .problem import Problem

__all__ = ["SymmetryGroup", "SymmetryRule", "check_symmetry", "detect_symmetry",
           "resolve_symmetry"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_ALLOWED = ("'auto' (detect the largest group), 'none', a SymmetryGroup, or a dict "
            "{'classes': [[0, 1, 2]], 'reflect': [False]}")


@dataclass(frozen=True)
class SymmetryGroup:
    r"""A product of symmetric (or hyperoctahedral) groups acting on classes of goods about c.

    Parameters
    ----------
    classes : tuple of tuples of int
        A partition of the goods ``0 .. n-1``; goods in one class are permuted among themselves.
    reflect : tuple of bool
        Per class: whether each good of the class may also be mirrored about its belief
        coordinate (:math:`w_i \mapsto -w_i`).

    Examples
    --------
    >>> from amm_opt import Problem, Uniform
    >>> g = detect_symmetry(Problem(goods=3, values=Uniform(0, 1), belief=0.5))
    >>> g.order, g.describe()
    (48, 'B3 (signed permutations of goods 0, 1, 2 about c)')
    >>> g.canonical(np.array([[0.3, -0.4, 0.1]]))          # |w| sorted ascending
    array([[0.1, 0.3, 0.4]])
    """

    classes: tuple[tuple[int, ...], ...]
    reflect: tuple[bool, ...]

    def __post_init__(self) -> None:
        classes = tuple(tuple(int(i) for i in cls) for cls in self.classes)
        reflect = tuple(bool(r) for r in self.reflect)
        if len(reflect) != len(classes):
            raise OptionError("needs one reflect flag per class", field="symmetry",
                              value={"classes": classes, "reflect": reflect}, allowed=_ALLOWED)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "reflect", reflect)

    @classmethod
    def trivial(cls, goods: int) -> SymmetryGroup:
        """The group of the identity alone."""
        return cls(tuple((i,) for i in range(goods)), (False,) * goods)

    @property
    def goods(self) -> int:
        return sum(len(c) for c in self.classes)

    @property
    def order(self) -> int:
        """Number of group elements, :math:`\\prod_{classes} k!\\,(2^k \\text{ if reflected})`."""
        return math.prod(math.factorial(len(c)) * (2 ** len(c) if r else 1)
                         for c, r in zip(self.classes, self.reflect, strict=True))

    @property
    def is_trivial(self) -> bool:
        return self.order == 1

    def describe(self) -> str:
        """The group in words, e.g. ``'S3 (permutations of goods 0, 1, 2)'``."""
        if self.is_trivial:
            return "trivial (no symmetry)"
        parts = []
        for cls, refl in zip(self.classes, self.reflect, strict=True):
            goods = ", ".join(str(i) for i in cls)
            if refl and len(cls) > 1:
                parts.append(f"B{len(cls)} (signed permutations of goods {goods} about c)")
            elif refl:
                parts.append(f"Z2 (reflection of good {goods} about c)")
            elif len(cls) > 1:
                parts.append(f"S{len(cls)} (permutations of goods {goods})")
        return " x ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (also accepted as the ``symmetry`` option)."""
        return {"classes": [list(c) for c in self.classes], "reflect": list(self.reflect),
                "order": self.order, "description": self.describe()}

    # ------------------------------------------------------------------ the action
    def canonical(self, w: FloatArray) -> FloatArray:
        """Canonical orbit point of each row of ``w`` (shape (m, n)): per class the coordinates,
        absolute values in a reflected class, sorted ascending. Exact (no arithmetic)."""
        w = np.asarray(w, dtype=np.float64)
        out = w.copy()
        for cls, refl in zip(self.classes, self.reflect, strict=True):
            idx = list(cls)
            block = np.abs(w[:, idx]) if refl else w[:, idx]
            out[:, idx] = np.sort(block, axis=1)
        return out

    def canonical_index(self, k: IntArray, size: Sequence[int]) -> IntArray:
        """Canonical form of integer grid indices ``k`` (m, n) on an invariant grid with
        ``size[i]`` as the largest index on axis ``i``: reflection maps ``k`` to ``size - k``."""
        k = np.asarray(k, dtype=np.int64)
        out = k.copy()
        top = np.asarray(size, dtype=np.int64)
        for cls, refl in zip(self.classes, self.reflect, strict=True):
            idx = list(cls)
            block = k[:, idx]
            if refl:
                block = np.minimum(block, top[idx] - block)
            out[:, idx] = np.sort(block, axis=1)
        return out

    def best_images(self, g: FloatArray, w_hat: FloatArray) -> tuple[FloatArray, IntArray]:
        r"""For rows ``g`` (m, n) and canonical ``w_hat`` (m, n): the image :math:`T w` of
        maximal :math:`g \cdot T w` over the group (exact: a signed rearrangement of
        ``w_hat``), and an integer code of the rearrangement (for deduplicating rows)."""
        g = np.asarray(g, dtype=np.float64)
        w_hat = np.asarray(w_hat, dtype=np.float64)
        m, n = g.shape
        image = np.empty_like(w_hat)
        code = np.zeros(m, dtype=np.int64)
        base = 2 * n
        for cls, refl in zip(self.classes, self.reflect, strict=True):
            idx = np.asarray(cls, dtype=np.int64)
            key = np.abs(g[:, idx]) if refl else g[:, idx]
            order = np.argsort(key, axis=1, kind="stable")        # rank k -> position
            src = np.broadcast_to(np.arange(len(idx)), order.shape)
            pos = idx[order]                                      # global positions by rank
            vals = w_hat[:, idx]                                  # ascending by rank
            sign = np.ones_like(vals)
            if refl:
                sign = np.where(np.take_along_axis(g, pos, axis=1) < 0, -1.0, 1.0)
            np.put_along_axis(image, pos, vals * sign, axis=1)
            digit = idx[src] + n * (sign < 0)
            code += (digit * base ** pos).sum(axis=1)
        return image, code

    def best_value(self, g_hat: FloatArray, w_hat: FloatArray) -> FloatArray:
        r""":math:`\max_T g\cdot Tw = \hat g \cdot \hat w` for canonical rows (m, n) each."""
        return np.einsum("ij,ij->i", g_hat, w_hat)

    def elements(self) -> Iterator[tuple[IntArray, FloatArray]]:
        """Every group element as ``(perm, sign)``: :math:`(Qx)_{perm[d]} = sign[d]\\,x_d`."""
        n = self.goods
        per_class = []
        for cls, refl in zip(self.classes, self.reflect, strict=True):
            options = []
            for p in permutations(cls):
                for s in (product((1.0, -1.0), repeat=len(cls)) if refl else [(1.0,) * len(cls)]):
                    options.append((cls, p, s))
            per_class.append(options)
        for combo in product(*per_class):
            perm = np.arange(n, dtype=np.int64)
            sign = np.ones(n)
            for cls, p, s in combo:
                perm[list(cls)] = p
                sign[list(cls)] = s
            yield perm, sign

    def generators(self) -> list[tuple[IntArray, FloatArray]]:
        """Elements mapping the canonical chamber to its neighbours: adjacent transpositions
        within each class, and in a reflected class the sign of its first (smallest) slot."""
        n = self.goods
        out = []
        for cls, refl in zip(self.classes, self.reflect, strict=True):
            for a, b in pairwise(cls):
                perm = np.arange(n, dtype=np.int64)
                perm[a], perm[b] = b, a
                out.append((perm, np.ones(n)))
            if refl:
                sign = np.ones(n)
                sign[cls[0]] = -1.0
                out.append((np.arange(n, dtype=np.int64), sign))
        return out

    @staticmethod
    def element_code(perm: IntArray, sign: FloatArray) -> int:
        """The :meth:`best_images` code of the element ``(perm, sign)``: position
        ``perm[d]`` receives slot ``d``, negated when ``sign[d] < 0``."""
        n = len(perm)
        return int(sum((d + n * (sign[d] < 0)) * (2 * n) ** int(perm[d]) for d in range(n)))

    def apply(self, perm: IntArray, sign: FloatArray, x: FloatArray) -> FloatArray:
        """``Q x`` for the element ``(perm, sign)`` of :meth:`elements`, rows of ``x``."""
        out = np.empty_like(np.asarray(x, dtype=np.float64))
        out[:, perm] = np.asarray(x, dtype=np.float64) * sign
        return out


# ---------------------------------------------------------------------------------------------
# Which maps are symmetries of a problem
# ---------------------------------------------------------------------------------------------
def _marginal_key(marginal: Any) -> tuple[Any, ...]:
    data = marginal.to_dict()
    return tuple(sorted((k, tuple(np.ravel(v).tolist()) if isinstance(v, list) else v)
                        for k, v in data.items()))


def _symmetric_about(marginal: Any, center: float) -> bool:
    """Whether the marginal's density is symmetric about ``center`` (exact, by family)."""
    lo, hi = marginal.lower, marginal.upper
    if center - lo != hi - center:
        return False
    if marginal.kind == "uniform":
        return True
    if marginal.kind == "beta":
        return float(marginal.a) == float(marginal.b)
    if marginal.kind == "truncated_normal":
        return float(marginal.mean) == center
    return False


def _why_not_permutable(problem: Problem, i: int, j: int) -> str | None:
    marg = problem.distribution.marginals     # type: ignore[union-attr]
    if _marginal_key(marg[i]) != _marginal_key(marg[j]):
        return f"goods {i} and {j} have different marginals ({marg[i]!r}, {marg[j]!r})"
    c = problem.belief
    if c[i] != c[j]:
        return f"goods {i} and {j} have different beliefs ({c[i]}, {c[j]})"
    lo, hi = problem.allocation_low, problem.allocation_high
    if lo[i] != lo[j] or hi[i] != hi[j]:
        return f"goods {i} and {j} have different allocation intervals"
    if not problem.allocation_is_box:
        # A polytope must itself be invariant (unit demand is; a budget with unequal weights
        # is not): swapping the two goods must permute its vertices.
        perm = np.arange(problem.goods)
        perm[[i, j]] = [j, i]
        if not problem.allocation.invariant_under(perm, np.ones(problem.goods)):
            return f"swapping goods {i} and {j} does not map the allocation polytope onto itself"
    return None


def _why_not_reflectable(problem: Problem, i: int) -> str | None:
    marg = problem.distribution.marginals[i]  # type: ignore[union-attr]
    c = float(problem.belief[i])
    if not _symmetric_about(marg, c):
        return f"the marginal of good {i} ({marg!r}) is not symmetric about c = {c}"
    if problem.allocation_low[i] != -problem.allocation_high[i]:
        return (f"the allocation interval of good {i} [{problem.allocation_low[i]}, "
                f"{problem.allocation_high[i]}] is not symmetric about 0")
    if not problem.allocation_is_box:
        sign = np.ones(problem.goods)
        sign[i] = -1.0
        if not problem.allocation.invariant_under(np.arange(problem.goods), sign):
            return f"negating good {i} does not map the allocation polytope onto itself"
    return None


def _why_no_group(problem: Problem) -> str | None:
    if not problem.has_density:
        return "sample-only values have no density to be symmetric"
    if not problem.linear_update:
        return "a custom update rule may not commute with the maps"
    return None


def detect_symmetry(problem: Problem) -> SymmetryGroup:
    """The largest group of the form :class:`SymmetryGroup` that leaves ``problem`` invariant
    (goods grouped by identical marginal, belief and allocation interval; a class reflected
    when its marginal is symmetric about the belief and its allocation interval about 0)."""
    n = problem.goods
    if _why_no_group(problem) is not None:
        return SymmetryGroup.trivial(n)
    classes: list[list[int]] = []
    for i in range(n):
        for cls in classes:
            if _why_not_permutable(problem, cls[0], i) is None:
                cls.append(i)
                break
        else:
            classes.append([i])
    reflect = [_why_not_reflectable(problem, cls[0]) is None for cls in classes]
    return SymmetryGroup(tuple(tuple(c) for c in classes), tuple(reflect))


def check_symmetry(problem: Problem, group: SymmetryGroup) -> None:
    """Raise :class:`~amm_opt.errors.OptionError` unless every map of ``group`` is a symmetry
    of ``problem`` (the message names the goods and what differs)."""
    n = problem.goods
    covered = sorted(i for cls in group.classes for i in cls)
    if covered != list(range(n)):
        raise OptionError("classes must partition the goods exactly once each",
                          field="symmetry", value=group.to_dict(),
                          allowed=f"classes covering 0 .. {n - 1}, each good once")
    if group.is_trivial:
        return
    why = _why_no_group(problem)
    for cls, refl in zip(group.classes, group.reflect, strict=True):
        for j in cls[1:]:
            why = why or _why_not_permutable(problem, cls[0], j)
        if refl:
            for i in cls:
                why = why or _why_not_reflectable(problem, i)
    if why is not None:
        raise OptionError(f"is not a symmetry of the problem: {why}", field="symmetry",
                          value=group.to_dict(),
                          allowed="symmetry='auto' (the detected group) or 'none', or a group "
                                  "whose classes hold goods with identical marginals, beliefs "
                                  "and allocation intervals")


def resolve_symmetry(problem: Problem, spec: Any) -> SymmetryGroup:
    """The group for option value ``spec``: ``'auto'`` (detected), ``'none'`` (trivial), a
    :class:`SymmetryGroup` or its dict form (checked against the problem)."""
    if isinstance(spec, str):
        key = spec.lower()
        if key == "auto":
            return detect_symmetry(problem)
        if key == "none":
            return SymmetryGroup.trivial(problem.goods)
        raise OptionError("is not a symmetry setting", field="symmetry", value=spec,
                          allowed=_ALLOWED)
    if isinstance(spec, dict):
        try:
            spec = SymmetryGroup(tuple(tuple(c) for c in spec["classes"]),
                                 tuple(spec.get("reflect", [False] * len(spec["classes"]))))
        except (KeyError, TypeError, ValueError):
            raise OptionError("is not a group description", field="symmetry", value=spec,
                              allowed=_ALLOWED) from None
    if not isinstance(spec, SymmetryGroup):
        raise OptionError("is not a symmetry setting", field="symmetry", value=spec,
                          allowed=_ALLOWED)
    check_symmetry(problem, spec)
    return spec


@dataclass(frozen=True)
class SymmetryRule:
    """Option rule for ``symmetry`` (see :func:`resolve_symmetry`); the problem-dependent
    check happens at solve time."""

    optional: bool = False

    def problem(self, value: Any) -> str | None:
        if isinstance(value, str) and value.lower() in ("auto", "none"):
            return None
        if isinstance(value, (SymmetryGroup, dict)):
            return None
        return _ALLOWED
