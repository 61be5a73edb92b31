"""The accuracy map as a heatmap (matplotlib, imported lazily, no pyplot)."""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

from ..plot.figures import figure_path, new_axes, require_matplotlib, save_figure
from .accuracy import AccuracyMap

__all__ = ["plot_accuracy_map"]


def _label(axis: int, goods: int) -> str:
    return "adverse selection λ" if axis == goods else f"belief c{axis + 1}"


def plot_accuracy_map(amap: AccuracyMap, path: str | PathLike[str] | None = None, *,
                      ax: Any = None) -> Any:
    """Colour = certified ratio (family profit / ``grid_lp`` upper bound), in percent.

    A grid design (``amap.grid_shape``) is drawn as cells with their values written in; other
    point sets as coloured dots over their first belief coordinate and λ. Returns the figure;
    saves it when ``path`` (``.png``, ``.svg``, ``.pdf``) is given.
    """
    require_matplotlib()
    out = figure_path(path)
    fig, (axis,) = new_axes(ax, size=(6.4, 5.2))
    goods = len(amap.points[0].belief)
    theta = np.array([[*p.belief, p.adverse_selection] for p in amap.points])
    ratio = 100 * amap.ratios
    lowest = min(98.0, float(np.nanmin(ratio)))
    if amap.grid_shape is not None and amap.axes is not None:
        a, b = amap.axes
        rows, cols = amap.grid_shape
        grid = ratio.reshape(rows, cols)
        ya, xb = theta[::cols, a], theta[:cols, b]
        image = axis.imshow(grid, origin="lower", cmap="viridis", vmin=lowest, vmax=100,
                            aspect="auto", extent=(-0.5, cols - 0.5, -0.5, rows - 0.5))
        for i in range(rows):
            for j in range(cols):
                axis.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                          color="white" if grid[i, j] < (lowest + 100) / 2 else "black")
        axis.set_xticks(range(cols), [f"{v:.2f}" for v in xb])
        axis.set_yticks(range(rows), [f"{v:.2f}" for v in ya])
        axis.set_xlabel(_label(b, goods))
        axis.set_ylabel(_label(a, goods))
    else:
        image = axis.scatter(theta[:, 0], theta[:, goods], c=ratio, cmap="viridis",
                             vmin=lowest, vmax=100, s=80, edgecolors="k")
        axis.set_xlabel(_label(0, goods))
        axis.set_ylabel(_label(goods, goods))
    fig.colorbar(image, ax=axis, label="family profit / certified upper bound (%)")
    s = amap.summary()
    axis.set_title(f"certified accuracy: median {100 * s['median']:.2f}%, "
                   f"min {100 * s['min']:.2f}%")
    save_figure(fig, out)
    return fig
