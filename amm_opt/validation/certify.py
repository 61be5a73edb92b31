r"""Certify a menu: its evaluated profit, an upper bound on the optimum, and the menu's checks.

For a problem with optimal profit :math:`\Pi^\star = \max_{u \in U} \Pi(u)` and a menu
:math:`M = \{(x_k, p_k)\}` with utility :math:`u_M(v) = \max_k v \cdot x_k - p_k`,

.. math::

    \underline\Pi = \Pi(u_M) \;\le\; \Pi^\star \;\le\; \overline\Pi ,

where the left inequality needs :math:`u_M \in U` (allocations in :math:`X`, no-trade offered so
:math:`u_M \ge 0`, and :math:`u_M(c) = 0`: the belief type does not gain from trading), and
:math:`\overline\Pi` comes from a certifying engine (``grid_lp``, ``ot_dual``, ``types_lp`` on
samples), a number, or a callable. A **statistical** upper bound (``types_lp`` on a density: a
one-sided confidence bound, labelled by :func:`amm_opt.statistical.statistical_method`) is kept
apart: the bracket then holds only at its confidence level, the status says ``statistical``, and
a lower bound above it is a *statistical miss* (the bound failed, an event of probability about
one minus its level), not a proof that an engine is wrong. :func:`certify` evaluates the left
side independently of any engine (:func:`amm_opt.evaluate`) and checks every condition it relies
on.

This module never imports :mod:`amm_opt.solvers` (the checker shares no code path with what it
checks); an engine named by a string is reached through :func:`amm_opt.solve` at call time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import OptionError
from ..evaluate import Evaluation, evaluate
from ..menu import Menu, require_problem_and_menu
from ..problem import Problem
from ..result import Result, bracket_slack
from ..statistical import bound_kind, parse_statistical
from .arguments import EVALUATE_OPTIONS, check_count, check_seed, options_mapping

__all__ = ["Certificate", "Check", "certify", "check_menu", "upper_from"]

# u(c) <= UC_RTOL * scale counts as u(c) = 0: the utility is a max of v.x_k - p_k, computed with
# round-off ~1e-16 * scale, where scale = 1 + max|x| * max|v| + max|p|.
UC_RTOL = 1e-9


@dataclass(frozen=True)
class Check:
    """One condition a certificate relies on: its name, whether it holds, and the evidence."""

    name: str
    passed: bool
    detail: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", bool(self.passed))  # numpy bools are not JSON

    def __str__(self) -> str:
        return f"[{'ok' if self.passed else 'FAIL'}] {self.name}: {self.detail}"


@dataclass(frozen=True)
class Certificate:
    r"""A bracket on the optimal profit and how each side was obtained.

    Attributes
    ----------
    lower : float
        Evaluated profit of the menu.
    lower_method : str
        ``exact``, ``quadrature``, ``qmc`` or ``sample-mean``.
    lower_stderr : float
        0 when exact; else the quadrature error estimate or Monte-Carlo standard error.
    upper : float or None
        Upper bound on the optimum (None if none was asked for).
    upper_method : str
        Where ``upper`` came from (engine name and method, "given", ...).
    checks : tuple of Check
        Menu feasibility (allocation box, IR, IC, :math:`u(c) = 0`) and bracket consistency.
    slack : float
        Tolerance used for ``lower <= upper``: :math:`4\sigma + 10^{-9}(1 + |\overline\Pi|)`.
    details : dict
        The evaluation, the upper engine's status and timing, and other numbers.
    upper_confidence : float or None
        The level of a statistical ``upper`` (None: certified, given, or no upper bound).
    """

    lower: float
    lower_method: str
    lower_stderr: float
    upper: float | None
    upper_method: str
    checks: tuple[Check, ...]
    slack: float
    details: dict[str, Any] = field(default_factory=dict)
    upper_confidence: float | None = None

    @property
    def upper_kind(self) -> str | None:
        """``"certified"`` (or given), ``"statistical"``, or None without an upper bound."""
        return bound_kind(self.upper, self.upper_confidence)

    @property
    def gap(self) -> float | None:
        """``upper - lower`` (None without an upper bound)."""
        return None if self.upper is None else self.upper - self.lower

    @property
    def relative_gap(self) -> float | None:
        """``(upper - lower) / |lower|`` (inf when lower is 0)."""
        gap = self.gap
        if gap is None:
            return None
        return gap / abs(self.lower) if self.lower != 0 else math.inf

    @property
    def feasible(self) -> bool:
        """Whether the menu passed every feasibility check (so its profit is a lower bound)."""
        return all(c.passed for c in self.checks if c.name != "bracket")

    @property
    def consistent(self) -> bool:
        """``lower <= upper + slack`` (True without an upper bound)."""
        return all(c.passed for c in self.checks if c.name == "bracket")

    @property
    def ok(self) -> bool:
        """Feasible and consistent: the bracket can be trusted."""
        return self.feasible and self.consistent

    @property
    def status(self) -> str:
        """``certified``, ``statistical``, ``lower-only``, ``violation``, ``statistical-miss``
        or ``infeasible-menu``."""
        if not self.feasible:
            return "infeasible-menu"
        statistical = self.upper_kind == "statistical"
        if not self.consistent:
            return "statistical-miss" if statistical else "violation"
        if self.upper is None:
            return "lower-only"
        return "statistical" if statistical else "certified"

    @property
    def verdict(self) -> str:
        """One line a person can act on."""
        lo = f"{self.lower:.8g} ({self.lower_method}" + (
            f" ± {self.lower_stderr:.2g})" if self.lower_stderr else ")")
        status = self.status
        if status == "infeasible-menu":
            failed = "; ".join(f"{c.name}: {c.detail}" for c in self.checks
                               if not c.passed and c.name != "bracket")
            return f"INFEASIBLE MENU: {failed}; its profit {lo} is not a lower bound"
        if status == "violation":
            assert self.upper is not None
            return (f"VIOLATION: the menu's profit {lo} exceeds the upper bound "
                    f"{self.upper:.8g} ({self.upper_method}) by {self.lower - self.upper:.3g} "
                    f"> slack {self.slack:.2g}: the bound or the evaluation is wrong")
        if status == "statistical-miss":
            assert self.upper is not None and self.upper_confidence is not None
            return (f"STATISTICAL BOUND MISSED: the menu's profit {lo} exceeds the statistical "
                    f"upper bound {self.upper:.8g} ({100 * self.upper_confidence:g}% one-sided, "
                    f"{self.upper_method}) by {self.lower - self.upper:.3g}: that bound failed "
                    "(it does with probability about one minus its level); use more draws or a "
                    "certified bound")
        if status == "lower-only":
            return f"LOWER BOUND ONLY: optimum >= {lo}; no upper bound was computed"
        rel = self.relative_gap
        if status == "statistical":
            assert self.upper_confidence is not None
            return (f"STATISTICAL (not certified): optimum in [{self.lower:.8g}, "
                    f"{self.upper:.8g}] at {100 * self.upper_confidence:g}% confidence, gap "
                    f"{self.gap:.3g} ({100 * rel:.3g}% of lower); lower {self.lower_method}"
                    + (f" ± {self.lower_stderr:.2g}" if self.lower_stderr else "")
                    + f", upper {self.upper_method}")
        return (f"CERTIFIED: optimum in [{self.lower:.8g}, {self.upper:.8g}], gap "
                f"{self.gap:.3g} ({100 * rel:.3g}% of lower); lower {self.lower_method}"
                + (f" ± {self.lower_stderr:.2g}" if self.lower_stderr else "")
                + f", upper {self.upper_method}")

    def summary(self) -> str:
        """The verdict, then every check."""
        return "\n".join([self.verdict, *(str(c) for c in self.checks)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (no arrays)."""
        return {"status": self.status, "verdict": self.verdict, "lower": self.lower,
                "lower_method": self.lower_method, "lower_stderr": self.lower_stderr,
                "upper": self.upper, "upper_method": self.upper_method,
                "upper_kind": self.upper_kind, "upper_confidence": self.upper_confidence,
                "gap": self.gap,
                "relative_gap": self.relative_gap, "slack": self.slack,
                "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail}
                           for c in self.checks]}


# ---------------------------------------------------------------------------- menu checks
def _probe_points(problem: Problem, points: int, seed: int) -> np.ndarray:
    """Random types plus the box corners and the belief (where IR/IC slips would show)."""
    rng = np.random.default_rng(seed)
    sample = problem.sample(points, rng)
    low, high = problem.value_low, problem.value_high
    n = problem.goods
    corners = np.empty((0, n))
    if n <= 10:
        bits = (np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1
        corners = np.where(bits == 1, high, low)
    return np.vstack([sample, corners, np.asarray(problem.belief)[None, :]])


def check_menu(problem: Problem, menu: Menu, *, points: int = 4096,
               seed: int = 0) -> tuple[Check, ...]:
    r"""Feasibility of ``menu`` for ``problem``: the conditions for :math:`u_M \in U`.

    .. math::

        x_k \in X \;\forall k, \qquad u_M(v) = \max_k v\cdot x_k - p_k \ge 0, \qquad
        u_M(v) = v \cdot x_{k^*(v)} - p_{k^*(v)}, \qquad u_M(c) = 0 .

    IR and IC hold by construction for a menu with no-trade whose traders pick the best item;
    they are verified on ``points`` random types, the box corners and :math:`c` (so a broken
    choice rule or a missing no-trade item would show).

    Parameters
    ----------
    problem : Problem
    menu : Menu
    points : int
        Random types to probe.
    seed : int

    Returns
    -------
    tuple of Check
        ``allocation box``, ``IR``, ``IC``, ``u(c) = 0``.
    """
    x = np.asarray(menu.allocations)
    p = np.asarray(menu.prices)
    low, high = problem.allocation_low, problem.allocation_high
    excess = float(np.max(np.maximum(x - high, low - x), initial=0.0))
    checks = [Check("allocation box", excess <= 1e-9,
                    f"largest excursion outside X = {max(excess, 0.0):.3g}")]
    v = _probe_points(problem, points, seed)
    util = menu.utilities(v)
    best = util.max(axis=1)
    chosen = menu.choose(v, problem)
    got = util[np.arange(len(v)), chosen]
    scale = 1.0 + np.abs(x).max(initial=0.0) * np.abs(v).max(initial=0.0) * x.shape[1] + \
        np.abs(p).max(initial=0.0)
    tol = UC_RTOL * scale
    has_nt = bool(np.any(np.all(x == 0.0, axis=1) & (p == 0.0)))
    worst_ir = float(got.min())
    checks.append(Check("IR", has_nt and worst_ir >= -tol,
                        f"no-trade offered: {has_nt}; smallest chosen utility over {len(v)} "
                        f"types = {worst_ir:.3g}"))
    regret = float((best - got).max())
    checks.append(Check("IC", regret <= tol,
                        f"largest utility left on the table over {len(v)} types = {regret:.3g}"))
    uc = float(menu.utility(np.asarray(problem.belief)[None, :])[0])
    checks.append(Check("u(c) = 0", uc <= tol,
                        f"u(c) = {uc:.3g} (the belief type must not gain from trading; the "
                        "model's feasible set and every certified upper bound assume it)"))
    return tuple(checks)


# ---------------------------------------------------------------------------- upper bounds
UpperSpec = float | int | str | Result | Callable[[Problem], Any] | None


def upper_from(problem: Problem, upper: UpperSpec,
               options: Mapping[str, Any] | None = None) -> tuple[float | None, str, dict]:
    """Resolve ``upper`` to ``(value, method, details)``.

    A string names an engine, run through :func:`amm_opt.solve` (imported here, at call time);
    a callable receives the problem and returns a number or a :class:`Result`.
    """
    options = dict(options or {})
    if upper is None:
        return None, "", {}
    if isinstance(upper, bool):
        raise OptionError("must be a number, an engine name, a Result or a callable",
                          field="upper", value=upper, allowed="e.g. 'ot_dual' or 0.28")
    if isinstance(upper, (int, float, np.floating, np.integer)):
        value = float(upper)
        if not math.isfinite(value):
            raise OptionError("must be finite", field="upper", value=upper,
                              allowed="a finite number")
        return value, "given", {}
    if isinstance(upper, str):
        from ..solving import solve  # the API layer; it imports the engines lazily

        result = solve(problem, backend=upper, check=False, **options)
        return _upper_of_result(result, f"engine {upper!r}")
    if isinstance(upper, Result):
        return _upper_of_result(upper, "given result")
    if callable(upper):
        out = upper(problem)
        if isinstance(out, Result):
            return _upper_of_result(out, f"callable {getattr(upper, '__name__', upper)!r}")
        return upper_from(problem, out)[0], f"callable {getattr(upper, '__name__', '?')}", {}
    raise OptionError("must be a number, an engine name, a Result or a callable", field="upper",
                      value=upper, allowed="None, a float, 'grid_lp', 'ot_dual', a Result, or "
                                           "problem -> float | Result")


def _upper_of_result(result: Result, where: str) -> tuple[float, str, dict]:
    if result.bounds.upper is None:
        raise OptionError("gave no upper bound", field="upper", value=where,
                          allowed=f"an engine that certifies one (backend {result.backend!r} "
                                  "only returns a menu)")
    if not result.status.usable:
        raise OptionError(f"failed ({result.status.value})", field="upper", value=where,
                          allowed="an engine run that finished with usable bounds")
    method = f"{result.backend}: {result.bounds.upper_method}" if result.backend else \
        result.bounds.upper_method
    return float(result.bounds.upper), method, {"upper_status": result.status.value,
                                                "upper_seconds": result.solve_seconds}


# ---------------------------------------------------------------------------- certify
def certify(problem: Problem, menu: Menu, upper: UpperSpec = None, *,
            upper_options: Mapping[str, Any] | None = None,
            evaluate_options: Mapping[str, Any] | None = None,
            evaluation: Evaluation | None = None, check_points: int = 4096,
            seed: int = 0) -> Certificate:
    r"""Bracket the optimal profit with ``menu``'s profit and an upper bound, and check both.

    .. math::

        \underline\Pi = \mathbb{E}_v\big[p_{k^*(v)} - x_{k^*(v)} \cdot c'(v)\big]
        \;\le\; \Pi^\star \;\le\; \overline\Pi ,
        \qquad \underline\Pi \le \overline\Pi + 4\sigma + 10^{-9}(1 + |\overline\Pi|) .

    Parameters
    ----------
    problem : Problem
    menu : Menu
        Allocations of shape (K, goods).
    upper : None, float, str, Result or callable
        None (lower bound only), a number, an engine name (``"grid_lp"``, ``"ot_dual"``,
        ``"types_lp"``: run through :func:`amm_opt.solve` with ``upper_options``), a
        :class:`Result` carrying ``bounds.upper``, or ``problem -> float | Result``. A
        statistical bound (its ``upper_method`` says so) is reported as statistical.
    upper_options : mapping, optional
        Options of the named engine (e.g. ``{"grid": 64}``).
    evaluate_options : mapping, optional
        Passed to :func:`amm_opt.evaluate` (method, qmc_points, ...).
    evaluation : Evaluation, optional
        Reuse an evaluation of this menu on this problem instead of computing it.
    check_points, seed : int
        Random types for the IR/IC checks.

    Returns
    -------
    Certificate
        ``verdict`` says in one line whether the bracket holds; ``ok`` is False for an infeasible
        menu or a lower bound above the upper bound (``status`` tells a certified bound's
        ``violation`` from a statistical bound's ``statistical-miss``).

    Examples
    --------
    >>> from amm_opt import references
    >>> from amm_opt.validation import certify
    >>> problem, menu, best = references.r2_two_goods(0.0)
    >>> cert = certify(problem, menu, upper=best + 0.01)
    >>> cert.status, round(cert.lower, 7)
    ('certified', 0.2746005)
    >>> certify(problem, menu, upper=0.2).verdict.split(":")[0]
    'VIOLATION'
    """
    require_problem_and_menu(problem, menu)
    menu.check_fits(problem)
    evaluate_options = options_mapping(evaluate_options, "evaluate_options", EVALUATE_OPTIONS)
    upper_options = options_mapping(upper_options, "upper_options")
    # 2^24 probe points are seconds of work; more is a typo, refused instead of a MemoryError.
    check_count(check_points, "check_points", 1 << 24)
    check_seed(seed)
    ev = evaluation if evaluation is not None else evaluate(problem, menu, **evaluate_options)
    if not isinstance(ev, Evaluation):
        raise OptionError("must be an Evaluation", field="evaluation", value=ev,
                          allowed="amm_opt.evaluate(problem, menu)")
    checks = list(check_menu(problem, menu, points=check_points, seed=seed))
    value, method, details = upper_from(problem, upper, upper_options)
    slack = 0.0
    if value is not None:
        slack = bracket_slack(ev.stderr, value)
        excess = ev.profit - value
        level = parse_statistical(method)
        kind = "" if level is None else f" (statistical upper bound, {100 * level:g}% one-sided)"
        checks.append(Check("bracket", excess <= slack,
                            f"lower - upper = {excess:.3g} (allowed <= {slack:.2g}){kind}"))
    details = {"evaluation": ev, **details}
    return Certificate(lower=ev.profit, lower_method=ev.method, lower_stderr=ev.stderr,
                       upper=value, upper_method=method, checks=tuple(checks), slack=slack,
                       details=details,
                       upper_confidence=None if value is None else parse_statistical(method))
