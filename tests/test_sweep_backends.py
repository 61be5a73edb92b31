"""Backends used by the sweep tests (importable by worker processes: this folder is on their
``sys.path``), and a check that they solve exactly as the engine they wrap.

``SlowSeparate`` is ``separate`` after a pause (so that a sweep can be stopped half-way);
``InterruptAt`` raises KeyboardInterrupt at one point (Ctrl-C); ``ExitOnce`` kills its worker
process (``os._exit``) the first time it meets a point whose
adverse selection is listed in ``exit_at``, leaving a marker file so that the retry succeeds
(at a point listed in ``exit_always``, every time).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from amm_opt import Problem, Uniform, solve
from amm_opt.solvers.separate import Separate


@dataclass(frozen=True)
class SlowSeparate(Separate):
    """``separate`` after ``delay`` seconds."""

    delay: float = 0.0
    name: ClassVar[str] = "test_slow_separate"

    def compute(self, problem: Problem):
        time.sleep(self.delay)
        return super().compute(problem)


@dataclass(frozen=True)
class ExitOnce(Separate):
    """``separate``, but the first attempt at a listed point kills the process."""

    marker: str = ""
    exit_at: list = field(default_factory=list)
    exit_always: list = field(default_factory=list)
    name: ClassVar[str] = "test_exit_once"

    def compute(self, problem: Problem):
        lam = problem.adverse_selection
        always = any(abs(lam - x) < 1e-12 for x in self.exit_always)
        if always or any(abs(lam - x) < 1e-12 for x in self.exit_at):
            flag = Path(self.marker) / f"died-at-{lam:.6f}"
            if always or not flag.exists():
                flag.write_text(str(os.getpid()))
                os._exit(17)  # a worker that dies without a word
        return super().compute(problem)


@dataclass(frozen=True)
class InterruptAt(Separate):
    """``separate``, but a point whose adverse selection is ``at`` raises KeyboardInterrupt
    (what Ctrl-C does to a sweep run inline)."""

    at: float = -1.0
    name: ClassVar[str] = "test_interrupt_at"

    def compute(self, problem: Problem):
        if abs(problem.adverse_selection - self.at) < 1e-12:
            raise KeyboardInterrupt
        return super().compute(problem)


@pytest.mark.parametrize("cls", [SlowSeparate, ExitOnce, InterruptAt])
def test_helper_backends_solve_as_separate(cls, tmp_path):
    problem = Problem(goods=1, values=Uniform(0, 1), belief=0.5, adverse_selection=0.25)
    options = {ExitOnce: {"marker": str(tmp_path)}, SlowSeparate: {"delay": 0.01},
               InterruptAt: {"at": 0.5}}[cls]
    got = cls(**options).solve(problem)
    want = solve(problem, backend="separate")
    assert got.bounds.lower == pytest.approx(want.bounds.lower, rel=1e-12)
