r"""The grid LP's certificate: the dual data that proves its upper bound.

The LP :math:`\max q^\top z` s.t. :math:`Az \le 0`, :math:`lo \le z \le hi` relaxes the design
problem for any set of pair rows, and for every :math:`y \ge 0` weak duality with the variable box
gives

.. math::

    \max_U \Pi \;\le\; \sum_j \max(lo_j r_j,\, hi_j r_j) + \text{allowances},
    \qquad r = q - A^\top y .

The certificate keeps what that inequality is evaluated on: the points and masses of the
discretisation, the pair rows and the dual vector, and the terms of the bound. On a polytope
allocation set the rows :math:`a_k \cdot g_i \le s_k` and their duals join them, and the bound
gains :math:`y_X^\top s`.

With a symmetry group (``docs/math/grid_lp.md``, symmetry) the LP is the one on orbit
representatives: ``points`` are the representatives, ``masses`` the orbit masses, each pair row
evaluates the source's plane at an image :math:`T P_j` of its target (``pair_transform``), and
``orbit_allowance`` is added to the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["LPCertificate"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class LPCertificate:
    r"""Dual data behind a grid-LP upper bound.

    Attributes
    ----------
    bound : float
        The certified upper bound (``dual_objective`` plus the allowances, rounded up).
    dual_objective : float
        :math:`\sum_j \max(lo_j r_j, hi_j r_j)` at the clipped duals.
    roundoff_allowance, quadrature_allowance : float
        Rigorous allowances for floating-point round-off and for the estimated error of the
        discretised masses.
    points : array of shape (N, n)
        The LP's points :math:`P_i` (mesh corners, barycentres, the belief).
    masses : array of shape (N,)
        Their signed masses :math:`m_i`.
    pair_source, pair_target : int arrays of shape (R,)
        The pair rows :math:`u_j \ge u_i + g_i\cdot(P_j - P_i)` as ``(i, j)``.
    duals : array of shape (R,) or None
        Row duals :math:`y` the bound was evaluated at (None: no duals, the trivial bound).
    stage, round : int
        Refinement stage and cutting-plane round of the LP solve that gave the bound.
    lp_status : str
        The LP solver's status at that solve (the bound is valid whatever it is).
    symmetry : str
        The symmetry group the LP was folded with, in words (``""``: none).
    group_order : int
        Its number of elements (1: no folding).
    pair_transform : int array of shape (R,) or None
        Per pair row, the group element applied to the target, coded position by position in
        base :math:`2n` (digit at position :math:`d`: the canonical slot whose coordinate lands
        there, plus :math:`n` when it is negated); None without folding.
    orbit_allowance : float
        The folding allowance (floating-point mismatch of orbits, orbit sums), included in
        ``bound``.
    allocation_normals, allocation_bounds : arrays of shape (K, n), (K,) or None
        A polytope allocation set: the rows :math:`a_k\cdot g_i \le s_k` the LP has at every
        plane point (the points of positive mass and the belief), in that order; None on a box.
    allocation_duals : array of shape (P K,) or None
        Their duals :math:`y_X` (the bound adds :math:`y_X^\top s`).
    """

    bound: float
    dual_objective: float
    roundoff_allowance: float
    quadrature_allowance: float
    points: FloatArray
    masses: FloatArray
    pair_source: IntArray
    pair_target: IntArray
    duals: FloatArray | None
    stage: int = 0
    round: int = 0
    lp_status: str = ""
    symmetry: str = ""
    group_order: int = 1
    pair_transform: IntArray | None = None
    orbit_allowance: float = 0.0
    allocation_normals: FloatArray | None = None
    allocation_bounds: FloatArray | None = None
    allocation_duals: FloatArray | None = None

    @property
    def goods(self) -> int:
        return int(np.asarray(self.points).shape[1])

    def summary(self) -> dict[str, Any]:
        """JSON-friendly numbers (no arrays)."""
        return {"type": "lp", "bound": self.bound, "dual_objective": self.dual_objective,
                "roundoff_allowance": self.roundoff_allowance,
                "quadrature_allowance": self.quadrature_allowance,
                "points": int(np.asarray(self.points).shape[0]),
                "pairs": int(np.asarray(self.pair_source).size), "stage": self.stage,
                "round": self.round, "lp_status": self.lp_status, "symmetry": self.symmetry,
                "group_order": self.group_order, "orbit_allowance": self.orbit_allowance,
                "allocation_rows": 0 if self.allocation_normals is None else
                int(np.asarray(self.allocation_normals).shape[0])}
