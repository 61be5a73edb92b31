"""Shared pieces of the transport-dual backend: outcome record, POT call with status mapping."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...certificates.transport import TransportCertificate
from ...discretisation import GridMeasure
from ...problem import Problem
from ...result import Status, status_from_table

__all__ = ["PlanOutcome", "allocation_vertices", "balance_through_atom", "exactly_balanced",
           "make_certificate", "run_pot_emd"]

FloatArray = NDArray[np.float64]

# POT's network simplex return codes (ot.lp.emd_wrap: INFEASIBLE, OPTIMAL, UNBOUNDED,
# MAX_ITER_REACHED). Anything else maps to FAILED.
# POT result codes, and ours for a solve stopped at its time limit.
_TIMED_OUT = -1
POT_STATUS = {1: Status.OPTIMAL, 3: Status.ITERATION_LIMIT, 0: Status.INFEASIBLE,
              _TIMED_OUT: Status.TIME_LIMIT}
_POT_INFEASIBLE = 0


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


def allocation_vertices(problem: Problem) -> FloatArray | None:
    """The allocation polytope's vertices, shape (V, goods), or None for a box (whose separable
    support function is the fast path of :func:`~amm_opt.certificates.transport.pair_costs`)."""
    if problem.allocation_is_box:
        return None
    return np.asarray(problem.allocation.vertices, dtype=np.float64)


def balance_through_atom(masses: FloatArray, atom: NDArray[np.bool_]) -> FloatArray:
    """Masses whose total is 0, changed only where the certificate allows it.

    The atom at :math:`c` takes the negative of the other masses' total (its residual is free:
    :math:`u(c) = 0`). The atom can only supply mass, so when the others' total is positive
    (the discretised masses of a badly integrated density need not balance) the atom gets 0 and
    the positive masses are scaled down to the total of the negative ones; the certificate
    charges the mass left behind at the largest utility, so the bound stays valid.
    """
    balanced = np.asarray(masses, dtype=np.float64).copy()
    balanced[atom] = 0.0
    total = float(balanced.sum())
    if total <= 0:
        balanced[atom] = -total
        return balanced
    positive = balanced > 0
    supply = float(balanced[positive].sum())
    balanced[positive] *= (supply - total) / supply
    return balanced


def exactly_balanced(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    r"""Round ``a`` and ``b`` to a common dyadic quantum so that their sums agree *exactly*.

    POT's network simplex declares a problem infeasible when the supplies and demands, summed in
    double precision in its own order, differ by more than a few ulps of 1 — which round-off
    alone exceeds on large grids (seen at 40³ points). With every entry an integer multiple of
    :math:`q = 2^{\lceil\log_2 S\rceil + 2 - 53}` (:math:`S` the larger total), every partial
    sum is an integer multiple of :math:`q` below :math:`2^{53} q`, hence exact in any order;
    the integer surplus is then taken off the largest entry. Each entry moves by at most
    :math:`q/2 \approx 2^{-52} S` (plus the surplus on one entry); the certificate recomputes
    the imbalance against the true masses and charges it, so the bound stays valid. The shift
    grows with the totals, so it is used only when POT rejects the unrounded marginals.
    """
    total = max(float(a.sum()), float(b.sum()), 1e-300)
    quantum = 2.0 ** (int(np.ceil(np.log2(total))) + 2 - 53)
    ia = np.rint(np.asarray(a, dtype=np.float64) / quantum).astype(np.int64)
    ib = np.rint(np.asarray(b, dtype=np.float64) / quantum).astype(np.int64)
    surplus = int(ia.sum()) - int(ib.sum())
    if surplus > 0:
        ia[np.argmax(ia)] -= surplus
    else:
        ib[np.argmax(ib)] += surplus
    return ia * quantum, ib * quantum


def _emd(a: FloatArray, b: FloatArray, cost: Any, num_iter_max: int,
         deadline: float = math.inf) -> tuple[Any, Any, list[str]]:
    """``ot.emd`` here, or, with a finite ``deadline``, in a child process stopped at it (the
    network simplex cannot be interrupted from Python)."""
    if math.isinf(deadline):
        return _emd_here(a, b, cost, num_iter_max)
    remaining = deadline - time.perf_counter()
    if remaining > 0:
        result = _emd_in_child(a, b, cost, num_iter_max, remaining)
        if result is not None:
            return result
    return None, {"result_code": _TIMED_OUT, "cost": math.nan,
                  "warning": "time limit reached during the network simplex"}, []


def _emd_child(conn: Any, a: FloatArray, b: FloatArray, cost: Any, num_iter_max: int) -> None:
    conn.send(_emd_here(a, b, cost, num_iter_max))
    conn.close()


def _emd_in_child(a: FloatArray, b: FloatArray, cost: Any, num_iter_max: int,
                  seconds: float) -> tuple[Any, Any, list[str]] | None:
    """Run :func:`_emd_here` in a child process; None if it has not answered in ``seconds``."""
    import multiprocessing as mp

    import ot  # noqa: F401  (imported once here, so that a forked child need not import it)

    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_emd_child, args=(send, a, b, cost, num_iter_max), daemon=True)
    proc.start()
    send.close()
    try:
        if not receive.poll(seconds):
            return None
        return receive.recv()
    except (EOFError, OSError):
        return None
    finally:
        receive.close()
        if proc.is_alive():
            proc.kill()
        proc.join()


def _emd_here(a: FloatArray, b: FloatArray, cost: Any, num_iter_max: int
              ) -> tuple[Any, Any, list[str]]:
    import ot

    with warnings.catch_warnings(record=True) as caught:
        # POT reports "numItermax reached" and similar conditions as warnings; they become
        # statuses here (and must not escape: test suites run with warnings as errors).
        warnings.simplefilter("always")
        plan, log = ot.emd(a, b, cost, numItermax=int(num_iter_max), log=True,
                           check_marginals=False)
    return plan, log, [f"{w.category.__name__}: {w.message}" for w in caught]


def run_pot_emd(a: FloatArray, b: FloatArray, cost: Any, num_iter_max: int,
                deadline: float = math.inf) -> tuple[Any, float, Status, str, list[str], float]:
    """``ot.emd`` with its warnings captured and its result code mapped to a :class:`Status`.

    ``cost`` is a dense array or a ``scipy.sparse.coo_array`` (POT's sparse network simplex).
    When POT finds the totals of ``a`` and ``b`` unequal beyond its few-ulp tolerance (round-off
    on large grids), the problem is solved again with :func:`exactly_balanced` marginals.
    Returns ``(plan, cost, status, message, warnings, shift)``; ``shift`` is the total mass the
    rebalancing moved (0 when none was needed), the extra imbalance the certificate may show.
    """
    plan, log, messages = _emd(a, b, cost, num_iter_max, deadline)
    shift = 0.0
    if int(log["result_code"]) == _POT_INFEASIBLE:
        a2, b2 = exactly_balanced(a, b)
        shift = float(np.abs(a2 - a).sum() + np.abs(b2 - b).sum())
        plan, log, retry = _emd(a2, b2, cost, num_iter_max, deadline)
        messages += [f"marginals rebalanced exactly (moved {shift:.3g} in total)", *retry]
    code = int(log["result_code"])
    status = status_from_table(code, POT_STATUS)
    text = str(log.get("warning") or "") or ("optimal" if status is Status.OPTIMAL else
                                             f"POT result code {code}")
    return plan, float(log["cost"]), status, text, messages, shift


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
        quadrature_error=gm.quadrature_error, solver_cost=solver_cost, method=method,
        allocation_vertices=allocation_vertices(problem))


def elapsed(start: float) -> float:
    return time.perf_counter() - start
