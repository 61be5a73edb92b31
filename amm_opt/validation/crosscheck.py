r"""Run several engines on one problem and check that their bounds are mutually consistent.

Every menu an engine returns is re-evaluated here (:func:`amm_opt.evaluate`, independently of the
engine), giving lower bounds :math:`L_i`; certifying engines give upper bounds :math:`U_j`. Since
all bracket the same optimum,

.. math::

    L_i \;\le\; \Pi^\star \;\le\; U_j \qquad \text{for every pair } (i, j),

checked as :math:`L_i \le U_j + 4\sigma_i + 10^{-9}(1 + |U_j|)` (:math:`\sigma_i` the evaluation
error of :math:`L_i`: 0 when exact). A known optimum (a reference) joins both sides. Any
violation raises :class:`CrosscheckError` naming the two engines: one of them is wrong.
Each engine's own reported profit must also match the independent evaluation.

A **statistical** upper bound (``types_lp`` on a density, labelled by
:func:`amm_opt.statistical.statistical_method`) holds only at its confidence level: a lower bound
(or the reference) above it is listed as a *statistical miss*, not a violation, and the bracket
(:attr:`CrosscheckReport.best_upper`) uses certified bounds only.

Engines named by strings run through :func:`amm_opt.solve` (imported at call time; this module
never imports :mod:`amm_opt.solvers`); callables ``problem -> Result`` are accepted too.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    AmmOptError,
    BackendUnavailableError,
    OptionError,
    UnsupportedProblemError,
)
from ..evaluate import evaluate
from ..problem import Problem
from ..result import Result, bracket_slack
from ..statistical import bound_kind, parse_statistical
from .arguments import EVALUATE_OPTIONS, options_mapping, real_or_none
from .certify import check_menu

__all__ = ["CrosscheckError", "CrosscheckReport", "EngineRun", "crosscheck"]

Engine = str | Callable[[Problem], Result]


class CrosscheckError(AmmOptError, AssertionError):
    """Two engines disagree (a lower bound above an upper bound) or an engine failed.

    ``report`` holds the full :class:`CrosscheckReport`.
    """

    def __init__(self, message: str, report: CrosscheckReport, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.report = report


@dataclass(frozen=True)
class EngineRun:
    """One engine's outcome on the problem.

    ``lower`` is the independent evaluation of the engine's menu (None without a menu);
    ``reported_lower`` what the engine said; ``outcome`` is the status value, ``"error"``,
    ``"unsupported"`` or ``"unavailable"``.
    """

    name: str
    outcome: str
    lower: float | None = None
    lower_stderr: float = 0.0
    lower_method: str = ""
    reported_lower: float | None = None
    upper: float | None = None
    upper_method: str = ""
    seconds: float = 0.0
    message: str = ""
    result: Result | None = field(default=None, repr=False)

    @property
    def upper_confidence(self) -> float | None:
        """Level of a statistical ``upper`` (None when certified or absent)."""
        return None if self.upper is None else parse_statistical(self.upper_method)

    @property
    def upper_kind(self) -> str | None:
        """``"certified"``, ``"statistical"`` or None."""
        return bound_kind(self.upper, self.upper_confidence)

    @property
    def ran(self) -> bool:
        return self.outcome not in ("error", "unsupported", "unavailable")


@dataclass(frozen=True)
class CrosscheckReport:
    """All runs, the known optimum if any, and every inconsistency found.

    ``statistical_misses`` lists lower bounds (or the reference) above a statistical upper
    bound: that bound failed, which happens with probability about one minus its level; they
    are not violations and do not make the report fail.
    """

    runs: tuple[EngineRun, ...]
    reference: float | None
    violations: tuple[str, ...]
    failures: tuple[str, ...]
    statistical_misses: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations and not self.failures

    @property
    def best_lower(self) -> tuple[float, str] | None:
        """Largest lower bound and its engine."""
        pairs = [(r.lower, r.name) for r in self.runs if r.lower is not None]
        return max(pairs) if pairs else None

    @property
    def best_upper(self) -> tuple[float, str] | None:
        """Smallest certified upper bound and its engine."""
        pairs = [(r.upper, r.name) for r in self.runs
                 if r.upper is not None and r.upper_kind == "certified"]
        return min(pairs) if pairs else None

    @property
    def best_statistical_upper(self) -> tuple[float, str] | None:
        """Smallest statistical upper bound and its engine."""
        pairs = [(r.upper, r.name) for r in self.runs if r.upper_kind == "statistical"]
        return min(pairs) if pairs else None

    def table(self) -> str:
        """A plain-text table of the runs, the bracket and any violation."""
        head = ("engine", "outcome", "lower (evaluated)", "upper", "seconds")
        rows = [head]
        for r in self.runs:
            lo = "—" if r.lower is None else f"{r.lower:.8g} {r.lower_method}" + (
                f" ±{r.lower_stderr:.1g}" if r.lower_stderr else "")
            hi = "—" if r.upper is None else f"{r.upper:.8g} " + (
                "certified" if r.upper_confidence is None else
                f"STATISTICAL {100 * r.upper_confidence:g}%")
            rows.append((r.name, r.outcome, lo, hi, f"{r.seconds:.2f}"))
        if self.reference is not None:
            rows.append(("reference", "closed form", f"{self.reference:.8g}",
                         f"{self.reference:.8g}", "—"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lo, hi = self.best_lower, self.best_upper
        if lo is not None and hi is not None:
            rel = (hi[0] - lo[0]) / abs(lo[0]) if lo[0] else math.inf
            lines.append(f"bracket: {lo[0]:.8g} ({lo[1]}) <= optimum <= {hi[0]:.8g} ({hi[1]}), "
                         f"relative gap {rel:.3g}")
        stat = self.best_statistical_upper
        if lo is not None and stat is not None:
            lines.append(f"statistical: optimum <= {stat[0]:.8g} ({stat[1]}, not certified)")
        for text in self.statistical_misses:
            lines.append("STATISTICAL MISS: " + text)
        for text in self.failures:
            lines.append("FAILED: " + text)
        for text in self.violations:
            lines.append("VIOLATION: " + text)
        if self.ok:
            lines.append("all lower bounds <= all upper bounds: consistent")
        return "\n".join(lines)


def _normalise(backends: Any) -> list[tuple[str, Engine]]:
    if isinstance(backends, str) or callable(backends):
        backends = [backends]
    if isinstance(backends, Mapping):
        items = list(backends.items())
    elif isinstance(backends, Sequence):
        items = [(b if isinstance(b, str) else getattr(b, "__name__", repr(b)), b)
                 for b in backends]
    else:
        raise OptionError("must be engine names or callables", field="backends",
                          value=backends, allowed="e.g. ['separate', 'ot_dual'] or "
                                                  "{'label': problem -> Result}")
    if not items:
        raise OptionError("is empty", field="backends", value=backends,
                          allowed="at least one engine")
    for label, engine in items:
        if not (isinstance(engine, str) or callable(engine)):
            raise OptionError("must be an engine name or a callable problem -> Result",
                              field=f"backends[{label!r}]", value=engine,
                              allowed="a registered backend name or a callable")
    labels = [label for label, _ in items]
    if len(set(labels)) != len(labels):
        raise OptionError("has duplicate labels", field="backends", value=labels,
                          allowed="distinct names (use a mapping to label runs)")
    return [(str(label), engine) for label, engine in items]


def _run(problem: Problem, label: str, engine: Engine, options: Mapping[str, Any],
         evaluate_options: Mapping[str, Any]) -> EngineRun:
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if isinstance(engine, str):
                from ..solving import solve  # the API layer; it imports the engines lazily

                result = solve(problem, backend=engine, check=False, **dict(options))
            else:
                result = engine(problem)
        except UnsupportedProblemError as exc:
            return EngineRun(label, "unsupported", message=str(exc),
                             seconds=time.perf_counter() - start)
        except BackendUnavailableError as exc:
            return EngineRun(label, "unavailable", message=str(exc),
                             seconds=time.perf_counter() - start)
        except AmmOptError as exc:
            return EngineRun(label, "error", message=f"{type(exc).__name__}: {exc}",
                             seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if not isinstance(result, Result):
        return EngineRun(label, "error", seconds=seconds,
                         message=f"returned {type(result).__name__}, not a Result")
    notes = [f"{type(w.message).__name__}: {w.message}" for w in caught]
    lower = stderr = None
    method = ""
    if result.menu is not None:
        ev = evaluate(problem, result.menu, **dict(evaluate_options))
        lower, stderr, method = ev.profit, ev.stderr, ev.method
        failed = [str(c) for c in check_menu(problem, result.menu) if not c.passed]
        notes += failed
    upper = result.bounds.upper if result.status.usable else None
    if result.bounds.upper is not None and upper is None:
        notes.append(f"upper bound {result.bounds.upper} ignored: status "
                     f"{result.status.value}")
    return EngineRun(label, result.status.value, lower=lower, lower_stderr=stderr or 0.0,
                     lower_method=method, reported_lower=result.bounds.lower, upper=upper,
                     upper_method=result.bounds.upper_method, seconds=seconds,
                     message="; ".join(notes), result=result)


def crosscheck(problem: Problem, backends: Any, *,
               options: Mapping[str, Mapping[str, Any]] | None = None,
               reference: float | None = None,
               evaluate_options: Mapping[str, Any] | None = None,
               raise_on_error: bool = True) -> CrosscheckReport:
    r"""Run ``backends`` on ``problem`` and check every lower bound against every upper bound.

    .. math::

        L_i \le U_j + 4\sigma_i + 10^{-9}(1 + |U_j|) \quad \forall i, j, \qquad
        |L_i - L_i^{\text{reported}}| \le 4(\sigma_i + \sigma_i^{\text{reported}})
        + 10^{-9}(1 + |L_i|) .

    Parameters
    ----------
    problem : Problem
    backends : sequence or mapping
        Engine names (run with :func:`amm_opt.solve`) and/or callables ``problem -> Result``;
        a mapping labels them.
    options : mapping of label to mapping, optional
        Options per engine label (e.g. ``{"ot_dual": {"grid": 16}}``).
    reference : float, optional
        The known optimum; it must lie in every engine's bracket.
    evaluate_options : mapping, optional
        Options of the independent :func:`amm_opt.evaluate` of every menu.
    raise_on_error : bool
        Raise :class:`CrosscheckError` on a violation, an engine error, a menu that fails its
        feasibility checks, or a reported profit that the evaluation does not reproduce.
        Unsupported or unavailable engines are listed but are not errors.

    Returns
    -------
    CrosscheckReport
        ``table()`` prints it.

    Examples
    --------
    >>> from amm_opt import references
    >>> from amm_opt.validation import crosscheck
    >>> problem, menu, best = references.r2_two_goods(0.0)
    >>> report = crosscheck(problem, ["separate"], reference=best)
    >>> report.ok, round(report.best_lower[0], 6)
    (True, 0.25)
    """
    if not isinstance(problem, Problem):
        raise OptionError("must be a Problem", field="problem", value=problem,
                          allowed="amm_opt.Problem(...)")
    engines = _normalise(backends)
    options = options_mapping(options, "options")
    for label, value in options.items():
        options[label] = options_mapping(value, f"options[{label!r}]")
    evaluate_options = options_mapping(evaluate_options, "evaluate_options", EVALUATE_OPTIONS)
    unknown = sorted(set(options) - {label for label, _ in engines})
    if unknown:
        raise OptionError("names engines that are not run", field="options", value=unknown,
                          allowed=", ".join(label for label, _ in engines))
    reference = real_or_none(reference, "reference")
    runs = tuple(_run(problem, label, engine, options.get(label, {}),
                      evaluate_options or {}) for label, engine in engines)
    failures: list[str] = []
    for r in runs:
        if r.outcome in ("error", "failed", "infeasible"):
            failures.append(f"{r.name}: {r.message or r.outcome}")
        elif r.lower is not None and "[FAIL]" in r.message:
            failures.append(f"{r.name}: its menu fails a feasibility check: {r.message}")
        if r.lower is not None and r.reported_lower is not None and r.result is not None:
            reported_err = r.result.bounds.lower_stderr
            tol = bracket_slack(r.lower_stderr + reported_err, r.lower)
            if abs(r.lower - r.reported_lower) > tol:
                failures.append(f"{r.name}: reported profit {r.reported_lower:.10g} but its menu "
                                f"evaluates to {r.lower:.10g} (difference "
                                f"{r.reported_lower - r.lower:.3g} > {tol:.2g})")
    lowers = [(r.name, r.lower, r.lower_stderr, r.lower_method) for r in runs
              if r.lower is not None]
    uppers = [(r.name, r.upper, r.upper_method) for r in runs if r.upper is not None]
    if reference is not None:
        lowers.append(("reference", reference, 0.0, "closed form"))
        uppers.append(("reference", reference, "closed form"))
    violations: list[str] = []
    misses: list[str] = []
    for lname, lo, sigma, lmethod in lowers:
        for uname, hi, umethod in uppers:
            if lname == uname == "reference":
                continue
            slack = bracket_slack(sigma, hi)
            level = parse_statistical(umethod)
            if lo > hi + slack and level is not None:
                misses.append(
                    f"lower bound of {lname!r} ({lo:.10g}, {lmethod}) exceeds the statistical "
                    f"upper bound of {uname!r} ({hi:.10g}, {100 * level:g}% one-sided) by "
                    f"{lo - hi:.3g}: that bound failed (probability about {1 - level:.2g})")
            elif lo > hi + slack:
                violations.append(
                    f"lower bound of {lname!r} ({lo:.10g}, {lmethod}) exceeds upper bound of "
                    f"{uname!r} ({hi:.10g}, {umethod or 'certified'}) by {lo - hi:.3g} > "
                    f"slack {slack:.2g}: one of the two engines is wrong")
    report = CrosscheckReport(runs=runs, reference=reference, violations=tuple(violations),
                              failures=tuple(failures), statistical_misses=tuple(misses))
    if raise_on_error and not report.ok:
        first = (list(violations) + failures)[0]
        raise CrosscheckError(first + f" ({len(violations)} violation(s), {len(failures)} "
                              "failure(s))\n" + report.table(), report)
    return report
