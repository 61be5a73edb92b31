"""amm_opt.plot: region maps, slices, profit curves; formats, colours, errors, lazy import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install 'amm-opt[plot]'")

from amm_opt import Menu, Problem, Uniform, references
from amm_opt.errors import MenuError, OptionError, OutputPathError, UnsupportedProblemError
from amm_opt.evaluate import menu_regions
from amm_opt.plot import (
    plot_profit_curve,
    plot_regions,
    plot_slices,
    plot_transport,
    trade_colours,
)
from amm_opt.plot.transport import plot_transport as original_plot_transport

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_transport_is_reexported():
    assert plot_transport is original_plot_transport


def test_import_of_plot_module_is_lazy_and_plotting_avoids_pyplot():
    code = ("import sys, amm_opt, amm_opt.plot; before = 'matplotlib' in sys.modules; "
            "from amm_opt import references; p, m, _ = references.r2_two_goods(); "
            "amm_opt.plot.plot_regions(p, m); "
            "print(before, 'matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_r2_region_map_has_one_polygon_per_region_in_the_trade_colour(tmp_path):
    problem, menu, _ = references.r2_two_goods(0.0)
    fig = plot_regions(problem, menu)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "$v_1$" and ax.get_ylabel() == "$v_2$"
    patches = ax.patches
    regions = menu_regions(problem, menu)
    assert len(patches) == len(regions) == 9
    colours = trade_colours(menu.allocations, problem.allocation_low, problem.allocation_high)
    drawn = {tuple(np.round(p.get_facecolor()[:3], 6)) for p in patches}
    assert drawn == {tuple(np.round(c, 6)) for c in colours}
    # every polygon is the exact region: same area (areas are the choice probabilities)
    areas = sorted(_area(p.get_xy()) for p in patches)
    expected = sorted(_area(_hull(r.vertices)) for r in regions)
    np.testing.assert_allclose(areas, expected, rtol=1e-12)
    texts = _legend_texts(ax)
    assert "no trade" in texts
    assert any(t.startswith("belief c") for t in texts)
    for x, p in menu:
        if np.any(x != 0):
            label = f"p = {p:+.4f}"
            assert any(label in t for t in texts), label
    # the belief is marked at c
    star = [line for line in ax.lines if line.get_marker() == "*"]
    assert len(star) == 1
    np.testing.assert_allclose(np.ravel(star[0].get_xydata()), problem.belief)


def _hull(vertices: np.ndarray) -> np.ndarray:
    from scipy.spatial import ConvexHull

    return vertices[ConvexHull(vertices).vertices]


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_region_map_writes_the_format_of_the_suffix(tmp_path, suffix):
    problem, menu, _ = references.r2_two_goods(0.5)
    path = tmp_path / f"map{suffix}"
    plot_regions(problem, menu, path=path, title="R2")
    data = path.read_bytes()
    if suffix == ".png":
        assert data.startswith(PNG_MAGIC)
    else:
        assert b"<svg" in data[:2000]


def test_raster_fallback_colours_every_pixel_by_the_chosen_trade(monkeypatch):
    import amm_opt.plot.regions as plot_module

    problem = Problem(goods=2, values=Uniform(0.0, 2.0), belief=[0.5, 1.5])
    menu = Menu([[1, 0], [0, -1], [1, 1]], [1.0, -1.0, 2.5])
    monkeypatch.setattr(plot_module, "_exact_polygons", lambda problem, menu: None)
    res = 40
    fig = plot_regions(problem, menu, resolution=res)
    (ax,) = fig.axes
    image = np.asarray(ax.images[0].get_array())
    grid = np.linspace(0.0, 2.0, res)
    v1, v2 = np.meshgrid(grid, grid)
    choice = menu.choose(np.column_stack([v1.ravel(), v2.ravel()]), problem)
    colours = trade_colours(menu.allocations, problem.allocation_low, problem.allocation_high)
    np.testing.assert_allclose(image.reshape(-1, 3), colours[choice])
    assert "raster" in ax.get_title()


def test_trade_colours_are_fixed_per_trade_and_distinct_on_r2():
    _, menu, _ = references.r2_two_goods()
    colours = trade_colours(menu.allocations, [-1, -1], [1, 1])
    assert len({tuple(np.round(c, 6)) for c in colours}) == menu.size
    again = trade_colours(menu.allocations[::-1], [-1, -1], [1, 1])
    np.testing.assert_allclose(again, colours[::-1])
    assert np.all((colours >= 0) & (colours <= 1))


def test_slices_of_three_goods_match_the_menu_choice():
    problem = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    menu = Menu([[1, 1, 1], [-1, -1, -1], [1, 0, 0]], [2.0, -1.0, 0.9])
    fig = plot_slices(problem, menu, axes=(0, 2), at=[0.2, 0.8], resolution=24)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlabel() == "$v_1$" and fig.axes[0].get_ylabel() == "$v_3$"
    assert fig.axes[1].get_title() == "$v_2$ = 0.8"
    image = np.asarray(fig.axes[1].images[0].get_array()).reshape(-1, 3)
    g = np.linspace(0, 1, 24)
    v1, v3 = np.meshgrid(g, g)
    pts = np.column_stack([v1.ravel(), np.full(v1.size, 0.8), v3.ravel()])
    colours = trade_colours(menu.allocations, problem.allocation_low, problem.allocation_high)
    np.testing.assert_allclose(image, colours[menu.choose(pts, problem)])


def test_profit_curve_shades_brackets_and_reports_the_best_gain(tmp_path):
    lams = [0.0, 0.25, 0.5]
    bundled = [(references.r2_profit(lam), references.r2_profit(lam) * 1.01) for lam in lams]
    separate = [references.r2_separate_profit(lam) for lam in lams]
    fig = plot_profit_curve(lams, {"bundled": bundled, "separate": separate},
                            relative_to="separate", path=tmp_path / "curve.png")
    main, gain = fig.axes
    assert main.get_xlabel() == "adverse selection λ"
    assert len(main.collections) == 1  # one shaded bracket: only "bundled" has upper bounds
    gains = 100 * (np.array([b[0] for b in bundled]) / np.array(separate) - 1)
    labels = _legend_texts(gain)
    (label,) = [t for t in labels if t.startswith("bundled vs separate")]
    assert f"max {gains.max():.2f}%" in label
    assert any("certified range" in t for t in labels)  # the shaded band of the optimum's gain
    assert (tmp_path / "curve.png").read_bytes().startswith(PNG_MAGIC)


def test_bad_input_names_the_field():
    problem, menu, _ = references.r2_two_goods()
    one = references.r1_bid_ask()
    with pytest.raises(UnsupportedProblemError, match="goods"):
        plot_regions(one.problem, one.menu)
    with pytest.raises(OutputPathError, match="path"):
        plot_regions(problem, menu, path="map.jpg")
    with pytest.raises(OptionError, match="resolution"):
        plot_regions(problem, menu, resolution=3)
    with pytest.raises(OptionError, match="menu"):
        plot_regions(problem, "menu")
    with pytest.raises(MenuError, match="allocation"):
        plot_regions(problem, Menu([[2.0, 0.0]], [1.0]))
    p3 = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    m3 = Menu([[1, 1, 1]], [2.0])
    with pytest.raises(UnsupportedProblemError, match="three goods"):
        plot_slices(problem, menu)
    with pytest.raises(OptionError, match="axes"):
        plot_slices(p3, m3, axes=(1, 1))
    with pytest.raises(OptionError, match="at"):
        plot_slices(p3, m3, at=[1.5])
    with pytest.raises(OptionError, match="series"):
        plot_profit_curve([0.0], {"a": [1.0, 2.0]})
    with pytest.raises(OptionError, match="relative_to"):
        plot_profit_curve([0.0], {"a": [1.0]}, relative_to="b")


def test_docstring_examples_run():
    import doctest

    import amm_opt.plot.regions

    outcome = doctest.testmod(amm_opt.plot.regions, optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0 and outcome.attempted > 0


@pytest.mark.parametrize("where", ["missing", "under_file", "long_name", "nul"])
def test_bad_figure_paths_fail_before_plotting_and_create_nothing(tmp_path, where):
    problem, menu, _ = references.r2_two_goods()
    (tmp_path / "file.txt").write_text("x")
    path = {"missing": tmp_path / "nope" / "map.png",
            "under_file": tmp_path / "file.txt" / "map.png",
            "long_name": tmp_path / ("a" * 300 + ".png"),
            "nul": str(tmp_path / "m\0ap.png")}[where]
    with pytest.raises(OutputPathError, match="path"):
        plot_regions(problem, menu, path=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]
