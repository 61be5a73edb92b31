"""Independent checks of what the engines produce: certificates, cross-checks, regressions.

* :func:`certify` — bracket the optimum with a menu's evaluated profit and an upper bound, and
  check the menu is feasible (so its profit really is a lower bound);
* :func:`crosscheck` — run several engines on one problem; every lower bound must lie below every
  upper bound, or :class:`CrosscheckError` names the two engines;
* :func:`compare_menus` and golden menus — what changed between two menus, for traders and for
  the market maker.

This package never imports :mod:`amm_opt.solvers` (nor cvxpy, POT or torch): the checker must not
share code paths with what it checks. Engines named by strings are run through
:func:`amm_opt.solve`, imported only when called.
"""

from __future__ import annotations

from .certify import Certificate, Check, certify, check_menu
from .crosscheck import CrosscheckError, CrosscheckReport, EngineRun, crosscheck
from .regression import Golden, MenuComparison, compare_menus, load_golden, save_golden

__all__ = [
    "Certificate",
    "Check",
    "CrosscheckError",
    "CrosscheckReport",
    "EngineRun",
    "Golden",
    "MenuComparison",
    "certify",
    "check_menu",
    "compare_menus",
    "crosscheck",
    "load_golden",
    "save_golden",
]
