# ruff: noqa: E501  (case data: long snippets and argv lines read better unwrapped)
"""Bad and edge inputs for amm_opt, as data, with the oracles that judge their outcomes.

Each case is a dict::

    {"id": "problem.goods_zero", "category": "problem", "kind": "api" | "cli",
     "code": "<python snippet>"            # kind api: run with the names of namespace()
     "argv": ["solve", "--goods", "0"],     # kind cli: arguments of `python -m amm_opt.cli`
     "setup": "<python snippet>",           # kind cli, optional: prepares files in the folder
     "check": "<python snippet>",           # kind cli, optional: oracle on rc, out, err
     "entry": False,                        # kind cli: run .venv/bin/amm-opt instead of -m
     "timeout": 30}                         # seconds for the whole case

Every case runs in a fresh temporary folder (its working directory) in its own process
(``scripts/bad_inputs.py``). A snippet succeeds ("ok", the message in ``MSG`` if it sets one),
raises an ``AmmOptError`` ("clear error"), raises anything else ("traceback"), or calls an
oracle below that raises :class:`WrongNumber` ("wrong number") or :class:`Overrun` (a time
limit not kept: reported as "hang").

The oracles are independent of amm_opt's own numerics: Monte Carlo with numpy/scipy samplers
built from the distribution's parameters, the trivial upper bound
``profit <= E[sigma_X(v - c'(v))]`` (individual rationality: ``p <= v.x``), and the closed forms
R1/R2/R3 of ``amm_opt.references``.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

# ============================================================================ oracles


class WrongNumber(Exception):
    """A returned number is provably wrong."""


class Overrun(Exception):
    """A time limit was not kept (overshoot above max(10%, 2 s))."""


def _np():
    import numpy as np
    return np


def sampler(problem: Any):
    """``draw(n, rng) -> (n, goods)`` values of ``problem``'s law (numpy/scipy, not amm_opt)."""
    np = _np()
    from scipy import stats

    dist = problem.distribution
    if type(dist).__name__ == "Samples":
        raise ValueError("samples have no sampler: use the rows")
    draws = []
    for m in dist.marginals:
        kind = type(m).__name__
        lo, hi = float(m.low), float(m.high)
        if kind == "Uniform":
            draws.append(lambda n, rng, lo=lo, hi=hi: rng.uniform(lo, hi, n))
        elif kind == "Beta":
            a, b = float(m.a), float(m.b)
            draws.append(lambda n, rng, a=a, b=b, lo=lo, hi=hi: lo + (hi - lo) * rng.beta(a, b, n))
        elif kind == "TruncatedNormal":
            mu, sd = float(m.mean), float(m.std)
            law = stats.truncnorm((lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
            draws.append(lambda n, rng, law=law: law.rvs(size=n, random_state=rng))
        else:
            raise ValueError(f"no sampler for {kind}")

    def draw(n: int, rng: Any) -> Any:
        return np.column_stack([d(n, rng) for d in draws])
    return draw


def _posterior(problem: Any, v: Any) -> Any:
    np = _np()
    if problem.update is not None:
        return np.asarray(problem.update(v), dtype=float)
    lam = float(problem.adverse_selection)
    return (1 - lam) * np.asarray(problem.belief, dtype=float) + lam * v


def _chunk_profit(problem: Any, X: Any, p: Any, v: Any, ties: bool = True) -> tuple[Any, Any]:
    """Per-row profit (lowest and highest over tied best items when ``ties``)."""
    np = _np()
    U = v @ X.T - p
    cp = _posterior(problem, v)
    if not ties:  # densities: ties have probability zero
        k = U.argmax(axis=1)
        prof = p[k] - np.einsum("ij,ij->i", cp, X[k])
        return prof, prof
    best = U.max(axis=1, keepdims=True)
    tied = U >= best - 1e-12 * (1 + np.abs(best))
    prof = p[None, :] - cp @ X.T
    lo = np.where(tied, prof, np.inf).min(axis=1)
    hi = np.where(tied, prof, -np.inf).max(axis=1)
    return lo, hi


def mc_profit(problem: Any, menu: Any, n: int = 10**6, seed: int = 20240601) -> dict[str, float]:
    """Monte Carlo profit of ``menu`` (exact sample mean, with a tie interval, for Samples)."""
    np = _np()
    X = np.asarray(menu.allocations, dtype=float)
    p = np.asarray(menu.prices, dtype=float)
    dist = problem.distribution
    if type(dist).__name__ == "Samples":
        V = np.asarray(dist.values, dtype=float)
        lo_s = hi_s = 0.0
        step = max(100, min(100_000, int(1e7 // max(X.shape[0], 1))))
        for s in range(0, V.shape[0], step):
            lo, hi = _chunk_profit(problem, X, p, V[s:s + step])
            lo_s += lo.sum()
            hi_s += hi.sum()
        m = V.shape[0]
        return {"mean": 0.5 * (lo_s + hi_s) / m, "se": 0.0, "lo": lo_s / m, "hi": hi_s / m,
                "n": m}
    draw = sampler(problem)
    rng = np.random.default_rng(seed)
    chunk = max(100, min(200_000, int(2e7 // max(X.shape[0], 1))))
    total = total2 = 0.0
    done = 0
    while done < n:
        k = min(chunk, n - done)
        lo, _ = _chunk_profit(problem, X, p, draw(k, rng), ties=False)
        total += lo.sum()
        total2 += (lo * lo).sum()
        done += k
    mean = total / n
    var = max(total2 / n - mean * mean, 0.0)
    se = math.sqrt(var / n)
    return {"mean": mean, "se": se, "lo": mean, "hi": mean, "n": n}


def stated_error(method: str, stderr: float | None) -> float:
    """Error a value claims: its error estimate (quadrature), 4 standard errors (MC), 0 (exact)."""
    s = 0.0 if stderr is None or not math.isfinite(stderr) else float(stderr)
    return 4 * s if method in ("qmc", "sample-mean") else s


def check_value(problem: Any, menu: Any, value: float, method: str, stderr: float | None,
                what: str, n: int = 10**6) -> dict[str, float]:
    """``value`` (claimed profit of ``menu``) within its stated error of a Monte Carlo value."""
    if value is None or not math.isfinite(value):
        raise WrongNumber(f"{what}: profit {value!r} is not a finite number")
    if stderr is not None and (not math.isfinite(stderr) or stderr < 0):
        if not (stderr == math.inf and method in ("qmc", "sample-mean")):
            raise WrongNumber(f"{what}: stated error {stderr!r} is not a valid error")
    m = mc_profit(problem, menu, n)
    tol = stated_error(method, stderr) + 4 * m["se"] + 1e-9 * (1 + abs(m["mean"]))
    if value > m["hi"] + tol or value < m["lo"] - tol:
        claim = "exact" if method == "exact" else f"{method}, ± {stderr:.3g}"
        raise WrongNumber(f"{what}: {value:.10g} ({claim}) but Monte Carlo gives "
                          f"{m['mean']:.10g} ± {m['se']:.2g} ({m['n']} draws)")
    return m


def check_eval(problem: Any, menu: Any, ev: Any, what: str = "evaluate",
               n: int = 10**6) -> str:
    """An Evaluation against Monte Carlo; its item probabilities must sum to 1."""
    np = _np()
    m = check_value(problem, menu, ev.profit, ev.method, ev.stderr, what, n)
    total = float(np.sum(ev.item_probability))
    if abs(total - 1.0) > 1e-2 + 10 * stated_error(ev.method, ev.stderr):
        raise WrongNumber(f"{what}: item probabilities sum to {total:.6g}, not 1 "
                          f"(profit {ev.profit:.8g}, {ev.method})")
    if abs(float(np.sum(ev.item_profit)) - ev.profit) > 1e-6 * (1 + abs(ev.profit)):
        raise WrongNumber(f"{what}: item profits sum to {np.sum(ev.item_profit):.10g}, "
                          f"not the profit {ev.profit:.10g}")
    return f"{what} {ev.profit:.8g} ({ev.method} ± {ev.stderr:.2g}); MC {m['mean']:.8g}"


def trivial_upper(problem: Any, n: int = 2 * 10**6) -> tuple[float, float]:
    """``E[sigma_X(v - c'(v))]`` and its tolerance: no menu earns more (p <= v.x by IR)."""
    np = _np()
    lo_x = np.asarray(problem.allocation_low, dtype=float)
    hi_x = np.asarray(problem.allocation_high, dtype=float)
    dist = problem.distribution
    if type(dist).__name__ == "Samples":
        V = np.asarray(dist.values, dtype=float)
        z = V - _posterior(problem, V)
        val = np.maximum(z * hi_x, z * lo_x).sum(axis=1)
        return float(val.mean()), 1e-9 * (1 + abs(float(val.mean())))
    draw = sampler(problem)
    rng = np.random.default_rng(7)
    vals = []
    for s in range(0, n, 250_000):
        v = draw(min(250_000, n - s), rng)
        z = v - _posterior(problem, v)
        vals.append(np.maximum(z * hi_x, z * lo_x).sum(axis=1))
    val = np.concatenate(vals)
    mean = float(val.mean())
    return mean, 6 * float(val.std()) / math.sqrt(val.size) + 1e-9 * (1 + abs(mean))


def known_optimum(problem: Any) -> float | None:
    """The closed-form optimum where one is known (R1/R3 one good uniform, R2), else None."""
    np = _np()
    from amm_opt import references

    if problem.update is not None:
        return None
    dist = problem.distribution
    if type(dist).__name__ == "Samples":
        return None
    if not all(type(m).__name__ == "Uniform" for m in dist.marginals):
        return None
    lam = float(problem.adverse_selection)
    al = np.asarray(problem.allocation_low, dtype=float)
    ah = np.asarray(problem.allocation_high, dtype=float)
    c = np.asarray(problem.belief, dtype=float)
    if problem.goods == 1:
        L, H = float(dist.marginals[0].low), float(dist.marginals[0].high)
        k = (1 - lam) ** 2 / (2 * (2 - lam) * (H - L))
        return float(ah[0] * k * (H - c[0]) ** 2 + (-al[0]) * k * (c[0] - L) ** 2)
    if problem.goods == 2 and np.all(al == -1) and np.all(ah == 1) and np.all(c == 0.5) and \
            all(float(m.low) == 0 and float(m.high) == 1 for m in dist.marginals):
        return references.r2_profit(lam)
    return None


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def roundtrip_result(res: Any, problem: Any, path: str = "roundtrip.json") -> None:
    """Save then load ``res``: everything numeric must come back identical."""
    np = _np()
    from amm_opt import io as aio

    aio.save_result(res, path, problem=problem if problem.update is None else None)
    back = aio.load_result(path)

    def same(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return a is b
        return (a == b) or (isinstance(a, float) and isinstance(b, float) and
                            math.isnan(a) and math.isnan(b))
    diffs = []
    for name in ("lower", "upper", "lower_stderr"):
        a, b = getattr(res.bounds, name), getattr(back.bounds, name)
        if not same(a, b):
            diffs.append(f"bounds.{name} {a!r} -> {b!r}")
    if not same(res.profit, back.profit):
        diffs.append(f"profit {res.profit!r} -> {back.profit!r}")
    if res.status != back.status:
        diffs.append(f"status {res.status} -> {back.status}")
    if (res.menu is None) != (back.menu is None):
        diffs.append("menu lost")
    elif res.menu is not None and not (
            np.array_equal(res.menu.allocations, back.menu.allocations) and
            np.array_equal(res.menu.prices, back.menu.prices)):
        diffs.append("menu arrays differ")
    if diffs:
        raise WrongNumber("saved-then-loaded result differs: " + "; ".join(diffs))


def bid_ask_lower(problem: Any, n_fit: int = 200_000, n_eval: int = 10**6) -> float | None:
    """A certain-enough lower bound on the optimum from an explicit menu built here.

    Per good, an ask ``a_i`` and a bid ``b_i`` (trades of the box's extreme sizes) chosen on a
    fitting sample; the product menu of those options is separable, so its profit per trader
    is a sum over goods. Returned: its Monte Carlo profit on fresh draws minus 4 standard
    errors (for Samples: its exact empirical profit). None for custom update rules.
    """
    np = _np()
    if problem.update is not None:
        return None
    lam = float(problem.adverse_selection)
    kc = (1 - lam) * np.asarray(problem.belief, dtype=float)
    hi_x = np.asarray(problem.allocation_high, dtype=float)
    lo_x = -np.asarray(problem.allocation_low, dtype=float)
    is_samples = type(problem.distribution).__name__ == "Samples"
    if is_samples:
        fit = ev = np.asarray(problem.distribution.values, dtype=float)
    else:
        draw = sampler(problem)
        rng = np.random.default_rng(99)
        fit = draw(n_fit, rng)
    asks, bids = [], []
    for i in range(problem.goods):
        s = np.sort(fit[:, i])
        n = s.size
        # candidate prices: midpoints between consecutive sorted values (no ties)
        cand = 0.5 * (s[:-1] + s[1:]) if n > 1 else s.copy()
        above_sum = np.cumsum(s[::-1])[::-1]           # sum_{j>=k} s_j
        cnt_above = n - np.arange(1, n) if n > 1 else np.zeros(1)
        sum_above = above_sum[1:] if n > 1 else np.zeros(1)
        ask_prof = hi_x[i] * (cnt_above * (cand - kc[i]) - lam * sum_above) / n
        cnt_below = np.arange(1, n) if n > 1 else np.zeros(1)
        sum_below = np.cumsum(s)[:-1] if n > 1 else np.zeros(1)
        bid_prof = lo_x[i] * (cnt_below * (kc[i] - cand) + lam * sum_below) / n
        ka, kb = int(np.argmax(ask_prof)), int(np.argmax(bid_prof))
        asks.append(cand[ka] if ask_prof[ka] > 0 and hi_x[i] > 0 else None)
        bids.append(cand[kb] if bid_prof[kb] > 0 and lo_x[i] > 0 else None)

    def per_row(v: Any) -> Any:
        out = np.zeros(v.shape[0])
        for i in range(problem.goods):
            vi = v[:, i]
            if asks[i] is not None:
                out += np.where(vi > asks[i], hi_x[i] * (asks[i] - kc[i] - lam * vi), 0.0)
            if bids[i] is not None:
                out += np.where(vi < bids[i], lo_x[i] * (kc[i] + lam * vi - bids[i]), 0.0)
        return out
    if is_samples:
        return float(per_row(ev).mean()) - 1e-12
    total = total2 = 0.0
    for s0 in range(0, n_eval, 250_000):
        x = per_row(draw(min(250_000, n_eval - s0), rng))
        total += x.sum()
        total2 += (x * x).sum()
    mean = total / n_eval
    se = math.sqrt(max(total2 / n_eval - mean * mean, 0.0) / n_eval)
    return mean - 4 * se


def separate_lower(problem: Any) -> float | None:
    """Monte Carlo profit of the separate baseline's menu (a valid lower bound), or None."""
    import amm_opt

    try:
        base = amm_opt.solve(problem, backend="separate", check=False)
    except Exception:
        return None
    if base.menu is None:
        return None
    m = mc_profit(problem, base.menu, 4 * 10**5)
    return m["lo"] - 4 * m["se"]


def check_result(problem: Any, res: Any, known: Any = "auto", mc: bool = True,
                 roundtrip: bool = True, n: int = 10**6, ref_lower: bool = True) -> str:
    """Every oracle on a solve result; returns a short description (raises WrongNumber)."""
    b = res.bounds
    st = getattr(res.status, "value", str(res.status))
    optimal = st == "optimal"
    lo, up = b.lower, b.upper
    err = stated_error(b.lower_method, b.lower_stderr)
    notes = []
    for name, x in (("lower", lo), ("upper", up), ("profit", res.profit)):
        if x is not None and isinstance(x, float) and math.isnan(x) and optimal:
            raise WrongNumber(f"{name} is NaN with status optimal")
    if optimal and _finite(res.profit) and res.profit < -1e-12:
        raise WrongNumber(f"profit {res.profit:.6g} < 0 (worse than no trade) with status "
                          "optimal")
    if _finite(res.profit) and res.profit < -1e-9:
        notes.append(f"SUSPICIOUS: profit {res.profit:.4g} < 0 with status {st}")
    if optimal and _finite(lo) and _finite(up) and lo > up + err + 1e-9 * (1 + abs(up)):
        raise WrongNumber(f"lower {lo:.8g} > upper {up:.8g} with status optimal")
    if up is not None and up == math.inf and optimal:
        notes.append("SUSPICIOUS: upper = inf with status optimal")
    if _finite(lo) or _finite(up):
        tu, ttol = trivial_upper(problem)
        if _finite(lo) and lo > tu + ttol + err:
            raise WrongNumber(f"lower {lo:.8g} above the trivial upper bound "
                              f"E[sigma_X(v - c')] = {tu:.6g}")
    k = known_optimum(problem) if known == "auto" else known
    if k is not None:
        tol = 1e-7 * (1 + abs(k))
        if _finite(lo) and lo > k + err + tol:
            raise WrongNumber(f"lower {lo:.10g} above the known optimum {k:.10g}")
        if _finite(up) and up < k - tol:
            raise WrongNumber(f"upper {up:.10g} below the known optimum {k:.10g}")
    if res.menu is not None and mc and problem.goods <= 60 and res.menu.size <= 5000:
        nn = n if problem.goods <= 4 else max(10**5, n // 10)
        if _finite(res.profit):
            m = check_value(problem, res.menu, res.profit, b.lower_method, b.lower_stderr,
                            f"{res.backend} lower bound", nn)
        else:
            m = mc_profit(problem, res.menu, nn)
        if _finite(up) and up < m["lo"] - 4 * m["se"] - 1e-9 * (1 + abs(up)):
            raise WrongNumber(f"upper {up:.10g} below the Monte Carlo profit {m['mean']:.10g} "
                              "of the result's own menu")
    if _finite(up) and k is None and ref_lower and problem.update is None:
        ref = bid_ask_lower(problem)
        if ref is not None and up < ref - 1e-12 * (1 + abs(up)):
            raise WrongNumber(f"upper {up:.10g} below {ref:.10g}, the Monte Carlo profit (minus "
                              "4 standard errors) of an explicit bid/ask menu")
        if problem.goods <= 3:
            ref = separate_lower(problem)
            if ref is not None and up < ref - 1e-9 * (1 + abs(up)):
                raise WrongNumber(f"upper {up:.10g} below the Monte Carlo profit {ref:.10g} of "
                                  "the separate menu")
    if roundtrip:
        roundtrip_result(res, problem)
    desc = f"{res.backend} {st}: lower {lo!r}, upper {up!r}"
    return "; ".join([desc, *notes])


def check_time(elapsed: float, limit: float, what: str = "solve") -> None:
    """A time limit is a promise: overshoot at most max(10%, 2 s)."""
    allowed = max(1.1 * limit, limit + 2.0)
    if elapsed > allowed:
        raise Overrun(f"{what} took {elapsed:.1f} s for time_limit={limit:g} (allowed "
                      f"{allowed:.1f} s)")


def expect_identical_or_refused(load: Any, original: Any, what: str) -> str:
    """A damaged file must be refused (AmmOptError propagates) or load to the same content."""
    np = _np()
    got = load()
    if hasattr(original, "allocations"):
        same = np.array_equal(got.allocations, original.allocations) and \
            np.array_equal(got.prices, original.prices)
    else:
        same = got == original
    if not same:
        raise WrongNumber(f"{what}: a damaged file loaded silently with different content")
    return f"{what}: loaded unchanged"


def namespace() -> dict[str, Any]:
    """Names every API snippet can use."""
    import json
    import os
    import time
    from pathlib import Path

    import numpy as np

    import amm_opt
    from amm_opt import (
        Beta,
        Menu,
        Problem,
        Product,
        Samples,
        TruncatedNormal,
        Uniform,
        certify,
        compare_menus,
        crosscheck,
        evaluate,
        references,
        solve,
    )
    from amm_opt import io as aio

    ns: dict[str, Any] = dict(
        amm_opt=amm_opt, np=np, math=math, os=os, json=json, time=time, Path=Path, aio=aio,
        Problem=Problem, Uniform=Uniform, Beta=Beta, TruncatedNormal=TruncatedNormal,
        Product=Product, Samples=Samples, Menu=Menu, evaluate=evaluate, solve=solve,
        certify=certify, crosscheck=crosscheck, compare_menus=compare_menus,
        references=references, WrongNumber=WrongNumber, Overrun=Overrun,
        mc_profit=mc_profit, check_eval=check_eval, check_value=check_value,
        check_result=check_result, trivial_upper=trivial_upper, known_optimum=known_optimum,
        roundtrip_result=roundtrip_result, check_time=check_time,
        expect_identical_or_refused=expect_identical_or_refused, separate_lower=separate_lower,
        bid_ask_lower=bid_ask_lower,
    )
    ns["PAPER"] = Problem.paper_two_goods(0.0)
    ns["R2P"], ns["R2M"], ns["R2BEST"] = references.r2_two_goods(0.0)
    ns["P1"] = Problem(goods=1, values=Uniform(0, 1), belief=0.5)

    def r2_plus(price: float, x: Any = (1.0, 1.0)) -> Any:
        m = ns["R2M"]
        return Menu(np.vstack([m.allocations, [x]]), np.append(m.prices, price))
    ns["r2_plus"] = r2_plus

    def timed(fn: Any, *a: Any, **k: Any) -> tuple[Any, float]:
        t = time.perf_counter()
        out = fn(*a, **k)
        return out, time.perf_counter() - t
    ns["timed"] = timed
    ns["RN_SMALL"] = dict(steps=20, menu_size=4, batch_size=64, validation_size=256,
                          eval_every=10)
    return ns


# ============================================================================ cases

CASES: list[dict[str, Any]] = []


def api(id: str, category: str, code: str, timeout: int = 30) -> None:
    CASES.append({"id": id, "category": category, "kind": "api",
                  "code": textwrap.dedent(code).strip() + "\n", "timeout": timeout})


def cli(id: str, category: str, argv: list[str], setup: str = "", check: str = "",
        timeout: int = 30, entry: bool = False, expect_rc: int | None = None) -> None:
    CASES.append({"id": id, "category": category, "kind": "cli", "argv": argv,
                  "setup": textwrap.dedent(setup).strip() + "\n" if setup else "",
                  "check": textwrap.dedent(check).strip() + "\n" if check else "",
                  "timeout": timeout, "entry": entry, "expect_rc": expect_rc})


# ---------------------------------------------------------------------------- problem
_PROBLEM_BAD = {
    "goods_zero": "Problem(goods=0, values=Uniform(0, 1), belief=0.5)",
    "goods_negative": "Problem(goods=-3, values=Uniform(0, 1), belief=0.5)",
    "goods_float": "Problem(goods=1.5, values=Uniform(0, 1), belief=0.5)",
    "goods_float_integral": "Problem(goods=2.0, values=Uniform(0, 1), belief=0.5)",
    "goods_string": "Problem(goods='2', values=Uniform(0, 1), belief=0.5)",
    "goods_bool": "Problem(goods=True, values=Uniform(0, 1), belief=0.5)",
    "goods_none": "Problem(goods=None, values=Uniform(0, 1), belief=0.5)",
    "goods_nan": "Problem(goods=float('nan'), values=Uniform(0, 1), belief=0.5)",
    "goods_list": "Problem(goods=[2], values=Uniform(0, 1), belief=0.5)",
    "goods_above_max": "Problem(goods=10_001, values=Uniform(0, 1), belief=0.5)",
    "values_none": "Problem(goods=2, values=None, belief=0.5)",
    "values_string": "Problem(goods=2, values='uniform', belief=0.5)",
    "values_class": "Problem(goods=2, values=Uniform, belief=0.5)",
    "values_array": "Problem(goods=2, values=np.random.rand(5, 2), belief=0.5)",
    "belief_nan": "Problem(goods=2, values=Uniform(0, 1), belief=float('nan'))",
    "belief_inf": "Problem(goods=2, values=Uniform(0, 1), belief=float('inf'))",
    "belief_below_box": "Problem(goods=2, values=Uniform(0, 1), belief=-0.1)",
    "belief_above_box": "Problem(goods=2, values=Uniform(0, 1), belief=1.0000001)",
    "belief_wrong_length": "Problem(goods=2, values=Uniform(0, 1), belief=[0.5, 0.5, 0.5])",
    "belief_2d": "Problem(goods=2, values=Uniform(0, 1), belief=[[0.5, 0.5]])",
    "belief_string": "Problem(goods=2, values=Uniform(0, 1), belief='0.5')",
    "belief_strings": "Problem(goods=2, values=Uniform(0, 1), belief=['a', 'b'])",
    "belief_none": "Problem(goods=2, values=Uniform(0, 1), belief=None)",
    "belief_dict": "Problem(goods=2, values=Uniform(0, 1), belief={'a': 1})",
    "belief_complex": "Problem(goods=1, values=Uniform(0, 1), belief=0.5+1j)",
    "belief_empty": "Problem(goods=2, values=Uniform(0, 1), belief=[])",
    "alloc_positive_low": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=(1, 2))",
    "alloc_negative_high": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                           "allocation=(-1, -0.5))",
    "alloc_zero_box": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=(0, 0))",
    "alloc_reversed": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=(1, -1))",
    "alloc_nan": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                 "allocation=(float('nan'), 1))",
    "alloc_inf": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                 "allocation=(-float('inf'), 1))",
    "alloc_three_numbers": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                           "allocation=(-1, 0, 1))",
    "alloc_strings": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=('a', 'b'))",
    "alloc_none": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=None)",
    "alloc_wrong_pergood": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                           "allocation=[[-1, 1]] * 3)",
    "alloc_ragged": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                    "allocation=[[-1, 1], [0]])",
    "update_not_callable": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, update=3)",
    "update_wrong_shape": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                          "update=lambda v: v[:, :1])",
    "update_raises": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                     "update=lambda v: 1 / 0)",
    "update_nan": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                  "update=lambda v: v * float('nan'))",
    "update_with_lambda": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                          "adverse_selection=0.3, update=lambda v: v)",
    "update_returns_string": "Problem(goods=2, values=Uniform(0, 1), belief=0.5, "
                             "update=lambda v: 'x')",
    "from_dict_list": "Problem.from_dict([1, 2])",
    "from_dict_unknown_key": "Problem.from_dict({'goods': 2, 'values': {'type': 'uniform'}, "
                             "'belief': 0.5, 'colour': 'red'})",
    "from_dict_missing_values": "Problem.from_dict({'goods': 2, 'belief': 0.5})",
    "from_dict_values_str": "Problem.from_dict({'goods': 2, 'values': 'uniform', 'belief': 0.5})",
    "from_dict_goods_str": "Problem.from_dict({'goods': 'two', 'values': {'type': 'uniform'}, "
                           "'belief': 0.5})",
    "from_dict_type_unknown": "Problem.from_dict({'goods': 2, 'values': {'type': 'cauchy'}, "
                              "'belief': 0.5})",
    "from_dict_bad_param": "Problem.from_dict({'goods': 2, 'values': {'type': 'beta', "
                           "'alpha': 2}, 'belief': 0.5})",
    "from_dict_type_int": "Problem.from_dict({'goods': 2, 'values': {'type': 7}, 'belief': 0.5})",
    "from_dict_product_not_list": "Problem.from_dict({'goods': 2, 'values': {'type': "
                                  "'product', 'marginals': 'x'}, 'belief': 0.5})",
}
for _k, _expr in _PROBLEM_BAD.items():
    api(f"problem.{_k}", "problem", f"""
        p = {_expr}
        r = solve(p, backend="separate")
        MSG = check_result(p, r)
        """)
api("problem.goods_numpy_int", "problem", """
    p = Problem(goods=np.int64(2), values=Uniform(0, 1), belief=np.float32(0.5))
    r = solve(p, backend="separate")
    MSG = check_result(p, r)
    """)
api("problem.alloc_pergood_asym", "problem", """
    p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=[[-2, 0.5], [0, 3]])
    r = solve(p, backend="grid_lp", grid=8)
    MSG = check_result(p, r)
    """, timeout=60)
api("problem.alloc_one_good_frozen", "problem", """
    p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=[[-1, 1], [0, 0]])
    r = solve(p, backend="grid_lp", grid=8)
    MSG = check_result(p, r)
    """, timeout=60)
api("problem.update_custom_rochetnet", "problem", """
    p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, update=lambda v: 0.5 + 0 * v)
    r = solve(p, backend="rochetnet", **RN_SMALL)
    MSG = check_result(p, r)
    """, timeout=60)
api("problem.update_custom_grid_lp", "problem", """
    p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, update=lambda v: 0.5 + 0 * v)
    r = solve(p, backend="grid_lp", grid=8)
    MSG = check_result(p, r)
    """)
api("problem.update_custom_evaluate", "problem", """
    p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, update=lambda v: 0.7 * 0.5 + 0.3 * v)
    MSG = check_eval(p, R2M, evaluate(p, R2M))
    """, timeout=60)
api("problem.update_custom_save", "problem", """
    p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, update=lambda v: v)
    aio.save_problem(p, "p.json")
    """)

# ---------------------------------------------------------------------------- distributions
_DIST_BAD = {
    "uniform_reversed": "Uniform(1, 0)",
    "uniform_empty": "Uniform(0.5, 0.5)",
    "uniform_nan": "Uniform(float('nan'), 1)",
    "uniform_inf": "Uniform(0, float('inf'))",
    "uniform_string": "Uniform('a', 1)",
    "uniform_none": "Uniform(None, 1)",
    "uniform_bool": "Uniform(False, True)",
    "uniform_complex": "Uniform(0j, 1)",
    "uniform_len_mismatch": "Uniform([0, 0, 0], [1, 1, 1])",
    "uniform_ragged": "Uniform([0, 0], [1, 1, 1])",
    "uniform_2d_params": "Uniform([[0, 0]], [[1, 1]])",
    "beta_a_half": "Beta(0.5, 2)",
    "beta_negative": "Beta(-1, 2)",
    "beta_zero": "Beta(0, 0)",
    "beta_nan": "Beta(float('nan'), 2)",
    "beta_inf": "Beta(float('inf'), 2)",
    "beta_string": "Beta('2', 2)",
    "beta_box_reversed": "Beta(2, 2, 1, 0)",
    "beta_box_inf": "Beta(2, 2, 0, float('inf'))",
    "tn_std_zero": "TruncatedNormal(0.5, 0, 0, 1)",
    "tn_std_negative": "TruncatedNormal(0.5, -1, 0, 1)",
    "tn_mean_nan": "TruncatedNormal(float('nan'), 0.1, 0, 1)",
    "tn_mean_inf": "TruncatedNormal(float('inf'), 0.1, 0, 1)",
    "tn_std_inf": "TruncatedNormal(0.5, float('inf'), 0, 1)",
    "tn_box_reversed": "TruncatedNormal(0.5, 0.1, 1, 0)",
    "tn_far_tail": "TruncatedNormal(50.0, 1.0, 0, 1)",
    "product_empty": "Product([])",
    "product_none": "Product(None)",
    "product_strings": "Product(['uniform', 'beta'])",
    "product_samples": "Product([Samples([[0.1], [0.2]]), Uniform(0, 1)])",
    "product_vector_marginal": "Product([Uniform([0, 0], [1, 1]), Uniform(0, 1)])",
    "product_nested": "Product([Product([Uniform(0, 1)]), Uniform(0, 1)])",
    "product_three_for_two": "Product([Uniform(0, 1)] * 3)",
    "product_generator": "Product(Uniform(0, 1) for _ in range(2))",
    "samples_empty": "Samples(np.empty((0, 2)))",
    "samples_3d": "Samples(np.random.rand(4, 2, 2))",
    "samples_nan": "Samples(np.array([[0.1, 0.2], [np.nan, 0.3]]))",
    "samples_inf": "Samples(np.array([[0.1, 0.2], [np.inf, 0.3]]))",
    "samples_strings": "Samples([['a', 'b'], ['c', 'd']])",
    "samples_ragged": "Samples([[0.1, 0.2], [0.3]])",
    "samples_none": "Samples(None)",
    "samples_scalar": "Samples(0.5)",
    "samples_wrong_columns": "Samples(np.random.rand(10, 3))",
    "samples_object": "Samples(np.array([[0.1, None], [0.3, 0.4]], dtype=object))",
    "samples_complex": "Samples(np.random.rand(10, 2) + 1j)",
    "samples_huge_values": "Samples(np.random.rand(50, 2) * 1e300)",
}
for _k, _expr in _DIST_BAD.items():
    api(f"distribution.{_k}", "distribution", f"""
        d = {_expr}
        p = Problem(goods=2, values=d, belief=0.5 if not isinstance(d, Samples) else
                    np.asarray(d.values, dtype=float).mean(axis=0))
        r = solve(p, backend="separate")
        MSG = check_result(p, r)
        """)
api("distribution.samples_one_row", "distribution", """
    p = Problem(goods=2, values=Samples([[0.3, 0.6]]), belief=[0.3, 0.6])
    r = solve(p, backend="separate")
    MSG = check_result(p, r)
    """)
api("distribution.samples_one_row_rochetnet", "distribution", """
    p = Problem(goods=2, values=Samples([[0.3, 0.6]]), belief=[0.3, 0.6])
    r = solve(p, backend="rochetnet", **RN_SMALL)
    MSG = check_result(p, r)
    """, timeout=60)
api("distribution.samples_two_rows_belief_edge", "distribution", """
    p = Problem(goods=1, values=Samples([[0.2], [0.8]]), belief=0.2)
    r = solve(p, backend="separate")
    MSG = check_result(p, r)
    """)
api("distribution.samples_constant_column", "distribution", """
    v = np.column_stack([np.random.default_rng(0).uniform(0, 1, 200), np.full(200, 0.5)])
    p = Problem(goods=2, values=Samples(v), belief=0.5)
    r = solve(p, backend="rochetnet", **RN_SMALL)
    MSG = check_result(p, r)
    """, timeout=60)
api("distribution.samples_1d_for_one_good", "distribution", """
    p = Problem(goods=1, values=Samples(np.random.default_rng(1).uniform(0, 1, 500)), belief=0.5)
    r = solve(p, backend="separate")
    MSG = check_result(p, r)
    """)
api("distribution.samples_duplicates", "distribution", """
    p = Problem(goods=2, values=Samples(np.tile([[0.2, 0.9], [0.8, 0.1]], (500, 1))), belief=0.5)
    r = solve(p, backend="rochetnet", **RN_SMALL)
    MSG = check_result(p, r)
    """, timeout=60)
api("distribution.samples_grid_lp", "distribution", """
    p = Problem(goods=2, values=Samples(np.random.rand(100, 2)), belief=0.5)
    solve(p, backend="grid_lp", grid=8)
    """)
api("distribution.samples_ot_dual", "distribution", """
    p = Problem(goods=2, values=Samples(np.random.rand(100, 2)), belief=0.5)
    solve(p, backend="ot_dual", grid=8)
    """)
api("distribution.tn_far_tail_evaluate", "distribution", """
    p = Problem(goods=1, values=TruncatedNormal(-5.0, 0.1, 0, 1), belief=0.01)
    m = Menu([[1.0], [-1.0]], [0.02, -0.001])
    MSG = check_eval(p, m, evaluate(p, m))
    """)
api("distribution.beta_uniform_special_case", "distribution", """
    p = Problem(goods=2, values=Beta(1, 1), belief=0.5)
    r = solve(p, backend="grid_lp", grid=8)
    MSG = check_result(p, r, known=references.r2_profit(0.0))
    """, timeout=60)

# ---------------------------------------------------------------------------- menus
_MENU_BAD = {
    "none": "Menu(None, None)",
    "empty": "Menu([], [])",
    "price_len": "Menu([[1, 0]], [1, 2])",
    "nan_alloc": "Menu([[float('nan'), 0]], [0.5])",
    "inf_price": "Menu([[1, 0]], [float('inf')])",
    "strings": "Menu('abc', 'def')",
    "string_price": "Menu([[1, 0]], ['x'])",
    "3d_alloc": "Menu(np.zeros((2, 2, 2)), [0, 0])",
    "2d_prices": "Menu([[1, 0], [0, 1]], [[0.5], [0.5]])",
    "complex": "Menu([[1j, 0]], [0.5])",
    "object": "Menu(np.array([[1, None]], dtype=object), [0.5])",
    "zero_columns": "Menu(np.zeros((2, 0)), [0, 0])",
    "ragged": "Menu([[1, 0], [1]], [0.5, 0.5])",
    "scalar": "Menu(1.0, 0.5)",
    "wrong_goods": "Menu([[1, 0, 0]], [0.5])",
    "outside_box": "Menu([[2.0, 0]], [1.0])",
    "outside_box_tiny": "Menu([[1 + 1e-6, 0]], [0.9])",
    "dict": "Menu({'a': 1}, {'b': 2})",
    "bool_alloc": "Menu([[True, False]], [0.5])",
}
for _k, _expr in _MENU_BAD.items():
    api(f"menu.{_k}", "menu", f"""
        m = {_expr}
        MSG = check_eval(PAPER, m, evaluate(PAPER, m))
        """)
_MENU_EDGE = {
    "one_good_1d_alloc": ("P1", "Menu([1.0, -1.0], [0.75, -0.25])"),
    "only_no_trade": ("PAPER", "Menu([[0.0, 0.0]], [0.0])"),
    "zero_item_priced": ("PAPER", "Menu([[0.0, 0.0]], [0.1])"),
    "zero_item_paid": ("PAPER", "Menu([[0.0, 0.0]], [-0.5])"),
    "duplicates": ("PAPER", "Menu(np.vstack([R2M.allocations] * 3), np.tile(R2M.prices, 3))"),
    "near_duplicates": ("PAPER", "Menu(np.vstack([R2M.allocations, R2M.allocations + 1e-13]),"
                                 " np.concatenate([R2M.prices, R2M.prices + 1e-13]))"),
    "near_duplicates_1e9": ("PAPER", "Menu(np.vstack([R2M.allocations, R2M.allocations * "
                                     "(1 - 1e-9)]), np.concatenate([R2M.prices, R2M.prices * "
                                     "(1 - 1e-9)]))"),
    "tie_items": ("PAPER", "Menu([[1, 0], [0, 1], [1, 1]], [0.75, 0.75, 1.5])"),
    "boundary_alloc": ("PAPER", "Menu([[1 - 1e-15, -1 + 1e-15]], [0.1])"),
    "tiny_prices": ("PAPER", "Menu([[1, 0], [0, 1]], [1e-300, 5e-324])"),
    "huge_negative_price": ("PAPER", "Menu([[-1, -1]], [-1e15])"),
    "huge_positive_all": ("PAPER", "Menu([[1, 1], [-1, -1], [1, -1]], [1e12, 1e12, 1e12])"),
    "price_1e308": ("PAPER", "Menu([[1, 0]], [1e308])"),
    "many_random": ("PAPER", "Menu(np.random.default_rng(3).uniform(-1, 1, (300, 2)), "
                             "np.random.default_rng(4).uniform(-1, 1.5, 300))"),
    "interior_items": ("PAPER", "Menu([[0.3, 0.2], [-0.4, 0.1], [0.5, 0.5]], [0.2, -0.1, 0.5])"),
}
for _k, (_prob, _expr) in _MENU_EDGE.items():
    api(f"menu.{_k}", "menu", f"""
        m = {_expr}
        MSG = check_eval({_prob}, m, evaluate({_prob}, m))
        """, timeout=60)
api("menu.evaluate_not_menu", "menu", "evaluate(PAPER, 'menu')")
api("menu.evaluate_not_problem", "menu", "evaluate('problem', R2M)")
api("menu.evaluate_tuple_menu", "menu", "evaluate(PAPER, (R2M.allocations, R2M.prices))")
api("menu.choose_wrong_shape", "menu", "R2M.choose(np.zeros((3, 5)))")
api("menu.choose_nan", "menu", """
    k = R2M.choose([[float('nan'), 0.5]])
    MSG = f"choose(NaN) -> {k.tolist()}"
    """)
api("menu.subset_out_of_range", "menu", "R2M.subset([100])")

# ---------------------------------------------------------------------------- evaluate options
_EVAL_OPTS = {
    "method_bogus": "method='bogus'",
    "method_none": "method=None",
    "method_int": "method=3",
    "method_upper": "method='EXACT'",
    "method_samplemean_density": "method='sample-mean'",
    "method_exact_beta": "method='exact'",
    "quad_order_zero": "quadrature_order=0",
    "quad_order_one": "quadrature_order=1",
    "quad_order_bool": "quadrature_order=True",
    "quad_order_float": "quadrature_order=12.0",
    "quad_order_string": "quadrature_order='12'",
    "quad_order_huge": "quadrature_order=10**9",
    "qmc_points_zero": "method='qmc', qmc_points=0",
    "qmc_points_huge": "method='qmc', qmc_points=2**40",
    "qmc_points_nan": "method='qmc', qmc_points=float('nan')",
    "qmc_reps_one": "method='qmc', qmc_replications=1",
    "qmc_reps_huge": "method='qmc', qmc_replications=10**9",
    "seed_negative": "method='qmc', seed=-1",
    "seed_string": "method='qmc', seed='x'",
    "seed_none": "method='qmc', seed=None",
    "seed_huge": "method='qmc', seed=2**80",
    "unknown_kw": "colour='red'",
}
for _k, _opt in _EVAL_OPTS.items():
    _prob = "Problem(goods=2, values=Beta(2, 2), belief=0.5)" if "beta" in _k or \
        "density" in _k or "quad" in _k else "PAPER"
    api(f"evaluate.{_k}", "evaluate", f"""
        p = {_prob}
        ev = evaluate(p, R2M, {_opt})
        MSG = check_eval(p, R2M, ev)
        """, timeout=45)
api("evaluate.samples_qmc", "evaluate", """
    p = Problem(goods=2, values=Samples(np.random.default_rng(0).uniform(0, 1, (500, 2))),
                belief=0.5)
    MSG = check_eval(p, R2M, evaluate(p, R2M, method='qmc'))
    """)
api("evaluate.samples_exact", "evaluate", """
    p = Problem(goods=2, values=Samples(np.random.default_rng(0).uniform(0, 1, (500, 2))),
                belief=0.5)
    MSG = check_eval(p, R2M, evaluate(p, R2M, method='exact'))
    """)
api("evaluate.samples_on_grid_points", "evaluate", """
    g = np.linspace(0, 1, 21)
    v = np.array([[a, b] for a in g for b in g])
    p = Problem(goods=2, values=Samples(v), belief=0.5)
    MSG = check_eval(p, R2M, evaluate(p, R2M))
    """)
api("evaluate.r2_exact", "evaluate", """
    ev = evaluate(PAPER, R2M)
    if abs(ev.profit - R2BEST) > 1e-12:
        raise WrongNumber(f"R2 menu evaluates to {ev.profit!r}, closed form {R2BEST!r}")
    MSG = check_eval(PAPER, R2M, ev)
    """)
for _lam in (0.25, 0.5, 0.9, 0.99):
    api(f"evaluate.r2_lambda_{_lam}", "evaluate", f"""
        p, m, best = references.r2_two_goods({_lam})
        ev = evaluate(p, m)
        if abs(ev.profit - best) > 1e-9 * (1 + abs(best)) + ev.stderr:
            raise WrongNumber(f"R2(lambda={_lam}) evaluates to {{ev.profit!r}}, closed form {{best!r}}")
        MSG = check_eval(p, m, ev)
        """)
for _i in range(3):
    api(f"evaluate.random_menu_3goods_{_i}", "evaluate", f"""
        rng = np.random.default_rng({100 + _i})
        p = Problem(goods=3, values=Beta(2, 3), belief=0.4, adverse_selection=0.2)
        m = Menu(rng.choice([-1.0, 0.0, 1.0, 0.5], size=(12, 3)), rng.uniform(-0.5, 1.0, 12))
        MSG = check_eval(p, m, evaluate(p, m))
        """, timeout=60)
api("evaluate.five_goods_qmc", "evaluate", """
    rng = np.random.default_rng(9)
    p = Problem(goods=5, values=Uniform(0, 1), belief=0.5)
    m = Menu(rng.choice([-1.0, 0.0, 1.0], size=(20, 5)), rng.uniform(-0.5, 2.0, 20))
    MSG = check_eval(p, m, evaluate(p, m), n=4 * 10**5)
    """, timeout=60)

# ---------------------------------------------------------------------------- dominated items
for _price in ("1e6", "1e9", "1e12", "1e15", "1e18", "1e300"):
    api(f"dominated.r2_plus_11_at_{_price}", "dominated", f"""
        m = r2_plus({_price})
        MSG = check_eval(PAPER, m, evaluate(PAPER, m))
        """, timeout=60)
api("dominated.r2_plus_m1m1_paid_1e15", "dominated", """
    m = r2_plus(-1e15, x=(-1.0, -1.0))
    MSG = check_eval(PAPER, m, evaluate(PAPER, m))
    """)
api("dominated.r2_plus_many_expensive", "dominated", """
    rng = np.random.default_rng(5)
    extra = rng.uniform(-1, 1, (50, 2))
    m = Menu(np.vstack([R2M.allocations, extra]), np.concatenate([R2M.prices,
             10.0 ** rng.uniform(3, 15, 50)]))
    MSG = check_eval(PAPER, m, evaluate(PAPER, m))
    """, timeout=60)
api("dominated.r2_plus_1e15_beta", "dominated", """
    p = Problem(goods=2, values=Beta(2, 2), belief=0.5)
    m = r2_plus(1e15)
    MSG = check_eval(p, m, evaluate(p, m))
    """, timeout=60)
api("dominated.r2_plus_1e15_three_goods", "dominated", """
    p = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    m = Menu([[1, 0, 0], [0, 1, 0], [1, 1, 1], [-1, -1, -1]], [0.8, 0.8, 1e15, -0.2])
    MSG = check_eval(p, m, evaluate(p, m))
    """, timeout=60)
api("dominated.r2_plus_1e15_certify", "dominated", """
    cert = certify(PAPER, r2_plus(1e15))
    low = cert.lower
    if low > R2BEST + 1e-9:
        raise WrongNumber(f"certify: optimum >= {low:.10g}, above the known optimum {R2BEST:.10g}")
    MSG = f"certify lower {low:.10g}"
    """, timeout=60)
api("dominated.r2_plus_1e9_certify_grid_lp", "dominated", """
    cert = certify(PAPER, r2_plus(1e9), upper="grid_lp", upper_options={"grid": 8})
    if cert.lower > R2BEST + 1e-9 or cert.lower < R2BEST - 1e-9:
        raise WrongNumber(f"certify lower {cert.lower:.10g}, true profit {R2BEST:.10g}")
    MSG = cert.verdict
    """, timeout=60)
api("dominated.r2_plus_1e15_compare", "dominated", """
    d = compare_menus(R2M, r2_plus(1e15), PAPER)
    if abs(d.profit_difference) > 1e-9:
        raise WrongNumber(f"compare_menus: a dominated item changes profit by {d.profit_difference:.6g}")
    MSG = d.summary().splitlines()[0]
    """, timeout=60)

# ---------------------------------------------------------------------------- options: every option of every backend
_BAD_VALUES = {"str": '"abc"', "nan": 'float("nan")', "inf": 'float("inf")', "neg": "-1",
               "bool": "True", "none": "None", "list": "[1, 2]"}
_OPTION_NAMES = {
    "separate": ["grid_points"],
    "grid_lp": ["grid", "pairs", "start_pairs", "planes", "neighbours", "carry_pairs", "cut_tol",
                "max_cuts", "max_rounds", "target_gap", "time_limit", "max_refinements",
                "refine_fraction", "max_points", "max_all_pairs", "lp_solver", "interface",
                "highs_method", "polish", "evaluate_method", "callback", "progress", "verbose"],
    "ot_dual": ["grid", "costs", "method", "flow_solver", "num_iter_max", "max_dense_entries",
                "marginal_tol", "max_points", "time_limit"],
    "rochetnet": ["menu_size", "batch_size", "steps", "lr", "lr_final", "allocation_lr_scale",
                  "temperature", "temperature_final", "seed", "device", "dtype", "chunk_size",
                  "torch_compile", "eval_every", "validation_size", "patience", "min_delta",
                  "time_limit", "checkpoint_path", "checkpoint_every", "resume", "callback",
                  "progress", "evaluate_method", "snap", "polish", "threads"],
}
_OPTION_BASE = {
    "separate": "{}",
    "grid_lp": "{'grid': 4}",
    "ot_dual": "{'grid': 4}",
    "rochetnet": "dict(RN_SMALL)",
}
for _backend, _names in _OPTION_NAMES.items():
    for _name in _names:
        for _vk, _val in _BAD_VALUES.items():
            api(f"options.{_backend}.{_name}.{_vk}", f"options.{_backend}", f"""
                opts = {_OPTION_BASE[_backend]}
                opts[{_name!r}] = {_val}
                r = solve(PAPER, backend={_backend!r}, **opts)
                MSG = check_result(PAPER, r)
                """, timeout=45)
for _backend in _OPTION_NAMES:
    api(f"options.{_backend}.unknown_option", f"options.{_backend}",
        f"solve(PAPER, backend={_backend!r}, colour='red')")
api("options.backend_unknown", "options.other", "solve(PAPER, backend='nope')")
api("options.backend_int", "options.other", "solve(PAPER, backend=3)")
api("options.backend_case", "options.other", """
    r = solve(PAPER, backend='SEPARATE')
    MSG = check_result(PAPER, r)
    """)
api("options.backend_empty", "options.other", "solve(PAPER, backend='')")
api("options.problem_not_problem", "options.other", "solve('paper', backend='separate')")
api("options.check_string", "options.other", """
    r = solve(PAPER, backend='separate', check='no')
    MSG = check_result(PAPER, r)
    """)
api("options.ot_dual_costs_empty", "options.other", "solve(PAPER, backend='ot_dual', grid=4, costs=[])")
api("options.ot_dual_costs_unknown", "options.other",
    "solve(PAPER, backend='ot_dual', grid=4, costs=['transport', 'euclid'])")
api("options.ot_dual_grid_breakpoints_bad", "options.other",
    "solve(PAPER, backend='ot_dual', grid=[[0, 0.5, 0.2, 1], [0, 1]])")
api("options.ot_dual_grid_breakpoints_outside", "options.other", """
    r = solve(PAPER, backend='ot_dual', grid=[[-1, 0.5, 2], [0, 0.5, 1]])
    MSG = check_result(PAPER, r)
    """)
api("options.ot_dual_grid_breakpoints_ok", "options.other", """
    r = solve(PAPER, backend='ot_dual', grid=[[0, 0.3, 0.5, 0.7, 1], [0, 0.5, 1]])
    MSG = check_result(PAPER, r)
    """)
api("options.grid_lp_grid_nan_breakpoints", "options.other",
    "solve(PAPER, backend='grid_lp', grid=[[0, float('nan'), 1], [0, 1]])")
api("options.grid_lp_grid_zero_cells", "options.other",
    "solve(PAPER, backend='grid_lp', grid=[0, 4])")
api("options.grid_lp_grid_three_for_two", "options.other",
    "solve(PAPER, backend='grid_lp', grid=[4, 4, 4])")
api("options.grid_lp_lp_solver_missing", "options.other",
    "solve(PAPER, backend='grid_lp', grid=4, lp_solver='MOSEK')")
api("options.grid_lp_interface_conflict", "options.other",
    "solve(PAPER, backend='grid_lp', grid=4, interface='highspy', lp_solver='SCS')")
api("options.grid_lp_callback_raises", "options.other",
    "solve(PAPER, backend='grid_lp', grid=4, callback=lambda p: 1 / 0)")
api("options.grid_lp_callback_stops", "options.other", """
    r = solve(PAPER, backend='grid_lp', grid=8, callback=lambda p: True)
    MSG = check_result(PAPER, r)
    """)
api("options.rochetnet_callback_raises", "options.other",
    "solve(PAPER, backend='rochetnet', callback=lambda s, i: 1 / 0, **RN_SMALL)")
api("options.rochetnet_callback_stops", "options.other", """
    r = solve(PAPER, backend='rochetnet', callback=lambda s, i: True, **RN_SMALL)
    MSG = check_result(PAPER, r)
    """)
api("options.rochetnet_device_cuda", "options.other",
    "solve(PAPER, backend='rochetnet', device='cuda', **RN_SMALL)")
api("options.rochetnet_device_cuda_bad", "options.other",
    "solve(PAPER, backend='rochetnet', device='cuda:abc', **RN_SMALL)")
api("options.rochetnet_lr_1e3", "options.other", """
    r = solve(PAPER, backend='rochetnet', **{**RN_SMALL, 'lr': 1e3, 'steps': 100})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("options.rochetnet_lr_tiny", "options.other", """
    r = solve(PAPER, backend='rochetnet', **{**RN_SMALL, 'lr': 1e-300})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("options.rochetnet_temperature_tiny", "options.other", """
    r = solve(PAPER, backend='rochetnet', **{**RN_SMALL, 'temperature': 1e-300,
              'temperature_final': 1e-300})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("options.rochetnet_temperature_huge", "options.other", """
    r = solve(PAPER, backend='rochetnet', **{**RN_SMALL, 'temperature': 1e300,
              'temperature_final': 1e300})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("options.rochetnet_alloc_lr_huge", "options.other", """
    r = solve(PAPER, backend='rochetnet', **{**RN_SMALL, 'allocation_lr_scale': 1e30})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("options.rochetnet_float64_snap_max", "options.other", """
    r = solve(PAPER, backend='rochetnet', **{**RN_SMALL, 'dtype': 'float64', 'snap': 0.4999})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("options.rochetnet_menu_size_one", "options.other", """
    r = solve(PAPER, backend='rochetnet', **{**RN_SMALL, 'menu_size': 1, 'batch_size': 1,
              'validation_size': 2})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("options.rochetnet_polish_samples", "options.other", """
    p = Problem(goods=2, values=Samples(np.random.default_rng(0).uniform(0, 1, (300, 2))),
                belief=0.5)
    r = solve(p, backend='rochetnet', polish=True, **RN_SMALL)
    MSG = check_result(p, r)
    """, timeout=60)
api("options.rochetnet_validation_size_one_row_samples", "options.other", """
    p = Problem(goods=1, values=Samples([[0.4]]), belief=0.4)
    r = solve(p, backend='rochetnet', **RN_SMALL)
    MSG = check_result(p, r)
    """, timeout=60)

# ---------------------------------------------------------------------------- size guards
api("size.goods_1e12", "size", """
    p = Problem(goods=10**12, values=Uniform(0, 1), belief=0.5)
    solve(p, backend="separate")
    """, timeout=45)
api("size.goods_1e12_toml", "size", """
    Path("p.toml").write_text('goods = 1000000000000\\nbelief = 0.5\\n[values]\\ntype = "uniform"\\n')
    aio.load_problem("p.toml")
    """, timeout=45)
api("size.goods_1e12_json", "size", """
    Path("p.json").write_text(json.dumps({"format": "amm_opt.problem", "schema": 3,
        "goods": 10**12, "values": {"type": "uniform"}, "belief": 0.5}))
    aio.load_problem("p.json")
    """, timeout=45)
api("size.goods_1e5", "size", "Problem(goods=10**5, values=Uniform(0, 1), belief=0.5)", timeout=45)
for _b in ("grid_lp", "ot_dual"):
    api(f"size.goods_50_{_b}", "size", f"""
        p = Problem(goods=50, values=Uniform(0, 1), belief=0.5)
        solve(p, backend={_b!r})
        """, timeout=45)
    api(f"size.goods_8_{_b}_default_grid", "size", f"""
        p = Problem(goods=8, values=Uniform(0, 1), belief=0.5)
        r = solve(p, backend={_b!r})
        MSG = check_result(p, r)
        """, timeout=60)
api("size.goods_50_separate", "size", """
    p = Problem(goods=50, values=Uniform(0, 1), belief=0.5)
    solve(p, backend="separate")
    """, timeout=45)
api("size.goods_11_separate", "size", """
    p = Problem(goods=11, values=Uniform(0, 1), belief=0.5)
    r = solve(p, backend="separate")
    MSG = check_result(p, r, mc=False)
    """, timeout=60)
api("size.goods_50_rochetnet", "size", """
    p = Problem(goods=50, values=Uniform(0, 1), belief=0.5)
    r = solve(p, backend="rochetnet", steps=5, menu_size=4, batch_size=32, validation_size=64,
              eval_every=5)
    MSG = check_result(p, r, n=10**5)
    """, timeout=60)
api("size.goods_50_auto", "size", """
    p = Problem(goods=50, values=Uniform(0, 1), belief=0.5)
    r = solve(p, steps=5, menu_size=4, batch_size=32, validation_size=64, eval_every=5)
    MSG = check_result(p, r, n=10**5)
    """, timeout=60)
api("size.grid_lp_grid_1e6_one_good", "size", """
    p = Problem(goods=1, values=Uniform(0, 1), belief=0.5)
    r = solve(p, backend="grid_lp", grid=10**6)
    MSG = check_result(p, r)
    """, timeout=60)
api("size.grid_lp_grid_1e6_two_goods", "size", "solve(PAPER, backend='grid_lp', grid=10**6)",
    timeout=45)
api("size.grid_lp_grid_200_three_goods", "size", """
    p = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    solve(p, backend="grid_lp", grid=200)
    """, timeout=45)
api("size.grid_lp_max_points_huge", "size",
    "solve(PAPER, backend='grid_lp', grid=10**5, max_points=10**15)", timeout=45)
api("size.grid_lp_max_all_pairs", "size", """
    r = solve(PAPER, backend='grid_lp', grid=64, pairs='all', max_all_pairs=10**15)
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("size.ot_dual_grid_1e6_2", "size", "solve(PAPER, backend='ot_dual', grid=[1000000, 2])",
    timeout=45)
api("size.ot_dual_grid_1e6", "size", "solve(PAPER, backend='ot_dual', grid=10**6)", timeout=45)
api("size.ot_dual_grid_1e6_max_points", "size",
    "solve(PAPER, backend='ot_dual', grid=10**6, max_points=10**15)", timeout=45)
api("size.ot_dual_dense_huge", "size",
    "solve(PAPER, backend='ot_dual', grid=300, method='dense', max_dense_entries=10**15)",
    timeout=45)
api("size.rochetnet_menu_1e7", "size",
    "solve(PAPER, backend='rochetnet', menu_size=10**7, steps=2, batch_size=64, "
    "validation_size=64, eval_every=1)", timeout=45)
api("size.rochetnet_batch_1e9", "size",
    "solve(PAPER, backend='rochetnet', batch_size=10**9, steps=2, menu_size=4, eval_every=1)",
    timeout=45)
api("size.rochetnet_validation_1e9", "size",
    "solve(PAPER, backend='rochetnet', validation_size=10**9, steps=2, menu_size=4, "
    "batch_size=64, eval_every=1)", timeout=45)
api("size.rochetnet_chunk_1", "size", """
    r = solve(PAPER, backend='rochetnet', chunk_size=1, **RN_SMALL)
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("size.rochetnet_steps_1e12_no_limit", "size",
    "solve(PAPER, backend='rochetnet', steps=10**12, menu_size=4, batch_size=64, "
    "validation_size=256, eval_every=10**11)", timeout=30)
api("size.evaluate_menu_1e5_items", "size", """
    rng = np.random.default_rng(0)
    m = Menu(rng.uniform(-1, 1, (100_000, 2)), rng.uniform(0, 2, 100_000))
    ev = evaluate(PAPER, m)
    MSG = check_eval(PAPER, m, ev, n=20_000)
    """, timeout=90)
api("size.evaluate_menu_1e6_items", "size", """
    rng = np.random.default_rng(0)
    m = Menu(rng.uniform(-1, 1, (10**6, 2)), rng.uniform(0, 2, 10**6))
    ev = evaluate(PAPER, m)
    MSG = f"{ev.profit} {ev.method}"
    """, timeout=60)
api("size.evaluate_menu_1e5_items_5goods", "size", """
    rng = np.random.default_rng(0)
    p = Problem(goods=5, values=Uniform(0, 1), belief=0.5)
    m = Menu(rng.uniform(-1, 1, (100_000, 5)), rng.uniform(0, 3, 100_000))
    ev = evaluate(p, m)
    MSG = check_eval(p, m, ev, n=5_000)
    """, timeout=120)
api("size.certify_menu_1e5_items", "size", """
    rng = np.random.default_rng(0)
    m = Menu(rng.uniform(-1, 1, (100_000, 2)), rng.uniform(0, 2, 100_000))
    cert = certify(PAPER, m)
    MSG = cert.verdict
    """, timeout=60)
api("size.compare_points_1e12", "size", "compare_menus(R2M, R2M, PAPER, points=10**12)",
    timeout=45)
api("size.samples_1e7_rows_separate", "size", """
    v = np.random.default_rng(0).uniform(0, 1, (10**7, 2))
    p = Problem(goods=2, values=Samples(v), belief=0.5)
    r = solve(p, backend="separate")
    MSG = check_result(p, r, roundtrip=False)
    """, timeout=90)
api("size.samples_1e6_rows_save_problem", "size", """
    v = np.random.default_rng(0).uniform(0, 1, (10**6, 2))
    p = Problem(goods=2, values=Samples(v), belief=0.5)
    aio.save_problem(p, "p.json")
    q = aio.load_problem("p.json")
    if not np.array_equal(np.asarray(q.values.values), v):
        raise WrongNumber("samples changed in a save/load round trip")
    MSG = "samples round-trip"
    """, timeout=60)
api("size.menu_1e5_save_load", "size", """
    rng = np.random.default_rng(0)
    m = Menu(rng.uniform(-1, 1, (100_000, 2)), rng.uniform(0, 2, 100_000))
    aio.save_menu(m, "m.json")
    MSG = expect_identical_or_refused(lambda: aio.load_menu("m.json"), m, "big menu")
    """, timeout=60)
api("size.memory_limit_env_garbage", "size", """
    os.environ["AMM_OPT_MEMORY_LIMIT"] = "lots"
    r = solve(PAPER, backend="grid_lp", grid=4)
    MSG = check_result(PAPER, r)
    """, timeout=45)

# ---------------------------------------------------------------------------- broken measures
_MEASURES = {
    "beta600": ("Beta(600, 600)", 2, 0.5),
    "beta2421": ("Beta(2421.6, 6.2)", 1, 0.4822),
    "beta2000_5": ("Beta(2000, 5)", 2, 0.5),
    "beta1e6": ("Beta(1e6, 1e6)", 1, 0.5),
    "beta1_1e4": ("Beta(1, 1e4)", 1, 0.0),
    "tn_peaked": ("TruncatedNormal(1.1704, 4.52e-3, 0, 1)", 1, 0.9737),
    "tn_1e-6": ("TruncatedNormal(0.5, 1e-6, 0, 1)", 1, 0.5),
    "tn_wide": ("TruncatedNormal(0.5, 1e6, 0, 1)", 2, 0.5),
    "tn_edge": ("TruncatedNormal(-5.0, 0.1, 0, 1)", 2, 0.01),
    "uniform_tiny_box": ("Uniform(0, 1e-12)", 2, 5e-13),
    "uniform_huge_box": ("Uniform(-1e12, 1e12)", 2, 0.0),
    # float64 spacing at 1e15 is 0.125: Monte Carlo cannot resolve it, the closed form R1 can
    "uniform_offset": ("Uniform(1e15, 1e15 + 1)", 1, 1e15 + 0.5),
    "product_mixed": ("Product([Beta(600, 600), Uniform(0, 1)])", 2, 0.5),
}
for _k, (_d, _g, _c) in _MEASURES.items():
    api(f"measure.{_k}.separate", "measure", f"""
        p = Problem(goods={_g}, values={_d}, belief={_c})
        r = solve(p, backend="separate")
        MSG = check_result(p, r, mc={_k != "uniform_offset"})
        """, timeout=60)
    api(f"measure.{_k}.grid_lp", "measure", f"""
        p = Problem(goods={_g}, values={_d}, belief={_c})
        r = solve(p, backend="grid_lp", grid=16)
        MSG = check_result(p, r, mc={_k != "uniform_offset"})
        """, timeout=60)
    api(f"measure.{_k}.ot_dual", "measure", f"""
        p = Problem(goods={_g}, values={_d}, belief={_c})
        r = solve(p, backend="ot_dual", grid=16)
        MSG = check_result(p, r, mc={_k != "uniform_offset"})
        """, timeout=60)
api("measure.beta2421.evaluate_issue_menu", "measure", """
    p = Problem(goods=1, values=Beta(2421.6, 6.2), belief=0.4822)
    m = Menu([[1.0]], [0.7611])
    MSG = check_eval(p, m, evaluate(p, m), n=2 * 10**6)
    """, timeout=60)
api("measure.beta600.evaluate_r2", "measure", """
    p = Problem(goods=2, values=Beta(600, 600), belief=0.5)
    MSG = check_eval(p, R2M, evaluate(p, R2M))
    """, timeout=60)
api("measure.beta2000_5.auto_solve", "measure", """
    p = Problem(goods=2, values=Beta(2000, 5), belief=0.5)
    r = solve(p, time_limit=30)
    MSG = check_result(p, r)
    """, timeout=90)
api("measure.tn_peaked.rochetnet", "measure", """
    p = Problem(goods=1, values=TruncatedNormal(1.1704, 4.52e-3, 0, 1), belief=0.9737)
    r = solve(p, backend="rochetnet", **RN_SMALL)
    MSG = check_result(p, r)
    """, timeout=60)
for _i in range(8):
    api(f"measure.random_peaked_{_i}", "measure", f"""
        rng = np.random.default_rng({500 + _i})
        goods = 1 + {_i} % 2
        if {_i} % 3 == 2:
            mu, sd = rng.uniform(-0.2, 1.2), 10 ** rng.uniform(-3, -1.5)
            d = TruncatedNormal(mu, sd, 0, 1)
        else:
            s = 10 ** rng.uniform(2, 3.5)
            w = rng.uniform(0.02, 0.98)
            d = Beta(1 + s * w, 1 + s * (1 - w))
        p = Problem(goods=goods, values=d, belief=rng.uniform(0.05, 0.95))
        k = int(rng.integers(1, 6))
        m = Menu(rng.choice([-1.0, -0.5, 0.5, 1.0], size=(k, goods)), rng.uniform(-0.6, 1.2, k))
        ev = evaluate(p, m)
        MSG = check_eval(p, m, ev) + f" on {{d!r}}"
        """, timeout=60)
api("measure.tn_peaked.ot_dual_issue", "measure", """
    p = Problem(goods=1, values=TruncatedNormal(1.1704, 4.52e-3, 0, 1), belief=0.9737)
    r = solve(p, backend="ot_dual", grid=16)
    MSG = check_result(p, r)
    """, timeout=60)
api("measure.tn_peaked_2goods.ot_dual", "measure", """
    p = Problem(goods=2, values=TruncatedNormal(1.1704, 4.52e-3, 0, 1), belief=0.9737)
    r = solve(p, backend="ot_dual", grid=16)
    MSG = check_result(p, r)
    """, timeout=60)

# ---------------------------------------------------------------------------- time limits
api("time.grid_lp_8_goods", "time_limit", """
    p = Problem(goods=8, values=Uniform(0, 1), belief=0.5)
    r, t = timed(solve, p, backend="grid_lp", time_limit=10)
    check_time(t, 10)
    MSG = check_result(p, r, n=2 * 10**5) + f" in {t:.1f} s"
    """, timeout=90)
for _grid, _lim in ((2, 10), (3, 10), (3, 3)):
    api(f"time.grid_lp_8_goods_grid{_grid}_{_lim}s", "time_limit", f"""
        p = Problem(goods=8, values=Uniform(0, 1), belief=0.5)
        r, t = timed(solve, p, backend="grid_lp", grid={_grid}, time_limit={_lim})
        check_time(t, {_lim})
        MSG = check_result(p, r, n=2 * 10**5) + f" in {{t:.1f}} s"
        """, timeout=90)
api("time.grid_lp_beta22_1s", "time_limit", """
    p = Problem(goods=2, values=Beta(2, 2), belief=0.5)
    r, t = timed(solve, p, backend="grid_lp", time_limit=1)
    check_time(t, 1)
    MSG = check_result(p, r) + f" in {t:.1f} s"
    """, timeout=60)
api("time.grid_lp_target_gap_tiny_5s", "time_limit", """
    r, t = timed(solve, PAPER, backend="grid_lp", time_limit=5, target_gap=1e-12)
    check_time(t, 5)
    MSG = check_result(PAPER, r) + f" in {t:.1f} s"
    """, timeout=60)
api("time.grid_lp_1e-6", "time_limit", """
    r, t = timed(solve, PAPER, backend="grid_lp", time_limit=1e-6)
    check_time(t, 1e-6)
    MSG = check_result(PAPER, r) + f" in {t:.1f} s"
    """, timeout=60)
api("time.rochetnet_polish_0.5", "time_limit", """
    r, t = timed(solve, PAPER, backend="rochetnet", polish=True, time_limit=0.5)
    check_time(t, 0.5)
    MSG = check_result(PAPER, r) + f" in {t:.1f} s"
    """, timeout=90)
api("time.rochetnet_steps_1e9_2s", "time_limit", """
    r, t = timed(solve, PAPER, backend="rochetnet", steps=10**9, time_limit=2, menu_size=16,
                 batch_size=256, validation_size=1024)
    check_time(t, 2)
    MSG = check_result(PAPER, r) + f" in {t:.1f} s"
    """, timeout=60)
api("time.rochetnet_1e-300", "time_limit", """
    r, t = timed(solve, PAPER, backend="rochetnet", time_limit=1e-300)
    check_time(t, 1e-300)
    MSG = check_result(PAPER, r) + f" in {t:.1f} s"
    """, timeout=60)
api("time.ot_dual_grid256_1s", "time_limit", """
    r, t = timed(solve, PAPER, backend="ot_dual", grid=256, time_limit=1)
    check_time(t, 1)
    MSG = check_result(PAPER, r) + f" in {t:.1f} s"
    """, timeout=90)
api("time.ot_dual_1e-6", "time_limit", """
    r, t = timed(solve, PAPER, backend="ot_dual", grid=32, time_limit=1e-6)
    check_time(t, 1e-6)
    MSG = check_result(PAPER, r) + f" in {t:.1f} s"
    """, timeout=60)
api("time.auto_time_limit_3s", "time_limit", """
    p = Problem(goods=2, values=Beta(2, 3), belief=0.4)
    r, t = timed(solve, p, time_limit=3)
    check_time(t, 3)
    MSG = check_result(p, r) + f" in {t:.1f} s"
    """, timeout=60)

# ---------------------------------------------------------------------------- beliefs, adverse selection, references
for _lam in ("-0.1", "1.0", "1.0000001", "float('nan')", "float('inf')", "'0.5'", "True", "None",
             "[0.5]", "1 + 0j"):
    api(f"range.lambda_{_lam}", "range", f"""
        p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, adverse_selection={_lam})
        r = solve(p, backend="separate")
        MSG = check_result(p, r)
        """)
for _lam in (0.999, 0.999999):
    for _b, _o in (("separate", "{}"), ("grid_lp", "{'grid': 8}"), ("ot_dual", "{'grid': 8}"),
                   ("rochetnet", "RN_SMALL")):
        api(f"range.lambda_{_lam}.{_b}", "range", f"""
            p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, adverse_selection={_lam})
            r = solve(p, backend={_b!r}, **{_o})
            MSG = check_result(p, r)
            """, timeout=60)
api("range.lambda_negzero", "range", """
    p = Problem(goods=2, values=Uniform(0, 1), belief=0.5, adverse_selection=-0.0)
    r = solve(p, backend="grid_lp", grid=8)
    MSG = check_result(p, r)
    """, timeout=60)
for _c in ("0.0", "1.0", "[0.0, 1.0]"):
    for _b, _o in (("grid_lp", "{'grid': 8}"), ("ot_dual", "{'grid': 8}"),
                   ("rochetnet", "RN_SMALL"), ("separate", "{}")):
        api(f"range.belief_edge_{_c}.{_b}", "range", f"""
            p = Problem(goods=2, values=Beta(2, 2), belief={_c})
            r = solve(p, backend={_b!r}, **{_o})
            MSG = check_result(p, r)
            """, timeout=60)
api("range.belief_outside_samples", "range", """
    p = Problem(goods=2, values=Samples(np.random.default_rng(0).uniform(0.2, 0.8, (100, 2))),
                belief=0.9)
    """)
_REFS = {
    "r1_lam0": "references.r1_bid_ask()",
    "r1_c03_lam05": "references.r1_bid_ask(belief=0.3, adverse_selection=0.5)",
    "r1_wide": "references.r1_bid_ask(low=-3, high=7, belief=1, adverse_selection=0.3)",
    "r1_lam09": "references.r1_bid_ask(adverse_selection=0.9)",
    "r1_c_edge": "references.r1_bid_ask(belief=0.0, adverse_selection=0.2)",
    "r2_lam05": "references.r2_two_goods(0.5)",
    "r2_lam09": "references.r2_two_goods(0.9)",
    "r3": "references.r3_monopolist()",
}
for _k, _expr in _REFS.items():
    for _b, _o in (("grid_lp", "{'grid': 16}"), ("ot_dual", "{'grid': 16}"),
                   ("separate", "{}"), ("rochetnet", "dict(RN_SMALL, steps=200)")):
        api(f"range.{_k}.{_b}", "range", f"""
            p, m, best = {_expr}
            r = solve(p, backend={_b!r}, **{_o})
            MSG = check_result(p, r, known=best)
            """, timeout=60)
api("range.references_bad_lambda", "range", "references.r2_two_goods(1.0)")
api("range.references_nan_lambda", "range", "references.r1_profit(adverse_selection=float('nan'))")
api("range.references_bad_box", "range", "references.r1_bid_ask(low=1, high=0)")

# ---------------------------------------------------------------------------- files
_GOOD_MENU = '{"format": "amm_opt.menu", "schema": 3, "goods": 2, "items": 2, ' \
             '"allocations": [[1.0, 0.0], [0.0, 0.0]], "prices": [0.75, 0.0]}'
_MENU_FILES = {
    "empty": b"",
    "not_json": b"hello world",
    "json_array": b"[1, 2, 3]",
    "json_null": b"null",
    "json_string": b'"amm_opt.menu"',
    "truncated": _GOOD_MENU.encode()[:60],
    "no_format": b'{"schema": 3, "allocations": [[1, 0]], "prices": [0.5]}',
    "format_int": b'{"format": 5, "schema": 3, "allocations": [[1, 0]], "prices": [0.5]}',
    "format_wrong": _GOOD_MENU.replace("amm_opt.menu", "amm_opt.result").encode(),
    "schema_true": _GOOD_MENU.replace('"schema": 3', '"schema": true').encode(),
    "schema_999": _GOOD_MENU.replace('"schema": 3', '"schema": 999').encode(),
    "schema_string": _GOOD_MENU.replace('"schema": 3', '"schema": "3"').encode(),
    "schema_float": _GOOD_MENU.replace('"schema": 3', '"schema": 3.0').encode(),
    "schema_missing": _GOOD_MENU.replace('"schema": 3, ', '').encode(),
    "nan_literal": _GOOD_MENU.replace("0.75", "NaN").encode(),
    "infinity_literal": _GOOD_MENU.replace("0.75", "Infinity").encode(),
    "nan_string": _GOOD_MENU.replace("0.75", '"nan"').encode(),
    "huge_number": _GOOD_MENU.replace("0.75", "1e400").encode(),
    "huge_integer": _GOOD_MENU.replace("0.75", "9" * 5000).encode(),
    "price_string": _GOOD_MENU.replace("0.75", '"abc"').encode(),
    "price_bool": _GOOD_MENU.replace("0.75", "true").encode(),
    "price_null": _GOOD_MENU.replace("0.75", "null").encode(),
    "prices_short": _GOOD_MENU.replace("[0.75, 0.0]", "[0.75]").encode(),
    "alloc_ragged": _GOOD_MENU.replace("[[1.0, 0.0], [0.0, 0.0]]", "[[1.0, 0.0], [0.0]]").encode(),
    "alloc_dict": _GOOD_MENU.replace("[[1.0, 0.0], [0.0, 0.0]]", '{"a": 1}').encode(),
    "alloc_npz_ref_missing": _GOOD_MENU.replace("[[1.0, 0.0], [0.0, 0.0]]",
                                                '{"npz": "x.npz", "key": "allocations"}').encode(),
    "alloc_npz_traversal": _GOOD_MENU.replace("[[1.0, 0.0], [0.0, 0.0]]",
                                              '{"npz": "../../etc/passwd", "key": "a"}').encode(),
    "goods_mismatch": _GOOD_MENU.replace('"goods": 2', '"goods": 3').encode(),
    "items_mismatch": _GOOD_MENU.replace('"items": 2', '"items": 7').encode(),
    "alloc_missing": b'{"format": "amm_opt.menu", "schema": 3, "prices": [0.5]}',
    "invalid_utf8": _GOOD_MENU.replace('"items": 2', '"items": 2, "note": "\xff\xfe"').encode(
        "latin-1"),
    "utf8_bom": b"\xef\xbb\xbf" + _GOOD_MENU.encode(),
    "utf16": _GOOD_MENU.encode("utf-16"),
    "nul_inside": _GOOD_MENU.replace('"items": 2', '"items": 2, "note": "a\\u0000b"').encode(),
    "raw_nul_bytes": b"\x00" * 100,
    "nested_list_100k": b"[" * 100_000 + b"]" * 100_000,
    "nested_object_50k": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "nested_in_prices": _GOOD_MENU.replace("[0.75, 0.0]", "[" * 20_000 + "]" * 20_000).encode(),
    "duplicate_keys": _GOOD_MENU.replace('"prices": [0.75, 0.0]',
                                         '"prices": [0.75, 0.0], "prices": [99.0, 0.0]').encode(),
    "trailing_garbage": (_GOOD_MENU + "}}}garbage").encode(),
    "whitespace_only": b"   \n\t  ",
}
for _k, _data in _MENU_FILES.items():
    api(f"files.menu_{_k}", "files", f"""
        Path("m.json").write_bytes({_data!r})
        m = aio.load_menu("m.json")
        MSG = f"loaded a menu of {{m.size}} items, prices {{m.prices.tolist()[:4]}}"
        if not np.all(np.isfinite(m.prices)):
            raise WrongNumber("loaded non-finite prices")
        """, timeout=30)
api("files.menu_huge_file", "files", """
    with open("m.json", "wb") as fh:
        fh.write(b'{"format": "amm_opt.menu", "schema": 3, "prices": [' + b'0.1, ' * 60_000_000 + b'0.1]}')
    aio.load_menu("m.json")
    """, timeout=60)
api("files.menu_dev_zero", "files", "aio.load_menu('/dev/zero')", timeout=20)
api("files.menu_fifo", "files", """
    os.mkfifo("m.json")
    aio.load_menu("m.json")
    """, timeout=20)
api("files.menu_directory", "files", "os.mkdir('d.json'); aio.load_menu('d.json')")
api("files.menu_missing", "files", "aio.load_menu('nope.json')")
api("files.menu_nul_name", "files", "aio.load_menu('m\\x00.json')")
api("files.menu_bytes_name", "files", "aio.load_menu(b'm.json')")
api("files.menu_int_name", "files", "aio.load_menu(3)")
api("files.menu_long_name", "files", "aio.load_menu('a' * 300 + '.json')")
api("files.menu_unreadable", "files", """
    aio.save_menu(R2M, "m.json")
    os.chmod("m.json", 0)
    m = aio.load_menu("m.json")
    MSG = "root reads mode-000 files: loaded"
    """)
api("files.menu_roundtrip_r2", "files", """
    aio.save_menu(R2M, "m.json")
    MSG = expect_identical_or_refused(lambda: aio.load_menu("m.json"), R2M, "R2 menu")
    """)
api("files.menu_roundtrip_extreme_values", "files", """
    m = Menu([[1e-300, -1.0], [1.0, 5e-324]], [1.7976931348623157e308, -2.2250738585072014e-308])
    aio.save_menu(m, "m.json")
    MSG = expect_identical_or_refused(lambda: aio.load_menu("m.json"), m, "extreme menu")
    """)
api("files.menu_result_without_menu", "files", """
    r = solve(PAPER, backend="ot_dual", grid=4)
    aio.save_result(r, "r.json", problem=PAPER)
    aio.load_menu("r.json")
    """)
# Sidecar (large menu) damage.
_SIDECAR_SETUP = """
    rng = np.random.default_rng(0)
    big = Menu(rng.uniform(-1, 1, (12_000, 2)), rng.uniform(0, 2, 12_000))
    aio.save_menu(big, "m.json")
    side = [f for f in os.listdir(".") if f.endswith(".npz")]
    assert len(side) == 1, os.listdir(".")
    side = side[0]
"""
_SIDECAR_DAMAGE = {
    "flip_byte": "b = bytearray(Path(side).read_bytes()); b[len(b) // 2] ^= 0x40; "
                 "Path(side).write_bytes(bytes(b))",
    "truncate": "b = Path(side).read_bytes(); Path(side).write_bytes(b[: len(b) // 3])",
    "delete": "os.remove(side)",
    "empty": "Path(side).write_bytes(b'')",
    "swap_other": "rng2 = np.random.default_rng(1); aio.save_menu(Menu(rng2.uniform(-1, 1, "
                  "(12_000, 2)), rng2.uniform(0, 2, 12_000)), 'other.json'); "
                  "o = [f for f in os.listdir('.') if f.startswith('other.') and "
                  "f.endswith('.npz')][0]; os.replace(o, side)",
    "hash_edit": "d = json.loads(Path('m.json').read_text()); d['sidecar']['sha256'] = '0' * 64; "
                 "Path('m.json').write_text(json.dumps(d))",
    "sidecar_entry_removed": "d = json.loads(Path('m.json').read_text()); del d['sidecar']; "
                             "Path('m.json').write_text(json.dumps(d))",
    "pickle_npz": "import pickle, zipfile; z = zipfile.ZipFile(side, 'w'); "
                  "z.writestr('allocations.npy', pickle.dumps([1, 2])); z.close()",
    "zip_bomb_header": "import zipfile; z = zipfile.ZipFile(side, 'w', zipfile.ZIP_DEFLATED); "
                       "z.writestr('allocations.npy', b'\\x00' * 50_000_000); z.close()",
    "directory": "os.remove(side); os.mkdir(side)",
}
for _k, _dmg in _SIDECAR_DAMAGE.items():
    api(f"files.sidecar_{_k}", "files", _SIDECAR_SETUP + f"""
    {_dmg}
    MSG = expect_identical_or_refused(lambda: aio.load_menu("m.json"), big, "sidecar {_k}")
    """, timeout=45)
api("files.sidecar_overwrite_keeps_pair", "files", _SIDECAR_SETUP + """
    rng2 = np.random.default_rng(1)
    big2 = Menu(rng2.uniform(-1, 1, (12_000, 2)), rng2.uniform(0, 2, 12_000))
    aio.save_menu(big2, "m.json")
    MSG = expect_identical_or_refused(lambda: aio.load_menu("m.json"), big2, "overwrite")
    left = [f for f in os.listdir(".") if f.endswith(".npz")]
    MSG += f"; sidecars left: {len(left)}"
    """, timeout=45)
# Results.
_RESULT_SETUP = """
    r0 = solve(PAPER, backend="grid_lp", grid=4)
    aio.save_result(r0, "r.json", problem=PAPER)
    d = json.loads(Path("r.json").read_text())
"""
_RESULT_EDITS = {
    "lower_nan": "d['bounds']['lower'] = 'nan'",
    "upper_nan": "d['bounds']['upper'] = 'nan'",
    "lower_above_upper": "d['bounds']['lower'] = 5.0; d['profit'] = 5.0",
    "upper_minus_inf": "d['bounds']['upper'] = '-inf'",
    "lower_string": "d['bounds']['lower'] = 'abc'",
    "bounds_list": "d['bounds'] = [1, 2]",
    "bounds_missing": "del d['bounds']",
    "status_bogus": "d['status'] = 'great'",
    "status_int": "d['status'] = 1",
    "status_missing": "del d['status']",
    "schema_true": "d['schema'] = True",
    "schema_zero": "d['schema'] = 0",
    "profit_string": "d['profit'] = 'lots'",
    "profit_nan": "d['profit'] = 'nan'",
    "profit_mismatch_lower": "d['profit'] = 0.9",
    "stderr_negative": "d['bounds']['lower_stderr'] = -1.0",
    "stderr_nan": "d['bounds']['lower_stderr'] = 'nan'",
    "menu_string": "d['menu'] = 'menu'",
    "menu_prices_short": "d['menu']['prices'] = d['menu']['prices'][:1]",
    "evaluation_prob_short": "d['evaluation']['item_probability'] = [1.0]",
    "evaluation_garbage": "d['evaluation'] = {'profit': 'x'}",
    "certificate_garbage": "d['certificate'] = {'kind': 'lp', 'duals': 'x'}",
    "certificate_string": "d['certificate'] = 'proof'",
    "solve_seconds_string": "d['solve_seconds'] = 'fast'",
    "stats_list": "d['stats'] = [1, 2, 3]",
    "message_int": "d['message'] = 42",
    "backend_int": "d['backend'] = 42",
    "problem_garbage": "d['problem'] = {'goods': 'x'}",
    "extra_key": "d['colour'] = 'red'",
    "format_menu": "d['format'] = 'amm_opt.menu'",
}
for _k, _edit in _RESULT_EDITS.items():
    api(f"files.result_{_k}", "files", _RESULT_SETUP + f"""
    {_edit}
    Path("r.json").write_text(json.dumps(d))
    r = aio.load_result("r.json")
    b = r.bounds
    if r.status.value == "optimal" and (any(isinstance(x, float) and math.isnan(x)
            for x in (b.lower, b.upper, r.profit)) or (b.lower is not None and
            b.upper is not None and b.lower > b.upper + 4 * (b.lower_stderr or 0) + 1e-9)):
        raise WrongNumber(f"load_result accepted bounds {{b.lower!r}} / {{b.upper!r}} with "
                          "status optimal")
    if b.lower_stderr is not None and (not math.isfinite(b.lower_stderr) or b.lower_stderr < 0):
        raise WrongNumber(f"load_result accepted stderr {{b.lower_stderr!r}}")
    if r.menu is not None:
        for name, x in (("profit", r.profit), ("bounds.lower", b.lower)):
            if x is not None:
                check_value(PAPER, r.menu, x, b.lower_method, b.lower_stderr,
                            f"loaded result's {{name}}")
    if b.upper is not None and isinstance(b.upper, float) and b.upper < R2BEST - 1e-9:
        raise WrongNumber(f"load_result accepted upper {{b.upper!r}} below the optimum")
    MSG = f"loaded: {{r.status.value}} {{b.lower!r}} {{b.upper!r}}"
    """, timeout=45)
for _b, _o in (("separate", "{}"), ("grid_lp", "{'grid': 8}"), ("ot_dual", "{'grid': 8}"),
               ("rochetnet", "RN_SMALL")):
    api(f"files.result_roundtrip_{_b}", "files", f"""
        r = solve(PAPER, backend={_b!r}, **{_o})
        roundtrip_result(r, PAPER)
        MSG = "round trip identical"
        """, timeout=60)
api("files.result_roundtrip_samples_one_row", "files", """
    p = Problem(goods=2, values=Samples([[0.3, 0.6]]), belief=[0.3, 0.6])
    r = solve(p, backend="rochetnet", **RN_SMALL)
    roundtrip_result(r, p)
    MSG = f"round trip identical (stderr {r.bounds.lower_stderr!r})"
    """, timeout=60)
api("files.result_roundtrip_samples_one_row_separate", "files", """
    p = Problem(goods=2, values=Samples([[0.3, 0.6]]), belief=[0.3, 0.6])
    r = solve(p, backend="separate")
    roundtrip_result(r, p)
    MSG = f"round trip identical (stderr {r.bounds.lower_stderr!r})"
    """, timeout=60)
api("files.result_to_json_nan", "files", """
    r = solve(PAPER, backend="ot_dual", grid=4)
    text = aio.result_to_json(r, PAPER)
    json.loads(text)
    MSG = "valid JSON"
    """)
api("files.result_save_wrong_types", "files", "aio.save_result('result', 'r.json')")
api("files.menu_save_wrong_types", "files", "aio.save_menu([[1, 0]], 'm.json')")
api("files.problem_save_wrong_types", "files", "aio.save_problem({'goods': 2}, 'p.json')")
# Problems: TOML and JSON.
_TOML_FILES = {
    "ok_uniform": 'goods = 2\nbelief = 0.5\n[values]\ntype = "uniform"\n',
    "invalid_syntax": 'goods = = 2\n',
    "goods_string": 'goods = "2"\nbelief = 0.5\n[values]\ntype = "uniform"\n',
    "goods_float": 'goods = 2.5\nbelief = 0.5\n[values]\ntype = "uniform"\n',
    "goods_negative": 'goods = -2\nbelief = 0.5\n[values]\ntype = "uniform"\n',
    "goods_huge_int": 'goods = 99999999999999999999999\nbelief = 0.5\n[values]\ntype = "uniform"\n',
    "belief_nan": 'goods = 2\nbelief = nan\n[values]\ntype = "uniform"\n',
    "belief_inf": 'goods = 2\nbelief = inf\n[values]\ntype = "uniform"\n',
    "belief_date": 'goods = 2\nbelief = 1979-05-27\n[values]\ntype = "uniform"\n',
    "belief_table": 'goods = 2\n[belief]\na = 1\n[values]\ntype = "uniform"\n',
    "lambda_one": 'goods = 2\nbelief = 0.5\nadverse_selection = 1.0\n[values]\ntype = "uniform"\n',
    "lambda_string": 'goods = 2\nbelief = 0.5\nadverse_selection = "high"\n[values]\ntype = "uniform"\n',
    "alloc_bad_shape": 'goods = 2\nbelief = 0.5\nallocation = [[-1, 1, 2]]\n[values]\ntype = "uniform"\n',
    "alloc_mixed_types": 'goods = 2\nbelief = 0.5\nallocation = [-1, "1"]\n[values]\ntype = "uniform"\n',
    "values_missing": 'goods = 2\nbelief = 0.5\n',
    "values_type_missing": 'goods = 2\nbelief = 0.5\n[values]\nlow = 0\n',
    "values_type_unknown": 'goods = 2\nbelief = 0.5\n[values]\ntype = "gamma"\n',
    "values_param_string": 'goods = 2\nbelief = 0.5\n[values]\ntype = "beta"\na = "two"\nb = 2\n',
    "values_unknown_param": 'goods = 2\nbelief = 0.5\n[values]\ntype = "uniform"\nwidth = 3\n',
    "values_beta600": 'goods = 2\nbelief = 0.5\n[values]\ntype = "beta"\na = 600\nb = 600\n',
    "values_product_bad": 'goods = 2\nbelief = 0.5\n[values]\ntype = "product"\nmarginals = [1, 2]\n',
    "unknown_key": 'goods = 2\nbelief = 0.5\ncolour = "red"\n[values]\ntype = "uniform"\n',
    "duplicate_key": 'goods = 2\ngoods = 3\nbelief = 0.5\n[values]\ntype = "uniform"\n',
    "empty": '',
    "json_in_toml": '{"goods": 2}',
    "deep_arrays": 'goods = 2\nbelief = ' + '[' * 5000 + ']' * 5000 + '\n[values]\ntype = "uniform"\n',
    "samples_no_file": 'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\n',
    "samples_missing_file": 'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\nfile = "nope.npy"\n',
    "samples_file_int": 'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\nfile = 3\n',
    "samples_file_traversal": 'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\n'
                              'file = "../../../../etc/passwd"\n',
    "samples_file_absolute_dev": 'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\n'
                                 'file = "/dev/zero"\n',
    "samples_file_nul": 'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\nfile = "a\\u0000.npy"\n',
    "samples_inline": 'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\n'
                      'values = [[0.1, 0.2], [0.9, 0.8], [0.5, 0.5]]\n',
    "samples_inline_ragged": 'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\n'
                             'values = [[0.1, 0.2], [0.9]]\n',
}
for _k, _text in _TOML_FILES.items():
    api(f"files.toml_{_k}", "files", f"""
        Path("p.toml").write_text({_text!r})
        p = aio.load_problem("p.toml")
        r = solve(p, backend="separate")
        MSG = check_result(p, r)
        """, timeout=45)
api("files.toml_invalid_utf8", "files", """
    Path("p.toml").write_bytes(b'goods = 2\\nbelief = 0.5\\nname = "\\xff\\xfe"\\n[values]\\ntype = "uniform"\\n')
    aio.load_problem("p.toml")
    """)
api("files.problem_json_roundtrip_beta", "files", """
    p = Problem(goods=2, values=Product([Beta(2, 3), TruncatedNormal(0.4, 0.2, 0, 1)]),
                belief=[0.3, 0.6], adverse_selection=0.25, allocation=[[-1, 1], [0, 2]])
    aio.save_problem(p, "p.json")
    q = aio.load_problem("p.json")
    if q.to_dict() != p.to_dict():
        raise WrongNumber(f"problem changed in a round trip: {q.to_dict()} vs {p.to_dict()}")
    MSG = "problem round-trip identical"
    """)
api("files.problem_json_is_menu", "files", """
    aio.save_menu(R2M, "m.json")
    aio.load_problem("m.json")
    """)
api("files.problem_no_suffix", "files", """
    aio.save_problem(PAPER, "problem")
    q = aio.load_problem("problem")
    MSG = f"loaded {q.goods} goods"
    """)
api("files.problem_yaml_suffix", "files", """
    Path("p.yaml").write_text("goods: 2\\n")
    aio.load_problem("p.yaml")
    """)
# Samples files (through TOML problems).
_SAMPLE_FILES = {
    "npy_nan": "np.save('s.npy', np.array([[0.1, np.nan], [0.3, 0.4]]))",
    "npy_inf": "np.save('s.npy', np.array([[0.1, np.inf], [0.3, 0.4]]))",
    "npy_3d": "np.save('s.npy', np.random.rand(3, 2, 2))",
    "npy_empty": "np.save('s.npy', np.empty((0, 2)))",
    "npy_wrong_columns": "np.save('s.npy', np.random.rand(10, 3))",
    "npy_object_pickle": "np.save('s.npy', np.array([[0.1, None]], dtype=object), allow_pickle=True)",
    "npy_strings": "np.save('s.npy', np.array([['a', 'b']]))",
    "npy_complex": "np.save('s.npy', np.random.rand(5, 2) + 1j)",
    "npy_structured": "np.save('s.npy', np.zeros(3, dtype=[('a', float), ('b', float)]))",
    "npy_bool": "np.save('s.npy', np.ones((5, 2), dtype=bool))",
    "npy_float16": "np.save('s.npy', np.random.default_rng(0).random((50, 2)).astype(np.float16))",
    "npy_bigendian": "np.save('s.npy', np.random.default_rng(0).random((50, 2)).astype('>f8'))",
    "npy_truncated": "np.save('s.npy', np.random.rand(100, 2)); b = Path('s.npy').read_bytes(); "
                     "Path('s.npy').write_bytes(b[:300])",
    "npy_header_lies": "b = bytearray(np.lib.format.magic(1, 0)); "
                       "h = \"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 2), }\"; "
                       "h = h + ' ' * (118 - len(h)) + '\\n'; b += len(h).to_bytes(2, 'little') + h.encode(); "
                       "Path('s.npy').write_bytes(bytes(b) + b'\\x00' * 32)",
    "npy_one_row": "np.save('s.npy', np.array([[0.3, 0.6]]))",
    "npy_1d": "np.save('s.npy', np.random.default_rng(0).random(50))",
    "npy_is_npz": "np.savez('s.npy', a=np.random.rand(5, 2))",
    "npy_text": "Path('s.npy').write_text('0.1,0.2\\n0.3,0.4\\n')",
    "csv_text": "Path('s.csv').write_text('a,b\\nc,d\\n')",
    "csv_header": "Path('s.csv').write_text('v1,v2\\n0.1,0.2\\n0.3,0.4\\n')",
    "csv_ragged": "Path('s.csv').write_text('0.1,0.2\\n0.3\\n')",
    "csv_empty": "Path('s.csv').write_text('')",
    "csv_nan": "Path('s.csv').write_text('0.1,nan\\n0.3,0.4\\n')",
    "csv_semicolon": "Path('s.csv').write_text('0.1;0.2\\n0.3;0.4\\n')",
    "csv_invalid_utf8": "Path('s.csv').write_bytes(b'0.1,0.2\\n\\xff\\xfe,0.4\\n')",
    "csv_ok": "np.savetxt('s.csv', np.random.default_rng(0).random((40, 2)), delimiter=',')",
}
for _k, _mk in _SAMPLE_FILES.items():
    _fname = "s.csv" if _k.startswith("csv") else "s.npy"
    _g = 1 if _k == "npy_1d" else 2
    api(f"files.samples_{_k}", "files", f"""
        {_mk}
        Path("p.toml").write_text('goods = {_g}\\nbelief = 0.5\\n[values]\\ntype = "samples"\\nfile = "{_fname}"\\n')
        p = aio.load_problem("p.toml")
        r = solve(p, backend="separate")
        MSG = check_result(p, r)
        """, timeout=45)

# ---------------------------------------------------------------------------- output paths
_OUT_PATHS = {
    "missing_folder": "'nope/x.json'",
    "under_file": "'file.txt/x.json'",
    "read_only_folder": "'ro/x.json'",
    "long_name": "'a' * 300 + '.json'",
    "long_path": "'/'.join(['d' * 200] * 30) + '/x.json'",
    "nul_name": "'x\\x00.json'",
    "directory": "'.'",
    "empty": "''",
    "trailing_slash": "'x.json/'",
    "dev_full": "'/dev/full'",
    "proc": "'/proc/x.json'",
    "int": "3",
}
_OUT_PREP = """
    Path("file.txt").write_text("x")
    os.mkdir("ro")
    os.system("chattr +i ro")
"""
for _k, _path in _OUT_PATHS.items():
    api(f"output.save_menu_{_k}", "output", _OUT_PREP + f"""
    aio.save_menu(R2M, {_path})
    MSG = "saved" + ("; SUSPICIOUS: created the missing folder 'nope'" if os.path.isdir("nope")
                     else "")
    """)
    api(f"output.save_result_{_k}", "output", _OUT_PREP + f"""
    r = solve(PAPER, backend="separate")
    aio.save_result(r, {_path}, problem=PAPER)
    MSG = "saved"
    """)
for _k in ("missing_folder", "read_only_folder", "under_file", "long_name", "nul_name"):
    api(f"output.save_problem_{_k}", "output", _OUT_PREP + f"""
    aio.save_problem(PAPER, {_OUT_PATHS[_k]})
    MSG = "saved"
    """)
    api(f"output.plot_regions_{_k}", "output", _OUT_PREP + f"""
    from amm_opt.plot import plot_regions
    plot_regions(PAPER, R2M, path={_OUT_PATHS[_k].replace('.json', '.png')})
    MSG = "plotted" + ("; SUSPICIOUS: created the missing folder 'nope'" if os.path.isdir("nope")
                       else "")
    """, timeout=45)
api("output.plot_bad_extension", "output", """
    from amm_opt.plot import plot_regions
    plot_regions(PAPER, R2M, path="x.xyz")
    MSG = "plotted"
    """, timeout=45)
api("output.plot_no_extension", "output", """
    from amm_opt.plot import plot_regions
    plot_regions(PAPER, R2M, path="x")
    MSG = "plotted: " + ", ".join(os.listdir("."))
    """, timeout=45)
api("output.plot_one_good", "output", """
    from amm_opt.plot import plot_regions
    plot_regions(P1, Menu([[1.0], [-1.0]], [0.75, -0.25]), path="x.png")
    MSG = "plotted"
    """, timeout=45)
api("output.save_result_overwrite_dir_file", "output", """
    os.mkdir("r.json")
    aio.save_result(solve(PAPER, backend="separate"), "r.json/", problem=PAPER)
    """)
api("output.save_result_full_disk_keeps_old", "output", """
    r = solve(PAPER, backend="separate")
    aio.save_result(r, "r.json", problem=PAPER)
    before = Path("r.json").read_bytes()
    os.symlink("/dev/full", "full.json")
    try:
        aio.save_result(r, "full.json", problem=PAPER)
    finally:
        if Path("r.json").read_bytes() != before:
            raise WrongNumber("old result damaged")
    MSG = "saved to /dev/full?"
    """)

# ---------------------------------------------------------------------------- checkpoints
_CK = "dict(RN_SMALL, steps=40, checkpoint_every=10, checkpoint_path='ck.pt')"
_CK_PATHS = {
    "missing_folder": "'nope/ck.pt'",
    "under_file": "'file.txt/ck.pt'",
    "read_only_folder": "'ro/ck.pt'",
    "long_name": "'c' * 300 + '.pt'",
    "nul_name": "'ck\\x00.pt'",
    "directory": "'.'",
    "dev_full": "'/dev/full'",
}
for _k, _path in _CK_PATHS.items():
    api(f"checkpoint.path_{_k}", "checkpoint", _OUT_PREP + f"""
    t0 = time.perf_counter()
    try:
        solve(PAPER, backend="rochetnet", **dict({_CK}, checkpoint_path={_path}, steps=3000,
              checkpoint_every=2999))
    except amm_opt.AmmOptError:
        if time.perf_counter() - t0 > 15:
            print("SUSPICIOUS: checkpoint path refused only after training")
        raise
    MSG = "trained and wrote?"
    """, timeout=90)
api("checkpoint.resume_without_file", "checkpoint", f"""
    r = solve(PAPER, backend="rochetnet", resume=True, **{_CK})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("checkpoint.resume_without_path", "checkpoint",
    "solve(PAPER, backend='rochetnet', resume=True, **RN_SMALL)")
_CK_WRITE = f"""
    first = solve(PAPER, backend="rochetnet", **{_CK})
    raw = Path("ck.pt").read_bytes()
"""
_CK_DAMAGE = {
    "truncated": "Path('ck.pt').write_bytes(raw[: len(raw) // 2])",
    "flip_byte_middle": "b = bytearray(raw); b[len(b) // 2] ^= 0x01; Path('ck.pt').write_bytes(bytes(b))",
    "flip_byte_end": "b = bytearray(raw); b[-200] ^= 0x01; Path('ck.pt').write_bytes(bytes(b))",
    "random_bytes": "Path('ck.pt').write_bytes(os.urandom(5000))",
    "empty": "Path('ck.pt').write_bytes(b'')",
    "json_text": "Path('ck.pt').write_text('{\"step\": 10}')",
    "invalid_utf8": "Path('ck.pt').write_bytes(b'\\xff\\xfe\\x00garbage')",
    "directory": "os.remove('ck.pt'); os.mkdir('ck.pt')",
    "pickle_object": "import torch, collections; torch.save({'x': collections.Counter('ab')}, 'ck.pt')",
    "pickle_exec": "import pickle; Path('ck.pt').write_bytes(pickle.dumps(__import__('os').getcwd))",
    "plain_tensor_dict": "import torch; torch.save({'theta': torch.zeros(3)}, 'ck.pt')",
    "plain_list": "import torch; torch.save([1, 2, 3], 'ck.pt')",
}
for _k, _dmg in _CK_DAMAGE.items():
    api(f"checkpoint.resume_{_k}", "checkpoint", _CK_WRITE + f"""
    {_dmg}
    r = solve(PAPER, backend="rochetnet", resume=True, **{_CK})
    MSG = check_result(PAPER, r)
    if not (np.array_equal(r.menu.allocations, first.menu.allocations) and
            np.array_equal(r.menu.prices, first.menu.prices)):
        raise WrongNumber("a damaged checkpoint was resumed silently (menu differs from the "
                          "run that wrote it)")
    """, timeout=60)
_CK_CRAFT = {
    "nan_price": "data['price'] = data['price'] * float('nan')",
    "nan_best": "data['best_price'] = data['best_price'] * float('nan'); "
                "data['best_theta'] = data['best_theta'] * float('nan')",
    "step_beyond": "data['step'] = 10**9",
    "step_negative": "data['step'] = -5",
    "best_value_huge": "data['best_value'] = 1e300",
    "wrong_shape_theta": "data['theta'] = torch.zeros(3, 3, 3)",
    "wrong_dtype": "data['theta'] = data['theta'].double()",
    "missing_key": "del data['history']",
    "extra_key": "data['evil'] = 1",
    "history_garbage": "data['history'] = [[1, 'x']]",
    "finished_early": "data['finished'] = True; data['stop_reason'] = 'steps'",
    "fingerprint_edit": "data['fingerprint'] = '0' * 64",
}
for _k, _edit in _CK_CRAFT.items():
    api(f"checkpoint.crafted_{_k}", "checkpoint", _CK_WRITE + f"""
    import io as _io, torch
    from amm_opt.solvers.rochetnet import training
    data = torch.load(_io.BytesIO(raw), weights_only=True)
    {_edit}
    if 'checksum' in data:
        data['checksum'] = training.checksum(data)
    torch.save(data, 'ck.pt')
    r = solve(PAPER, backend="rochetnet", resume=True, **{_CK})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("checkpoint.other_problem", "checkpoint", f"""
    p1 = Problem(goods=2, values=Beta(2, 2), belief=0.5)
    solve(p1, backend="rochetnet", **{_CK})
    r = solve(PAPER, backend="rochetnet", resume=True, **{_CK})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("checkpoint.other_goods", "checkpoint", f"""
    solve(P1, backend="rochetnet", **{_CK})
    r = solve(PAPER, backend="rochetnet", resume=True, **{_CK})
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("checkpoint.other_menu_size", "checkpoint", f"""
    solve(PAPER, backend="rochetnet", **{_CK})
    r = solve(PAPER, backend="rochetnet", resume=True, **dict({_CK}, menu_size=6))
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("checkpoint.other_dtype", "checkpoint", f"""
    solve(PAPER, backend="rochetnet", **{_CK})
    r = solve(PAPER, backend="rochetnet", resume=True, **dict({_CK}, dtype="float64"))
    MSG = check_result(PAPER, r)
    """, timeout=60)
api("checkpoint.resume_completed", "checkpoint", f"""
    first = solve(PAPER, backend="rochetnet", **{_CK})
    again = solve(PAPER, backend="rochetnet", resume=True, **{_CK})
    if not (np.array_equal(first.menu.prices, again.menu.prices) and
            np.array_equal(first.menu.allocations, again.menu.allocations)):
        raise WrongNumber("resuming a finished run changed its menu")
    MSG = check_result(PAPER, again)
    """, timeout=60)
api("checkpoint.resume_bit_identical", "checkpoint", f"""
    opts = dict({_CK})
    full = solve(PAPER, backend="rochetnet", **dict(opts, checkpoint_path=None))
    solve(PAPER, backend="rochetnet", **dict(opts, callback=lambda s, i: s >= 20))
    resumed = solve(PAPER, backend="rochetnet", resume=True, **opts)
    if not (np.array_equal(full.menu.prices, resumed.menu.prices) and
            np.array_equal(full.menu.allocations, resumed.menu.allocations)):
        raise WrongNumber("a resumed run differs from the uninterrupted one "
                          f"({{resumed.profit!r}} vs {{full.profit!r}})")
    MSG = "resumed run bit-identical; " + check_result(PAPER, resumed)
    """, timeout=90)
api("checkpoint.samples_changed", "checkpoint", f"""
    v = np.random.default_rng(0).uniform(0, 1, (300, 2))
    solve(Problem(goods=2, values=Samples(v), belief=0.5), backend="rochetnet", **{_CK})
    v[0, 0] = 0.123
    p = Problem(goods=2, values=Samples(v), belief=0.5)
    r = solve(p, backend="rochetnet", resume=True, **{_CK})
    MSG = check_result(p, r)
    """, timeout=60)

# ---------------------------------------------------------------------------- validation tools
_CERTIFY = {
    "upper_nan": "certify(PAPER, R2M, upper=float('nan'))",
    "upper_minus_inf": "certify(PAPER, R2M, upper=-float('inf'))",
    "upper_inf": "certify(PAPER, R2M, upper=float('inf'))",
    "upper_string": "certify(PAPER, R2M, upper='nonsense')",
    "upper_list": "certify(PAPER, R2M, upper=[1, 2])",
    "upper_bool": "certify(PAPER, R2M, upper=True)",
    "upper_callable_raises": "certify(PAPER, R2M, upper=lambda p: 1 / 0)",
    "upper_callable_string": "certify(PAPER, R2M, upper=lambda p: 'x')",
    "upper_callable_nan": "certify(PAPER, R2M, upper=lambda p: float('nan'))",
    "upper_result_no_upper": "certify(PAPER, R2M, upper=solve(PAPER, backend='separate'))",
    "upper_separate_name": "certify(PAPER, R2M, upper='separate')",
    "upper_rochetnet_name": "certify(PAPER, R2M, upper='rochetnet')",
    "upper_options_bad": "certify(PAPER, R2M, upper='grid_lp', upper_options={'grid': 'x'})",
    "upper_options_not_mapping": "certify(PAPER, R2M, upper='grid_lp', upper_options=[1])",
    "upper_options_without_upper": "certify(PAPER, R2M, upper_options={'grid': 4})",
    "evaluate_options_bad": "certify(PAPER, R2M, evaluate_options={'method': 'bogus'})",
    "evaluate_options_unknown": "certify(PAPER, R2M, evaluate_options={'colour': 1})",
    "evaluation_wrong": "certify(PAPER, R2M, evaluation=evaluate(PAPER, Menu([[1, 0]], [0.7])))",
    "evaluation_string": "certify(PAPER, R2M, evaluation='ev')",
    "check_points_zero": "certify(PAPER, R2M, check_points=0)",
    "check_points_negative": "certify(PAPER, R2M, check_points=-5)",
    "check_points_string": "certify(PAPER, R2M, check_points='many')",
    "check_points_huge": "certify(PAPER, R2M, check_points=10**12)",
    "seed_negative": "certify(PAPER, R2M, seed=-1)",
    "menu_wrong_goods": "certify(PAPER, Menu([[1.0]], [0.5]))",
    "menu_not_menu": "certify(PAPER, 'menu')",
    "problem_none": "certify(None, R2M)",
    "menu_outside_box": "certify(PAPER, Menu([[2.0, 0.0]], [1.5]))",
}
for _k, _expr in _CERTIFY.items():
    api(f"validation.certify_{_k}", "validation", f"""
        cert = {_expr}
        if cert.ok and cert.upper is not None and not (cert.lower <= cert.upper + 1e-9):
            raise WrongNumber(f"certify ok with lower {{cert.lower}} > upper {{cert.upper}}")
        if cert.upper is not None and isinstance(cert.upper, float) and math.isnan(cert.upper) \
                and cert.ok:
            raise WrongNumber("certify ok with a NaN upper bound")
        MSG = cert.verdict
        """, timeout=45)
api("validation.certify_upper_below_profit", "validation", """
    cert = certify(PAPER, R2M, upper=0.1)
    if cert.ok:
        raise WrongNumber("certify says ok although the menu earns 0.2746 > upper 0.1")
    MSG = cert.verdict
    """)
api("validation.certify_r2_ot_dual", "validation", """
    cert = certify(PAPER, R2M, upper="ot_dual", upper_options={"grid": 8})
    if not cert.ok or cert.upper < R2BEST - 1e-9:
        raise WrongNumber(f"certify: {cert.verdict}")
    MSG = cert.verdict
    """, timeout=45)
_CROSS = {
    "empty": "crosscheck(PAPER, [])",
    "unknown": "crosscheck(PAPER, ['nope'])",
    "int": "crosscheck(PAPER, [123])",
    "string": "crosscheck(PAPER, 'separate')",
    "none": "crosscheck(PAPER, None)",
    "options_bad": "crosscheck(PAPER, ['grid_lp'], options={'grid_lp': {'grid': 'x'}})",
    "options_unknown_label": "crosscheck(PAPER, ['separate'], options={'nope': {'grid': 4}})",
    "options_not_mapping": "crosscheck(PAPER, ['separate'], options=[1])",
    "reference_nan": "crosscheck(PAPER, ['separate'], reference=float('nan'))",
    "reference_string": "crosscheck(PAPER, ['separate'], reference='x')",
    "reference_wrong": "crosscheck(PAPER, ['separate', 'ot_dual'], "
                       "options={'ot_dual': {'grid': 4}}, reference=1.0)",
    "callable_raises": "crosscheck(PAPER, [lambda p: 1 / 0])",
    "callable_returns_string": "crosscheck(PAPER, [lambda p: 'result'])",
    "no_raise_bad": "crosscheck(PAPER, ['nope', 'separate'], raise_on_error=False)",
    "duplicate": "crosscheck(PAPER, ['separate', 'separate'])",
    "mapping_labels": "crosscheck(PAPER, {'a': 'separate', 'b': 'ot_dual'}, "
                      "options={'b': {'grid': 4}})",
}
for _k, _expr in _CROSS.items():
    api(f"validation.crosscheck_{_k}", "validation", f"""
        rep = {_expr}
        bl, bu = rep.best_lower, rep.best_upper
        if rep.ok and bl is not None and bu is not None and bl[0] > bu[0] + 1e-9:
            raise WrongNumber(f"crosscheck ok with best lower {{bl}} > best upper {{bu}}")
        MSG = f"ok={{rep.ok}} lower={{bl}} upper={{bu}}"
        """, timeout=60)
api("validation.crosscheck_beta600", "validation", """
    p = Problem(goods=2, values=Beta(600, 600), belief=0.5)
    rep = crosscheck(p, ["grid_lp", "ot_dual", "separate"],
                     options={"grid_lp": {"grid": 8}, "ot_dual": {"grid": 8}})
    tu, tt = trivial_upper(p)
    bl = rep.best_lower
    if bl is not None and bl[0] > tu + tt:
        raise WrongNumber(f"crosscheck best lower {bl} above the trivial upper bound {tu:.6g}")
    MSG = f"ok={rep.ok} lower={bl} upper={rep.best_upper}"
    """, timeout=60)
_COMPARE = {
    "goods_mismatch": "compare_menus(R2M, Menu([[1.0]], [0.5]), PAPER)",
    "not_menu": "compare_menus(R2M, 'menu', PAPER)",
    "problem_none": "compare_menus(R2M, R2M, None)",
    "points_zero": "compare_menus(R2M, R2M, PAPER, points=0)",
    "points_negative": "compare_menus(R2M, R2M, PAPER, points=-5)",
    "points_string": "compare_menus(R2M, R2M, PAPER, points='x')",
    "points_float": "compare_menus(R2M, R2M, PAPER, points=1e3)",
    "replications_zero": "compare_menus(R2M, R2M, PAPER, replications=0)",
    "match_tol_nan": "compare_menus(R2M, R2M, PAPER, match_tol=float('nan'))",
    "match_tol_negative": "compare_menus(R2M, R2M, PAPER, match_tol=-1)",
    "seed_string": "compare_menus(R2M, R2M, PAPER, seed='x')",
    "evaluate_options_bad": "compare_menus(R2M, R2M, PAPER, evaluate_options={'method': 'x'})",
}
for _k, _expr in _COMPARE.items():
    api(f"validation.compare_{_k}", "validation", f"""
        d = {_expr}
        if abs(d.profit_difference) > 1e-9 and "goods" not in {_k!r}:
            raise WrongNumber(f"identical menus differ in profit by {{d.profit_difference}}")
        MSG = d.summary().splitlines()[0]
        """, timeout=45)
api("validation.compare_regressions_bad_tol", "validation", """
    d = compare_menus(R2M, R2M, PAPER)
    reasons = d.regressions(profit_rtol=float('nan'), max_changed_share=-1,
                            max_price_difference='x')
    MSG = f"reasons: {reasons}"
    """)
api("validation.golden_load_garbage", "validation", """
    from amm_opt.validation import load_golden
    Path("g.json").write_text('{"format": "amm_opt.golden", "schema": 1, "menu": 3}')
    load_golden("g.json")
    """)
api("validation.golden_load_ok", "validation", """
    from amm_opt.validation import load_golden
    g = load_golden(os.path.join(os.environ["AMM_REPO"], "tests/data/golden/r2_lam0.json"))
    ev = evaluate(g.problem, g.menu)
    MSG = check_eval(g.problem, g.menu, ev)
    """)

# ---------------------------------------------------------------------------- CLI
_CLI_SETUP = """
    aio.save_menu(R2M, "r2.json")
    aio.save_menu(r2_plus(1e15), "r2huge.json")
    aio.save_menu(Menu([[1.0]], [0.75]), "one.json")
    aio.save_problem(PAPER, "paper.json")
    Path("p.toml").write_text('goods = 2\\nbelief = 0.5\\n[values]\\ntype = "uniform"\\n')
    Path("bad.toml").write_text('goods = = 2\\n')
    Path("file.txt").write_text("x")
    np.save("s.npy", np.random.default_rng(0).uniform(0, 1, (200, 2)))
    np.save("s3.npy", np.random.default_rng(0).uniform(0, 1, (5, 2, 2)))
    np.save("snan.npy", np.array([[0.1, np.nan], [0.2, 0.3]]))
    np.save("sobj.npy", np.array([[0.1, None]], dtype=object), allow_pickle=True)
    Path("s.csv").write_text("0.1,0.2\\n0.9,0.8\\n0.5,0.4\\n")
    Path("bad.csv").write_text("a,b\\nc,d\\n")
    Path("empty.csv").write_text("")
    Path("trunc.npy").write_bytes(Path("s.npy").read_bytes()[:200])
    b = bytearray(np.lib.format.magic(1, 0))
    h = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 2), }"
    h = h + " " * (118 - len(h)) + "\\n"
    b += len(h).to_bytes(2, "little") + h.encode()
    Path("lies.npy").write_bytes(bytes(b) + b"\\x00" * 32)
    Path("notjson.json").write_text("hello")
    Path("deep.json").write_text("[" * 100000 + "]" * 100000)
    Path("utf8.json").write_bytes(b'{"format": "amm_opt.menu", "x": "\\xff"}')
    os.mkdir("ro")
    os.system("chattr +i ro")
"""
_CLI = {
    # problem sources
    "solve_no_source": ["solve"],
    "solve_two_sources": ["solve", "--paper", "--goods", "2", "--belief", "0.5"],
    "solve_goods_zero": ["solve", "--goods", "0", "--belief", "0.5"],
    "solve_goods_text": ["solve", "--goods", "two", "--belief", "0.5"],
    "solve_goods_1e12": ["solve", "--goods", "1000000000000", "--belief", "0.5",
                         "--backend", "separate"],
    "solve_goods_50_grid_lp": ["solve", "--goods", "50", "--belief", "0.5", "--backend",
                               "grid_lp"],
    "solve_belief_missing": ["solve", "--goods", "2"],
    "solve_belief_text": ["solve", "--goods", "2", "--belief", "abc"],
    "solve_belief_outside": ["solve", "--goods", "2", "--belief", "2"],
    "solve_belief_three": ["solve", "--goods", "2", "--belief", "0.1,0.2,0.3"],
    "solve_belief_empty": ["solve", "--goods", "2", "--belief", ""],
    "solve_belief_nan": ["solve", "--goods", "2", "--belief", "nan"],
    "solve_lambda_one": ["solve", "--paper", "--adverse-selection", "1"],
    "solve_lambda_nan": ["solve", "--paper", "--adverse-selection", "nan", "--backend",
                         "separate"],
    "solve_lambda_text": ["solve", "--paper", "--adverse-selection", "x"],
    "solve_alloc_positive": ["solve", "--goods", "2", "--belief", "0.5", "--allocation=1,2"],
    "solve_alloc_text": ["solve", "--goods", "2", "--belief", "0.5", "--allocation=a,b"],
    "solve_alloc_three": ["solve", "--goods", "2", "--belief", "0.5", "--allocation=-1,0,1"],
    "solve_alloc_inf": ["solve", "--goods", "2", "--belief", "0.5", "--allocation=-inf,1"],
    "solve_values_unknown": ["solve", "--goods", "2", "--belief", "0.5", "--values", "cauchy"],
    "solve_values_beta_short": ["solve", "--goods", "2", "--belief", "0.5", "--values", "beta:2"],
    "solve_values_beta_bad": ["solve", "--goods", "2", "--belief", "0.5", "--values", "beta:0:1"],
    "solve_values_beta_text": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                               "beta:a:b"],
    "solve_values_normal_short": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                                  "normal:1"],
    "solve_values_uniform_reversed": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                                      "uniform:1:0"],
    "solve_values_uniform_nan": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                                 "uniform:nan:1"],
    "solve_values_empty": ["solve", "--goods", "2", "--belief", "0.5", "--values", ""],
    "solve_samples_missing": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                              "samples:nope.npy"],
    "solve_samples_badcsv": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                             "samples:bad.csv"],
    "solve_samples_emptycsv": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                               "samples:empty.csv"],
    "solve_samples_3d": ["solve", "--goods", "2", "--belief", "0.5", "--values", "samples:s3.npy"],
    "solve_samples_nan": ["solve", "--goods", "2", "--belief", "0.2", "--values",
                          "samples:snan.npy"],
    "solve_samples_pickle": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                             "samples:sobj.npy"],
    "solve_samples_truncated": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                                "samples:trunc.npy"],
    "solve_samples_header_lies": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                                  "samples:lies.npy", "--backend", "separate"],
    "solve_samples_directory": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                                "samples:ro"],
    "solve_samples_dev_zero": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                               "samples:/dev/zero"],
    "solve_samples_no_name": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                              "samples:"],
    "solve_samples_wrong_goods": ["solve", "--goods", "3", "--belief", "0.5", "--values",
                                  "samples:s.npy"],
    "solve_samples_ok": ["solve", "--goods", "2", "--belief", "0.5", "--values", "samples:s.csv",
                         "--backend", "separate"],
    "solve_problem_missing": ["solve", "--problem", "nope.toml"],
    "solve_problem_bad_toml": ["solve", "--problem", "bad.toml"],
    "solve_problem_notjson": ["solve", "--problem", "notjson.json"],
    "solve_problem_deep": ["solve", "--problem", "deep.json"],
    "solve_problem_menu_file": ["solve", "--problem", "r2.json"],
    "solve_problem_with_values": ["solve", "--problem", "p.toml", "--values", "uniform"],
    "solve_problem_lambda_override": ["solve", "--problem", "p.toml", "--adverse-selection",
                                      "1.5", "--backend", "separate"],
    # options
    "solve_backend_unknown": ["solve", "--paper", "--backend", "nope"],
    "solve_set_no_equals": ["solve", "--paper", "--backend", "separate", "--set", "grid_points"],
    "solve_set_empty_key": ["solve", "--paper", "--backend", "separate", "--set", "=3"],
    "solve_set_unknown": ["solve", "--paper", "--backend", "separate", "--set", "colour=red"],
    "solve_set_text_int": ["solve", "--paper", "--backend", "rochetnet", "--set", "steps=abc"],
    "solve_set_nan": ["solve", "--paper", "--backend", "grid_lp", "--set", "grid=NaN"],
    "solve_set_infinity": ["solve", "--paper", "--backend", "grid_lp", "--set", "grid=4",
                           "--set", "time_limit=Infinity"],
    "solve_set_null": ["solve", "--paper", "--backend", "ot_dual", "--set", "grid=null"],
    "solve_set_nested": ["solve", "--paper", "--backend", "ot_dual", "--set",
                         "grid=" + "[" * 5000 + "]" * 5000],
    "solve_set_grid_list": ["solve", "--paper", "--backend", "ot_dual", "--set", "grid=[4, 6]"],
    "solve_set_grid_huge": ["solve", "--paper", "--backend", "ot_dual", "--set",
                            "grid=[1000000, 2]"],
    "solve_set_rn_menu_1e7": ["solve", "--paper", "--backend", "rochetnet", "--set",
                              "menu_size=10000000", "--set", "steps=2"],
    "solve_set_rn_batch_1e9": ["solve", "--paper", "--backend", "rochetnet", "--set",
                               "batch_size=1000000000", "--set", "steps=2"],
    "solve_set_huge_int": ["solve", "--paper", "--backend", "grid_lp", "--set",
                           "grid=" + "9" * 5000],
    "solve_progress_separate": ["solve", "--paper", "--backend", "separate", "--progress"],
    "solve_json_ot_dual": ["solve", "--paper", "--backend", "ot_dual", "--set", "grid=4",
                           "--json"],
    "solve_beta600_grid_lp": ["solve", "--goods", "2", "--belief", "0.5", "--values",
                              "beta:600:600", "--backend", "grid_lp", "--set", "grid=8"],
    # outputs
    "solve_out_missing_folder": ["solve", "--paper", "--backend", "rochetnet", "--set",
                                 "steps=3000", "--out", "nope/r.json"],
    "solve_out_read_only": ["solve", "--paper", "--backend", "rochetnet", "--set", "steps=3000",
                            "--out", "ro/r.json"],
    "solve_out_under_file": ["solve", "--paper", "--backend", "separate", "--out",
                             "file.txt/r.json"],
    "solve_out_long_name": ["solve", "--paper", "--backend", "separate", "--out",
                            "r" * 300 + ".json"],
    "solve_out_directory": ["solve", "--paper", "--backend", "separate", "--out", "ro"],
    "solve_out_dev_full": ["solve", "--paper", "--backend", "separate", "--out", "/dev/full"],
    "solve_out_empty": ["solve", "--paper", "--backend", "separate", "--out", ""],
    "solve_plot_missing_folder": ["solve", "--paper", "--backend", "rochetnet", "--set",
                                  "steps=3000", "--plot", "nope/r.png"],
    "solve_plot_read_only": ["solve", "--paper", "--backend", "separate", "--plot", "ro/r.png"],
    "solve_plot_bad_ext": ["solve", "--paper", "--backend", "separate", "--plot", "r.xyz"],
    "solve_plot_long_name": ["solve", "--paper", "--backend", "separate", "--plot",
                             "p" * 300 + ".png"],
    "solve_plot_one_good": ["solve", "--goods", "1", "--belief", "0.5", "--backend",
                            "separate", "--plot", "r.png"],
    "solve_out_ok": ["solve", "--paper", "--backend", "separate", "--out", "r.json", "--plot",
                     "r.svg"],
    # evaluate
    "evaluate_missing": ["evaluate", "nope.json", "--paper"],
    "evaluate_notjson": ["evaluate", "notjson.json", "--paper"],
    "evaluate_deep": ["evaluate", "deep.json", "--paper"],
    "evaluate_utf8": ["evaluate", "utf8.json", "--paper"],
    "evaluate_directory": ["evaluate", "ro", "--paper"],
    "evaluate_dev_zero": ["evaluate", "/dev/zero", "--paper"],
    "evaluate_no_problem": ["evaluate", "r2.json"],
    "evaluate_wrong_goods": ["evaluate", "one.json", "--paper"],
    "evaluate_method_bogus": ["evaluate", "r2.json", "--paper", "--method", "bogus"],
    "evaluate_problem_file_is_menu": ["evaluate", "r2.json", "--problem", "r2.json"],
    "evaluate_r2": ["evaluate", "r2.json", "--paper", "--json"],
    "evaluate_r2_huge_item": ["evaluate", "r2huge.json", "--paper", "--json"],
    "evaluate_r2_beta2421": ["evaluate", "one.json", "--goods", "1", "--values",
                             "beta:2421.6:6.2", "--belief", "0.4822", "--json"],
    # certify
    "certify_missing": ["certify", "nope.json", "--paper"],
    "certify_upper_nonsense": ["certify", "r2.json", "--paper", "--upper", "nonsense"],
    "certify_upper_nan": ["certify", "r2.json", "--paper", "--upper", "nan"],
    "certify_upper_low": ["certify", "r2.json", "--paper", "--upper", "0.1"],
    "certify_set_without_upper": ["certify", "r2.json", "--paper", "--set", "grid=4"],
    "certify_set_bad": ["certify", "r2.json", "--paper", "--upper", "ot_dual", "--set",
                        "grid=abc"],
    "certify_huge_item": ["certify", "r2huge.json", "--paper", "--json"],
    "certify_ok": ["certify", "r2.json", "--paper", "--upper", "ot_dual", "--set", "grid=8"],
    # compare
    "compare_missing": ["compare", "r2.json", "nope.json", "--paper"],
    "compare_goods_mismatch": ["compare", "r2.json", "one.json", "--paper"],
    "compare_rtol_nan": ["compare", "r2.json", "r2.json", "--paper", "--profit-rtol", "nan"],
    "compare_rtol_negative": ["compare", "r2.json", "r2.json", "--paper", "--profit-rtol", "-1"],
    "compare_match_tol_text": ["compare", "r2.json", "r2.json", "--paper", "--match-tol", "x"],
    "compare_share_negative": ["compare", "r2.json", "r2.json", "--paper",
                               "--max-changed-share", "-1"],
    "compare_huge_item": ["compare", "r2.json", "r2huge.json", "--paper", "--json"],
    "compare_no_problem": ["compare", "r2.json", "r2.json"],
    # plot
    "plot_no_menu": ["plot", "--paper", "--out", "x.png"],
    "plot_no_out": ["plot", "r2.json", "--paper"],
    "plot_bad_ext": ["plot", "r2.json", "--paper", "--out", "x.xyz"],
    "plot_missing_folder": ["plot", "r2.json", "--paper", "--out", "nope/x.png"],
    "plot_read_only": ["plot", "r2.json", "--paper", "--out", "ro/x.png"],
    "plot_long_name": ["plot", "r2.json", "--paper", "--out", "x" * 300 + ".png"],
    "plot_kind_bogus": ["plot", "r2.json", "--paper", "--kind", "bogus", "--out", "x.png"],
    "plot_transport_bad_set": ["plot", "--paper", "--kind", "transport", "--set", "grid=abc",
                               "--out", "x.png"],
    "plot_transport_missing_folder": ["plot", "--paper", "--kind", "transport", "--set",
                                      "grid=8", "--out", "nope/x.png"],
    "plot_transport_one_good": ["plot", "--goods", "1", "--belief", "0.5", "--kind",
                                "transport", "--set", "grid=8", "--out", "x.png"],
    "plot_slices_one_good": ["plot", "one.json", "--goods", "1", "--belief", "0.5", "--kind",
                             "slices", "--out", "x.png"],
    "plot_regions_wrong_goods": ["plot", "one.json", "--paper", "--out", "x.png"],
    "plot_ok": ["plot", "r2.json", "--paper", "--out", "x.png"],
    # misc
    "no_command": [],
    "unknown_command": ["frobnicate"],
    "backends": ["backends"],
    "version": ["--version"],
    "help": ["solve", "--help"],
    "unknown_flag": ["solve", "--paper", "--colour", "red"],
    "nul_in_arg": ["evaluate", "r2\x00.json", "--paper"],
}
_CLI_CHECKS = {
    "evaluate_r2": """
        ev = json.loads(out)
        if abs(ev["profit"] - R2BEST) > 1e-9:
            raise WrongNumber(f"CLI evaluate R2 menu: {ev['profit']} vs {R2BEST}")
        MSG = f"profit {ev['profit']}"
    """,
    "evaluate_r2_huge_item": """
        ev = json.loads(out)
        m = r2_plus(1e15)
        check_value(PAPER, m, ev["profit"], ev["method"], ev["stderr"], "CLI evaluate")
        MSG = f"profit {ev['profit']} ({ev['method']})"
    """,
    "evaluate_r2_beta2421": """
        ev = json.loads(out)
        p = Problem(goods=1, values=Beta(2421.6, 6.2), belief=0.4822)
        check_value(p, Menu([[1.0]], [0.75]), ev["profit"], ev["method"], ev["stderr"],
                    "CLI evaluate")
        MSG = f"profit {ev['profit']} ({ev['method']} ± {ev['stderr']})"
    """,
    "certify_huge_item": """
        c = json.loads(out)
        low = c.get("lower")
        if low is not None and low > R2BEST + 1e-9:
            raise WrongNumber(f"CLI certify: lower {low} above the known optimum {R2BEST}")
        MSG = f"lower {low}"
    """,
    "compare_huge_item": """
        c = json.loads(out)
        diff = c.get("profit_difference")
        if diff is not None and abs(diff) > 1e-9:
            raise WrongNumber(f"CLI compare: a dominated item changes profit by {diff}")
        MSG = f"profit difference {diff}"
    """,
    "solve_json_ot_dual": """
        d = json.loads(out)
        up = d["bounds"]["upper"]
        if isinstance(up, (int, float)) and up < R2BEST - 1e-9:
            raise WrongNumber(f"CLI ot_dual upper {up} below the optimum {R2BEST}")
        MSG = f"upper {up}"
    """,
    "certify_upper_low": """
        if rc == 0:
            raise WrongNumber("certify exit 0 although the menu earns more than --upper 0.1")
        MSG = f"exit {rc} (bracket fails, as it should): " + out.strip().splitlines()[0][:120]
    """,
}
for _k, _argv in _CLI.items():
    _t = 90 if any(a.startswith("steps=") or "rochetnet" in a or "grid_lp" in a for a in _argv) \
        else 45
    cli(f"cli.{_k}", "cli", _argv, setup=_CLI_SETUP, check=_CLI_CHECKS.get(_k, ""), timeout=_t,
        expect_rc=1 if _k == "certify_upper_low" else None)
cli("cli.entry_point_backends", "cli", ["backends"], entry=True)
cli("cli.entry_point_bad_input", "cli", ["solve", "--goods", "-1", "--belief", "0.5"],
    entry=True)
cli("cli.entry_point_paper_separate", "cli", ["solve", "--paper", "--backend", "separate",
                                              "--json"], entry=True, check="""
    d = json.loads(out)
    if abs(d["profit"] - 0.25) > 1e-9:
        raise WrongNumber(f"separate on the paper instance: {d['profit']} != 0.25")
    MSG = f"profit {d['profit']}"
""")


def categories() -> dict[str, int]:
    """Cases per category."""
    out: dict[str, int] = {}
    for c in CASES:
        out[c["category"]] = out.get(c["category"], 0) + 1
    return out


_ids = [c["id"] for c in CASES]
assert len(_ids) == len(set(_ids)), sorted({i for i in _ids if _ids.count(i) > 1})
