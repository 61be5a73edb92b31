r"""The grid LP's points folded onto orbit representatives of a symmetry group.

On a grid invariant under the group :math:`G` (:mod:`amm_opt.symmetry`) the placed measure is
invariant too, so for a :math:`G`-invariant utility :math:`u`

.. math::

    \sum_i m_i\, u(P_i) \;\le\; \sum_{o} M_o\, u(c + r_o) + A,
    \qquad M_o = \sum_{i \in o} m_i ,

one value per orbit :math:`o` with representative :math:`r_o` (canonical, in coordinates
:math:`w = v - c`). Orbits are found from the grid's **integer** indices (exact), and the
allowance :math:`A` pays, through the Lipschitz bound :math:`|u(x) - u(y)| \le
\sum_d \max(|l_d|, |h_d|)\,|x_d - y_d|`, for everything floating point does not make exact: the
rounding of :math:`P_i - c`, a member's canonical point differing from its representative by
ulps (products of the same factors in another order), the summation of the orbit masses, and the
barycentres' storage (counted on the masses before merging). The derivation is in
``docs/math/grid_lp.md``, symmetry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...discretisation import GridMeasure
from ...errors import OptionError
from ...problem import Problem
from ...symmetry import SymmetryGroup
from ..checks import require_finite_measure
from .model import LPData, facet_rows

__all__ = ["OrbitPoints", "check_invariant_grid", "grid_subgroup", "orbit_lp_data",
           "orbit_points"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_EPS = float(np.finfo(np.float64).eps) / 2          # unit round-off u = 2**-53
# Breakpoints of a reflected axis must mirror about c to this many ulps of the box scale.
_MIRROR_ULPS = 64


def _gamma(k: float) -> float:
    return k * _EPS / (1.0 - k * _EPS)


@dataclass(frozen=True)
class OrbitPoints:
    """Orbit representatives of the grid LP's points.

    Attributes
    ----------
    points : array of shape (R, n)
        Canonical representatives in coordinates :math:`w = v - c` (the belief is the row of
        zeros).
    masses : array of shape (R,)
        Orbit masses :math:`M_o` (coincident representatives merged).
    belief_index : int
    quadrature_error : float
        As in :class:`~amm_opt.solvers.grid_lp.mesh.MeshPoints`.
    allowance : float
        The folding allowance :math:`A` (module docstring), rounded up.
    full_points : int
        Points of the unfolded LP (for reporting).
    """

    points: FloatArray
    masses: FloatArray
    belief_index: int
    quadrature_error: float
    allowance: float
    full_points: int


def check_invariant_grid(problem: Problem, group: SymmetryGroup,
                         axes: tuple[FloatArray, ...]) -> None:
    """Raise :class:`~amm_opt.errors.OptionError` (field ``grid``) unless the grid is invariant:
    equal breakpoints within a class, and breakpoints mirrored about :math:`c_i` on reflected
    goods (to a few ulps; the allowance pays for the rest)."""
    c = np.asarray(problem.belief, dtype=np.float64)
    for cls, refl in zip(group.classes, group.reflect, strict=True):
        first = axes[cls[0]]
        for i in cls[1:]:
            if axes[i].shape != first.shape or not np.array_equal(axes[i], first):
                raise OptionError(f"goods {cls[0]} and {i} are exchanged by the symmetry group "
                                  "but have different breakpoints", field="grid",
                                  value=[len(a) - 1 for a in axes],
                                  allowed="the same cells for goods of one class, or "
                                          "symmetry='none'")
        if refl:
            for i in cls:
                if not _mirrored(axes[i], float(c[i])):
                    raise OptionError(f"the breakpoints of good {i} are not mirrored about "
                                      f"c = {c[i]}, which the reflection needs", field="grid",
                                      value=axes[i].tolist(),
                                      allowed="breakpoints symmetric about the belief (any "
                                              "number of equal cells is), or symmetry='none'")


def _mirrored(axis: FloatArray, center: float) -> bool:
    w = axis - center
    scale = float(np.max(np.abs(w)))
    return bool(np.allclose(w, -w[::-1], rtol=0.0, atol=_MIRROR_ULPS * _EPS * scale))


def grid_subgroup(problem: Problem, group: SymmetryGroup, axes: tuple[FloatArray, ...]
                  ) -> SymmetryGroup:
    """The largest subgroup of ``group`` (of the same form) that leaves the grid invariant:
    classes split by equal breakpoints, reflections kept where the breakpoints mirror."""
    c = np.asarray(problem.belief, dtype=np.float64)
    classes: list[tuple[int, ...]] = []
    reflect: list[bool] = []
    for cls, refl in zip(group.classes, group.reflect, strict=True):
        parts: list[list[int]] = []
        for i in cls:
            for part in parts:
                if axes[part[0]].shape == axes[i].shape and np.array_equal(axes[part[0]], axes[i]):
                    part.append(i)
                    break
            else:
                parts.append([i])
        for part in parts:
            classes.append(tuple(part))
            reflect.append(refl and _mirrored(axes[part[0]], float(c[part[0]])))
    return SymmetryGroup(tuple(classes), tuple(reflect))


def _orbit_ids(group: SymmetryGroup, index: IntArray, top: IntArray) -> tuple[IntArray, IntArray]:
    """``(orbit id per row, first row of each orbit)`` from integer grid indices."""
    canon = group.canonical_index(index, top)
    radix = (top + 1).astype(np.int64)
    code = np.zeros(len(canon), dtype=np.int64)
    for d in range(canon.shape[1]):
        code = code * radix[d] + canon[:, d]
    _, first, inv = np.unique(code, return_index=True, return_inverse=True)
    return inv.ravel().astype(np.int64), first.astype(np.int64)


def orbit_points(problem: Problem, gm: GridMeasure, group: SymmetryGroup) -> OrbitPoints:
    """Fold the tensor-grid measure ``gm`` (on an invariant grid) onto orbit representatives."""
    check_invariant_grid(problem, group, gm.axes)
    c = np.asarray(problem.belief, dtype=np.float64)
    n = gm.goods
    shape = np.asarray(gm.shape, dtype=np.int64)
    parts_w, parts_m, parts_id, parts_rep = [], [], [], []
    offset = 0
    vm = gm.vertex_mass
    for kind, masses, top in ((0, vm, shape), (1, gm.cell_mass, shape - 1)):
        idx = np.argwhere(masses > 0).astype(np.int64)
        if not len(idx):
            continue
        if kind == 0:
            pts = np.column_stack([gm.axes[d][idx[:, d]] for d in range(n)])
            mass = masses[tuple(idx.T)]
        else:
            pts = gm.cell_barycenter[tuple(idx.T)]
            mass = -masses[tuple(idx.T)]
        w = pts - c
        inv, first = _orbit_ids(group, idx, top)
        parts_w.append(w)
        parts_m.append(mass)
        parts_id.append(inv + offset)
        parts_rep.append(group.canonical(w[first]))
        offset += len(first)
    parts_w.append(np.zeros((1, n)))
    parts_m.append(np.array([gm.atom_mass]))
    parts_id.append(np.array([offset], dtype=np.int64))
    parts_rep.append(np.zeros((1, n)))
    w = np.vstack(parts_w)
    mass = np.concatenate(parts_m)
    orbit = np.concatenate(parts_id)
    reps = np.vstack(parts_rep)
    # Coincident representatives (e.g. the belief on a vertex) share one value.
    upts, pinv = np.unique(reps, axis=0, return_inverse=True)
    point = pinv.ravel()[orbit]
    masses = np.bincount(point, weights=mass, minlength=len(upts))
    belief = int(pinv.ravel()[-1])
    allowance = _allowance(problem, group, w, mass, point, upts)
    return OrbitPoints(points=upts, masses=masses, belief_index=belief,
                       quadrature_error=gm.quadrature_error, allowance=allowance,
                       full_points=len(mass))


def _allowance(problem: Problem, group: SymmetryGroup, w: FloatArray, mass: FloatArray,
               point: IntArray, reps: FloatArray) -> float:
    r""":math:`A`: folding mismatch, rounding of :math:`P - c`, orbit sums, barycentre storage.

    Each term is a sum of non-negative float terms; the computed value is inflated by
    :math:`\gamma_{N + n + 8}` and rounded up, which covers its own evaluation.
    """
    lip = np.maximum(np.abs(problem.allocation_low), np.abs(problem.allocation_high))
    absm = np.abs(mass)
    # |canonical(w_i) - r_o| (exact differences are within one rounding of the computed ones).
    mismatch = np.abs(group.canonical(w) - reps[point]) * (1 + 2 * _EPS)
    # |fl(P - c) - (P - c)| <= u |P - c| <= u |fl(P - c)| (1 + u).
    rounding = 2 * _EPS * np.abs(w)
    fold = float(absm @ ((mismatch + rounding) @ lip))
    # Orbit masses summed in float: |error| <= gamma_k sum |m|, times the cap of the value.
    count = np.bincount(point, minlength=len(reps)).astype(np.float64)
    abs_sum = np.bincount(point, weights=absm, minlength=len(reps))
    cap = problem.support_function(reps) * (1 + 8 * (reps.shape[1] + 2) * _EPS)
    gam = (count + 1) * _EPS / (1 - (count + 1) * _EPS)
    sums = float((gam * abs_sum * cap).sum())
    # Barycentres stored in float (as in certified_bound, on the masses before merging).
    scale = float(np.maximum(np.abs(problem.value_low), np.abs(problem.value_high)).sum())
    negative = float(np.maximum(-mass, 0.0).sum())
    position = 256 * _EPS * float(lip.max()) * scale * negative
    total = (fold + sums + position) * (1 + _gamma(len(mass) + w.shape[1] + 8))
    return float(np.nextafter(total, np.inf))


def orbit_lp_data(problem: Problem, op: OrbitPoints, planes: str = "positive") -> LPData:
    """The LP's columns on the representatives (coordinates :math:`w = v - c`): the same layout
    as :meth:`LPData.build`, caps :math:`\\sigma_X(r_o)`, planes at positive orbit mass."""
    pts, n = op.points, op.points.shape[1]
    require_finite_measure(op.masses, op.quadrature_error, problem)
    count = len(pts)
    has_plane = np.ones(count, dtype=bool) if planes == "all" else op.masses > 0
    has_plane[op.belief_index] = True
    cap = problem.support_function(pts) * (1.0 + 8 * (n + 2) * _EPS) + np.finfo(np.float64).tiny
    cap[op.belief_index] = 0.0
    g_low = np.where(has_plane[:, None], problem.allocation_low[None, :], 0.0)
    g_high = np.where(has_plane[:, None], problem.allocation_high[None, :], 0.0)
    lower = np.column_stack([np.zeros(count), g_low]).ravel()
    upper = np.column_stack([cap, g_high]).ravel()
    cost = np.column_stack([op.masses, np.zeros((count, n))]).ravel()
    c = np.asarray(problem.belief, dtype=np.float64)
    corners = np.array(np.meshgrid(*zip(problem.value_low, problem.value_high, strict=True),
                                   indexing="ij")).reshape(n, -1).T
    u_max = float(problem.support_function(corners - c).max()) * (1.0 + 8 * (n + 2) * _EPS)
    scale = float(np.maximum(np.abs(problem.value_low), np.abs(problem.value_high)).sum())
    # A polytope X is invariant under the group, so the rows a.g <= s at the representatives'
    # plane points keep every image's gradient in X too.
    normals, bounds = facet_rows(problem)
    return LPData(pts, op.masses, op.belief_index, lower, upper, cost, u_max,
                  op.quadrature_error, scale, has_plane, normals, bounds)
