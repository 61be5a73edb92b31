r"""One finite-type LP solved by cutting planes, with its certificate.

The first LP has the rows between each type and its ``k`` nearest neighbours (both
orientations) and every row into and out of the belief :math:`c`; each round adds, for every
type below the upper envelope of the current tangent planes, its most violated pair
(:func:`~amm_opt.solvers.grid_lp.separation.find_cuts`, O(N K) work for K distinct planes, never
O(N^2) memory), until no pair is violated by more than ``cut_tol``. Any set of rows is a
relaxation, so the certified bound of every round is valid; at the last round the solution is
feasible for the LP with all pairs up to ``cut_tol``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ...certificates.lp import LPCertificate
from ...errors import UnsupportedProblemError
from ...limits import require_memory
from ...problem import Problem
from ...result import Status
from ..grid_lp.interfaces import make_interface, resolve_interface
from ..grid_lp.model import (
    all_pairs,
    allocation_fields,
    key_pairs,
    pair_keys,
    start_pairs,
)
from ..grid_lp.separation import find_cuts
from .model import TypesData, certified_bound
from .types import TypeSet

__all__ = ["LPOptions", "TypesOutcome", "estimate_bytes", "solve_types"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Bytes per pair row held at once: the row in HiGHS (n + 2 doubles and ints, about three
# copies: the model, the factorisation's row-wise matrix, the CSR copy kept here) and its key.
_BYTES_PER_ROW_ENTRY = 3 * (8 + 4)
# HiGHS primal and dual feasibility tolerance of the types LP.
FEASIBILITY_TOL = 1e-10


class LPOptions(Protocol):
    """The :class:`~amm_opt.solvers.types_lp.TypesLP` options one LP reads."""

    pairs: str
    start_pairs: str
    neighbours: int
    cut_tol: float
    max_cuts: int | None
    cuts_per_point: int
    max_rounds: int
    max_all_pairs: int
    interface: str
    formulation: str
    verbose: bool


@dataclass
class TypesOutcome:
    """How one LP ended: the last solution, the best certificate, status and history."""

    data: TypesData
    z: FloatArray | None
    certificate: LPCertificate | None
    status: Status
    reason: str
    rounds: list[dict[str, Any]] = field(default_factory=list)
    lp_seconds: float = 0.0
    separation_seconds: float = 0.0
    bound_seconds: float = 0.0

    @property
    def upper(self) -> float | None:
        return None if self.certificate is None else self.certificate.bound

    @property
    def pairs(self) -> int:
        return 0 if self.certificate is None else int(self.certificate.pair_source.size)


def estimate_bytes(rows: int, goods: int) -> int:
    """Memory of ``rows`` pair rows in the LP (see ``_BYTES_PER_ROW_ENTRY``)."""
    return int(rows) * (goods + 2) * _BYTES_PER_ROW_ENTRY


def start_rows(data: TypesData, method: str, neighbours: int) -> tuple[IntArray, IntArray]:
    """Delaunay-edge or k-nearest-neighbour pairs (both ways; :func:`~amm_opt.solvers.grid_lp.
    model.start_pairs`) and every pair into the belief (``u_i <= g_i.(t_i - c)``, two nonzeros
    besides the fixed ``u_c``). Pairs *out of* the belief are left to the cuts: all of them
    would make the belief's gradient a dense column of the LP."""
    i, j = start_pairs(data.points, method, neighbours)
    others = np.flatnonzero(np.arange(data.size) != data.belief_index).astype(np.int64)
    c = np.full(others.size, data.belief_index, dtype=np.int64)
    keys = np.unique(np.concatenate([pair_keys(i, j), pair_keys(others, c)]))
    return key_pairs(keys)


def solve_types(problem: Problem, types: TypeSet, options: LPOptions,
                deadline: float = math.inf) -> TypesOutcome:
    """Solve the LP of ``types`` by cutting planes (or with all pairs) before ``deadline``
    (a ``time.perf_counter`` value); the bound of every round is certified."""
    data = TypesData.build(problem, types)
    n = data.goods
    interface = resolve_interface(options.interface, "HIGHS")
    if options.pairs == "all":
        rows = data.size * (data.size - 1)
        if rows > options.max_all_pairs:
            raise UnsupportedProblemError(
                f"pairs='all' needs {rows} pair rows for {data.size} points", field="pairs",
                value=options.pairs, allowed=f"pairs='cuts', or max_all_pairs >= {rows}")
        require_memory(estimate_bytes(rows, n), f"the all-pairs LP of {data.size} types",
                       "pairs", "pairs='cuts' (cutting planes), or subsample=")
        i, j = all_pairs(data.size)
    else:
        i, j = start_rows(data, options.start_pairs, options.neighbours)
        require_memory(estimate_bytes(len(i), n), f"the first LP of {data.size} types",
                       "subsample", "subsample= fewer types, or fewer neighbours")
    if options.formulation == "dual" and interface == "highspy":
        from .dual import DualHighsLP

        lp: Any = DualHighsLP(data, options.verbose)
    else:
        lp = make_interface(interface, data, "HIGHS", "simplex", options.verbose)
    if hasattr(lp, "h"):
        # HiGHS accepts row violations up to its feasibility tolerance (1e-7 by default); a
        # type can then prefer another type's item by that much (see model.types_menu).
        lp.h.setOptionValue("primal_feasibility_tolerance", FEASIBILITY_TOL)
        lp.h.setOptionValue("dual_feasibility_tolerance", FEASIBILITY_TOL)
    lp.add(i, j)
    keys = np.sort(pair_keys(i, j))
    max_cuts = options.max_cuts or max(data.size, 1000) * options.cuts_per_point
    out = TypesOutcome(data=data, z=None, certificate=None, status=Status.ITERATION_LIMIT,
                       reason="max_rounds")
    for rnd in range(options.max_rounds):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            out.status, out.reason = Status.TIME_LIMIT, "time_limit"
            break
        sol = lp.solve(None if math.isinf(remaining) else remaining)
        out.lp_seconds += sol.seconds
        t0 = time.perf_counter()
        matrix = lp.matrix()
        bound, info = certified_bound(data, matrix, sol.y, sol.y_allocation)
        out.bound_seconds += time.perf_counter() - t0
        record: dict[str, Any] = {"round": rnd, "pairs": int(matrix.shape[0]),
                                  "lp_status": sol.status.value, "lp_seconds": sol.seconds,
                                  "iterations": sol.iterations, "upper": bound}
        if out.certificate is None or bound < out.certificate.bound:
            src, dst = lp.pairs()
            out.certificate = LPCertificate(
                bound=bound, dual_objective=info["raw"],
                roundoff_allowance=info["roundoff_allowance"] + info["objective_allowance"],
                quadrature_allowance=0.0, points=data.points, masses=data.weights,
                pair_source=src, pair_target=dst,
                duals=None if sol.y is None else np.asarray(sol.y, dtype=np.float64),
                stage=0, round=rnd, lp_status=sol.status.value,
                **allocation_fields(data, sol.y_allocation))
        if sol.z is not None:
            out.z = sol.z
        out.rounds.append(record)
        if sol.status is not Status.OPTIMAL:
            failed = sol.status in (Status.FAILED, Status.INFEASIBLE)
            out.status = Status.INACCURATE if failed and out.z is not None else sol.status
            out.reason = f"LP {sol.status.value}: {sol.raw_status}"
            break
        if options.pairs == "all":
            out.status, out.reason = Status.OPTIMAL, "all pairs"
            break
        t0 = time.perf_counter()
        u, g = data.split(sol.z)
        cuts = find_cuts(data.points, u, g, options.cut_tol, max_cuts, keys,
                         per_point=options.cuts_per_point)
        out.separation_seconds += time.perf_counter() - t0
        record.update(max_violation=cuts.max_violation, cuts_added=len(cuts.i))
        if not len(cuts.i):
            out.status, out.reason = Status.OPTIMAL, "no violated pairs"
            break
        total = len(keys) + len(cuts.i)
        require_memory(estimate_bytes(total, n), f"the LP of {data.size} types with {total} "
                       "pair rows", "subsample", "subsample= fewer types")
        lp.add(cuts.i, cuts.j)
        keys = np.sort(np.concatenate([keys, pair_keys(cuts.i, cuts.j)]))
    if out.certificate is None:
        # Stopped before any solve: the bound at y = 0 (the column box alone) is still valid.
        src, dst = lp.pairs()
        bound, info = certified_bound(data, lp.matrix(), None)
        out.certificate = LPCertificate(
            bound=bound, dual_objective=info["raw"],
            roundoff_allowance=info["roundoff_allowance"] + info["objective_allowance"],
            quadrature_allowance=0.0, points=data.points, masses=data.weights,
            pair_source=src, pair_target=dst, duals=None, lp_status="not solved",
            **allocation_fields(data, None))
    return out
