r"""The finite-type LP solved through its dual: pair rows become columns.

The LP :math:`\max q^\top z` s.t. :math:`Az \le 0`, :math:`lo \le z \le hi` has the dual

.. math::

    \min_{y, s^\pm \ge 0}\; hi^\top s^+ - lo^\top s^- \quad\text{s.t.}\quad
    A^\top y + s^+ - s^- = q ,

with one row per column of the primal (:math:`N(n + 1)`) instead of one per pair row (about ten
per type at the optimum), so the simplex basis is several times smaller. A cut is a new column
:math:`y_r`: the current basis stays primal feasible and the primal simplex continues from it.
The primal solution :math:`z` is the vector of row duals (HiGHS's convention: reduced costs
:math:`c - A^\top\pi \ge 0` give :math:`lo \le \pi \le hi` and :math:`A\pi \le 0`), and the
certified bound is evaluated at the column values :math:`y`, exactly as for the primal form.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ...result import Status, status_from_table
from ..grid_lp.interfaces import LPSolution, RowStore
from ..grid_lp.model import allocation_rows, pair_rows
from .model import TypesData

__all__ = ["DualHighsLP"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class DualHighsLP:
    """The dual of the finite-type LP in ``highspy`` (columns appended, warm primal simplex);
    the same methods as the grid LP's interfaces (``add``, ``solve``, ``matrix``, ``pairs``)."""

    name = "highspy-dual"

    def __init__(self, data: TypesData, verbose: bool = False) -> None:
        import highspy

        self.data = data
        self.rows = RowStore(data)          # the primal rows, for the certificate
        core = getattr(getattr(highspy, "_core", None), "_Highs", None)
        h = core() if core is not None else highspy.Highs()
        h.setOptionValue("output_flag", bool(verbose))
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 4)                   # primal simplex
        cols = data.columns
        lp = highspy.HighsLp()
        lp.num_col_ = 2 * cols
        lp.num_row_ = cols
        lp.col_cost_ = np.concatenate([data.upper, -data.lower])
        lp.col_lower_ = np.zeros(2 * cols)
        lp.col_upper_ = np.full(2 * cols, np.inf)
        lp.row_lower_ = data.cost.copy()
        lp.row_upper_ = data.cost.copy()
        eye = sp.hstack([sp.identity(cols, format="csc"), -sp.identity(cols, format="csc")],
                        format="csc")
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = eye.indptr.astype(np.int32)
        lp.a_matrix_.index_ = eye.indices.astype(np.int32)
        lp.a_matrix_.value_ = eye.data.astype(np.float64)
        lp.a_matrix_.num_col_ = 2 * cols
        lp.a_matrix_.num_row_ = cols
        h.passModel(lp)
        self.h = h
        # A polytope's rows a_k.g_i <= s_k are dual columns of cost s_k, ahead of the pairs'.
        fixed = allocation_rows(data)
        self.fixed_count = 0 if fixed is None else int(fixed[0].shape[0])
        if fixed is not None:
            csc = fixed[0].T.tocsc()                       # row r of A_X: its dual column
            h.addCols(self.fixed_count, fixed[1], np.zeros(self.fixed_count),
                      np.full(self.fixed_count, np.inf), csc.nnz,
                      csc.indptr[:-1].astype(np.int32), csc.indices.astype(np.int32), csc.data)

    def add(self, i: IntArray, j: IntArray) -> None:
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        if len(i) == 0:
            return
        cols, vals = pair_rows(self.data.points, i, j)      # row r of A: its dual column
        m, width = cols.shape
        starts = (np.arange(m, dtype=np.int64) * width).astype(np.int32)
        self.h.addCols(m, np.zeros(m), np.zeros(m), np.full(m, np.inf), cols.size, starts,
                       cols.ravel().astype(np.int32), vals.ravel())
        self.rows.add(i, j)

    def pairs(self) -> tuple[IntArray, IntArray]:
        return self.rows.pairs()

    def matrix(self) -> sp.csr_matrix:
        return self.rows.matrix()

    def solve(self, time_limit: float | None) -> LPSolution:
        import highspy

        h = self.h
        limit = h.getRunTime() + float(time_limit) if time_limit else np.inf
        h.setOptionValue("time_limit", limit)
        start = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - start
        raw = h.getModelStatus()
        ms = highspy.HighsModelStatus
        table = {ms.kOptimal: Status.OPTIMAL, ms.kTimeLimit: Status.TIME_LIMIT,
                 ms.kIterationLimit: Status.ITERATION_LIMIT, ms.kInfeasible: Status.INFEASIBLE,
                 ms.kUnknown: Status.INACCURATE}
        status = status_from_table(raw, table)
        sol = h.getSolution()
        z = np.asarray(sol.row_dual, dtype=np.float64) if sol.dual_valid else None
        values = np.asarray(sol.col_value, dtype=np.float64) if sol.value_valid else None
        first = 2 * self.data.columns
        y = None if values is None else values[first + self.fixed_count:]
        y_x = None if values is None or not self.fixed_count else \
            values[first:first + self.fixed_count]
        info = h.getInfo()
        return LPSolution(status, h.modelStatusToString(raw), z, y, seconds,
                          int(info.simplex_iteration_count), y_allocation=y_x)
