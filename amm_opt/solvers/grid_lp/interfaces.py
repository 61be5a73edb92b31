"""LP solver interfaces for the grid LP: direct HiGHS (incremental, warm started), SciPy's HiGHS,
and cvxpy (HIGHS, CLARABEL, SCS, MOSEK).

Every interface solves :math:`\\max q^\\top z` s.t. :math:`Az \\le 0`, :math:`lo \\le z \\le hi`
(and, on a polytope allocation set, the fixed rows :math:`A_X z \\le s` of
:func:`~.model.allocation_rows`) and returns the primal point and row duals :math:`y \\ge 0` of the
maximisation, the pair rows' and the polytope rows' apart (sign conventions of each solver are
converted here). Duals are only ever used through
:func:`amm_opt.solvers.grid_lp.model.certified_bound`, which is valid for any :math:`y`.
All solver modules are imported lazily, inside the functions.
"""

from __future__ import annotations

import functools
import importlib.util
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ...result import Status, status_from_table
from .model import LPData, allocation_rows, pair_rows

__all__ = ["CVXPY_SOLVERS", "INTERFACES", "LPSolution", "RowStore", "make_interface",
           "mosek_availability"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

CVXPY_SOLVERS = ("HIGHS", "CLARABEL", "SCS", "MOSEK")
INTERFACES = ("auto", "highspy", "scipy", "cvxpy")


@dataclass
class LPSolution:
    """One LP solve: status, primal ``z`` (or None), row duals ``y`` of the max problem."""

    status: Status
    raw_status: str
    z: FloatArray | None
    y: FloatArray | None
    seconds: float
    iterations: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    #: Duals of the polytope rows (None on a box, or when the solver gave none).
    y_allocation: FloatArray | None = None


class RowStore:
    """Pair rows accumulated in CSR pieces, with the pairs ``(i, j)`` they came from (for the
    interfaces that rebuild the model, and types_lp's dual LP)."""

    def __init__(self, data: LPData) -> None:
        self.data = data
        self.blocks: list[sp.csr_matrix] = []
        self.ends: list[tuple[IntArray, IntArray]] = []
        self.count = 0

    def add(self, i: IntArray, j: IntArray, targets: FloatArray | None = None
            ) -> sp.csr_matrix:
        from .model import pair_matrix

        # A row from a point without a plane would use its gradient, fixed at 0: not a
        # relaxation any more, so the bound could be invalid. Never let one in.
        if not self.data.has_plane[np.asarray(i, dtype=np.int64)].all():
            raise ValueError("pair rows may only start at points with a tangent plane")

        block = pair_matrix(self.data.points, i, j, targets)
        self.blocks.append(block)
        self.ends.append((np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)))
        self.count += block.shape[0]
        return block

    def pairs(self) -> tuple[IntArray, IntArray]:
        """``(i, j)`` of every row, in row order."""
        if not self.ends:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        if len(self.ends) > 1:
            self.ends = [(np.concatenate([e[0] for e in self.ends]),
                          np.concatenate([e[1] for e in self.ends]))]
        return self.ends[0]

    def matrix(self) -> sp.csr_matrix:
        if not self.blocks:
            return sp.csr_matrix((0, self.data.columns))
        if len(self.blocks) > 1:
            self.blocks = [sp.vstack(self.blocks, format="csr")]
        return self.blocks[0]


# ---------------------------------------------------------------------------------------------
# Direct HiGHS through highspy: the model lives in the solver, rows are appended, and the dual
# simplex restarts from the previous basis (warm start).
# ---------------------------------------------------------------------------------------------
def _highs_table() -> dict[Any, Status]:
    import highspy

    ms = highspy.HighsModelStatus
    return {ms.kOptimal: Status.OPTIMAL, ms.kTimeLimit: Status.TIME_LIMIT,
            ms.kIterationLimit: Status.ITERATION_LIMIT, ms.kInfeasible: Status.INFEASIBLE,
            ms.kUnknown: Status.INACCURATE}


def _new_highs() -> Any:
    import highspy

    # The public ``Highs()`` wrapper prints HiGHS's banner to stdout while it sets up Python
    # callbacks (which we do not use) before any option can be set; the core object it wraps does
    # not. Fall back to the public class if a future highspy moves the core.
    core = getattr(getattr(highspy, "_core", None), "_Highs", None)
    h = core() if core is not None else highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


class _RowLP:
    """What every interface shares: the LP data and the pair rows added so far."""

    def __init__(self, data: LPData, verbose: bool = False) -> None:
        self.data = data
        self.rows = RowStore(data)
        self.verbose = verbose
        # The polytope rows come first in the solver's row order (fixed for the model's life).
        self.fixed = allocation_rows(data)
        self.fixed_count = 0 if self.fixed is None else int(self.fixed[0].shape[0])

    def split_duals(self, y: FloatArray | None) -> tuple[FloatArray | None, FloatArray | None]:
        """``(pair duals, polytope duals)`` from the duals of all rows in solver order."""
        if y is None or self.fixed_count == 0:
            return y, None
        return y[self.fixed_count:], y[:self.fixed_count]

    def all_rows(self) -> tuple[Any, FloatArray]:
        """Every row (polytope rows, then pair rows) and its right-hand side."""
        a = self.rows.matrix()
        if self.fixed is None:
            return a, np.zeros(a.shape[0])
        return (sp.vstack([self.fixed[0], a], format="csr"),
                np.concatenate([self.fixed[1], np.zeros(a.shape[0])]))

    def add(self, i: IntArray, j: IntArray, targets: FloatArray | None = None) -> None:
        """Append rows ``u_j >= u_i + g_i.(t - P_i)`` with ``t = P_j`` (or ``targets``)."""
        if len(i):
            self.rows.add(i, j, targets)

    def matrix(self) -> sp.csr_matrix:
        return self.rows.matrix()

    def pairs(self) -> tuple[IntArray, IntArray]:
        return self.rows.pairs()


class HighspyLP(_RowLP):
    """Incremental LP in a ``highspy`` model (rows appended, warm-started dual simplex).

    ``method``: a HiGHS ``solver`` ("simplex", "ipm", "choose") for every solve, or "hybrid":
    interior point with crossover while there is no basis (the first solve, or after
    :meth:`reset`), then the dual simplex from the basis for the cutting-plane rounds.
    """

    name = "highspy"

    def __init__(self, data: LPData, method: str = "simplex", verbose: bool = False) -> None:
        import highspy

        super().__init__(data, verbose)
        h = _new_highs()
        if verbose:
            h.setOptionValue("output_flag", True)
        self.method = method
        self.has_basis = False
        if method == "hybrid":
            h.setOptionValue("run_crossover", "on")      # the solver is chosen per solve
        else:
            h.setOptionValue("solver", method)
        lp = highspy.HighsLp()
        lp.num_col_ = data.columns
        lp.num_row_ = 0
        lp.col_cost_ = -data.cost                      # HiGHS minimises
        lp.col_lower_ = data.lower
        lp.col_upper_ = data.upper
        h.passModel(lp)
        self.h = h
        if self.fixed is not None:
            fixed = self.fixed[0]
            status = h.addRows(fixed.shape[0], np.full(fixed.shape[0], -np.inf), self.fixed[1],
                               fixed.nnz, fixed.indptr[:-1].astype(np.int32),
                               fixed.indices.astype(np.int32), fixed.data)
            if status == highspy.HighsStatus.kError:
                raise RuntimeError("HiGHS refused the allocation set's rows")

    def add(self, i: IntArray, j: IntArray, targets: FloatArray | None = None) -> None:
        import highspy

        if len(i) == 0:
            return
        super().add(i, j, targets)
        cols, vals = pair_rows(self.data.points, i, j, targets)
        m, width = cols.shape
        starts = (np.arange(m, dtype=np.int64) * width).astype(np.int32)
        status = self.h.addRows(m, np.full(m, -np.inf), np.zeros(m), cols.size, starts,
                                cols.ravel().astype(np.int32), vals.ravel())
        if status == highspy.HighsStatus.kError:
            raise RuntimeError(f"HiGHS refused {m} pair rows (addRows returned {status})")

    def reset(self) -> None:
        """Forget the basis: the next solve starts cold (the rows stay)."""
        self.h.clearSolver()
        self.has_basis = False

    def solve(self, time_limit: float | None) -> LPSolution:
        h = self.h
        if self.method == "hybrid":
            h.setOptionValue("solver", "simplex" if self.has_basis else "ipm")
        # HiGHS compares its time limit with the run time accumulated over all runs of this
        # object (the cutting-plane rounds), so the budget is added to what has been used.
        limit = h.getRunTime() + float(time_limit) if time_limit else np.inf
        h.setOptionValue("time_limit", limit)
        start = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - start
        raw = h.getModelStatus()
        status = status_from_table(raw, _highs_table())
        sol = h.getSolution()
        z = np.asarray(sol.col_value, dtype=np.float64) if sol.value_valid else None
        # min -q.z with rows A z <= 0: HiGHS row duals are <= 0; the max problem's y = -dual.
        y, y_x = self.split_duals(
            -np.asarray(sol.row_dual, dtype=np.float64) if sol.dual_valid else None)
        info = h.getInfo()
        self.has_basis = bool(h.getBasis().valid)
        return LPSolution(status, h.modelStatusToString(raw), z, y, seconds,
                          int(info.simplex_iteration_count),
                          {"ipm_iterations": int(info.ipm_iteration_count)}, y_x)


# ---------------------------------------------------------------------------------------------
# SciPy's bundled HiGHS (always available; no warm start: each round re-solves).
# ---------------------------------------------------------------------------------------------
_SCIPY_TABLE = {0: Status.OPTIMAL, 1: Status.ITERATION_LIMIT, 2: Status.INFEASIBLE,
                4: Status.INACCURATE}


class ScipyLP(_RowLP):
    """``scipy.optimize.linprog(method='highs')`` on the accumulated rows."""

    name = "scipy"

    def __init__(self, data: LPData, method: str = "simplex", verbose: bool = False) -> None:
        super().__init__(data, verbose)
        # No warm start here: "hybrid" is the interior point method (with crossover) throughout.
        # SciPy's HiGHS has no PDLP: "pdlp" falls back to HiGHS's own choice.
        self.method = {"simplex": "highs-ds", "ipm": "highs-ipm",
                       "hybrid": "highs-ipm"}.get(method, "highs")

    def solve(self, time_limit: float | None) -> LPSolution:
        from scipy.optimize import linprog

        d = self.data
        a, b = self.all_rows()
        options: dict[str, Any] = {"disp": self.verbose}
        if time_limit:
            options["time_limit"] = float(time_limit)
        start = time.perf_counter()
        res = linprog(-d.cost, A_ub=a if a.shape[0] else None,
                      b_ub=b if a.shape[0] else None,
                      bounds=np.column_stack([d.lower, d.upper]), method=self.method,
                      options=options)
        seconds = time.perf_counter() - start
        status = status_from_table(res.status, _SCIPY_TABLE)
        if status is Status.ITERATION_LIMIT and time_limit and seconds >= 0.99 * time_limit:
            status = Status.TIME_LIMIT
        z = np.asarray(res.x, dtype=np.float64) if res.x is not None else None
        y = None
        ineq = getattr(res, "ineqlin", None)
        if a.shape[0] and ineq is not None and getattr(ineq, "marginals", None) is not None:
            y = -np.asarray(ineq.marginals, dtype=np.float64)    # min problem: marginals <= 0
        y, y_x = self.split_duals(y)
        return LPSolution(status, f"{res.status}: {res.message}", z, y, seconds,
                          int(getattr(res, "nit", 0) or 0), y_allocation=y_x)


# ---------------------------------------------------------------------------------------------
# cvxpy (the model is rebuilt at every round: no warm start)
# ---------------------------------------------------------------------------------------------
def _cvxpy_table() -> dict[Any, Status]:
    import cvxpy as cp

    return {cp.OPTIMAL: Status.OPTIMAL, cp.OPTIMAL_INACCURATE: Status.INACCURATE,
            cp.USER_LIMIT: Status.ITERATION_LIMIT, cp.INFEASIBLE: Status.INFEASIBLE,
            cp.INFEASIBLE_INACCURATE: Status.INFEASIBLE}


def _time_options(solver: str, time_limit: float | None) -> dict[str, Any]:
    if not time_limit:
        return {}
    t = float(time_limit)
    return {"HIGHS": {"time_limit": t}, "CLARABEL": {"time_limit": t},
            "SCS": {"time_limit_secs": t},
            "MOSEK": {"mosek_params": {"MSK_DPAR_OPTIMIZER_MAX_TIME": t}}}[solver]


class CvxpyLP(_RowLP):
    """The same LP through cvxpy with one of :data:`CVXPY_SOLVERS`."""

    name = "cvxpy"

    def __init__(self, data: LPData, solver: str = "HIGHS", verbose: bool = False) -> None:
        super().__init__(data, verbose)
        self.solver = solver

    def solve(self, time_limit: float | None) -> LPSolution:
        import cvxpy as cp

        d = self.data
        a, b = self.all_rows()
        z = cp.Variable(d.columns)
        rows = a @ z <= b
        prob = cp.Problem(cp.Maximize(d.cost @ z), [rows, z >= d.lower, z <= d.upper])
        start = time.perf_counter()
        try:
            prob.solve(solver=self.solver, verbose=self.verbose,
                       **_time_options(self.solver, time_limit))
        except cp.error.SolverError as exc:
            return LPSolution(Status.FAILED, f"solver error: {exc}", None, None,
                              time.perf_counter() - start)
        seconds = time.perf_counter() - start
        status = status_from_table(prob.status, _cvxpy_table())
        zval = None if z.value is None else np.asarray(z.value, dtype=np.float64)
        yval = None if rows.dual_value is None else np.asarray(rows.dual_value,
                                                               dtype=np.float64).ravel()
        yval, y_x = self.split_duals(yval)
        stats = prob.solver_stats
        iters = int(stats.num_iters) if stats is not None and stats.num_iters is not None else 0
        return LPSolution(status, str(prob.status), zval, yval, seconds, iters, y_allocation=y_x)


# ---------------------------------------------------------------------------------------------
# Availability
# ---------------------------------------------------------------------------------------------
def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _mosek_installed() -> bool:
    return _installed("mosek")


def _mosek_tiny_solve() -> None:
    """Solve a one-variable LP with MOSEK through cvxpy (raises if MOSEK cannot solve)."""
    import cvxpy as cp

    x = cp.Variable()
    prob = cp.Problem(cp.Minimize(x), [x >= 1])
    prob.solve(solver="MOSEK")
    if prob.status != cp.OPTIMAL or abs(float(x.value) - 1.0) > 1e-6:
        raise RuntimeError(f"MOSEK returned status {prob.status} on a one-variable test LP")


@functools.lru_cache(maxsize=1)
def mosek_availability() -> tuple[bool, str]:
    """``(usable, why)`` for MOSEK, probed once with a tiny solve (cached)."""
    if not _mosek_installed():
        return False, "MOSEK is not installed: pip install 'amm-opt[mosek]' (and a licence)"
    if not _installed("cvxpy"):
        return False, "MOSEK is used through cvxpy, which is missing: pip install 'amm-opt[lp]'"
    try:
        _mosek_tiny_solve()
    except Exception as exc:  # MOSEK raises its own error types; report any of them in words
        text = str(exc)
        if "licen" in text.lower():
            return False, f"MOSEK is installed but not licensed ({text.strip()[:200]})"
        return False, f"MOSEK is installed but a test solve failed ({text.strip()[:200]})"
    return True, "MOSEK is installed and licensed"


def interface_availability(interface: str, lp_solver: str) -> tuple[bool, str]:
    """Whether the requested interface/solver pair can run here, and why not."""
    if interface == "highspy":
        if not _installed("highspy"):
            return False, "highspy is not installed: pip install 'amm-opt[lp]'"
        return True, "highspy"
    if interface == "scipy":
        return True, "scipy"
    if not _installed("cvxpy"):
        return False, "cvxpy is not installed: pip install 'amm-opt[lp]'"
    if lp_solver == "MOSEK":
        return mosek_availability()
    module = {"HIGHS": "highspy", "CLARABEL": "clarabel", "SCS": "scs"}[lp_solver]
    if not _installed(module):
        return False, f"{module} (for lp_solver={lp_solver!r}) is not installed: " \
                      "pip install 'amm-opt[lp]'"
    return True, "cvxpy"


def resolve_interface(interface: str, lp_solver: str) -> str:
    """``auto``: direct highspy for HIGHS when installed, else SciPy's HiGHS; cvxpy otherwise."""
    if interface != "auto":
        return interface
    if lp_solver == "HIGHS":
        return "highspy" if _installed("highspy") else "scipy"
    return "cvxpy"


def make_interface(interface: str, data: LPData, lp_solver: str, highs_method: str,
                   verbose: bool) -> HighspyLP | ScipyLP | CvxpyLP:
    if interface == "highspy":
        return HighspyLP(data, highs_method, verbose)
    if interface == "scipy":
        return ScipyLP(data, highs_method, verbose)
    return CvxpyLP(data, lp_solver, verbose)
