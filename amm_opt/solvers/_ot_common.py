"""Shared pieces of the transport-dual backend: outcome record, POT call with status mapping."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..measure import GridMeasure
from ..problem import Problem
from ..result import Status, status_from_table
from ..transport import TransportCertificate

__all__ = ["PlanOutcome", "make_certificate", "run_pot_emd"]

FloatArray = NDArray[np.float64]

# POT's network simplex return codes (ot.lp.emd_wrap: INFEASIBLE, OPTIMAL, UNBOUNDED,
# MAX_ITER_REACHED). Anything else maps to FAILED.
POT_STATUS = {1: Status.OPTIMAL, 3: Status.ITERATION_LIMIT, 0: Status.INFEASIBLE}


@dataclass
class PlanOutcome:
    """One ground cost solved by one method."""

    kind: str
    method: str
    status: Status
    certificate: TransportCertificate | None
    solver_cost: float | None
    seconds: float
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)


def run_pot_emd(a: FloatArray, b: FloatArray, cost: Any, num_iter_max: int
                ) -> tuple[Any, float, Status, str, list[str]]:
    """``ot.emd`` with its warnings captured and its result code mapped to a :class:`Status`.

    ``cost`` is a dense array or a ``scipy.sparse.coo_array`` (POT's sparse network simplex).
    Returns ``(plan, cost, status, message, warnings)``.
    """
    import ot

    with warnings.catch_warnings(record=True) as caught:
        # POT reports "numItermax reached" and similar conditions as warnings; they become
        # statuses here (and must not escape: test suites run with warnings as errors).
        warnings.simplefilter("always")
        plan, log = ot.emd(a, b, cost, numItermax=int(num_iter_max), log=True,
                           check_marginals=False)
    messages = [f"{w.category.__name__}: {w.message}" for w in caught]
    code = int(log["result_code"])
    status = status_from_table(code, POT_STATUS)
    text = str(log.get("warning") or "") or ("optimal" if status is Status.OPTIMAL else
                                             f"POT result code {code}")
    return plan, float(log["cost"]), status, text, messages


def make_certificate(problem: Problem, gm: GridMeasure, kind: str, points: FloatArray,
                     masses: FloatArray, point_kind: NDArray[np.int8],
                     source: NDArray[np.int64], target: NDArray[np.int64], flow: FloatArray,
                     *, structure: str, solver_cost: float | None, method: str
                     ) -> TransportCertificate:
    """Certificate from solver flows: drop zero flows, clip round-off negatives to 0 (the
    certificate charges the resulting imbalance, so clipping cannot make it invalid)."""
    flow = np.asarray(flow, dtype=np.float64)
    keep = flow > 0
    return TransportCertificate(
        points=points, masses=masses, point_kind=point_kind,
        source=np.asarray(source, dtype=np.int64)[keep],
        target=np.asarray(target, dtype=np.int64)[keep], flow=flow[keep], kind=kind,
        belief=np.asarray(problem.belief), allocation_low=problem.allocation_low,
        allocation_high=problem.allocation_high, value_low=problem.value_low,
        value_high=problem.value_high, grid=gm.shape, structure=structure,
        quadrature_error=gm.quadrature_error, solver_cost=solver_cost, method=method)


def elapsed(start: float) -> float:
    return time.perf_counter() - start
