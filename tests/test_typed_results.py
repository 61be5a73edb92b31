"""Typed results: every engine fills message and solve_seconds; certificates are typed fields
that round-trip through JSON (a transport certificate re-proves its bound when read)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from amm_opt import Problem, Uniform, solve
from amm_opt.certificates import LPCertificate, TransportCertificate
from amm_opt.io import load_result, save_result

pytest.importorskip("highspy")
pytest.importorskip("ot")

R1 = Problem(goods=1, values=Uniform(0, 1), belief=0.5)


@pytest.mark.parametrize("backend,options", [
    ("separate", {}), ("grid_lp", {"grid": 8}), ("ot_dual", {"grid": 8}),
    ("rochetnet", {"menu_size": 4, "steps": 20, "batch_size": 256, "validation_size": 256}),
])
def test_every_engine_fills_message_and_seconds(backend, options):
    if backend == "rochetnet":
        pytest.importorskip("torch")
    res = solve(R1, backend=backend, **options)
    assert res.message, backend
    assert math.isfinite(res.solve_seconds) and res.solve_seconds > 0


def test_grid_lp_certificate_is_typed_and_matches_the_bound():
    res = solve(Problem.paper_two_goods(), backend="grid_lp", grid=6, polish=False)
    cert = res.certificate
    assert isinstance(cert, LPCertificate)
    assert cert.bound == res.bounds.upper
    # The bound is the dual objective plus non-negative allowances, rounded up.
    assert cert.bound >= cert.dual_objective
    assert cert.roundoff_allowance >= 0 and cert.quadrature_allowance >= 0
    assert cert.duals is not None and cert.duals.shape == cert.pair_source.shape
    assert cert.points.shape[0] == cert.masses.shape[0]
    # The masses of the discretised measure sum to 0 (mu(V) = -1 balanced by the atom at c).
    assert abs(cert.masses.sum()) < 1e-12


def test_ot_dual_certificate_is_typed():
    res = solve(R1, backend="ot_dual", grid=8)
    assert isinstance(res.certificate, TransportCertificate)
    assert res.certificate.cost == res.bounds.upper
    assert "certificate" not in res.stats


@pytest.mark.parametrize("backend", ["grid_lp", "ot_dual"])
def test_certificates_round_trip(tmp_path, backend):
    res = solve(Problem.paper_two_goods(), backend=backend, grid=6)
    path = tmp_path / "r.json"
    save_result(res, path)
    back = load_result(path)
    assert type(back.certificate) is type(res.certificate)
    assert back.message == res.message and back.solve_seconds == res.solve_seconds
    if backend == "ot_dual":
        # Re-proved from the stored plan, not copied.
        assert back.certificate.cost == res.certificate.cost
        np.testing.assert_array_equal(back.certificate.source, res.certificate.source)
    else:
        assert back.certificate.bound == res.certificate.bound
        np.testing.assert_array_equal(back.certificate.duals, res.certificate.duals)
        np.testing.assert_array_equal(back.certificate.pair_target, res.certificate.pair_target)


def test_schema_1_result_is_still_read(tmp_path):
    res = solve(R1, backend="separate")
    path = tmp_path / "old.json"
    save_result(res, path)
    data = json.loads(path.read_text())
    # What schema 1 wrote: no typed fields, message and seconds in stats.
    data["schema"] = 1
    for key in ("message", "solve_seconds", "certificate"):
        data.pop(key)
    data["stats"]["solver_message"] = "old words"
    data["stats"]["solve_seconds"] = 0.5
    path.write_text(json.dumps(data))
    back = load_result(path)
    assert back.message == "old words" and back.solve_seconds == 0.5
    assert back.certificate is None and back.profit == res.profit
