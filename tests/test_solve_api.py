"""solve(): registry, options, automatic choice, statuses, checks, and import hygiene."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import ClassVar

import pytest

import amm_opt
from amm_opt import Bounds, Menu, Problem, Result, solve
from amm_opt.errors import (
    InaccurateSolutionWarning,
    OptionError,
    SolverFailedError,
    UnknownBackendError,
)
from amm_opt.result import Status, status_from_table
from amm_opt.solvers import available_backends, choose_backend, get_solver_class
from amm_opt.solvers.base import Solver
from amm_opt.solvers.separate import Separate


def test_public_api_names():
    for name in ("Problem", "Uniform", "Beta", "TruncatedNormal", "Product", "Samples", "Menu",
                 "evaluate", "solve", "Result", "Bounds", "Evaluation", "AmmOptError"):
        assert hasattr(amm_opt, name), name


def test_import_pulls_in_no_heavy_dependency():
    code = ("import sys, amm_opt, amm_opt.solvers, amm_opt.discretisation, amm_opt.references; "
            "amm_opt.solvers.available_backends(); "
            "heavy = [m for m in ('cvxpy', 'ot', 'torch', 'highspy', 'matplotlib') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_backend_names_are_case_insensitive():
    assert get_solver_class("SEPARATE") is Separate
    assert get_solver_class(" Separate ") is Separate


def test_every_registered_backend_reports_availability():
    table = available_backends()
    assert "separate" in table and table["separate"][0]
    for name, (usable, why) in table.items():
        assert isinstance(usable, bool) and why, name


def test_solver_instance_and_options():
    problem = Problem.paper_two_goods()
    result = solve(problem, backend=Separate(grid_points=65))
    assert result.stats["backend_choice"]["reason"] == "given as an instance"
    with pytest.raises(OptionError, match="instance"):
        solve(problem, backend=Separate(), grid_points=9)
    with pytest.raises(OptionError, match="grid_points"):
        solve(problem, backend="separate", gridpoints=9)
    with pytest.raises(TypeError):  # OptionError is a TypeError, like Python's own
        solve(problem, backend="separate", nonsense=1)


def test_unknown_backend_lists_known_ones():
    with pytest.raises(UnknownBackendError, match="separate"):
        solve(Problem.paper_two_goods(), backend="nope")


def test_automatic_choice_is_recorded_and_explained():
    problem = Problem.paper_two_goods()
    name, reason = choose_backend(problem)
    assert name in available_backends() and reason
    if name != "separate":
        pytest.skip(f"automatic choice is {name}; its own tests cover it")
    result = solve(problem)
    choice = result.stats["backend_choice"]
    assert choice == {"backend": name, "reason": reason, "automatic": True}
    assert result.backend == name


@dataclasses.dataclass(frozen=True)
class _FakeSolver(Solver):
    """A solver returning a fixed outcome, to test solve()'s status handling and checks."""

    status: Status = Status.OPTIMAL
    upper: float | None = None

    name: ClassVar[str] = "fake"

    def compute(self, problem: Problem) -> Result:
        menu = Menu([[1.0, 0.0]], [0.75])
        bounds = Bounds(lower=0.1, upper=self.upper, lower_method="exact", upper_method="fake")
        return Result(menu=menu, profit=0.1, bounds=bounds, status=self.status, backend="fake")


def test_failed_status_raises_and_inaccurate_warns():
    problem = Problem.paper_two_goods()
    with pytest.raises(SolverFailedError, match="failed"):
        solve(problem, backend=_FakeSolver(status=Status.FAILED))
    with pytest.warns(InaccurateSolutionWarning, match="reduced accuracy"):
        result = solve(problem, backend=_FakeSolver(status=Status.INACCURATE))
    assert result.status is Status.INACCURATE


def test_check_catches_lower_above_upper():
    problem = Problem.paper_two_goods()
    with pytest.raises(SolverFailedError, match="exceeds the certified upper bound"):
        solve(problem, backend=_FakeSolver(upper=0.05))
    assert solve(problem, backend=_FakeSolver(upper=0.05), check=False).bounds.upper == 0.05


def test_status_table_defaults_to_failed():
    table = {"ok": Status.OPTIMAL}
    assert status_from_table("ok", table) is Status.OPTIMAL
    assert status_from_table("weird", table) is Status.FAILED


def test_bounds_gap_and_description():
    b = Bounds(lower=0.25, upper=0.2746, lower_method="exact", upper_method="grid LP dual")
    assert b.gap == pytest.approx(0.0246)
    assert b.relative_gap == pytest.approx(0.0246 / 0.25)
    assert "relative gap" in b.describe()
    assert Bounds(lower=0.1).gap is None


def test_summary_prints_menu_and_bounds():
    result = solve(Problem.paper_two_goods(), backend="separate")
    text = result.summary()
    assert "no trade" in text and "bounds: lower 0.25" in text and "(+1, -1)" in text
