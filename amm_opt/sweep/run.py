"""``sweep(problem, over=..., backend=...)``: many solves, stored as they finish, resumable."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from ..errors import OptionError
from ..problem import Problem
from .execution import is_dask_client, run_tasks
from .points import canonical, point_key, problem_data, sweep_points
from .store import SweepStore, require_pandas, sweep_key
from .task import PointTask, resolve_backend

__all__ = ["backend_id", "sweep"]


def backend_id(backend: Any) -> str | None:
    """How the store names ``backend``: its registered name, or ``module:Class`` for a class."""
    if backend is None or isinstance(backend, str):
        return backend
    resolve_backend(backend)  # checks it is a usable Solver subclass
    return f"{backend.__module__}:{backend.__qualname__}"


def _workers(executor: Any, workers: Any, todo: int) -> int:
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise OptionError("must be a positive integer", field="workers", value=workers,
                              allowed="1, 2, ... (default: the CPU count, at most one per "
                                      "point)")
        return workers
    if executor == "inline":
        return 1
    if is_dask_client(executor):
        return max(1, len(executor.scheduler_info().get("workers", {})))
    count = getattr(executor, "_max_workers", None) if executor is not None else None
    return int(count or max(1, min(os.cpu_count() or 1, todo)))


def sweep(problem: Problem, over: Any, backend: Any = None, *, store: Any = None,
          executor: Any = None, workers: int | None = None, retry_failed: bool = False,
          progress: bool | None = None, max_attempts: int = 3, **options: Any) -> Any:
    r"""Solve ``problem`` at every point of ``over``; one table row per point.

    Each point :math:`\theta` (values of belief :math:`c`, adverse selection :math:`\lambda`,
    distribution parameters, allocation box) gives a problem :math:`P_\theta`, solved as
    ``solve(P_theta, backend, **options)`` would: its bracket
    :math:`\underline\Pi(\theta) \le \Pi^*(\theta) \le \overline\Pi(\theta)` is stored with how
    each side was obtained.

    Parameters
    ----------
    problem : Problem
        The base problem; ``over`` replaces some of its parameters.
    over : mapping or sequence of mappings
        ``{name: values}`` for the Cartesian product (first name slowest) or
        ``[{name: value}, ...]`` for explicit points; names as in
        :mod:`amm_opt.sweep.points` (``belief``, ``belief[0]``, ``adverse_selection``,
        ``allocation``, ``values.a``, ...).
    backend : str, Solver subclass or None
        As for :func:`amm_opt.solve` (a class instead of an instance: it is sent to the
        workers by reference, so its module must be importable there).
    store : str, path or None
        SQLite file keeping the results (created if missing). Points already stored for the
        same problem, backend, options and package version are not computed again.
    executor : None, "inline", concurrent.futures executor or dask.distributed.Client
        Where points run (:mod:`amm_opt.sweep.execution`); default local processes.
    workers : int, optional
        Processes of the local pool (default: CPU count, at most one per point) or points in
        flight for an executor.
    retry_failed : bool
        Run points stored as failed again.
    progress : bool or None
        A tqdm bar (None: when stderr is a terminal).
    max_attempts : int
        Tries of a point whose worker process dies (a process pool) before it is failed.
    **options
        The backend's options (JSON data: numbers, strings, lists).

    Returns
    -------
    pandas.DataFrame
        Parameters, ``point`` (key), ``state`` (done/failed), ``status``, ``backend``,
        ``lower``, ``upper``, ``gap``, ``relative_gap``, ``lower_stderr``, ``lower_method``,
        ``upper_method``, ``message``, ``error``, ``warnings``, ``solve_seconds``,
        ``point_seconds``, ``cpu_seconds``, ``attempts``, ``worker``, ``finished``, ``menu``
        (versioned JSON).
        ``frame.attrs["sweep"]`` holds the sweep's key, problem, backend, options and the
        counts ``computed``, ``reused``, ``failed``, and ``store_seconds`` (time spent writing).

    Examples
    --------
    >>> from amm_opt import Problem, Uniform, sweep
    >>> table = sweep(Problem(goods=1, values=Uniform(0, 1), belief=0.5),
    ...               over={"adverse_selection": [0.0, 0.5]}, backend="separate",
    ...               executor="inline")
    >>> table["lower"].round(6).tolist()
    [0.125, 0.041667]
    """
    require_pandas()
    base = problem_data(problem)
    points = sweep_points(over)
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
        raise OptionError("must be a positive integer", field="max_attempts",
                          value=max_attempts, allowed="1, 2, 3, ...")
    options = _checked_options(problem, backend, options)
    from ..version import __version__

    name = backend_id(backend)
    key = sweep_key(base, name, options, __version__)
    with SweepStore(store) as db:
        db.add_sweep(key, base, name, options, __version__)
        states = db.states(key)
        keyed = {point_key(p): p for p in points}
        todo = [k for k in keyed if k not in states or (retry_failed and states[k] == "failed")]
        count = _workers(executor, workers, len(todo))
        tasks = [PointTask(k, keyed[k], base, backend, options) for k in todo]
        spent = [0.0]
        from ..solvers.base import progress_bar

        bar = progress_bar(progress, total=len(points), initial=len(points) - len(todo),
                           desc="sweep", unit="point")

        def on_row(row: dict[str, Any]) -> None:
            start = time.perf_counter()
            db.record(key, keyed[row["key"]], row)
            spent[0] += time.perf_counter() - start
            if bar is not None:
                bar.update(1)

        try:
            run_tasks(tasks, executor, count, on_row, max_attempts)
        finally:
            if bar is not None:
                bar.close()
        frame = db.frame(key, points=list(keyed))
        info = dict(frame.attrs.get("sweep", {}))
    info.update(computed=len(todo), reused=len(points) - len(todo),
                failed=int((frame["state"] == "failed").sum()), store_seconds=spent[0],
                store=None if store is None else os.fspath(store))
    frame.attrs["sweep"] = info
    return frame


def _checked_options(problem: Problem, backend: Any, options: Mapping[str, Any]
                     ) -> dict[str, Any]:
    """Options as JSON data, checked once against the backend before any point runs."""
    from ..solvers import make_solver

    for name, value in options.items():
        if callable(value):
            raise OptionError("cannot be swept: a function cannot be stored or hashed",
                              field=name, value=value, allowed="JSON data (numbers, strings, "
                              "lists); a sweep reports progress itself")
    data = {name: canonical(value, name) for name, value in options.items()}
    make_solver(resolve_backend(backend), problem, **options)
    return data
