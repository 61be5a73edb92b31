"""amm_opt: profit-optimal multi-good automated market makers with certified bounds.

>>> from amm_opt import Problem, Uniform, solve
>>> result = solve(Problem.paper_two_goods(), backend="separate")
>>> round(result.profit, 6)
0.25
"""

from __future__ import annotations

from .allocation import Polytope
from .amortised import AmortisedTrainer, FamilySpec, MenuFamily
from .distributions import Beta, Distribution, Product, Samples, TruncatedNormal, Uniform
from .errors import AmmOptError
from .evaluate import Evaluation, evaluate
from .menu import Menu
from .problem import Problem
from .result import Bounds, Result, Status
from .solving import solve
from .sweep import sweep
from .validation import certify, compare_menus, crosscheck
from .version import __version__

__all__ = [
    "AmmOptError",
    "AmortisedTrainer",
    "Beta",
    "Bounds",
    "Distribution",
    "Evaluation",
    "FamilySpec",
    "Menu",
    "MenuFamily",
    "Polytope",
    "Problem",
    "Product",
    "Result",
    "Samples",
    "Status",
    "TruncatedNormal",
    "Uniform",
    "__version__",
    "certify",
    "compare_menus",
    "crosscheck",
    "evaluate",
    "solve",
    "sweep",
]
