"""Running a sweep's points: local processes, any ``concurrent.futures`` executor, Dask.

* ``executor=None``: a local :class:`~concurrent.futures.ProcessPoolExecutor` (``spawn``) of
  ``workers`` processes, each started with one BLAS/OpenMP thread (``OMP_NUM_THREADS=1`` and
  friends, where the user has not set them: on a busy machine extra threads spin for cores
  that are taken).
* ``executor="inline"``: every point in the calling process, one after the other.
* a ``concurrent.futures``-style executor (``submit`` returning futures): used as it is, with
  at most ``2 * workers + 2`` points in flight. (A thread pool works, but warning filters
  are per process: the warnings recorded for a point may then mix between threads.)
* a Dask ``distributed.Client``: every point submitted to its cluster; Dask itself reschedules
  the points of a worker that dies (up to its ``allowed-failures``, after which the point is
  recorded as failed with Dask's ``KilledWorker`` error).

A process pool whose worker dies is **broken** as a whole: every point in flight fails with
``BrokenProcessPool``. The pool is then replaced (a user's pool by a local one of the same
size) and the points that were in flight are run again **one at a time**, so that a point that
kills its worker is identified: it is retried alone up to ``max_attempts`` times in all and
then recorded as failed; the others complete. Only the driver sees rows: workers return them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from ..errors import OptionError
from .task import PointTask, solve_point

__all__ = ["THREAD_VARIABLES", "is_dask_client", "run_tasks", "single_thread_environment"]

#: Environment variables that set the thread count of numpy's BLAS, OpenMP and torch.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

RowSink = Callable[[dict[str, Any]], None]


@contextlib.contextmanager
def single_thread_environment() -> Iterator[None]:
    """Set :data:`THREAD_VARIABLES` to 1 (those the user has not set) while processes start."""
    added = [name for name in THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def is_dask_client(executor: Any) -> bool:
    """Whether ``executor`` is a ``distributed.Client`` (checked without importing dask)."""
    return type(executor).__module__.split(".")[0] == "distributed" and \
        hasattr(executor, "scheduler_info")


def failed_row(task: PointTask, error: str) -> dict[str, Any]:
    """The row of a point whose worker never returned one."""
    return {"key": task.key, "state": "failed", "status": "failed", "error": error,
            "attempts": task.attempt, "warnings": [], "finished": time.time()}


def run_tasks(tasks: list[PointTask], executor: Any, workers: int, on_row: RowSink,
              max_attempts: int = 3) -> None:
    """Solve ``tasks`` on ``executor`` (see the module docstring); ``on_row`` gets each row in
    the driver as soon as its point finishes."""
    if not tasks:
        return
    if isinstance(executor, str):
        if executor != "inline":
            raise OptionError("is not an executor", field="executor", value=executor,
                              allowed="None (local processes), 'inline', a concurrent.futures "
                                      "executor or a dask.distributed Client")
        for task in tasks:
            on_row(solve_point(task))
        return
    if is_dask_client(executor):
        _run_dask(tasks, executor, on_row)
        return
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise OptionError("has no submit method", field="executor", value=executor,
                          allowed="None, 'inline', a concurrent.futures executor or a "
                                  "dask.distributed Client")
    _Pool(executor, workers, on_row, max_attempts).run(tasks)


def _local_pool(workers: int) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(max_workers=workers,
                                  mp_context=multiprocessing.get_context("spawn"))


class _Pool:
    """The loop over a ``concurrent.futures`` executor, replacing it when it breaks."""

    def __init__(self, executor: Any, workers: int, on_row: RowSink, max_attempts: int) -> None:
        self.owned = executor is None
        self.executor = _local_pool(workers) if executor is None else executor
        self.workers = workers
        self.on_row = on_row
        self.max_attempts = max_attempts

    def _replace(self) -> None:
        """A fresh local pool instead of the broken one (a user's pool keeps its size)."""
        if self.owned:
            self.executor.shutdown(wait=True, cancel_futures=True)
        else:
            self.workers = int(getattr(self.executor, "_max_workers", self.workers))
        self.executor = _local_pool(self.workers)
        self.owned = True

    def run(self, tasks: list[PointTask]) -> None:
        queue: deque[PointTask] = deque(tasks)
        suspects: deque[PointTask] = deque()
        inflight: dict[Any, PointTask] = {}
        window = 2 * self.workers + 2
        try:
            with single_thread_environment():
                while queue or suspects or inflight:
                    alone = bool(suspects)
                    if alone:  # after a break: one point at a time, to find the culprit
                        task = suspects.popleft()
                        inflight[self.executor.submit(solve_point, task)] = task
                    else:
                        while queue and len(inflight) < window:
                            task = queue.popleft()
                            inflight[self.executor.submit(solve_point, task)] = task
                    done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
                    broken = self._collect(done, inflight)
                    if not broken:
                        continue
                    cf.wait(list(inflight))  # the rest of a broken pool fails at once
                    broken += self._collect(list(inflight), inflight)
                    self._replace()
                    for task in broken:
                        if alone and task.attempt >= self.max_attempts:
                            self.on_row(failed_row(task, (
                                f"WorkerDied (error): the worker process died while solving "
                                f"this point, {task.attempt} times (alone in its pool from "
                                f"the second time on)")))
                        else:
                            suspects.append(replace(task, attempt=task.attempt + 1))
        finally:
            if self.owned:
                self.executor.shutdown(wait=not inflight, cancel_futures=True)

    def _collect(self, done: Any, inflight: dict[Any, PointTask]) -> list[PointTask]:
        """Record the finished futures; return the tasks whose pool broke under them."""
        broken = []
        for fut in done:
            task = inflight.pop(fut)
            try:
                row = fut.result()
            except cf.BrokenExecutor:
                broken.append(task)
                continue
            except Exception as exc:  # the executor could not run it (e.g. pickling)
                row = failed_row(task, f"{type(exc).__name__} (error): {exc}")
            self.on_row(row)
        return broken


def _run_dask(tasks: list[PointTask], client: Any, on_row: RowSink) -> None:
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    futures = {client.submit(solve_point, task, key=f"amm-opt-point-{task.key[:20]}-{run}",
                             pure=False): task for task in tasks}
    try:
        for fut in as_completed(list(futures)):
            task = futures.pop(fut)
            try:
                row = fut.result()
            except Exception as exc:  # KilledWorker after repeated deaths, a lost scheduler
                row = failed_row(task, f"{type(exc).__name__} (error): {exc}")
            on_row(row)
            fut.release()
    finally:
        if futures:
            client.cancel(list(futures))
