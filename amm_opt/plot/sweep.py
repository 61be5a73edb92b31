r"""Pictures of sweeps (tables from :func:`amm_opt.sweep.sweep` or a :class:`SweepStore`).

* :func:`plot_sweep_profit` — profit of the joint menu and of ``separate`` against one
  parameter (:math:`\lambda`), the certified band :math:`[\underline\Pi, \overline\Pi]` shaded,
  and the bundling gain with the certified range of the optimum's gain;
* :func:`plot_gain_heatmap` — the gain of the joint menu over selling separately on a grid of two
  parameters (the belief :math:`c \in [0,1]^2`), and the most any menu could gain there;
* :func:`plot_region_maps` — the menus' choice regions in a small-multiples grid.

Only rows with ``state == "done"`` are drawn.
"""

from __future__ import annotations

import math
from os import PathLike
from typing import Any

import numpy as np

from ..errors import OptionError
from ..sweep.points import point_problem, problem_data
from ..sweep.store import menu_from_text, parameter_columns
from .curves import plot_profit_curve
from .figures import figure_path, require_matplotlib, save_figure
from .regions import plot_regions

__all__ = ["plot_gain_heatmap", "plot_region_maps", "plot_sweep_profit"]


def _done(frame: Any, name: str) -> Any:
    if not hasattr(frame, "columns") or "state" not in frame.columns:
        raise OptionError("must be a sweep table", field=name, value=type(frame).__name__,
                          allowed="the DataFrame of amm_opt.sweep.sweep or SweepStore.frame")
    done = frame[frame["state"] == "done"]
    if done.empty:
        raise OptionError("has no finished point to draw", field=name, value=len(frame),
                          allowed="a table with rows of state 'done'")
    return done


def _by(frame: Any, columns: list[str], name: str) -> dict[tuple[Any, ...], Any]:
    """Rows keyed by their values in ``columns`` (one row per key, else an error); rows that
    do not set every one of ``columns`` (points of another sweep in the same store) are left
    out."""
    for col in columns:
        if col not in frame.columns:
            raise OptionError("is not a column of the table", field=name, value=col,
                              allowed=", ".join(parameter_columns(frame)))
    out: dict[tuple[Any, ...], Any] = {}
    for _, row in frame.iterrows():
        if not all(_given(row[c]) for c in columns):
            continue
        key = tuple(_hashable(row[c]) for c in columns)
        if key in out:
            raise OptionError(f"has several points at {dict(zip(columns, key, strict=True))}: "
                              "other parameters vary too", field=name, value=len(frame),
                              allowed="a table with one point per value (filter it first)")
        out[key] = row
    if not out:
        raise OptionError(f"has no finished point that sets {', '.join(columns)}", field=name,
                          value=len(frame), allowed=", ".join(parameter_columns(frame)))
    return out


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _bracket(row: Any) -> tuple[float, float | None]:
    upper = row["upper"]
    return float(row["lower"]), None if upper is None or not math.isfinite(upper) else float(upper)


def plot_sweep_profit(joint: Any, baseline: Any = None, *, x: str = "adverse_selection",
                      label: str | None = None, ax: Any = None,
                      path: str | PathLike[str] | None = None, title: str | None = None) -> Any:
    r"""Profit against a swept parameter, with the certified band and the bundling gain.

    For each value of ``x`` the joint sweep gives the bracket
    :math:`\underline\Pi \le \Pi^* \le \overline\Pi` (the band); with a ``baseline`` sweep
    (``separate``) a second panel shows the gain :math:`\underline\Pi / \Pi_{sep} - 1` and the
    certified range :math:`[\underline\Pi, \overline\Pi] / \Pi_{sep} - 1` of the optimum's
    gain (:func:`amm_opt.plot.plot_profit_curve`).

    Parameters
    ----------
    joint, baseline : DataFrame
        Sweep tables with one point per value of ``x`` (baseline optional).
    x : str
        The swept parameter on the horizontal axis.
    label : str, optional
        Name of the joint series (default ``"joint (<backend>)"``).
    ax, path, title
        As for :func:`~amm_opt.plot.plot_profit_curve`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = _by(_done(joint, "joint"), [x], "joint")
    xs = sorted(rows)
    name = label or f"joint ({rows[xs[0]]['backend']})"
    series: dict[str, list[Any]] = {name: [_bracket(rows[k]) for k in xs]}
    relative = None
    if baseline is not None:
        base = _by(_done(baseline, "baseline"), [x], "baseline")
        relative = f"separate ({base[next(iter(base))]['backend']})"
        series[relative] = [None if k not in base else float(base[k]["lower"]) for k in xs]
    return plot_profit_curve([k[0] for k in xs], series, xlabel=_axis_label(x),
                             relative_to=relative, ax=ax, path=path, title=title)


def _axis_label(name: str) -> str:
    labels = {"adverse_selection": "adverse selection λ", "belief[0]": "belief $c_1$",
              "belief[1]": "belief $c_2$", "belief": "belief c"}
    return labels.get(name, name)


def plot_gain_heatmap(joint: Any, baseline: Any, *, x: str = "belief[0]",
                      y: str = "belief[1]", path: str | PathLike[str] | None = None,
                      title: str | None = None) -> Any:
    r"""The bundling gain on a grid of two parameters (default the belief :math:`c`).

    Left: the joint menu's gain :math:`100(\underline\Pi / \Pi_{sep} - 1)\,\%`; right, where the
    joint sweep certifies an upper bound: the most any menu could gain,
    :math:`100(\overline\Pi / \Pi_{sep} - 1)\,\%` (certified). Cells without both numbers are
    blank.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = _by(_done(joint, "joint"), [x, y], "joint")
    base = _by(_done(baseline, "baseline"), [x, y], "baseline")
    xs = sorted({k[0] for k in rows})
    ys = sorted({k[1] for k in rows})
    gain = np.full((len(ys), len(xs)), np.nan)
    most = np.full_like(gain, np.nan)
    for (a, b), row in rows.items():
        sep = base.get((a, b))
        if sep is None or not float(sep["lower"]) > 0:
            continue
        i, j = ys.index(b), xs.index(a)
        lower, upper = _bracket(row)
        gain[i, j] = 100.0 * (lower / float(sep["lower"]) - 1.0)
        if upper is not None:
            most[i, j] = 100.0 * (upper / float(sep["lower"]) - 1.0)
    out = figure_path(path)
    require_matplotlib()
    from matplotlib.figure import Figure

    panels = [(gain, "gain of the joint menu (%)")]
    if np.isfinite(most).any():
        panels.append((most, "certified: most any menu gains (%)"))
    fig = Figure(figsize=(5.6 * len(panels), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels))).ravel()
    finite = np.concatenate([p[np.isfinite(p)] for p, _ in panels])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for axis, (data, text) in zip(axes, panels, strict=True):
        mesh = axis.pcolormesh(_edges(xs), _edges(ys), data, shading="flat", cmap="viridis",
                               vmin=vmin, vmax=vmax)
        axis.set_xlabel(_axis_label(x))
        axis.set_ylabel(_axis_label(y))
        axis.set_title(text, fontsize="medium")
        axis.set_aspect("equal" if x.startswith("belief") and y.startswith("belief") else "auto")
        fig.colorbar(mesh, ax=axis, label="%")
    if title is not None:
        fig.suptitle(title)
    save_figure(fig, out)
    return fig


def _edges(values: list[float]) -> np.ndarray:
    """Cell edges around sorted centres (half-way between neighbours)."""
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def plot_region_maps(frame: Any, problem: Any = None, *, ncols: int = 4, max_panels: int = 16,
                     path: str | PathLike[str] | None = None, title: str | None = None) -> Any:
    r"""The choice regions :math:`R_k = \{v : k^*(v) = k\}` of each point's menu, one panel per
    point (two goods; :func:`amm_opt.plot.plot_regions` draws each).

    Parameters
    ----------
    frame : DataFrame
        A sweep table; the base problem comes from ``frame.attrs["sweep"]["problem"]`` (set by
        :func:`~amm_opt.sweep.sweep` and :meth:`SweepStore.frame`) or ``problem``.
    problem : Problem, optional
        The base problem, when the table does not carry it.
    ncols, max_panels : int
        Panels per row; at most this many points (evenly spaced through the table).

    Returns
    -------
    matplotlib.figure.Figure
    """
    done = _done(frame, "frame")
    done = done[done["menu"].notna()]
    if done.empty:
        raise OptionError("holds no menus", field="frame", value=len(frame),
                          allowed="a sweep with a menu engine (grid_lp, separate, rochetnet)")
    base = problem_data(problem) if problem is not None else \
        frame.attrs.get("sweep", {}).get("problem")
    if base is None:
        raise OptionError("is needed: the table does not carry its problem", field="problem",
                          value=None, allowed="the sweep's base Problem")
    for name, value in (("ncols", ncols), ("max_panels", max_panels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise OptionError("must be a positive integer", field=name, value=value,
                              allowed="1, 2, ...")
    pick = np.unique(np.linspace(0, len(done) - 1, min(max_panels, len(done))).round()
                     ).astype(int)
    rows = [done.iloc[i] for i in pick]
    names = parameter_columns(frame)
    out = figure_path(path)
    require_matplotlib()
    from matplotlib.figure import Figure

    cols = min(ncols, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig = Figure(figsize=(4.2 * cols, 4.0 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, cols, squeeze=False)).ravel()
    for axis, row in zip(axes, rows, strict=False):
        params = {n: row[n] for n in names if _given(row[n])}
        point = point_problem(base, params)
        text = ", ".join(f"{n} = {_short(v)}" for n, v in params.items())
        plot_regions(point, menu_from_text(row["menu"]), ax=axis,
                     title=f"{text}\nprofit {row['lower']:.4g}")
        legend = axis.get_legend()
        if legend is not None:
            legend.remove()
    for axis in axes[len(rows):]:
        axis.set_visible(False)
    if title is not None:
        fig.suptitle(title)
    save_figure(fig, out)
    return fig


def _given(value: Any) -> bool:
    return isinstance(value, list) or not (value is None or (isinstance(value, float) and
                                                             math.isnan(value)))


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(f"{v:.3g}" for v in value) + ")"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
