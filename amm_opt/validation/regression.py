r"""Regression checks of menus: what changed for traders and for the market maker.

Two menus :math:`A, B` on one problem are compared by what users see:

.. math::

    \Delta\Pi = \Pi(B) - \Pi(A), \qquad
    s = \Pr_v\big[\|x^A_{k_A(v)} - x^B_{k_B(v)}\|_\infty > \varepsilon\big], \qquad
    \Delta p = \max_{(k, l) \text{ matched}} |p^A_k - p^B_l| ,

the profit difference (exact evaluation where available), the share of types whose trade changes
(scrambled-Sobol estimate with a standard error, or the plain mean over the samples of a
sample-only problem), and the largest price change among items offered by both (items chosen with
positive probability, matched one-to-one by allocation within :math:`\varepsilon`).

Golden menus are JSON files (``{"format": "amm_opt.golden", ...}``) holding a problem, a menu,
its profit and how it was made, so a later run can be compared with the stored one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import qmc

from ..distributions import Samples
from ..errors import FileFormatError, OptionError
from ..evaluate import Evaluation, evaluate
from ..menu import Menu
from ..options import Integer, check_value
from ..problem import Problem
from ..result import BRACKET_SIGMAS

__all__ = ["GOLDEN_FORMAT", "Golden", "MenuComparison", "compare_menus", "load_golden",
           "save_golden"]

GOLDEN_FORMAT = "amm_opt.golden"
GOLDEN_SCHEMA = 1


@dataclass(frozen=True)
class MenuComparison:
    """Outcome-level differences between a baseline menu ``a`` and a candidate ``b``.

    Attributes
    ----------
    profit_a, profit_b : float
        Evaluated profits.
    profit_stderr : float
        Combined evaluation error of the difference (0 when both are exact).
    changed_share : float
        Probability that a type's trade differs (allocation distance above ``match_tol``).
    changed_share_stderr : float
        Its standard error (0 for a sample-only problem: the mean over all samples is exact).
    matched_items : int
        Items (chosen with positive probability) of ``a`` matched to items of ``b``.
    unmatched_a, unmatched_b : int
        Offered items of each menu without a partner in the other.
    max_price_difference : float or None
        Largest :math:`|p^A_k - p^B_l|` over matched pairs (None when nothing matches).
    max_utility_difference : float
        Largest :math:`|u_A(v) - u_B(v)|` over the probe types.
    details : dict
        Methods, points, the evaluations.
    """

    profit_a: float
    profit_b: float
    profit_stderr: float
    changed_share: float
    changed_share_stderr: float
    matched_items: int
    unmatched_a: int
    unmatched_b: int
    max_price_difference: float | None
    max_utility_difference: float
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def profit_difference(self) -> float:
        """``profit_b - profit_a`` (negative: the candidate earns less)."""
        return self.profit_b - self.profit_a

    @property
    def relative_profit_difference(self) -> float:
        """``(profit_b - profit_a) / |profit_a|``."""
        if self.profit_a == 0:
            return 0.0 if self.profit_b == 0 else math.copysign(math.inf, self.profit_b)
        return self.profit_difference / abs(self.profit_a)

    @property
    def identical_outcomes(self) -> bool:
        """Same profit, no type changes trade, no price changes."""
        return (self.profit_difference == 0.0 and self.changed_share == 0.0
                and self.unmatched_a == 0 and self.unmatched_b == 0
                and (self.max_price_difference or 0.0) == 0.0)

    def regressions(self, *, profit_rtol: float = 1e-3, max_changed_share: float | None = None,
                    max_price_difference: float | None = None) -> list[str]:
        r"""Why ``b`` regresses against ``a`` (empty when it does not).

        A profit loss counts when :math:`\Pi(A) - \Pi(B) > \text{profit\_rtol}\,|\Pi(A)| +
        4\sigma` (:math:`\sigma` the evaluation error); the other limits are optional.
        """
        for name, val in (("profit_rtol", profit_rtol), ("max_changed_share", max_changed_share),
                          ("max_price_difference", max_price_difference)):
            if val is not None and (isinstance(val, bool) or not isinstance(
                    val, (int, float)) or not val >= 0):
                raise OptionError("must be a non-negative number", field=name, value=val,
                                  allowed="e.g. 1e-3")
        out = []
        loss = self.profit_a - self.profit_b
        allowed = profit_rtol * abs(self.profit_a) + BRACKET_SIGMAS * self.profit_stderr
        if loss > allowed:
            out.append(f"profit fell by {loss:.3g} ({100 * loss / abs(self.profit_a or 1):.3g}%)"
                       f", more than the allowed {allowed:.3g}")
        if max_changed_share is not None and self.changed_share > max_changed_share:
            out.append(f"{100 * self.changed_share:.3g}% of types change trade (allowed "
                       f"{100 * max_changed_share:.3g}%)")
        if max_price_difference is not None:
            if self.max_price_difference is None:
                out.append("no offered item of the baseline is still offered")
            elif self.max_price_difference > max_price_difference:
                out.append(f"a matched item's price moved by {self.max_price_difference:.3g} "
                           f"(allowed {max_price_difference:.3g})")
        return out

    def summary(self) -> str:
        """Human-readable lines."""
        share = f"{100 * self.changed_share:.4g}%"
        if self.changed_share_stderr:
            share += f" ± {100 * self.changed_share_stderr:.2g}%"
        price = "—" if self.max_price_difference is None else f"{self.max_price_difference:.6g}"
        return "\n".join([
            f"profit: baseline {self.profit_a:.8g}, candidate {self.profit_b:.8g}, difference "
            f"{self.profit_difference:+.3g} ({100 * self.relative_profit_difference:+.3g}%)",
            f"types whose trade changes: {share}",
            f"offered items matched: {self.matched_items} (unmatched: baseline "
            f"{self.unmatched_a}, candidate {self.unmatched_b}); largest price change {price}",
            f"largest utility change over the probe types: {self.max_utility_difference:.3g}",
        ])

    def to_dict(self) -> dict[str, Any]:
        return {"profit_a": self.profit_a, "profit_b": self.profit_b,
                "profit_difference": self.profit_difference,
                "relative_profit_difference": self.relative_profit_difference,
                "profit_stderr": self.profit_stderr, "changed_share": self.changed_share,
                "changed_share_stderr": self.changed_share_stderr,
                "matched_items": self.matched_items, "unmatched_a": self.unmatched_a,
                "unmatched_b": self.unmatched_b,
                "max_price_difference": self.max_price_difference,
                "max_utility_difference": self.max_utility_difference}


def _probe_sets(problem: Problem, points: int, replications: int, seed: int) -> list[np.ndarray]:
    dist = problem.distribution
    if isinstance(dist, Samples):
        return [np.asarray(dist.values, dtype=np.float64).reshape(-1, problem.goods)]
    m = max(1, math.ceil(math.log2(max(points, 2))))
    out = []
    for ss in np.random.SeedSequence(seed).spawn(replications):
        u = qmc.Sobol(problem.goods, scramble=True, seed=np.random.default_rng(ss)).random_base2(m)
        out.append(dist.ppf(u))
    return out


def _offered(ev: Evaluation) -> np.ndarray:
    return np.flatnonzero(np.asarray(ev.item_probability) > 0)


def compare_menus(a: Menu, b: Menu, problem: Problem, *, points: int = 1 << 13,
                  replications: int = 8, seed: int = 0, match_tol: float = 1e-6,
                  evaluate_options: Mapping[str, Any] | None = None) -> MenuComparison:
    r"""Compare a baseline menu ``a`` with a candidate ``b`` on ``problem``.

    .. math::

        \Delta\Pi = \Pi(b) - \Pi(a), \quad
        s = \Pr_v\big[\|x^a(v) - x^b(v)\|_\infty > \text{match\_tol}\big], \quad
        \Delta p = \max_{\text{matched}} |p^a_k - p^b_l| .

    Parameters
    ----------
    a, b : Menu
        Allocations of shape (K_a, goods) and (K_b, goods).
    problem : Problem
    points, replications : int
        Scrambled-Sobol points per replication (rounded up to a power of 2) and independent
        replications for the changed share; all samples are used for a sample-only problem.
    seed : int
    match_tol : float
        Allocations closer than this (max-norm) are the same trade.
    evaluate_options : mapping, optional
        Passed to :func:`amm_opt.evaluate`.

    Returns
    -------
    MenuComparison

    Examples
    --------
    >>> from amm_opt import Menu, references
    >>> from amm_opt.validation import compare_menus
    >>> problem, menu, _ = references.r2_two_goods(0.0)
    >>> compare_menus(menu, menu, problem).identical_outcomes
    True
    >>> cheaper = Menu(menu.allocations, menu.prices - 0.01 * (menu.prices != 0))
    >>> diff = compare_menus(menu, cheaper, problem)
    >>> round(diff.max_price_difference, 12), diff.profit_difference < 0
    (0.01, True)
    """
    for name, menu in (("a", a), ("b", b)):
        if not isinstance(menu, Menu):
            raise OptionError("must be a Menu", field=name, value=menu,
                              allowed="amm_opt.Menu(allocations, prices)")
    if not isinstance(problem, Problem):
        raise OptionError("must be a Problem", field="problem", value=problem,
                          allowed="amm_opt.Problem(...)")
    # 2^24 probe points x 64 replications is minutes of work already: larger is a typo.
    check_value("points", points, Integer(2, 1 << 24, example="2**13"))
    check_value("replications", replications, Integer(2, 64, example="4"))
    check_value("seed", seed, Integer(0, 2**63 - 1, example="0"))
    if isinstance(match_tol, bool) or not isinstance(match_tol, (int, float)) or \
            not match_tol >= 0:
        raise OptionError("must be a non-negative number", field="match_tol", value=match_tol,
                          allowed="e.g. 1e-6")
    opts = dict(evaluate_options or {})
    ev_a = evaluate(problem, a, **opts)
    ev_b = evaluate(problem, b, **opts)
    xa, xb = np.asarray(a.allocations), np.asarray(b.allocations)
    pa, pb = np.asarray(a.prices), np.asarray(b.prices)

    shares, udiff = [], 0.0
    for v in _probe_sets(problem, int(points), int(replications), int(seed)):
        ta = xa[a.choose(v, problem)]
        tb = xb[b.choose(v, problem)]
        shares.append(float(np.mean(np.abs(ta - tb).max(axis=1) > match_tol)))
        udiff = max(udiff, float(np.abs(a.utility(v) - b.utility(v)).max()))
    share = float(np.mean(shares))
    share_se = float(np.std(shares, ddof=1) / math.sqrt(len(shares))) if len(shares) > 1 else 0.0

    offered_a, offered_b = _offered(ev_a), _offered(ev_b)
    matched, max_dp = 0, None
    if offered_a.size and offered_b.size:
        dist = np.abs(xa[offered_a][:, None, :] - xb[offered_b][None, :, :]).max(axis=2)
        # Pairs further apart than match_tol cannot match: give them a cost above any real one.
        cost = np.where(dist <= match_tol, dist, 1e6 + dist)
        rows, cols = linear_sum_assignment(cost)
        good = dist[rows, cols] <= match_tol
        rows, cols = rows[good], cols[good]
        matched = int(rows.size)
        if matched:
            max_dp = float(np.abs(pa[offered_a[rows]] - pb[offered_b[cols]]).max())
    return MenuComparison(
        profit_a=ev_a.profit, profit_b=ev_b.profit,
        profit_stderr=math.hypot(ev_a.stderr, ev_b.stderr), changed_share=share,
        changed_share_stderr=share_se, matched_items=matched,
        unmatched_a=int(offered_a.size - matched), unmatched_b=int(offered_b.size - matched),
        max_price_difference=max_dp, max_utility_difference=udiff,
        details={"evaluation_a": ev_a, "evaluation_b": ev_b, "match_tol": match_tol,
                 "probe": "samples" if isinstance(problem.distribution, Samples) else
                 f"scrambled Sobol, {replications} x 2^{math.ceil(math.log2(max(points, 2)))}"})


# ---------------------------------------------------------------------------- golden menus
@dataclass(frozen=True)
class Golden:
    """A stored menu with its problem, its profit when stored, and how it was made."""

    name: str
    problem: Problem
    menu: Menu
    profit: float
    source: str
    settings: dict[str, Any] = field(default_factory=dict)


def save_golden(path: str | Path, name: str, problem: Problem, menu: Menu, *, source: str,
                settings: Mapping[str, Any] | None = None) -> Golden:
    """Evaluate ``menu`` on ``problem`` and write both, with ``source`` and ``settings``, as JSON.

    ``source`` says how the menu was made (``"reference R2"``, ``"rochetnet"``); ``settings`` the
    options that reproduce it (JSON data).
    """
    from ..io import menu_to_dict

    profit = evaluate(problem, menu).profit
    payload = {"format": GOLDEN_FORMAT, "schema": GOLDEN_SCHEMA, "name": name,
               "source": source, "settings": dict(settings or {}), "profit": profit,
               "problem": problem.to_dict(), "menu": menu_to_dict(menu)}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return Golden(name, problem, menu, profit, source, dict(settings or {}))


def load_golden(path: str | Path) -> Golden:
    """Read a file written by :func:`save_golden`; malformed files raise FileFormatError."""
    from ..io import menu_from_dict

    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileFormatError(f"cannot be read ({exc.strerror})", field="golden", value=where,
                              allowed="an existing golden JSON file") from None
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"is not valid JSON ({exc})", field="golden", value=where,
                              allowed="a file written by save_golden") from None
    if not isinstance(data, dict) or data.get("format") != GOLDEN_FORMAT:
        raise FileFormatError("is not a golden-menu file", field="golden", value=where,
                              allowed=f'JSON with "format": "{GOLDEN_FORMAT}"')
    if data.get("schema") != GOLDEN_SCHEMA:
        raise FileFormatError("has an unsupported schema", field="golden.schema",
                              value=data.get("schema"), allowed=str(GOLDEN_SCHEMA))
    missing = [k for k in ("name", "problem", "menu", "profit", "source") if k not in data]
    if missing:
        raise FileFormatError("misses keys", field="golden", value=missing,
                              allowed="name, problem, menu, profit, source, settings")
    try:
        problem = Problem.from_dict(data["problem"])
    except Exception as exc:  # a ProblemError or a malformed table: say where it came from
        raise FileFormatError(f"does not describe a problem ({exc})", field="golden.problem",
                              value=where, allowed="the output of Problem.to_dict") from None
    menu = menu_from_dict(data["menu"], where="golden.menu")
    return Golden(str(data["name"]), problem, menu, float(data["profit"]), str(data["source"]),
                  dict(data.get("settings") or {}))
