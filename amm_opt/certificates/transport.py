r"""Transport certificates: flows whose cost bounds the optimal profit from above.

A flow :math:`f_e \ge 0` on arcs :math:`e = (i \to j)` between the points of the discretised
measure, with net outflow :math:`m_p` at every point, telescopes:
:math:`\sum_p m_p u(p) = \sum_e f_e (u(p_i) - u(p_j))`. If every arc cost satisfies
:math:`u(p_i) - u(p_j) \le d(p_i, p_j)` for all feasible :math:`u`, the flow's cost bounds the
optimum. Ground costs (``kind``): ``"transport"`` :math:`\sigma_X(x - y)` (free from the atom
at :math:`c`), ``"radial"`` :math:`\min_{t \ge 1} \sigma_X(c + t(x - c) - y)` (atom free),
``"w1"`` :math:`\sigma_X(x - y)` also from the atom (a loose sanity number).

The allocation set :math:`X` is a box :math:`\prod_i [l_i, h_i]` (separable
:math:`\sigma_X(z) = \sum_i \max(h_i z_i, l_i z_i)`, the fast path) or a polytope given by its
vertices :math:`x^1, \dots, x^V` (:math:`\sigma_X(z) = \max_j z \cdot x^j`: a linear function
is maximised at a vertex).

:class:`TransportCertificate` recomputes the bound from the stored points, masses and flows in
float64 with explicit round-off bounds, charging any net-outflow residual and the
discretisation's quadrature error at the largest possible utility
:math:`\bar u = \max_V \sigma_X(v - c)`; no solver output is trusted. Proofs:
``docs/math/transport.md``.

The belief :math:`c` may lie outside the value box :math:`V` (``MATH.md`` §9). Every formula
here holds for any :math:`c \in \mathbb{R}^n`: a feasible :math:`u` extends to a convex function
on :math:`\mathbb{R}^n` with subgradients in :math:`X` and minimum :math:`u(c) = 0`, so
:math:`u(x) - u(y) \le \sigma_X(x - y)` and the radial push hold between any two points, the
atom is free, and :math:`u(v) = u(v) - u(c) \le \sigma_X(v - c) \le \bar u` on :math:`V`. Only
the atom may then lie outside :math:`V`; every other point must lie in it, where
:math:`0 \le u \le \bar u` is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import OptionError

__all__ = [
    "COST_KINDS",
    "TransportCertificate",
    "arc_costs",
    "pair_costs",
    "utility_bound",
    "work_per_cost",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

COST_KINDS = ("transport", "radial", "w1")
_EPS = float(np.finfo(np.float64).eps)
_KIND_ATOM = 2
# Vertices up to which the radial cost tries every crossing of two vertex lines (V(V-1)/2
# candidates, each evaluated at V vertices); above, the coordinate crossings (see _radial_steps).
_MAX_PAIR_VERTICES = 12


def _check_kind(kind: str) -> str:
    if kind not in COST_KINDS:
        raise OptionError("is not a ground cost", field="kind", value=kind,
                          allowed=", ".join(COST_KINDS))
    return kind


def _sigma(z: FloatArray, low: FloatArray, high: FloatArray,
           vertices: FloatArray | None = None) -> FloatArray:
    r""":math:`\sigma_X(z)` over the last axis: the box's separable sum, or the vertex maximum."""
    if vertices is None:
        return np.maximum(z * high, z * low).sum(axis=-1)
    return (z @ vertices.T).max(axis=-1)


def _vertex_array(vertices: ArrayLike | None, n: int) -> FloatArray | None:
    if vertices is None:
        return None
    verts = np.asarray(vertices, dtype=np.float64)
    if verts.ndim != 2 or verts.shape[0] == 0 or verts.shape[1] != n:
        raise OptionError(f"must have shape (V, {n})", field="allocation_vertices",
                          value=verts.shape, allowed="the vertices of the allocation polytope, "
                                                     "or None for the box")
    if not np.all(np.isfinite(verts)):
        raise OptionError("must be finite", field="allocation_vertices", value="NaN or inf",
                          allowed="finite numbers")
    return verts


def _radial_steps(alpha: FloatArray, beta: FloatArray, vertices: FloatArray | None
                  ) -> FloatArray:
    r"""Candidate :math:`t \ge 1` for :math:`\min_{t \ge 1} \sigma_X(\alpha + t \beta)`,
    shape (..., K).

    :math:`t \mapsto \sigma_X(\alpha + t\beta)` is convex and piecewise linear, so its minimum
    over :math:`[1, \infty)` is at 1 or at a breakpoint (it cannot decrease forever:
    :math:`\sigma_X(\beta) \ge 0` as :math:`0 \in X`). For a box the breakpoints are the zero
    crossings :math:`\alpha_i + t \beta_i = 0`; for a polytope they are among the crossings of
    two vertex lines, :math:`\alpha \cdot x^j + t \beta \cdot x^j = \alpha \cdot x^k + t
    \beta \cdot x^k` (:math:`V(V-1)/2` of them). Beyond :data:`_MAX_PAIR_VERTICES` vertices the
    coordinate crossings are used instead: any :math:`t \ge 1` is a valid radial move, so fewer
    candidates can only give a larger (still valid) cost.
    """
    if vertices is None or vertices.shape[0] > _MAX_PAIR_VERTICES:
        t = np.ones(beta.shape)
        np.divide(-alpha, beta, out=t, where=beta != 0)
        return np.maximum(t, 1.0)
    j, k = np.triu_indices(vertices.shape[0], 1)
    a = alpha @ vertices.T                                        # (..., V)
    b = beta @ vertices.T
    da = a[..., k] - a[..., j]
    db = b[..., j] - b[..., k]
    t = np.ones(da.shape)
    np.divide(da, db, out=t, where=db != 0)
    return np.maximum(t, 1.0)


def pair_costs(kind: str, x: ArrayLike, y: ArrayLike, from_atom: ArrayLike, belief: ArrayLike,
               allocation_low: ArrayLike, allocation_high: ArrayLike, *,
               upper: bool = False, vertices: ArrayLike | None = None) -> FloatArray:
    r"""Ground cost :math:`d(x \to y)` of moving positive mass at ``x`` to ``y``.

    .. math::

        d(x, y) = \begin{cases}
          0 & x \text{ is the atom at } c \text{ (kinds transport, radial)},\\
          \min_{t \ge 1} \sigma_X(c + t (x - c) - y) & \text{kind radial},\\
          \sigma_X(x - y) & \text{otherwise.}
        \end{cases}

    Parameters
    ----------
    kind : {"transport", "radial", "w1"}
    x, y : arrays of shape (..., n)
        Start and end points (broadcast against each other), anywhere in :math:`\mathbb{R}^n`
        (the bound :math:`u(x) - u(y) \le d(x, y)` uses the convex extension of :math:`u`).
    from_atom : bool array broadcasting to ``x.shape[:-1]``
        Whether ``x`` is the atom at the belief.
    belief : array of shape (n,)
    allocation_low, allocation_high : arrays of shape (n,)
        The allocation box :math:`X = \prod_i [l_i, h_i]` (ignored when ``vertices`` is given).
    upper : bool
        Add a bound on the floating-point error of the evaluation, so that the returned number
        is :math:`\ge` the exact cost of the evaluated move (used for certification).
    vertices : array of shape (V, n), optional
        The allocation set as a polytope :math:`X = \operatorname{conv}\{x^j\}`; None: the box.

    Returns
    -------
    array of shape ``broadcast(x, y).shape[:-1]``

    Examples
    --------
    With :math:`X = [-\tfrac12, 1] \times [0, 1]`, moving mass up in good 1 costs
    :math:`-l_1 = \tfrac12` per unit and down costs :math:`h_1 = 1`; along a ray from
    :math:`c` it is free:

    >>> from amm_opt.certificates.transport import pair_costs
    >>> box = ([-0.5, 0.0], [1.0, 1.0])
    >>> up = pair_costs("transport", [0.2, 0.5], [0.6, 0.5], False, [0.5, 0.5], *box)
    >>> down = pair_costs("transport", [0.6, 0.5], [0.2, 0.5], False, [0.5, 0.5], *box)
    >>> ray = pair_costs("radial", [0.7, 0.6], [0.9, 0.7], False, [0.5, 0.5], *box)
    >>> round(float(up), 12), round(float(down), 12), round(float(ray), 12)
    (0.2, 0.4, 0.0)

    For unit demand, :math:`X = \operatorname{conv}\{0, e_1, e_2\}`, a move by :math:`(-0.3,
    -0.4)` is free and one by :math:`(0.3, 0.4)` costs :math:`\max(0, 0.3, 0.4)`:

    >>> unit = dict(vertices=[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> free = pair_costs("transport", [0.2, 0.1], [0.5, 0.5], False, [0, 0], *box, **unit)
    >>> paid = pair_costs("transport", [0.5, 0.5], [0.2, 0.1], False, [0, 0], *box, **unit)
    >>> round(float(free), 12), round(float(paid), 12)
    (0.0, 0.4)
    """
    _check_kind(kind)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    c = np.asarray(belief, dtype=np.float64)
    n = c.shape[0]
    verts = _vertex_array(vertices, n)
    if verts is None:
        low = np.asarray(allocation_low, dtype=np.float64)
        high = np.asarray(allocation_high, dtype=np.float64)
    else:
        # The round-off allowance needs |g_i| <= weight_i on X: the vertices' own bounding box
        # (never a box passed beside them).
        low, high = verts.min(axis=0), verts.max(axis=0)
    weight = np.maximum(high, -low)      # |g_i| <= weight_i for g in X
    # t = 1 (the straight move) is evaluated exactly as for "transport", so radial <= transport
    # holds entry by entry, rounded values included.
    z = x - y
    cost = _sigma(z, low, high, verts)
    if upper:
        # |fl(x - y) - (x - y)| <= u |x - y|, n products and a sum of n terms: (n + 1)u |z|
        # (u = eps/2); eps = 2u doubles every term, covering the second-order rest. A polytope's
        # vertex maximum is as accurate: each dot product z . x^j errs by at most
        # gamma_n sum_i |z_i x^j_i| <= (n + 1)u sum_i weight_i |z_i| (the max itself is exact),
        # and an error d in z moves sigma_X by at most sum_i weight_i |d_i|.
        cost = cost + _EPS * (weight * (np.abs(x) + np.abs(y) + (n + 1) * np.abs(z))
                              ).sum(axis=-1)
    if kind == "radial":
        alpha = c - y                    # z(t) = alpha + t * beta
        beta = x - c
        alpha, beta = np.broadcast_arrays(alpha, beta)
        # Candidates: the breakpoints beyond 1 (_radial_steps). Any t >= 1 is a valid (if not
        # minimal) radial move, so rounding in t itself cannot break validity.
        t = _radial_steps(alpha, beta, verts)[..., :, None]        # (..., K, 1)
        zt = alpha[..., None, :] + t * beta[..., None, :]          # (..., K, n)
        value = _sigma(zt, low, high, verts)
        if upper:
            # |fl(z) - z| <= 3u(|alpha| + |t beta|) per coordinate, then as above.
            value = value + _EPS * (weight * (2.0 * np.abs(alpha[..., None, :])
                                              + 2.0 * np.abs(t * beta[..., None, :])
                                              + (n + 1) * np.abs(zt))).sum(axis=-1)
        cost = np.minimum(cost, value.min(axis=-1))
    if kind != "w1":
        cost = np.where(np.asarray(from_atom, dtype=bool), 0.0, cost)
    return np.asarray(cost, dtype=np.float64)


def work_per_cost(kind: str, goods: int, vertices: ArrayLike | None = None) -> int:
    """Floats of scratch space one :func:`pair_costs` entry needs (for sizing chunks): ``goods``
    for a box, one dot product per vertex for a polytope, times the radial candidates."""
    v = 0 if vertices is None else int(np.shape(vertices)[0])
    width = max(goods, v)
    if kind != "radial":
        return width
    steps = goods if v == 0 or v > _MAX_PAIR_VERTICES else max(goods, v * (v - 1) // 2)
    return (steps + 1) * width


def arc_costs(kind: str, x: ArrayLike, y: ArrayLike, from_atom: ArrayLike, belief: ArrayLike,
              allocation_low: ArrayLike, allocation_high: ArrayLike, *, upper: bool = False,
              vertices: ArrayLike | None = None, entries: int = 1 << 22) -> FloatArray:
    """:func:`pair_costs` of arcs ``x[e] -> y[e]`` (arrays of shape (E, n), ``from_atom`` of
    shape (E,)), in chunks of about ``entries`` floats of scratch space (a polytope with many
    vertices needs one dot product per vertex and arc)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    atom = np.broadcast_to(np.asarray(from_atom, dtype=bool), x.shape[:1])
    chunk = max(1, entries // max(1, work_per_cost(kind, x.shape[1], vertices)))
    out = np.empty(x.shape[0])
    for start in range(0, out.size, chunk):
        sl = slice(start, start + chunk)
        out[sl] = pair_costs(kind, x[sl], y[sl], atom[sl], belief, allocation_low,
                             allocation_high, upper=upper, vertices=vertices)
    return out


def utility_bound(value_low: ArrayLike, value_high: ArrayLike, belief: ArrayLike,
                  allocation_low: ArrayLike, allocation_high: ArrayLike, *,
                  vertices: ArrayLike | None = None) -> float:
    r""":math:`\bar u = \max_{v \in V} \sigma_X(v - c) \ge \max_V u` for every :math:`u \in U`.

    .. math::

        \bar u = \max_j \sum_i \max\big(x^j_i (b_i - c_i),\; x^j_i (a_i - c_i)\big),

    the maximum over the vertices :math:`x^j` of :math:`X` (for a box the corners, which gives
    the separable :math:`\sum_i \max(h_i (b_i - c_i), l_i (a_i - c_i))`): :math:`\max_V
    \max_j (v - c) \cdot x^j` swaps the two maxima, and for a fixed :math:`x^j` the linear
    function is maximised coordinate by coordinate at a corner of :math:`V`. Rounded up. Arrays
    of shape (n,); ``vertices`` of shape (V, n) (None: the box ``allocation_low/high``).

    Valid for a belief anywhere, inside :math:`V` or not: :math:`u(v) = u(v) - u(c) \le
    g \cdot (v - c)` for a subgradient :math:`g \in X` at :math:`v`, and the corner argument
    does not use where :math:`c` lies (terms may then be negative; :math:`\bar u \ge 0` still,
    as :math:`0 \in X`).
    """
    a = np.asarray(value_low, dtype=np.float64)
    b = np.asarray(value_high, dtype=np.float64)
    c = np.asarray(belief, dtype=np.float64)
    verts = _vertex_array(vertices, c.shape[0])
    if verts is None:
        lo = np.asarray(allocation_low, dtype=np.float64)
        hi = np.asarray(allocation_high, dtype=np.float64)
        rows = np.maximum(hi * (b - c), lo * (a - c))[None, :]
    else:
        rows = np.maximum(verts * (b - c), verts * (a - c))       # (V, n)
    # Each term: one subtraction and one product, relative error <= 2u + u^2 = eps + eps^2/4;
    # the allowance 4 eps |term| also absorbs its own rounding and fsum's final one (fsum is
    # correctly rounded), and holds whatever the terms' signs (a belief outside V makes some
    # negative). For non-negative terms this is the sum times (1 + 4 eps).
    return float(max(math.fsum(r.tolist() + (4 * _EPS * np.abs(r)).tolist()) for r in rows))
def _as_int_index(value: Any, name: str, size: int) -> IntArray:
    arr = np.asarray(value)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise OptionError("must be a one-dimensional integer array", field=name,
                          value=getattr(arr, "shape", value), allowed="point indices")
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise OptionError("has indices outside the point list", field=name,
                          value=(int(arr.min()), int(arr.max())), allowed=f"0 .. {size - 1}")
    return arr.astype(np.int64)


@dataclass(frozen=True, eq=False)
class TransportCertificate:
    r"""A transport plan (or flow) and the certified upper bound it proves.

    For every feasible utility :math:`u` (convex, :math:`\nabla u \in X`, :math:`u \ge 0`,
    :math:`u(c) = 0`),

    .. math::

        \sum_p m_p\, u(p) \;\le\; \sum_e f_e\, d_{kind}(p_{i_e}, p_{j_e})
        + \bar u \Big(\sum_{p \ne c} \max(r_p, 0) + \varepsilon_{quad}\Big) = \texttt{cost},

    and with the masses of :func:`amm_opt.discretisation.discretize` the left side is at least the
    profit :math:`\Pi(u)`. The derived numbers are computed here from the stored data, so a
    certificate cannot carry a bound its plan does not prove (see the module docstring).

    Parameters
    ----------
    points : array of shape (P, n)
        Grid vertices and barycentres (inside the value box) and the atom (at the belief,
        which may lie outside it).
    masses : array of shape (P,)
        Signed masses :math:`m_p` (0 for pure transit points of a grid flow).
    point_kind : int array of shape (P,)
        0 vertex, 1 barycentre, 2 the atom at the belief.
    source, target : int arrays of shape (E,)
        Arc ends as indices into ``points``.
    flow : array of shape (E,)
        Mass moved along each arc (non-negative).
    kind : {"transport", "radial", "w1"}
        Ground cost.
    belief, allocation_low, allocation_high, value_low, value_high : arrays of shape (n,)
        :math:`c`, the allocation box :math:`X` (for a polytope its bounding box) and the value
        box :math:`V`.
    grid : tuple of int
        Cells per axis of the discretisation.
    structure : {"plan", "flow"}
        ``"plan"``: arcs go from sources to sinks (dense POT); ``"flow"``: arcs of the grid
        graph (min-cost flow), where mass passes through vertices.
    quadrature_error : float
        Estimated total error of the discretised masses.
    solver_cost : float or None
        The objective the solver reported (for information; not used in ``cost``).
    method : str
        How the plan was found.
    allocation_vertices : array of shape (V, n) or None
        :math:`X = \operatorname{conv}\{x^j\}` when the allocation set is a polytope (costs
        :math:`\sigma_X(z) = \max_j z \cdot x^j`); None for the box. ``allocation_low/high``
        must then be the vertices' bounding box.

    Attributes
    ----------
    plan_cost : float
        :math:`\sum_e f_e d(p_{i_e}, p_{j_e})`, each term rounded up.
    imbalance : float
        :math:`\sum_{p \ne c} \max(r_p, 0)`, rounded up.
    utility_bound : float
        :math:`\bar u`.
    cost : float
        The certified upper bound.
    """

    points: FloatArray
    masses: FloatArray
    point_kind: NDArray[np.int8]
    source: IntArray
    target: IntArray
    flow: FloatArray
    kind: str
    belief: FloatArray
    allocation_low: FloatArray
    allocation_high: FloatArray
    value_low: FloatArray
    value_high: FloatArray
    grid: tuple[int, ...]
    structure: str = "plan"
    quadrature_error: float = 0.0
    solver_cost: float | None = None
    method: str = ""
    allocation_vertices: FloatArray | None = None
    plan_cost: float = field(init=False)
    imbalance: float = field(init=False)
    utility_bound: float = field(init=False)
    cost: float = field(init=False)

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        if self.structure not in ("plan", "flow"):
            raise OptionError("is not a certificate structure", field="structure",
                              value=self.structure, allowed="plan, flow")
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2:
            raise OptionError("must have shape (P, n)", field="points", value=pts.shape,
                              allowed="a two-dimensional array")
        npts, n = pts.shape
        vecs = {}
        for name in ("belief", "allocation_low", "allocation_high", "value_low", "value_high"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise OptionError(f"must have shape ({n},)", field=name, value=arr.shape,
                                  allowed="one number per good")
            vecs[name] = arr
        verts = _vertex_array(self.allocation_vertices, n)
        if verts is not None and not (
                np.array_equal(verts.min(axis=0), vecs["allocation_low"])
                and np.array_equal(verts.max(axis=0), vecs["allocation_high"])):
            # The box fields describe the set in summaries and plots: they must not disagree
            # with the set the costs are proved for.
            raise OptionError("must be the bounding box of allocation_vertices",
                              field="allocation_low/allocation_high",
                              value=(vecs["allocation_low"].tolist(),
                                     vecs["allocation_high"].tolist()),
                              allowed=f"{verts.min(axis=0).tolist()} and "
                                      f"{verts.max(axis=0).tolist()}")
        masses = np.asarray(self.masses, dtype=np.float64)
        kinds = np.asarray(self.point_kind, dtype=np.int8)
        if masses.shape != (npts,) or kinds.shape != (npts,):
            raise OptionError("must have one entry per point", field="masses/point_kind",
                              value=(masses.shape, kinds.shape), allowed=f"shape ({npts},)")
        src = _as_int_index(self.source, "source", npts)
        dst = _as_int_index(self.target, "target", npts)
        flow = np.asarray(self.flow, dtype=np.float64)
        if not (src.shape == dst.shape == flow.shape):
            raise OptionError("source, target and flow must have the same length", field="flow",
                              value=(src.shape, dst.shape, flow.shape), allowed="shape (E,)")
        if not (np.all(np.isfinite(flow)) and np.all(flow >= 0)):
            raise OptionError("must be finite and non-negative", field="flow",
                              value=float(flow.min()) if flow.size else None,
                              allowed="clip solver round-off before certifying")
        if not (np.all(np.isfinite(pts)) and np.all(np.isfinite(masses))):
            raise OptionError("must be finite", field="points/masses", value="NaN or inf",
                              allowed="finite numbers")
        # u(p) is known to lie in [0, u_bar] only inside V, and to be 0 only at c, which may
        # lie outside V (MATH.md section 9): the atom is checked against c, the rest against V.
        atom = kinds == _KIND_ATOM
        grid_pts = pts[~atom]
        if np.any(grid_pts < vecs["value_low"]) or np.any(grid_pts > vecs["value_high"]):
            raise OptionError("lie outside the value box", field="points",
                              value="some points", allowed="points of the discretisation "
                                                           "(only the atom may lie outside V)")
        if np.any(pts[atom] != vecs["belief"]):
            raise OptionError("must sit exactly at the belief", field="atom points",
                              value=pts[atom].tolist(), allowed=vecs["belief"].tolist())
        for name, arr in (("points", pts), ("masses", masses), ("flow", flow), *vecs.items()):
            arr = np.array(arr, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if verts is not None:
            verts = verts.copy()
            verts.setflags(write=False)
        object.__setattr__(self, "allocation_vertices", verts)
        for name, arr in (("source", src), ("target", dst), ("point_kind", kinds)):
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "grid", tuple(int(g) for g in self.grid))
        plan_cost, imbalance, u_bar = self._certify()
        object.__setattr__(self, "plan_cost", plan_cost)
        object.__setattr__(self, "imbalance", imbalance)
        object.__setattr__(self, "utility_bound", u_bar)
        quad = max(float(self.quadrature_error), 0.0)
        total = (plan_cost + u_bar * (imbalance + quad)) * (1.0 + 4 * _EPS)
        object.__setattr__(self, "cost", float(total))

    # ------------------------------------------------------------------ certification
    def arc_costs(self, *, upper: bool = True, chunk: int = 1 << 18) -> FloatArray:
        """Ground cost of every arc, shape (E,) (rounded up by default); ``chunk`` arcs at a
        time (fewer for a polytope with many vertices)."""
        out = np.empty(self.flow.shape)
        for start in range(0, out.size, chunk):
            sl = slice(start, start + chunk)
            i, j = self.source[sl], self.target[sl]
            out[sl] = arc_costs(self.kind, self.points[i], self.points[j],
                                self.point_kind[i] == _KIND_ATOM, self.belief,
                                self.allocation_low, self.allocation_high, upper=upper,
                                vertices=self.allocation_vertices)
        return out

    def net_outflow(self) -> FloatArray:
        """:math:`\\text{out}_p - \\text{in}_p`, shape (P,)."""
        npts = self.points.shape[0]
        return (np.bincount(self.source, weights=self.flow, minlength=npts)
                - np.bincount(self.target, weights=self.flow, minlength=npts))

    def _certify(self) -> tuple[float, float, float]:
        npts = self.points.shape[0]
        costs = self.arc_costs(upper=True)
        products = self.flow * costs
        # fsum is exact on the rounded products; each product is within a relative u of the
        # true one, hence the (1 + eps) factor.
        plan_cost = math.fsum(products.tolist()) * (1.0 + _EPS)
        out = np.bincount(self.source, weights=self.flow, minlength=npts)
        inn = np.bincount(self.target, weights=self.flow, minlength=npts)
        resid = self.masses - (out - inn)
        # Recursive summation of k terms errs by at most (k - 1)u times their absolute sum
        # (Higham, Thm 4.1): k is the point's degree; eps = 2u also covers the two final
        # subtractions.
        degree = np.bincount(self.source, minlength=npts) + np.bincount(self.target,
                                                                       minlength=npts)
        resid_up = resid + (degree + 3) * _EPS * (np.abs(self.masses) + out + inn)
        resid_up[self.point_kind == _KIND_ATOM] = 0.0    # u(c) = 0: its residual is free
        imbalance = math.fsum(np.maximum(resid_up, 0.0).tolist()) * (1.0 + _EPS)
        u_bar = utility_bound(self.value_low, self.value_high, self.belief,
                              self.allocation_low, self.allocation_high,
                              vertices=self.allocation_vertices)
        return float(plan_cost), float(imbalance), u_bar

    def repriced(self, kind: str) -> TransportCertificate:
        """The same plan certified with another ground cost (every kind is valid for any plan;
        radial costs are never above transport costs, so a transport plan repriced as
        ``"radial"`` proves at most the transport bound)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        data.update(kind=_check_kind(kind), solver_cost=None,
                    method=f"{self.method}, {self.kind} plan repriced with {kind} costs")
        return TransportCertificate(**data)

    # ------------------------------------------------------------------ views
    @property
    def plan(self) -> tuple[IntArray, IntArray, FloatArray]:
        """The sparse plan as ``(source index, target index, mass)`` arrays of shape (E,)."""
        return self.source, self.target, self.flow

    @property
    def goods(self) -> int:
        return int(self.points.shape[1])

    def summary(self) -> dict[str, Any]:
        """JSON-friendly numbers (no arrays)."""
        pos = self.masses[self.masses > 0]
        neg = self.masses[self.masses < 0]
        return {
            "kind": self.kind,
            "structure": self.structure,
            "method": self.method,
            "grid": list(self.grid),
            "allocation": "box" if self.allocation_vertices is None else
            f"polytope ({self.allocation_vertices.shape[0]} vertices)",
            "cost": self.cost,
            "plan_cost": self.plan_cost,
            "imbalance": self.imbalance,
            "utility_bound": self.utility_bound,
            "quadrature_error": float(self.quadrature_error),
            "solver_cost": self.solver_cost,
            "points": int(self.points.shape[0]),
            "arcs": int(self.flow.size),
            "positive_mass": float(pos.sum()),
            "negative_mass": float(-neg.sum()),
        }
