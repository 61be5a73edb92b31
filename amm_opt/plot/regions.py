r"""Pictures of menus and bounds: region maps, 3-good slices, profit curves, transport plans.

Every function draws into a :class:`matplotlib.figure.Figure` created without pyplot, so no GUI
backend and no global state is touched: the figure renders with Agg (PNG) or the SVG backend when
saved, which works on headless machines (CI). Matplotlib is imported only inside the functions
(``pip install 'amm-opt[plot]'``); ``import amm_opt`` never imports it.

A trade :math:`x \in X` is always drawn in the same colour, whatever the menu: for two goods the
hue is the direction of :math:`x` (after scaling each good by :math:`\max(|l_i|, h_i)`) and the
saturation its size (no trade is white); for three goods the RGB channels are the three scaled
coordinates. Maps of different menus can therefore be compared by eye.

* :func:`plot_regions` — who chooses what on a two-good value box (the paper's Fig. 2);
* :func:`plot_slices` — the same on 2-D slices of a three-good box;
* :func:`plot_profit_curve` — profit and certified brackets against a parameter (e.g. λ);
* :func:`plot_transport` — the transport plan of an ``ot_dual`` certificate (paper's Figs. 3, 11).
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from os import PathLike
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import OptionError, UnsupportedProblemError
from ..menu import Menu, require_problem_and_menu
from ..problem import Problem
from .figures import figure_path, new_axes, require_matplotlib, save_figure

__all__ = ["plot_regions", "plot_slices", "trade_colours"]

FloatArray = NDArray[np.float64]

# Regions smaller than this share of the box get no in-place label (it would not fit).
_LABEL_MIN_SHARE = 0.015
_MAX_LEGEND = 16


# ------------------------------------------------------------------------------ helpers
def _check_resolution(resolution: Any) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or \
            not 16 <= resolution <= 4096:
        raise OptionError("must be an integer", field="resolution", value=resolution,
                          allowed="16 <= resolution <= 4096 (pixels per side)")
    return int(resolution)


def _check_problem_menu(problem: Any, menu: Any) -> None:
    require_problem_and_menu(problem, menu)
    menu.check_fits(problem)


def _trade_text(x: ArrayLike) -> str:
    return "(" + ", ".join(f"{xi:+.3g}" if abs(xi) > 5e-13 else "0" for xi in np.asarray(x)) \
        + ")"


def trade_colours(allocations: ArrayLike, low: ArrayLike, high: ArrayLike) -> FloatArray:
    r"""The fixed colour of each trade, RGB in :math:`[0, 1]`, shape (K, 3).

    With :math:`s_i = x_i / \max(|l_i|, h_i) \in [-1, 1]`: for two goods
    :math:`\text{hue} = \operatorname{atan2}(s_2, s_1) / 2\pi`,
    :math:`\text{saturation} = \|s\|_\infty`, value :math:`0.95 - 0.3 \min_i |s_i|` (no trade
    white); for one good red
    (buy) / blue (sell); for three or more goods the RGB channels are :math:`(1 + s_{1..3})/2`
    (no trade mid grey).

    Parameters
    ----------
    allocations : array of shape (K, goods)
    low, high : arrays of shape (goods,)
        The allocation box.

    Examples
    --------
    >>> from amm_opt.plot import trade_colours
    >>> trade_colours([[0, 0], [1, 0]], [-1, -1], [1, 1]).round(2).tolist()
    [[0.95, 0.95, 0.95], [0.95, 0.0, 0.0]]
    """
    x = np.atleast_2d(np.asarray(allocations, dtype=np.float64))
    scale = np.maximum(np.abs(np.asarray(low, dtype=np.float64)),
                       np.asarray(high, dtype=np.float64))
    s = x / np.where(scale > 0, scale, 1.0)
    n = x.shape[1]
    if n == 1:
        s = np.column_stack([s[:, 0], np.zeros(len(s))])
        n = 2
    if n == 2:
        hue = (np.arctan2(s[:, 1], s[:, 0]) / (2 * math.pi)) % 1.0
        sat = np.clip(np.abs(s).max(axis=1), 0.0, 1.0)
        # Trades in both goods are darker, so that neighbouring hues stay apart.
        val = 0.95 - 0.3 * np.clip(np.abs(s).min(axis=1), 0.0, 1.0)
        return np.array([colorsys.hsv_to_rgb(h, q, w)
                         for h, q, w in zip(hue, sat, val, strict=True)]).reshape(-1, 3)
    return np.clip((1.0 + s[:, :3]) / 2.0, 0.0, 1.0)


def _ordered_polygon(vertices: FloatArray) -> FloatArray:
    """Vertices of a convex polygon in counter-clockwise order."""
    centre = vertices.mean(axis=0)
    angle = np.arctan2(vertices[:, 1] - centre[1], vertices[:, 0] - centre[0])
    return vertices[np.argsort(angle)]


def _polygon_area(poly: FloatArray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _exact_polygons(problem: Problem, menu: Menu) -> list[tuple[int, FloatArray]] | None:
    """Exact choice polygons, or None when they do not tile the box (near-duplicate items)."""
    from ..evaluate import menu_regions

    try:
        regions = menu_regions(problem, menu)
    except Exception:  # Qhull trouble on a degenerate menu: the raster below still works
        return None
    polys = [(r.item, _ordered_polygon(r.vertices)) for r in regions]
    box = float(np.prod(problem.value_high - problem.value_low))
    if abs(sum(_polygon_area(p) for _, p in polys) - box) > 1e-9 * box:
        return None
    return polys


def _legend(ax: Any, items: list[int], menu: Menu, colours: FloatArray, shares: dict[int, float],
            extra: list[Any]) -> None:
    from matplotlib.patches import Patch

    order = sorted(items, key=lambda k: -shares.get(k, 0.0))
    shown = order[:_MAX_LEGEND]
    handles = [Patch(facecolor=colours[k], edgecolor="0.3",
                     label="no trade" if k == menu.no_trade_index else
                     f"x = {_trade_text(menu.allocations[k])}, "  # type: ignore[index]
                     f"p = {float(menu.prices[k]):+.4f}")  # type: ignore[index]
               for k in shown]
    if len(order) > len(shown):
        handles.append(Patch(facecolor="none", edgecolor="none",
                             label=f"(+{len(order) - len(shown)} smaller regions)"))
    ax.legend(handles=handles + extra, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize="small", title="trade x, price p", title_fontsize="small",
              frameon=False)


# ------------------------------------------------------------------------------ region maps
def plot_regions(problem: Problem, menu: Menu, *, ax: Any = None,
                 path: str | PathLike[str] | None = None, title: str | None = None,
                 resolution: int = 400) -> Any:
    r"""Map of the value box coloured by the trade each type chooses (two goods).

    Type :math:`v` chooses

    .. math::

        k^*(v) \in \arg\max_k \; v \cdot x_k - p_k ,

    so the regions :math:`R_k = \{v : k^*(v) = k\}` are convex polygons. They are drawn exactly
    (:func:`amm_opt.evaluate.menu_regions`) and labelled in place with their trade; when the exact
    regions do not tile the box (near-duplicate items), a ``resolution`` × ``resolution`` raster
    of :meth:`Menu.choose` is drawn instead. The belief :math:`c` is marked with a star.

    Parameters
    ----------
    problem : Problem
        Two goods.
    menu : Menu
        Allocations of shape (K, 2) inside the problem's allocation box.
    ax : matplotlib Axes, optional
        Draw into it; otherwise a new figure is made.
    path : str or path, optional
        Save the figure there; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
    title : str, optional
        Defaults to the problem's belief and λ.
    resolution : int
        Pixels per side of the raster fallback.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from amm_opt import references
    >>> from amm_opt.plot import plot_regions
    >>> problem, menu, _ = references.r2_two_goods(0.0)
    >>> fig = plot_regions(problem, menu)
    >>> fig.axes[0].get_xlabel()
    '$v_1$'
    """
    _check_problem_menu(problem, menu)
    if problem.goods != 2:
        raise UnsupportedProblemError("region maps need two goods", field="problem.goods",
                                      value=problem.goods,
                                      allowed="2 (use plot_slices for three goods)")
    resolution = _check_resolution(resolution)
    out = figure_path(path)
    require_matplotlib()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Polygon

    fig, (axis,) = new_axes(ax, size=(8.6, 6.0))
    low, high = problem.value_low, problem.value_high
    colours = trade_colours(menu.allocations, problem.allocation_low, problem.allocation_high)
    box = float(np.prod(high - low))
    polys = _exact_polygons(problem, menu)
    shares: dict[int, float] = {}
    if polys is not None:
        for item, poly in polys:
            axis.add_patch(Polygon(poly, closed=True, facecolor=colours[item], edgecolor="0.15",
                                   linewidth=0.8))
            share = _polygon_area(poly) / box
            shares[item] = shares.get(item, 0.0) + share
            if share >= _LABEL_MIN_SHARE:
                cx, cy = poly.mean(axis=0)
                text = _trade_text(menu.allocations[item])  # type: ignore[index]
                if item == menu.no_trade_index:
                    text = "no trade"
                    cy -= 0.06 * (high[1] - low[1])  # below the belief's star
                axis.text(cx, cy, text, ha="center", va="center", fontsize="small")
        method = ""
    else:
        g1 = np.linspace(low[0], high[0], resolution)
        g2 = np.linspace(low[1], high[1], resolution)
        v1, v2 = np.meshgrid(g1, g2)
        choice = menu.choose(np.column_stack([v1.ravel(), v2.ravel()]), problem)
        image = colours[choice].reshape(resolution, resolution, 3)
        axis.imshow(image, origin="lower", extent=(low[0], high[0], low[1], high[1]),
                    interpolation="nearest", aspect="auto")
        counts = np.bincount(choice, minlength=menu.size) / choice.size
        shares = {int(k): float(counts[k]) for k in np.flatnonzero(counts)}
        method = f" ({resolution}×{resolution} raster)"
    belief = np.asarray(problem.belief)
    axis.plot([belief[0]], [belief[1]], marker="*", markersize=14, color="gold",
              markeredgecolor="black", linestyle="", zorder=5)
    axis.set_xlim(low[0], high[0])
    axis.set_ylim(low[1], high[1])
    axis.set_aspect("equal")
    axis.set_xlabel("$v_1$")
    axis.set_ylabel("$v_2$")
    if title is None:
        title = (f"choice regions{method}: c = ({belief[0]:.3g}, {belief[1]:.3g}), "
                 f"λ = {problem.adverse_selection:.3g}")
    axis.set_title(title, fontsize="medium")
    # A belief outside V (MATH §9) is not in the picture of V: the legend says so.
    where = "" if problem.belief_inside_values else " (outside V, not drawn)"
    star = Line2D([], [], marker="*", markersize=12, color="gold", markeredgecolor="black",
                  linestyle="", label=f"belief c = ({belief[0]:.3g}, {belief[1]:.3g}){where}")
    _legend(axis, sorted(shares), menu, colours, shares, [star])
    save_figure(fig, out)
    return fig


def plot_slices(problem: Problem, menu: Menu, *, axes: tuple[int, int] = (0, 1),
                at: Sequence[float] | None = None, ax: Any = None,
                path: str | PathLike[str] | None = None, title: str | None = None,
                resolution: int = 200) -> Any:
    r"""Choice maps on 2-D slices of a three-good (or larger) value box.

    Each panel fixes the goods not in ``axes`` and colours the plane of the other two by the
    chosen trade :math:`k^*(v) = \arg\max_k v \cdot x_k - p_k` (a ``resolution``-square raster
    of :meth:`Menu.choose`).

    Parameters
    ----------
    problem : Problem
        At least three goods.
    menu : Menu
        Allocations of shape (K, goods).
    axes : (int, int)
        The two goods on the horizontal and vertical axes.
    at : sequence of float, optional
        Values of the remaining good (three goods), one panel each; by default the belief and
        the quartiles of its range. With more goods, the others sit at the belief and ``at``
        applies to the first remaining good.
    ax : Axes or array of Axes, optional
        One per panel.
    path, title
        As in :func:`plot_regions`.
    resolution : int
        Pixels per side.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from amm_opt import Menu, Problem, Uniform
    >>> from amm_opt.plot import plot_slices
    >>> p3 = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    >>> fig = plot_slices(p3, Menu([[1, 1, 1], [-1, -1, -1]], [2.0, -1.0]), resolution=32)
    >>> len(fig.axes)
    3
    """
    _check_problem_menu(problem, menu)
    n = problem.goods
    if n < 3:
        raise UnsupportedProblemError("slices need at least three goods", field="problem.goods",
                                      value=n, allowed=">= 3 (use plot_regions for two goods)")
    try:
        i, j = (int(a) for a in axes)
    except (TypeError, ValueError):
        raise OptionError("must be two good indices", field="axes", value=axes,
                          allowed=f"two distinct integers in 0..{n - 1}") from None
    if i == j or not (0 <= i < n and 0 <= j < n):
        raise OptionError("must be two distinct good indices", field="axes", value=axes,
                          allowed=f"two distinct integers in 0..{n - 1}")
    rest = [k for k in range(n) if k not in (i, j)]
    free = rest[0]
    lo, hi = float(problem.value_low[free]), float(problem.value_high[free])
    belief = np.asarray(problem.belief)
    if at is None:
        levels = [lo + 0.25 * (hi - lo), float(belief[free]), lo + 0.75 * (hi - lo)]
    else:
        levels = [float(a) for a in np.atleast_1d(np.asarray(at, dtype=np.float64))]
        if not levels or any(not lo <= a <= hi for a in levels):
            raise OptionError("must lie in the value range of the fixed good", field="at",
                              value=at, allowed=f"values in [{lo:g}, {hi:g}]")
    resolution = _check_resolution(resolution)
    out = figure_path(path)
    require_matplotlib()
    from matplotlib.lines import Line2D

    fig, panels = new_axes(ax, ncols=len(levels), size=(4.6, 4.8))
    colours = trade_colours(menu.allocations, problem.allocation_low, problem.allocation_high)
    gi = np.linspace(problem.value_low[i], problem.value_high[i], resolution)
    gj = np.linspace(problem.value_low[j], problem.value_high[j], resolution)
    vi, vj = np.meshgrid(gi, gj)
    shares: dict[int, float] = {}
    for panel, level in zip(panels, levels, strict=True):
        pts = np.tile(belief, (vi.size, 1))
        pts[:, i], pts[:, j], pts[:, free] = vi.ravel(), vj.ravel(), level
        choice = menu.choose(pts, problem)
        panel.imshow(colours[choice].reshape(resolution, resolution, 3), origin="lower",
                     extent=(gi[0], gi[-1], gj[0], gj[-1]), interpolation="nearest",
                     aspect="auto")
        counts = np.bincount(choice, minlength=menu.size) / choice.size / len(levels)
        for k in np.flatnonzero(counts):
            shares[int(k)] = shares.get(int(k), 0.0) + float(counts[k])
        panel.plot([belief[i]], [belief[j]], marker="*", markersize=12, color="gold",
                   markeredgecolor="black", linestyle="")
        panel.set_xlabel(f"$v_{i + 1}$")
        panel.set_ylabel(f"$v_{j + 1}$")
        panel.set_aspect("equal")
        panel.set_title(f"$v_{free + 1}$ = {level:.3g}", fontsize="medium")
    star = Line2D([], [], marker="*", markersize=10, color="gold", markeredgecolor="black",
                  linestyle="", label="belief c (projected)")
    _legend(panels[-1], sorted(shares), menu, colours, shares, [star])
    fig.suptitle(title if title is not None else
                 f"choice regions on slices, λ = {problem.adverse_selection:.3g}")
    save_figure(fig, out)
    return fig
