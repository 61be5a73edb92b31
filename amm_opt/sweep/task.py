"""One point of a sweep, solved on a worker: build its problem, ``solve`` it, return a row.

:func:`solve_point` never raises for a point that fails: every exception becomes a row with
``state = "failed"`` and the error's type and message, so one bad point never stops a sweep.
Rows are plain dictionaries of JSON data (cheap to send back from a process or a Dask worker);
the menu is the versioned JSON of :mod:`amm_opt.io` (``format: amm_opt.menu``).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..errors import AmmOptError
from ..io import SCHEMA_VERSION, json_data, menu_to_dict
from ..result import Result
from .points import point_problem

__all__ = ["PointTask", "menu_json", "resolve_backend", "solve_point"]


@dataclass(frozen=True)
class PointTask:
    """What a worker needs for one point (all of it picklable, none of it user code but
    ``backend`` when that is a Solver subclass, which is sent by reference).

    Attributes
    ----------
    key : str
        The point's key (:func:`amm_opt.sweep.points.point_key`).
    params : dict
        Parameter name -> value at this point.
    problem : dict
        The base problem's description (:func:`amm_opt.sweep.points.problem_data`).
    backend : str, Solver subclass or None
        A registered name, a Solver subclass (registered on the worker under its ``name``), or
        None for :func:`amm_opt.solve`'s automatic choice.
    options : dict
        The backend's options.
    attempt : int
        1 for the first try; retries after a dead worker count up.
    """

    key: str
    params: dict[str, Any]
    problem: dict[str, Any]
    backend: Any
    options: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1


def resolve_backend(backend: Any) -> str | None:
    """The name ``solve`` is called with; a Solver subclass unknown here is registered."""
    if backend is None or isinstance(backend, str):
        return backend
    from ..errors import OptionError, UnknownBackendError
    from ..solvers import Solver, get_solver_class, register_backend

    if not (isinstance(backend, type) and issubclass(backend, Solver) and backend.name):
        raise OptionError("must be a backend name, a Solver subclass with a name, or None",
                          field="backend", value=backend,
                          allowed="e.g. 'grid_lp', 'separate', or a class as in "
                                  "docs/adding_a_backend.md (not a configured instance)")
    try:
        known = get_solver_class(backend.name)
    except UnknownBackendError:
        register_backend(backend.name, backend)
        known = backend
    if known is not backend:
        raise OptionError("names a backend already registered as another class",
                          field="backend", value=backend.name,
                          allowed="a Solver subclass with a name of its own")
    return str(backend.name)


def menu_json(menu: Any) -> str | None:
    """The menu as the versioned JSON text :func:`amm_opt.io.save_menu` writes (inline)."""
    if menu is None:
        return None
    payload = {"format": "amm_opt.menu", "schema": SCHEMA_VERSION, "goods": menu.goods,
               "items": menu.size, **menu_to_dict(menu)}
    return json.dumps(json_data(payload), separators=(",", ":"), allow_nan=False)


def _number(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _row_from_result(result: Result) -> dict[str, Any]:
    b = result.bounds
    return {"state": "done", "status": result.status.value, "backend": result.backend,
            "lower": _number(b.lower), "upper": _number(b.upper), "gap": _number(b.gap),
            "lower_stderr": float(b.lower_stderr), "lower_method": b.lower_method,
            "upper_method": b.upper_method, "message": result.message, "error": None,
            "solve_seconds": _number(result.solve_seconds), "menu": menu_json(result.menu)}


def solve_point(task: PointTask) -> dict[str, Any]:
    """Solve one point; the row to store (``state`` ``"done"`` or ``"failed"``).

    Warnings raised while solving are kept in ``row["warnings"]`` (a list of strings);
    ``point_seconds`` is the wall time on the worker, ``cpu_seconds`` the CPU time of its
    process (their ratio shows how much of a core the point got).
    """
    from ..solving import solve

    start, cpu = time.perf_counter(), time.process_time()
    row: dict[str, Any]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            problem = point_problem(task.problem, task.params)
            result = solve(problem, backend=resolve_backend(task.backend), **task.options)
            row = _row_from_result(result)
        except Exception as exc:  # recorded as the point's failure, never raised
            kind = "bad input" if isinstance(exc, AmmOptError) else "error"
            row = {"state": "failed", "status": "failed", "error": f"{type(exc).__name__} "
                   f"({kind}): {exc}"}
    row.update(key=task.key, attempts=task.attempt,
               warnings=[f"{w.category.__name__}: {w.message}" for w in caught],
               point_seconds=time.perf_counter() - start,
               cpu_seconds=time.process_time() - cpu,
               worker=f"{socket.gethostname()}:{os.getpid()}", finished=time.time())
    return row
