r"""Dense optimal transport from the positive to the negative point masses (``ot.emd``).

.. math::

    \min_{\pi \ge 0} \sum_{x, y} \pi_{xy}\, d(x, y) \quad \text{s.t.} \quad
    \sum_y \pi_{xy} = m_x \;(m_x > 0), \qquad \sum_x \pi_{xy} = -m_y \;(m_y < 0)

over the points of :meth:`amm_opt.discretisation.GridMeasure.point_masses`. The cost matrix has
(sources × sinks) entries, so memory grows like the square of the grid size; the grid flow
(:mod:`.flow`) solves the same problem in O(grid) memory.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import NDArray

from ...certificates.transport import pair_costs, work_per_cost
from ...discretisation import GridMeasure
from ...problem import Problem
from ...result import Status
from .pot import (
    PlanOutcome,
    allocation_vertices,
    balance_through_atom,
    elapsed,
    make_certificate,
    run_pot_emd,
)

__all__ = ["dense_cost_matrix", "dense_size", "solve_dense"]

FloatArray = NDArray[np.float64]
_KIND_ATOM = 2
_CHUNK_ENTRIES = 1 << 22      # scratch floats per chunk of costs (work_per_cost per entry)


def _sources_and_sinks(gm: GridMeasure):
    points, masses, kind = gm.point_masses()
    balanced = balance_through_atom(masses, kind == _KIND_ATOM)
    pos = balanced > 0
    return points, masses, kind, pos, balanced


def dense_size(gm: GridMeasure) -> tuple[int, int]:
    """``(sources, sinks)`` of the dense problem."""
    _, masses, _ = gm.point_masses()
    return int((masses > 0).sum()), int((masses < 0).sum())


def dense_cost_matrix(problem: Problem, kind: str, sources: FloatArray, sinks: FloatArray,
                      from_atom: NDArray[np.bool_]) -> FloatArray:
    """Ground-cost matrix of shape (len(sources), len(sinks)), evaluated in row chunks."""
    n = problem.goods
    verts = allocation_vertices(problem)
    per_row = max(1, len(sinks) * work_per_cost(kind, n, verts))
    rows = max(1, _CHUNK_ENTRIES // per_row)
    out = np.empty((len(sources), len(sinks)))
    for start in range(0, len(sources), rows):
        sl = slice(start, start + rows)
        out[sl] = pair_costs(kind, sources[sl, None, :], sinks[None, :, :], from_atom[sl, None],
                             problem.belief, problem.allocation_low, problem.allocation_high,
                             vertices=verts)
    return out


def solve_dense(problem: Problem, gm: GridMeasure, kind: str, num_iter_max: int,
                deadline: float = math.inf) -> PlanOutcome:
    """Exact transport plan with POT's dense network simplex; certificate of structure plan."""
    start = time.perf_counter()
    points, masses, pkind, pos, balanced = _sources_and_sinks(gm)
    src_pts, dst_pts = points[pos], points[~pos]
    cost = dense_cost_matrix(problem, kind, src_pts, dst_pts, pkind[pos] == _KIND_ATOM)
    cost_seconds = elapsed(start)
    plan, solver_cost, status, message, caught, shift = run_pot_emd(
        balanced[pos], -balanced[~pos], cost, num_iter_max, deadline)
    info = {"sources": int(pos.sum()), "sinks": int((~pos).sum()),
            "cost_matrix_seconds": cost_seconds, "solver_warnings": caught,
            "rebalance_shift": shift}
    if status is not Status.OPTIMAL:
        # An unfinished network simplex may still carry flow on artificial arcs: never a bound.
        return PlanOutcome(kind, "dense", status, None, None, elapsed(start), message, info)
    rows, cols = np.nonzero(plan)
    order = np.concatenate([np.flatnonzero(pos), np.flatnonzero(~pos)])
    cert = make_certificate(
        problem, gm, kind, points[order], masses[order], pkind[order], rows,
        cols + int(pos.sum()), plan[rows, cols], structure="plan", solver_cost=solver_cost,
        method="dense POT network simplex (ot.emd)")
    return PlanOutcome(kind, "dense", status, cert, solver_cost, elapsed(start), message, info)
