"""The registry of backends and the automatic choice rule, both as data.

A backend is a :class:`~amm_opt.solvers.base.Solver` subclass registered under a name
(``"module:Class"`` entries are imported only when looked up, and engines import their heavy
dependencies lazily, so listing backends is cheap). :func:`register_backend` adds one at run time.

The automatic choice (``solve(problem)`` without a backend) walks :data:`MENU_RULES` and takes
the first rule that applies to the problem and whose backend is usable here; when that engine
certifies no upper bound, the first applicable rule of :data:`UPPER_RULES` adds one.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import OptionError, UnknownBackendError
from ..problem import Problem
from .base import Solver

__all__ = ["AUTO_RULE", "MENU_RULES", "SOLVERS", "UPPER_RULES", "AutoRule", "Solver",
           "available_backends", "choose_backend", "choose_backend_options", "choose_upper_backend",
           "folded_point_count", "get_solver_class", "make_solver", "menu_candidates",
           "register_backend", "unregister_backend", "upper_candidates"]

# name -> "module:Class" or a class (order = listing order in `amm-opt backends`)
_ENTRIES: dict[str, str | type[Solver]] = {
    "separate": "amm_opt.solvers.separate:Separate",
    "rochetnet": "amm_opt.solvers.rochetnet:RochetNet",
    "ot_dual": "amm_opt.solvers.ot_dual:OTDual",
    "grid_lp": "amm_opt.solvers.grid_lp:GridLP",
    "types_lp": "amm_opt.solvers.types_lp:TypesLP",
}
_BUILT_IN = frozenset(_ENTRIES)

#: The built-in backend names.
SOLVERS: tuple[str, ...] = tuple(_ENTRIES)


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def register_backend(name: str, target: str | type[Solver]) -> None:
    """Register ``target`` (a :class:`Solver` subclass or ``"module:Class"``) under ``name``.

    The name is case-insensitive (``-`` reads as ``_``); built-in names cannot be replaced.
    """
    if not isinstance(name, str) or not _key(name).isidentifier():
        raise OptionError("must be a backend name (letters, digits, _)", field="name",
                          value=name, allowed="e.g. 'my_backend'")
    if _key(name) in _BUILT_IN:
        raise OptionError("is a built-in backend", field="name", value=name,
                          allowed="a name other than " + ", ".join(sorted(_BUILT_IN)))
    if isinstance(target, str):
        if target.count(":") != 1:
            raise OptionError("must be 'module:Class'", field="target", value=target,
                              allowed="e.g. 'my_package.my_module:MyBackend'")
    elif not (isinstance(target, type) and issubclass(target, Solver)):
        raise OptionError("must be a Solver subclass or 'module:Class'", field="target",
                          value=target, allowed="a subclass of amm_opt.solvers.base.Solver")
    _ENTRIES[_key(name)] = target


def unregister_backend(name: str) -> None:
    """Remove a backend added by :func:`register_backend` (built-ins stay)."""
    key = _key(name) if isinstance(name, str) else name
    if key in _BUILT_IN or key not in _ENTRIES:
        raise UnknownBackendError("is not a registered user backend", field="name", value=name,
                                  allowed=", ".join(sorted(set(_ENTRIES) - _BUILT_IN)) or
                                  "none registered")
    del _ENTRIES[key]


def get_solver_class(name: str) -> type[Solver]:
    """The solver class registered under ``name`` (case-insensitive)."""
    if not isinstance(name, str):
        raise UnknownBackendError("must be a backend name or a solver instance", field="backend",
                                  value=name, allowed=", ".join(_ENTRIES))
    target = _ENTRIES.get(_key(name))
    if target is None:
        raise UnknownBackendError("is not a known backend", field="backend", value=name,
                                  allowed=", ".join(_ENTRIES))
    if isinstance(target, type):
        return target
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def available_backends() -> dict[str, tuple[bool, str]]:
    """``{name: (usable, reason or install hint)}`` for every registered backend."""
    return {name: get_solver_class(name).availability() for name in _ENTRIES}


# ------------------------------------------------------------------------------ automatic rule
@dataclass(frozen=True)
class AutoRule:
    """One line of the automatic rule: ``backend`` with ``options`` when ``applies(problem)``.

    ``why(problem)`` says in words why the rule applies (recorded in ``Result.stats``).
    """

    backend: str
    applies: Callable[[Problem], bool]
    why: Callable[[Problem], str]
    options: Callable[[Problem], dict[str, Any]] = field(default=lambda problem: {})


# Goods up to which grids are used automatically: the grid LP certifies its own bound within
# seconds up to 2 goods, and in 3 goods within _GRID_LP_3D_TIME_LIMIT on a grid sized by the
# problem's symmetry group; the transport bound on a coarse grid is a few seconds up to 3.
_GRID_LP_MAX_GOODS = 3
_OT_MAX_GOODS = 3
# Grid per axis of the automatic transport bound (BENCHMARKS.md: transport dual).
_OT_AUTO_GRID = {1: 64, 2: 64, 3: 24}
# The automatic grid of the (folded) grid LP beyond 2 goods: the finest grid whose number of
# orbit points stays under this cap (BENCHMARKS.md, "Automatic rule for 3 to 6 goods"); the
# LP's time grows with the points and, at equal points, with the goods (more rows per point).
# Since four rows per violated point enter each round of the folded LP (stop 22), 4 and 5 goods
# fit about 1.5 times the points in the same time (mono5 at 3 003 points: 116 s, at 4 368: 331 s;
# AMM-4 at 4 845: 323 s); 6 goods at 3 003 points did not finish in 600 s, so its cap stays.
_GRID_LP_AUTO_POINTS = {3: 12_000, 4: 3_900, 5: 3_100, 6: 1_800}
# A non-uniform density puts signed mass in every cell (a uniform one only on the faces and
# at c), so every point carries a plane and the LP is far harder at equal points: Beta(2,2) x U
# x U at 11 000 orbit points did not finish its first LP in 120 s, at 2 119 it took 300 s with
# refinement. Its caps are this fraction of the uniform ones.
_GRID_LP_AUTO_NONUNIFORM = 1 / 8
_GRID_LP_3D_TIME_LIMIT = 120.0
# From 4 goods the folded grid LP adds a certified bound beside RochetNet's menu when the group
# folds the grid enough (order >= 24, e.g. S4 or B3 x Z2), within this time limit.
_FOLDED_MIN_ORDER = 24
_FOLDED_MAX_GOODS = 6
_FOLDED_TIME_LIMIT = 300.0
# The tensor measure is built before folding: (2N)^n corner weights at most.
_GRID_LP_AUTO_CORNERS = 2e7
# Distinct sample types the finite-type LP solves exactly in about a minute on 2 cores, by goods
# (BENCHMARKS.md, "Finite types"); larger samples go to RochetNet with a statistical bound.
# (2 goods x 4000 and 5 x 1500 took 39 s and 70 s with four rows per violated type, stop 22.)
_TYPES_LP_EXACT_MAX = {1: 5000, 2: 4000, 3: 1000, 4: 800, 5: 1500}
_TYPES_LP_EXACT_MAX_BEYOND = 300
# The automatic statistical bound (draws of types_lp's default size, a second or two per LP):
# for samples beyond the exact limit, and densities up to this many goods.
_STATISTICAL_MAX_GOODS = 6
_STATISTICAL_REPLICATIONS = 20
def _group(problem: Problem) -> Any:
    from ..symmetry import detect_symmetry

    return detect_symmetry(problem)


def folded_point_count(group: Any, grid: int) -> int:
    r"""Orbit points of a uniform ``grid``-cell-per-axis tensor grid under ``group``.

    A class of :math:`k` goods permuted among :math:`m` coordinate values has
    :math:`\binom{m + k - 1}{k}` orbits (multisets); a reflected class about its centre sees
    :math:`m = \lfloor N/2 \rfloor + 1` distinct distances, an unreflected one :math:`N + 1`.
    """
    count = 1
    for cls, reflect in zip(group.classes, group.reflect, strict=True):
        m = grid // 2 + 1 if reflect else grid + 1
        count *= math.comb(m + len(cls) - 1, len(cls))
    return count


def _auto_grid(problem: Problem) -> int:
    """The finest grid whose orbit points stay under the goods' cap (and whose tensor measure,
    built before folding, stays under :data:`_GRID_LP_AUTO_CORNERS`). With a reflection the
    grid is even, so that c is a node (an odd grid cuts the cell around c: more points)."""
    n, group = problem.goods, _group(problem)
    cap, step = _GRID_LP_AUTO_POINTS[n], 2 if any(group.reflect) else 1
    if not problem.distribution.is_uniform:
        cap = int(cap * _GRID_LP_AUTO_NONUNIFORM)
    grid = 2
    while folded_point_count(group, grid + step) <= cap and \
            (2 * (grid + step)) ** n <= _GRID_LP_AUTO_CORNERS:
        grid += step
    return grid


def _grid_lp_options(problem: Problem) -> dict[str, Any]:
    if problem.goods <= 2:
        return {}
    return {"grid": _auto_grid(problem), "time_limit": _GRID_LP_3D_TIME_LIMIT}


def _grid_lp_why(problem: Problem) -> str:
    why = (f"density available and goods = {problem.goods} <= {_GRID_LP_MAX_GOODS}: the grid LP "
           "gives a menu and a certified bound")
    if problem.goods > 2:
        group = _group(problem)
        why += (f" (grid {_auto_grid(problem)} per axis, symmetry {group.describe()}, order "
                f"{group.order}; time limit {_GRID_LP_3D_TIME_LIMIT:g} s)")
    return why


def _folded_applies(problem: Problem) -> bool:
    """4 to 6 goods with a density and a symmetry group large enough to fold the grid LP."""
    return (problem.has_density and _GRID_LP_MAX_GOODS < problem.goods <= _FOLDED_MAX_GOODS
            and _group(problem).order >= _FOLDED_MIN_ORDER)


def _folded_options(problem: Problem) -> dict[str, Any]:
    return {"grid": _auto_grid(problem), "time_limit": _FOLDED_TIME_LIMIT}


def _folded_why(problem: Problem) -> str:
    group = _group(problem)
    return (f"the grid LP folded on {group.describe()} (order {group.order}) adds a CERTIFIED "
            f"upper bound on a {_auto_grid(problem)}-per-axis grid (time limit "
            f"{_FOLDED_TIME_LIMIT:g} s)")


def _types_exact_max(goods: int) -> int:
    return _TYPES_LP_EXACT_MAX.get(goods, _TYPES_LP_EXACT_MAX_BEYOND)


def _distinct_types(problem: Problem) -> int:
    from .types_lp.types import distinct_count

    return distinct_count(problem.distribution.values)  # type: ignore[union-attr]


def _types_exact(problem: Problem) -> bool:
    """Sample-only values few enough for the exact finite-type LP."""
    return not problem.has_density and _distinct_types(problem) <= _types_exact_max(problem.goods)


def _rochetnet_why(problem: Problem) -> str:
    if not problem.has_density:
        why = (f"sample-only values with more than {_types_exact_max(problem.goods)} distinct "
               "types (the exact finite-type LP's automatic limit; grids need a density)")
    elif problem.goods > _GRID_LP_MAX_GOODS:
        why = f"{problem.goods} goods (grids do not scale past {_GRID_LP_MAX_GOODS})"
    else:
        why = "the grid LP is not installed"
    return f"{why}: RochetNet learns a menu"


def _subsample_options(problem: Problem) -> dict[str, Any]:
    from .types_lp.types import default_draws

    return {"subsample": default_draws(problem.goods, auto=True),
            "replications": _STATISTICAL_REPLICATIONS}


def _draws_options(problem: Problem) -> dict[str, Any]:
    from .types_lp.types import default_draws

    return {"draws": default_draws(problem.goods, auto=True),
            "replications": _STATISTICAL_REPLICATIONS}


#: Menu engine: the first rule that applies and whose backend is usable.
MENU_RULES: tuple[AutoRule, ...] = (
    AutoRule("grid_lp", lambda p: p.has_density and p.goods <= _GRID_LP_MAX_GOODS,
             _grid_lp_why, _grid_lp_options),
    AutoRule("types_lp", _types_exact,
             lambda p: f"sample-only values with at most {_types_exact_max(p.goods)} distinct "
                       "types: the finite-type LP gives the exact optimal menu for the samples "
                       "and a certified bound"),
    AutoRule("rochetnet", lambda p: True, _rochetnet_why),
    AutoRule("separate", lambda p: True,
             lambda p: "no engine for joint menus is usable here (install amm-opt[lp] or "
                       "amm-opt[torch]); selling each good separately always works"),
)

#: Upper-bound engine, when the menu engine certifies none.
UPPER_RULES: tuple[AutoRule, ...] = (
    AutoRule("ot_dual", lambda p: p.has_density and p.goods <= _OT_MAX_GOODS,
             lambda p: f"ot_dual adds the transport bound on a {_OT_AUTO_GRID[p.goods]}-per-axis "
                       "grid",
             lambda p: {"grid": _OT_AUTO_GRID[p.goods]}),
    AutoRule("types_lp", lambda p: not p.has_density,
             lambda p: "types_lp adds a STATISTICAL upper bound (95% one-sided, not certified) "
                       f"from {_STATISTICAL_REPLICATIONS} draws of "
                       f"{_subsample_options(p)['subsample']} sample rows",
             _subsample_options),
    AutoRule("grid_lp", _folded_applies, _folded_why, _folded_options),
    AutoRule("types_lp",
             lambda p: p.has_density and _OT_MAX_GOODS < p.goods <= _STATISTICAL_MAX_GOODS,
             lambda p: f"no certified bound for {p.goods} goods; types_lp adds a STATISTICAL "
                       "upper bound (95% one-sided, not certified) from "
                       f"{_STATISTICAL_REPLICATIONS} independent draws of types",
             _draws_options),
)

#: The automatic rule in words (the README's backend table states the same).
AUTO_RULE = (
    f"menu engine: grid_lp when the values have a density and goods <= 2 (a menu and a certified "
    "upper bound), and for 3 goods on the finest grid whose orbit points under the problem's "
    f"symmetry group stay under {_GRID_LP_AUTO_POINTS[3]} (e.g. 78 cells per axis for i.i.d. "
    f"goods about a central belief, 21 without symmetry; an eighth of the points for "
    "non-uniform densities), time "
    f"limit {_GRID_LP_3D_TIME_LIMIT:g} s, falling back to the next engine if it ends without a "
    "menu; types_lp for sample-only values with few "
    "enough distinct types for its exact LP (about a minute: 5000 types for 1 good, 2000 for 2, "
    "1000 for 3, 800 for 4 and 5, 300 beyond; the exact optimal menu for the samples and a "
    "certified bound); otherwise rochetnet (larger samples or more goods: it learns a menu from "
    "samples); otherwise separate (each good at its optimal bid-ask, always available). "
    "Upper bound, when the menu engine certifies none: for densities with goods <= 3, ot_dual's "
    "transport bound (grid 64 per axis for 1-2 goods, 24 for 3 goods, a few seconds); for 4 to 6 "
    "goods whose symmetry group has order >= 24 (e.g. identical goods), the grid LP folded on "
    f"the group's orbits adds a CERTIFIED bound (grid capped by orbit points: "
    f"{_GRID_LP_AUTO_POINTS[4]} for 4 goods, {_GRID_LP_AUTO_POINTS[5]} for 5, "
    f"{_GRID_LP_AUTO_POINTS[6]} for 6; time limit {_FOLDED_TIME_LIMIT:g} s); for samples too "
    "large for the exact LP, and for "
    "other densities with 4 to 6 goods (or when the folded bound fails), types_lp adds a "
    "statistical upper bound (one-sided 95%, labelled statistical, not certified) from 20 "
    "independent draws of types; the bracket is then checked (lower <= upper).")


def _usable() -> set[str]:
    return {name for name, (ok, _) in available_backends().items() if ok}


def _capable(name: str, problem: Problem) -> bool:
    """Whether the backend's capability flags accept ``problem`` (polytope sets, a belief
    outside the value box); classes without the check accept everything."""
    refusal = getattr(get_solver_class(name), "capability_refusal", None)
    return refusal is None or refusal(problem) is None


def _menu_rule(problem: Problem) -> AutoRule:
    usable = _usable()
    for rule in MENU_RULES:
        if rule.backend in usable and rule.applies(problem) and \
                _capable(rule.backend, problem):
            return rule
    raise UnknownBackendError("no usable backend applies to this problem", field="backend",
                              value=None, allowed="install amm-opt[all]")


def menu_candidates(problem: Problem) -> list[tuple[str, str, dict[str, Any]]]:
    """Every menu engine that applies to ``problem`` and is usable here, best first, as
    ``(name, reason, options)`` (the automatic solve falls back along it when an engine ends
    without a menu)."""
    usable = _usable()
    return [(rule.backend, rule.why(problem), dict(rule.options(problem))) for rule in MENU_RULES
            if rule.backend in usable and rule.applies(problem) and
            _capable(rule.backend, problem)]


def choose_backend(problem: Problem) -> tuple[str, str]:
    """Pick the menu engine for ``problem`` by :data:`MENU_RULES`; returns ``(name, reason)``."""
    rule = _menu_rule(problem)
    return rule.backend, rule.why(problem)


def choose_backend_options(problem: Problem) -> dict[str, Any]:
    """The options the automatic rule gives its menu engine (e.g. the grid LP's grid and time
    limit in 3 goods); a user's own options override them."""
    return dict(_menu_rule(problem).options(problem))


def upper_candidates(problem: Problem, menu_backend: str
                     ) -> tuple[list[tuple[str, dict[str, Any], str]], str]:
    """Every engine that may add an upper bound to ``menu_backend``'s result, best first, by
    :data:`UPPER_RULES`, as ``(name, options, reason)``; and, when there is none, why."""
    menu_class = get_solver_class(menu_backend)
    if menu_class.provides_upper:
        return [], f"{menu_backend} certifies its own upper bound"
    if getattr(menu_class, "certifies_samples", False) and not problem.has_density:
        return [], f"{menu_backend} certifies its own upper bound on samples"
    usable = _usable()
    found: list[tuple[str, dict[str, Any], str]] = []
    missing: list[str] = []
    for rule in UPPER_RULES:
        if rule.applies(problem) and _capable(rule.backend, problem):
            if rule.backend not in usable:
                extra = get_solver_class(rule.backend).extra
                missing.append(f"no upper bound: {rule.backend} is not installed "
                               f"(pip install 'amm-opt[{extra}]')")
                continue
            found.append((rule.backend, rule.options(problem),
                          f"{menu_backend} gives no upper bound; {rule.why(problem)}"))
    if found:
        return found, ""
    if missing:
        return [], missing[0]
    if not problem.has_density:
        return [], "no upper bound: transport bounds need a density, the values are samples"
    return [], (f"no upper bound: {problem.goods} goods > {_STATISTICAL_MAX_GOODS}: grids "
                "do not scale and the statistical bound is not run unasked")


def choose_upper_backend(problem: Problem, menu_backend: str
                         ) -> tuple[str | None, dict[str, Any], str]:
    """The engine that adds an upper bound to ``menu_backend``'s result, by
    :data:`UPPER_RULES`; returns ``(name or None, options, reason)``. (The automatic solve
    falls back to the next of :func:`upper_candidates` when this one yields no bound.)"""
    found, why = upper_candidates(problem, menu_backend)
    if found:
        return found[0]
    return None, {}, why


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
            options = {**choose_backend_options(problem), **options}
        else:
            name, reason = str(backend), "requested by name"
        cls = get_solver_class(name)
        cls.require_available()
        solver = cls.from_options(**options)
    solver.check_problem(problem)
    return solver, reason
