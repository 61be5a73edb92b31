r"""Allocation sets beyond boxes: polytopes :math:`X \ni 0` (``MATH.md`` §9).

A :class:`Polytope` is the convex hull of finitely many vertices, equivalently
:math:`\{x : A x \le b,\ E x = f\}`. Engines need only

* the support function :math:`\sigma_X(w) = \max_{x \in X} w \cdot x`, a maximum over the
  vertices (a linear function is maximised at a vertex of a polytope);
* membership :math:`x \in X` (the rows :math:`A x \le b`, :math:`E x = f`);
* allocations as convex combinations of the vertices (RochetNet's softmax weights).

Lower-dimensional sets are allowed (a pure swap is a segment in the plane): the inequalities are
then taken inside the affine hull, whose equations are the rows ``E x = f``. The set must be
bounded, non-empty, contain 0 (no trade) and contain some trade besides 0.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ProblemError
from .limits import MAX_GOODS

__all__ = ["MAX_VERTICES", "Polytope", "allocation_from_dict"]

FloatArray = NDArray[np.float64]

#: Vertices a polytope may have: RochetNet trains one weight per vertex and item, and the
#: support function compares every vertex; beyond a few thousand a box or an LP engine fits better.
MAX_VERTICES = 4096
# The affine hull's dimension qhull is asked to handle: the hull of V points in d dimensions has
# up to O(V^(d/2)) facets, which stays small only in low dimension.
_MAX_HULL_DIM = 8
# Candidate vertex systems (n rows out of the inequality rows) enumerated by
# :meth:`Polytope.from_inequalities`; each is an n x n solve of a batched array.
_MAX_COMBINATIONS = 200_000
# Relative tolerance of the geometry: rank of the affine hull, duplicate vertices, membership.
# Vertices are given to ~1e-16 relative; 1e-9 of the set's size is far above that round-off and
# far below any meaningful trade size.
_RTOL = 1e-9
_ALLOWED = ("a polytope containing 0: Polytope.from_vertices([[...], ...]), "
            "Polytope.from_inequalities(A, b), Polytope.unit_demand(goods), "
            "Polytope.pure_swap(goods), Polytope.budget(low, high, budget)")


def _array(value: Any, ndim: int, name: str, allowed: str) -> FloatArray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProblemError("must be numeric", field=name, value=value, allowed=allowed) from None
    if ndim == 2 and arr.ndim == 1 and arr.size:
        arr = arr[:, None] if name.endswith("vertices") else arr[None, :]
    if arr.ndim != ndim or arr.size == 0:
        raise ProblemError(f"has shape {arr.shape} (empty or wrong rank)", field=name,
                           value=value, allowed=allowed)
    if not np.all(np.isfinite(arr)):
        raise ProblemError("must be finite (no NaN or inf)", field=name, value=value,
                           allowed=allowed)
    return arr


def _affine_hull(points: FloatArray, scale: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(mean, U, N)``: ``U`` (n, r) spans the directions of the points, ``N`` (n, n - r) the
    normals of their affine hull."""
    mean = points.mean(axis=0)
    _, s, vt = np.linalg.svd(points - mean, full_matrices=True)
    rank = int(np.sum(s > _RTOL * scale * max(1.0, math.sqrt(points.shape[0]))))
    return mean, vt[:rank].T, vt[rank:].T


def _hull_rows(points: FloatArray, mean: FloatArray, basis: FloatArray
               ) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Facets ``A x <= b`` of the hull of ``points`` inside their affine hull, and the indices
    of the hull's vertices."""
    y = (points - mean) @ basis                                    # (V, r)
    if basis.shape[1] == 1:
        lo, hi = int(y[:, 0].argmin()), int(y[:, 0].argmax())
        a = np.array([[1.0], [-1.0]])
        rows, offs, keep = a @ basis.T, np.array([y[hi, 0], -y[lo, 0]]), np.array([lo, hi])
    else:
        from scipy.spatial import ConvexHull, QhullError

        try:
            hull = ConvexHull(y)
        except QhullError as exc:    # nearly degenerate input that the rank test let through
            raise ProblemError(f"has no well-defined hull ({str(exc).splitlines()[0]})",
                               field="allocation vertices", value=points.shape,
                               allowed="vertices spanning their affine hull clearly") from None
        a, d = hull.equations[:, :-1], hull.equations[:, -1]       # a.y + d <= 0 inside
        rows, offs, keep = a @ basis.T, -d, np.sort(hull.vertices)
    return rows, offs + rows @ mean, keep


@dataclass(frozen=True, eq=False)
class Polytope:
    r"""A bounded allocation set :math:`X = \operatorname{conv}\{x^1, \dots, x^V\} \ni 0`.

    Parameters
    ----------
    vertices : array of shape (V, goods)
        Points whose convex hull is ``X``; points inside the hull are dropped, so
        :attr:`vertices` holds the hull's vertices only.
    name : str
        A label for tables and files (``"unit_demand"``, ...).

    Attributes
    ----------
    inequalities : tuple (A, b)
        Facets :math:`A x \le b` (inside the affine hull of ``X``).
    equalities : tuple (E, f)
        The affine hull :math:`E x = f` (no rows when ``X`` is full-dimensional).

    Examples
    --------
    >>> from amm_opt import Polytope
    >>> X = Polytope.unit_demand(2)
    >>> X.vertices.tolist(), float(X.support([0.3, 0.7]))
    ([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], 0.7)
    """

    vertices: ArrayLike
    name: str = "polytope"
    inequalities: tuple[FloatArray, FloatArray] = field(init=False, repr=False)
    equalities: tuple[FloatArray, FloatArray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        allowed = "an array of shape (V, goods) of finite numbers, " + _ALLOWED
        pts = _array(self.vertices, 2, "allocation vertices", allowed)
        count, n = pts.shape
        if n > MAX_GOODS:
            raise ProblemError(f"has {n} goods, above {MAX_GOODS}", field="allocation vertices",
                               value=pts.shape, allowed=f"at most {MAX_GOODS} goods")
        if count > MAX_VERTICES:
            raise ProblemError(f"has {count} points, above {MAX_VERTICES}",
                               field="allocation vertices", value=pts.shape,
                               allowed=f"at most {MAX_VERTICES} vertices (a box: give it as "
                                       "allocation=(low, high), which needs no vertices)")
        scale = float(np.abs(pts).max())
        if scale == 0.0:
            raise ProblemError("allows no trade at all (every vertex is 0)",
                               field="allocation vertices", value=pts.tolist(),
                               allowed="a set with some trade besides 0")
        mean, basis, normals = _affine_hull(pts, scale)
        if basis.shape[1] > _MAX_HULL_DIM:
            raise ProblemError(f"spans {basis.shape[1]} dimensions, above {_MAX_HULL_DIM}",
                               field="allocation vertices", value=pts.shape,
                               allowed=f"polytopes of dimension <= {_MAX_HULL_DIM}, or a box")
        rows, offs, keep = _hull_rows(pts, mean, basis)
        eq_rows, eq_offs = normals.T.copy(), normals.T @ mean
        tol = _RTOL * scale
        if np.any(offs < -tol) or np.any(np.abs(eq_offs) > tol):
            raise ProblemError("does not contain 0 (no trade)", field="allocation vertices",
                               value=pts.tolist() if count <= 8 else f"{count} points",
                               allowed="a set with 0 inside or on its boundary: traders may "
                                       "always refuse to trade")
        verts = pts[keep]
        for arr in (verts, rows, offs, eq_rows, eq_offs):
            arr.setflags(write=False)
        object.__setattr__(self, "vertices", verts)
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "inequalities", (rows, offs))
        object.__setattr__(self, "equalities", (eq_rows, eq_offs))

    def __repr__(self) -> str:
        return (f"Polytope({self.name!r}, {np.asarray(self.vertices).shape[0]} vertices, "
                f"{self.goods} goods)")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_vertices(cls, vertices: ArrayLike, name: str = "vertices") -> Polytope:
        """The convex hull of ``vertices`` (shape (V, goods)); it must contain 0."""
        return cls(vertices, name)

    @classmethod
    def from_inequalities(cls, a: ArrayLike, b: ArrayLike, equalities: tuple[ArrayLike,
                          ArrayLike] | None = None, name: str = "inequalities") -> Polytope:
        r""":math:`\{x : A x \le b,\ E x = f\}` with ``equalities = (E, f)``; vertices are
        found by solving every choice of ``goods`` active rows (small sets only)."""
        allowed = "A of shape (m, goods), b of shape (m,), finite, the set bounded"
        g = _array(a, 2, "allocation A", allowed)
        h = _array(b, 1, "allocation b", allowed)
        if h.shape != (g.shape[0],):
            raise ProblemError(f"has shape {h.shape} for {g.shape[0]} rows of A",
                               field="allocation b", value=h.shape, allowed=allowed)
        n = g.shape[1]
        eq_g, eq_h = np.zeros((0, n)), np.zeros(0)
        if equalities is not None:
            eq_g = _array(equalities[0], 2, "allocation E", allowed)
            eq_h = _array(equalities[1], 1, "allocation f", allowed)
            if eq_g.shape[1] != n or eq_h.shape != (eq_g.shape[0],):
                raise ProblemError("E must have one column per good and f one entry per row",
                                   field="allocation equalities", value=(eq_g.shape, eq_h.shape),
                                   allowed=allowed)
        _check_bounded(g, h, eq_g, eq_h)
        rows_g, rows_h = np.vstack([g, eq_g, -eq_g]), np.concatenate([h, eq_h, -eq_h])
        if n > _MAX_HULL_DIM or math.comb(rows_g.shape[0], n) > _MAX_COMBINATIONS:
            raise ProblemError(f"needs C({rows_g.shape[0]}, {n}) vertex systems, too many",
                               field="allocation A", value=g.shape,
                               allowed=f"at most {_MAX_COMBINATIONS} systems and {_MAX_HULL_DIM}"
                                       " goods, or Polytope.from_vertices")
        combos = np.array(list(itertools.combinations(range(rows_g.shape[0]), n)))
        mats, rhs = rows_g[combos], rows_h[combos]
        scale = max(1.0, float(np.abs(rows_g).max()))
        ok = np.abs(np.linalg.det(mats / scale)) > 1e-12
        pts = np.linalg.solve(mats[ok], rhs[ok][..., None])[..., 0]
        slack = 1e-9 * (1.0 + np.abs(rows_h))
        pts = pts[np.all(pts @ rows_g.T <= rows_h + slack, axis=1)]
        return cls(_unique_rows(pts), name)

    @classmethod
    def box(cls, low: ArrayLike, high: ArrayLike) -> Polytope:
        r"""The box :math:`\prod_i [l_i, h_i]` as a polytope (``2^goods`` vertices; a plain
        ``allocation=(low, high)`` keeps the box's fast paths and is preferred)."""
        lo, hi = np.atleast_1d(np.asarray(low, float)), np.atleast_1d(np.asarray(high, float))
        lo, hi = np.broadcast_arrays(lo, hi)
        if lo.ndim != 1 or 2 ** lo.size > MAX_VERTICES:
            raise ProblemError(f"a box in {lo.size} goods has {2 ** lo.size} vertices",
                               field="allocation", value=lo.size,
                               allowed="allocation=(low, high) for boxes in many goods")
        corners = np.array(list(itertools.product(*zip(lo, hi, strict=True))), dtype=float)
        return cls(_unique_rows(corners), "box")

    @classmethod
    def unit_demand(cls, goods: int, units: float = 1.0) -> Polytope:
        r"""Unit demand :math:`\{x \ge 0,\ \sum_i x_i \le u\}`: vertices 0 and :math:`u e_i`."""
        goods = _positive_int(goods, "goods")
        u = _positive(units, "units")
        return cls(np.vstack([np.zeros(goods), u * np.eye(goods)]), "unit_demand")

    @classmethod
    def pure_swap(cls, goods: int = 2, give: int = 1, get: int = 0, size: float = 1.0
                  ) -> Polytope:
        r"""A pure swap of good ``give`` for good ``get``: :math:`x_{get} = -x_{give} = t`,
        :math:`t \in [-s, s]`, other goods 0 (the segment from :math:`-s(e_g - e_o)` to
        :math:`s(e_g - e_o)`)."""
        goods = _positive_int(goods, "goods")
        s = _positive(size, "size")
        for name, idx in (("give", give), ("get", get)):
            if not isinstance(idx, (int, np.integer)) or not 0 <= idx < goods:
                raise ProblemError("is not a good's index", field=name, value=idx,
                                   allowed=f"0 .. {goods - 1}")
        if give == get:
            raise ProblemError("must differ from get", field="give", value=give,
                               allowed="two different goods")
        d = np.zeros(goods)
        d[get], d[give] = s, -s
        return cls(np.vstack([d, -d]), "pure_swap")

    @classmethod
    def budget(cls, low: ArrayLike, high: ArrayLike, budget: float,
               weights: ArrayLike | None = None) -> Polytope:
        r"""A box with a budget: :math:`\{l \le x \le h,\ w \cdot x \le B\}` (``w`` all ones by
        default), e.g. an inventory limit on the total bought."""
        lo, hi = np.broadcast_arrays(np.atleast_1d(np.asarray(low, float)),
                                     np.atleast_1d(np.asarray(high, float)))
        n = lo.size
        w = np.ones(n) if weights is None else np.broadcast_to(np.asarray(weights, float), (n,))
        a = np.vstack([np.eye(n), -np.eye(n), w[None, :]])
        b = np.concatenate([hi, -lo, [float(budget)]])
        return cls.from_inequalities(a, b, name="budget")

    # ------------------------------------------------------------------ geometry
    @property
    def goods(self) -> int:
        return int(self.vertices.shape[1])  # type: ignore[union-attr]

    @property
    def low(self) -> FloatArray:
        """Lower corner of the bounding box, shape (goods,)."""
        return np.asarray(self.vertices).min(axis=0)

    @property
    def high(self) -> FloatArray:
        """Upper corner of the bounding box, shape (goods,)."""
        return np.asarray(self.vertices).max(axis=0)

    @property
    def dimension(self) -> int:
        """Dimension of the affine hull (``goods`` when full-dimensional)."""
        return self.goods - int(self.equalities[0].shape[0])

    def support(self, w: ArrayLike) -> FloatArray:
        r""":math:`\sigma_X(w) = \max_j w \cdot x^j` for ``w`` of shape (..., goods)."""
        w = np.asarray(w, dtype=np.float64)
        verts = np.asarray(self.vertices)
        flat = w.reshape(-1, self.goods)
        out = np.empty(flat.shape[0])
        step = max(1, (1 << 21) // verts.shape[0])                  # 16 MiB work blocks
        for s in range(0, flat.shape[0], step):
            out[s:s + step] = (flat[s:s + step] @ verts.T).max(axis=1)
        return out.reshape(w.shape[:-1])

    def contains(self, x: ArrayLike, atol: float = 1e-9) -> NDArray[np.bool_]:
        """Whether each row of ``x`` (shape (m, goods)) lies in ``X`` up to ``atol`` (absolute,
        per row of the facet equations, whose normals have unit length)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        a, b = self.inequalities
        e, f = self.equalities
        ok = np.all(x @ a.T <= b + atol, axis=1)
        if e.shape[0]:
            ok &= np.all(np.abs(x @ e.T - f) <= atol, axis=1)
        return ok

    def relaxation_rows(self) -> tuple[FloatArray, FloatArray]:
        r"""Rows :math:`a_k \cdot x \le s_k` that every :math:`x \in X` satisfies exactly, for
        the LP engines: the facet normals and both signs of the affine hull's equations, with
        :math:`s_k = \sigma_X(a_k)` computed from the vertices and rounded **up** (a dot product
        of ``goods`` terms is within :math:`\gamma_n \sum_d |a_d x_d|` of the exact one), so the
        rows hold for the exact set whatever the round-off of the facet computation. Rows that
        the bounding box already implies (an axis normal) are left out.

        Returns
        -------
        normals : array of shape (K, goods)
        bounds : array of shape (K,), each :math:`\ge 0` (0 is in ``X``)
        """
        a, _ = self.inequalities
        e, _ = self.equalities
        rows = np.vstack([a, e, -e])
        verts = np.asarray(self.vertices)
        n = self.goods
        eps = float(np.finfo(np.float64).eps) / 2
        gamma = n * eps / (1.0 - n * eps)
        dots = verts @ rows.T                                        # (V, K)
        slack = gamma * (np.abs(verts) @ np.abs(rows).T)
        bounds = np.nextafter(np.maximum((dots + slack).max(axis=0), 0.0), np.inf)
        # The bounding box's support in direction a_k: a row it does not exceed adds nothing.
        box = np.maximum(rows * self.high, rows * self.low).sum(axis=1)
        keep = box > bounds * (1.0 + _RTOL) + _RTOL * float(np.abs(verts).max())
        return rows[keep], bounds[keep]

    def convex_weights(self, x: ArrayLike) -> FloatArray:
        r"""Vertex weights ``w`` (shape (m, vertices)) of the point of ``X`` nearest each row of
        ``x``: :math:`\min_{w \ge 0, \sum w = 1} \|V^\top w - x\|`, solved by non-negative
        least squares with the sum as a heavily weighted extra equation, then renormalised to sum
        to 1 (all zeros where NNLS returns none)."""
        from scipy.optimize import nnls

        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        verts = np.asarray(self.vertices)
        weight = 1e3 * max(1.0, float(np.abs(verts).max()))
        system = np.vstack([verts.T, np.full((1, verts.shape[0]), weight)])
        out = np.zeros((x.shape[0], verts.shape[0]))
        for k, row in enumerate(x):
            w, _ = nnls(system, np.concatenate([row, [weight]]))
            total = w.sum()
            if total > 0:
                out[k] = w / total
        return out

    def nearest(self, x: ArrayLike) -> FloatArray:
        r"""The point of ``X`` nearest each row of ``x`` (shape (m, goods)), as a convex
        combination of the vertices (:meth:`convex_weights`; so the result is exactly a convex
        combination up to the rounding of the final product). Rows already in ``X`` (to 1e-12 of
        its size) are returned unchanged."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64)).copy()
        verts = np.asarray(self.vertices)
        scale = max(1.0, float(np.abs(verts).max()))
        outside = np.flatnonzero(~self.contains(x, 1e-12 * scale))
        for k, w in zip(outside, self.convex_weights(x[outside]), strict=True):
            x[k] = w @ verts
        return x

    def invariant_under(self, perm: ArrayLike, sign: ArrayLike) -> bool:
        r"""Whether the map :math:`(Qx)_{perm[d]} = sign[d]\, x_d` (a signed permutation of the
        goods) maps ``X`` onto itself, i.e. permutes its vertices (to 1e-9 of its size; a
        polytope is the hull of its vertices, so that is enough)."""
        verts = np.asarray(self.vertices)
        image = np.empty_like(verts)
        image[:, np.asarray(perm, dtype=np.int64)] = verts * np.asarray(sign, dtype=np.float64)
        scale = max(1.0, float(np.abs(verts).max()))
        a = verts[np.lexsort(np.round(verts / (_RTOL * scale)).T[::-1])]
        b = image[np.lexsort(np.round(image / (_RTOL * scale)).T[::-1])]
        return bool(np.all(np.abs(a - b) <= 10 * _RTOL * scale))

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        return {"type": "polytope", "name": self.name,
                "vertices": np.asarray(self.vertices).tolist()}


def _check_bounded(g: FloatArray, h: FloatArray, eq_g: FloatArray, eq_h: FloatArray) -> None:
    """Refuse an empty or unbounded ``{g x <= h, eq_g x = eq_h}`` (2 n small LPs)."""
    from scipy.optimize import linprog

    n = g.shape[1]
    for i in range(2 * n):
        cost = np.zeros(n)
        cost[i % n] = 1.0 if i < n else -1.0
        res = linprog(cost, A_ub=g, b_ub=h, A_eq=eq_g if eq_g.size else None,
                      b_eq=eq_h if eq_h.size else None, bounds=(None, None), method="highs")
        if res.status == 2:
            raise ProblemError("is empty (the inequalities have no solution)",
                               field="allocation A", value=g.shape, allowed=_ALLOWED)
        if res.status == 3:
            raise ProblemError(f"is unbounded in good {i % n}", field="allocation A",
                               value=g.shape, allowed="a bounded set: add bounds on every good")


def _unique_rows(pts: FloatArray) -> FloatArray:
    if pts.shape[0] == 0:
        raise ProblemError("has no vertices (empty set)", field="allocation", value=0,
                           allowed=_ALLOWED)
    scale = max(1.0, float(np.abs(pts).max()))
    keys = np.round(pts / (scale * 1e-9))
    _, first = np.unique(keys, axis=0, return_index=True)
    return pts[np.sort(first)]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
            not 1 <= value <= MAX_GOODS:
        raise ProblemError("must be a positive integer", field=name, value=value,
                           allowed=f"1 .. {MAX_GOODS}")
    return int(value)


def _positive(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if not (math.isfinite(out) and out > 0):
        raise ProblemError("must be a positive number", field=name, value=value,
                           allowed="a finite number > 0")
    return out


_NAMED = {"unit_demand": Polytope.unit_demand, "pure_swap": Polytope.pure_swap,
          "budget": Polytope.budget, "box": Polytope.box}


def allocation_from_dict(data: dict[str, Any], goods: int) -> Polytope:
    """A polytope from a file's table: ``{"type": "polytope", "vertices": ...}``,
    ``{"type": "inequalities", "A": ..., "b": ..., "E": ..., "f": ...}`` or a named set
    ``{"type": "unit_demand" | "pure_swap" | "budget" | "box", <its arguments>}``."""
    kind = data.get("type")
    args = {k: v for k, v in data.items() if k not in ("type", "name")}
    allowed = "type polytope (vertices), inequalities (A, b[, E, f]), " + ", ".join(_NAMED)
    try:
        if kind == "polytope":
            return Polytope(args.pop("vertices"), data.get("name", "polytope"), **args)
        if kind == "inequalities":
            eq = (args.pop("E"), args.pop("f")) if "E" in args else None
            return Polytope.from_inequalities(args.pop("A"), args.pop("b"), eq, **args)
        if kind in ("unit_demand", "pure_swap"):
            return _NAMED[kind](goods=args.pop("goods", goods), **args)
        if kind in _NAMED:
            return _NAMED[kind](**args)
    except (KeyError, TypeError) as exc:
        raise ProblemError(f"has missing or unknown keys ({exc})", field="allocation",
                           value=sorted(data), allowed=allowed) from None
    raise ProblemError("has an unknown type", field="allocation type", value=kind,
                       allowed=allowed)
