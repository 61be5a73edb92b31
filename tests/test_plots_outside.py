"""Pictures of problems whose belief lies outside the value box (issue 14)."""

from __future__ import annotations

import pytest

from amm_opt import Problem, Uniform, solve

pytest.importorskip("matplotlib", reason="plots need matplotlib")


@pytest.fixture(autouse=True)
def _agg():
    import matplotlib

    matplotlib.use("Agg")


def problem() -> Problem:
    return Problem(goods=2, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1))


def test_transport_plot_widens_its_view_to_the_atom(tmp_path):
    pytest.importorskip("ot", reason="the transport dual needs POT")
    from amm_opt.plot import plot_transport

    res = solve(problem(), backend="ot_dual", grid=8)
    ax = plot_transport(res.certificate, tmp_path / "plan.png")
    assert ax.get_xlim()[0] < 0.0 < ax.get_xlim()[1] and ax.get_ylim()[0] < 0.0
    assert (tmp_path / "plan.png").stat().st_size > 0


def test_region_plot_says_the_belief_is_outside(tmp_path):
    from amm_opt.plot.regions import plot_regions

    res = solve(problem(), backend="separate")
    fig = plot_regions(problem(), res.menu, path=tmp_path / "regions.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("outside V" in text for text in labels)
    assert fig.axes[0].get_xlim() == (0.5, 1.5)
