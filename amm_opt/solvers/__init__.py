"""Registry of backends and the automatic choice rule.

Adding a backend = one module under ``amm_opt/solvers`` + one entry in ``_ENTRIES``. Modules are
imported only when a backend is looked up, and they import their heavy dependencies (cvxpy, POT,
torch) lazily inside ``solve``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import OptionError, UnknownBackendError
from ..problem import Problem
from ._base import Solver

__all__ = ["SOLVERS", "Solver", "available_backends", "choose_backend", "get_solver_class",
           "make_solver"]

# name -> "module:Class" (order = listing order in `amm-opt backends`)
_ENTRIES: dict[str, str] = {
    "separate": "amm_opt.solvers.separate:Separate",
    "rochetnet": "amm_opt.solvers.rochetnet:RochetNet",
    "ot_dual": "amm_opt.solvers.ot_dual:OTDual",
}

SOLVERS: tuple[str, ...] = tuple(_ENTRIES)


def get_solver_class(name: str) -> type[Solver]:
    """The solver class registered under ``name`` (case-insensitive)."""
    if not isinstance(name, str):
        raise UnknownBackendError("must be a backend name or a solver instance", field="backend",
                                  value=name, allowed=", ".join(_ENTRIES))
    key = name.strip().lower().replace("-", "_")
    target = _ENTRIES.get(key)
    if target is None:
        raise UnknownBackendError("is not a known backend", field="backend", value=name,
                                  allowed=", ".join(_ENTRIES))
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def available_backends() -> dict[str, tuple[bool, str]]:
    """``{name: (usable, reason or install hint)}`` for every registered backend."""
    return {name: get_solver_class(name).availability() for name in _ENTRIES}


# Automatic choice (documented in the README): the grid LP certifies when the problem has a
# density and few goods; RochetNet handles samples and many goods; `separate` always works.
_GRID_LP_MAX_GOODS = 2


def choose_backend(problem: Problem) -> tuple[str, str]:
    """Pick a backend for ``problem``; returns ``(name, reason)``."""
    usable = {name for name, (ok, _) in available_backends().items() if ok}
    if problem.has_density and problem.goods <= _GRID_LP_MAX_GOODS and "grid_lp" in usable:
        return "grid_lp", (f"density available and goods = {problem.goods} <= "
                           f"{_GRID_LP_MAX_GOODS}: the grid LP gives a menu and a certified bound")
    if "rochetnet" in usable and (not problem.has_density or problem.goods > _GRID_LP_MAX_GOODS):
        why = "sample-only values" if not problem.has_density else f"{problem.goods} goods"
        return "rochetnet", f"{why}: grids do not apply or do not scale, RochetNet learns a menu"
    return "separate", ("no engine for joint menus is usable for this problem here; selling each "
                        "good separately is the baseline that always works")


def make_solver(backend: str | Solver | None, problem: Problem,
                **options: Any) -> tuple[Solver, str]:
    """Resolve ``backend`` (name, instance or None) to a configured solver and a choice reason."""
    if isinstance(backend, Solver):
        if options:
            raise OptionError("options cannot be combined with a configured solver instance",
                              field="options", value=sorted(options),
                              allowed="set them on the instance instead")
        solver, reason = backend, "given as an instance"
    else:
        if backend is None:
            name, reason = choose_backend(problem)
        else:
            name, reason = str(backend), "requested by name"
        cls = get_solver_class(name)
        cls.require_available()
        solver = cls.from_options(**options)
    solver.check_problem(problem)
    return solver, reason

