"""Profit curves: expected profit and certified brackets against a parameter (e.g. λ)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import OptionError
from .figures import figure_path, new_axes, require_matplotlib, save_figure

__all__ = ["plot_profit_curve"]


def _bracket(entry: Any) -> tuple[float, float | None, float | None]:
    """(value, lower, upper) from a float, a Result, a Certificate or a (lower, upper) pair."""
    bounds = getattr(entry, "bounds", None)
    if bounds is not None:
        lo, hi = bounds.lower, bounds.upper
        return (math.nan if lo is None else float(lo)), lo, hi
    if hasattr(entry, "lower") and hasattr(entry, "upper"):
        return float(entry.lower), float(entry.lower), \
            None if entry.upper is None else float(entry.upper)
    if isinstance(entry, tuple) and len(entry) == 2:
        lo, hi = entry
        return float(lo), float(lo), None if hi is None else float(hi)
    value = float(entry)
    return value, None, None


def plot_profit_curve(parameter: ArrayLike, series: Mapping[str, Sequence[Any]], *,
                      xlabel: str = "adverse selection λ", ylabel: str = "expected profit",
                      relative_to: str | None = None, ax: Any = None,
                      path: str | PathLike[str] | None = None, title: str | None = None) -> Any:
    r"""Profit and certified brackets against a parameter (e.g. :math:`\lambda`).

    Each series is a line; entries that carry an upper bound (a :class:`~amm_opt.Result` with
    ``bounds.upper``, a :class:`~amm_opt.validation.Certificate`, or a ``(lower, upper)`` pair)
    are drawn as the lower bound with the bracket :math:`[\underline\Pi, \overline\Pi]` shaded:
    the optimum lies inside it. With ``relative_to``, a second panel shows each series'
    lower value divided by that series' (and, shaded, the range the optimum's gain is certified
    to lie in),

    .. math::

        \text{gain}(\lambda) = \underline\Pi_{\text{series}}(\lambda) /
        \Pi_{\text{relative\_to}}(\lambda) - 1 .

    Parameters
    ----------
    parameter : array of shape (m,)
        The x values.
    series : mapping of label to a sequence of length m
        Floats, Results, Certificates or (lower, upper) pairs; NaN or None values are skipped.
    xlabel, ylabel, title : str
    relative_to : str, optional
        Label of the baseline series for the gain panel.
    ax : Axes, or two Axes when ``relative_to`` is given
    path : str or path, optional
        ``.png``, ``.svg`` or ``.pdf``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from amm_opt.plot import plot_profit_curve
    >>> fig = plot_profit_curve([0.0, 0.5], {"bundled": [0.2746, 0.0929],
    ...                                      "separate": [0.25, 0.0833]}, relative_to="separate")
    >>> len(fig.axes)
    2
    """
    xs = np.asarray(parameter, dtype=np.float64).ravel()
    if not isinstance(series, Mapping) or not series:
        raise OptionError("must be a non-empty mapping label -> values", field="series",
                          value=series, allowed="e.g. {'menu': [..], 'separate': [..]}")
    rows: dict[str, list[tuple[float, float | None, float | None]]] = {}
    for label, values in series.items():
        entries = list(values)
        if len(entries) != xs.size:
            raise OptionError(f"has {len(entries)} entries for {xs.size} parameter values",
                              field=f"series[{label!r}]", value=len(entries),
                              allowed=f"{xs.size} entries")
        rows[str(label)] = [(math.nan, None, None) if e is None else _bracket(e)
                            for e in entries]
    if relative_to is not None and relative_to not in rows:
        raise OptionError("is not a series label", field="relative_to", value=relative_to,
                          allowed=", ".join(rows))
    out = figure_path(path)
    require_matplotlib()
    fig, panels = new_axes(ax, ncols=1 if relative_to is None else 2, size=(6.0, 4.5))
    main = panels[0]
    for idx, (label, vals) in enumerate(rows.items()):
        colour = f"C{idx}"
        y = np.array([v[0] for v in vals])
        main.plot(xs, y, marker="o", markersize=3, color=colour, label=label)
        up = np.array([math.nan if v[2] is None else v[2] for v in vals])
        lo = np.array([math.nan if v[1] is None else v[1] for v in vals])
        if np.any(np.isfinite(up)):
            main.plot(xs, up, linestyle="--", color=colour, label=f"{label}: certified upper")
            main.fill_between(xs, lo, up, where=np.isfinite(up) & np.isfinite(lo),
                              color=colour, alpha=0.2, linewidth=0)
    main.set_xlabel(xlabel)
    main.set_ylabel(ylabel)
    main.grid(alpha=0.3)
    main.legend(fontsize="small")
    if relative_to is not None:
        base = np.array([v[0] for v in rows[relative_to]])
        gain_ax = panels[1]
        for idx, (label, vals) in enumerate(rows.items()):
            if label == relative_to:
                continue
            y = np.array([v[0] for v in vals])
            with np.errstate(divide="ignore", invalid="ignore"):
                gain = 100.0 * (y / base - 1.0)
            text = f"{label} vs {relative_to}"
            finite = np.isfinite(gain)
            if np.any(finite):
                best = int(np.flatnonzero(finite)[np.argmax(gain[finite])])
                text += f" (max {gain[best]:.2f}% at {xs[best]:.3g})"
                gain_ax.plot([xs[best]], [gain[best]], marker="D", color=f"C{idx}")
            gain_ax.plot(xs, gain, marker="o", markersize=3, color=f"C{idx}", label=text)
            up = np.array([math.nan if v[2] is None else v[2] for v in vals])
            if np.any(np.isfinite(up)):
                with np.errstate(divide="ignore", invalid="ignore"):
                    gain_up = 100.0 * (up / base - 1.0)
                ok = np.isfinite(gain_up) & np.isfinite(gain)
                gain_ax.fill_between(xs, gain, gain_up, where=ok, color=f"C{idx}", alpha=0.15,
                                     linewidth=0, label=f"{label}: certified range of the "
                                                        "optimum's gain")
        gain_ax.set_xlabel(xlabel)
        gain_ax.set_ylabel(f"gain over {relative_to} (%)")
        gain_ax.grid(alpha=0.3)
        gain_ax.legend(fontsize="small")
    if title is not None:
        fig.suptitle(title)
    save_figure(fig, out)
    return fig
