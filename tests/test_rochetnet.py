"""RochetNet backend: kernel vs autograd, closed forms R1/R2/R3, reproducibility, checkpoints,
samples and custom rules, NaN reporting, option validation.

Menus are judged by :func:`amm_opt.evaluate` (exact for uniform values), never by the training
objective. Default tests use short runs (a few seconds each); the full-budget targets of the issue
are ``slow``.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest

from amm_opt import Beta, Problem, Samples, Status, Uniform, references, solve
from amm_opt.errors import (
    BackendUnavailableError,
    FileFormatError,
    InaccurateSolutionWarning,
    OptionError,
    SolverFailedError,
)
from amm_opt.solvers import get_solver_class
from amm_opt.solvers.rochetnet import RochetNet

torch = pytest.importorskip("torch", reason="RochetNet needs torch: pip install 'amm-opt[torch]'")

# Short runs used throughout; the returned menu must be a pure function of these and the seed.
FAST = {"menu_size": 16, "batch_size": 1024, "steps": 300, "eval_every": 50,
        "validation_size": 4096, "device": "cpu", "progress": False}


def fast(**changes):
    return {**FAST, **changes}


# ------------------------------------------------------------------------------------ import
def test_module_imports_without_torch():
    code = ("import sys, amm_opt, amm_opt.solvers.rochetnet\n"
            "from amm_opt.solvers import get_solver_class\n"
            "get_solver_class('rochetnet')\n"
            "assert 'torch' not in sys.modules, 'torch imported eagerly'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registered_with_metadata():
    cls = get_solver_class("RochetNet")
    assert cls is RochetNet
    assert cls.requires == ("torch",) and cls.extra == "torch"
    assert cls.provides_menu and not cls.provides_upper and not cls.needs_density


# ------------------------------------------------------------------------------------ kernel
@pytest.mark.parametrize("general", [False, True])
@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_fused_kernel_matches_autograd(general, lam):
    from amm_opt.solvers.rochetnet.kernel import Workspace, reference_soft_profit, soft_profit

    gen = torch.Generator().manual_seed(3)
    f64 = torch.float64
    x = (torch.rand(37, 3, generator=gen, dtype=f64) * 2 - 1).requires_grad_()
    p = (torch.rand(37, generator=gen, dtype=f64) - 0.3).requires_grad_()
    v = torch.rand(1000, 3, generator=gen, dtype=f64)
    c = torch.tensor([0.5, 0.4, 0.6], dtype=f64)
    q = torch.rand(1000, 3, generator=gen, dtype=f64) if general else None
    # 300-row blocks: three full chunks and a partial one exercise the chunk bookkeeping.
    fused = soft_profit(x, p, v, q, c, 1 - lam, lam, 40.0, Workspace(300, 37, x.detach()))
    fused.backward()
    gx, gp = x.grad.clone(), p.grad.clone()
    x.grad = p.grad = None
    plain = reference_soft_profit(x, p, v, q, c, 1 - lam, lam, 40.0)
    plain.backward()
    # Same float64 arithmetic in a different order: agreement to round-off (~1e-15 relative,
    # gradients carry a factor tau = 40).
    assert abs(fused.item() - plain.item()) < 1e-12
    assert torch.allclose(gx, x.grad, rtol=0, atol=1e-11)
    assert torch.allclose(gp, p.grad, rtol=0, atol=1e-11)


def test_compiled_kernel_matches_autograd():
    from amm_opt.solvers.rochetnet.kernel import Workspace, reference_soft_profit, soft_profit

    gen = torch.Generator().manual_seed(4)
    f64 = torch.float64
    x = (torch.rand(20, 2, generator=gen, dtype=f64) * 2 - 1).requires_grad_()
    p = torch.rand(20, generator=gen, dtype=f64).requires_grad_()
    v = torch.rand(500, 2, generator=gen, dtype=f64)
    c = torch.tensor([0.5, 0.5], dtype=f64)
    ws = Workspace(250, 20, x.detach(), compile=True)   # two equal blocks: one compilation
    for tau in (30.0, 60.0):          # tau is a tensor inside: annealing must not recompile
        x.grad = p.grad = None
        soft_profit(x, p, v, None, c, 0.8, 0.2, tau, ws).backward()
        gx, gp = x.grad.clone(), p.grad.clone()
        x.grad = p.grad = None
        reference_soft_profit(x, p, v, None, c, 0.8, 0.2, tau).backward()
        # float64 round-off only, as in the eager comparison above.
        assert torch.allclose(gx, x.grad, rtol=0, atol=1e-11)
        assert torch.allclose(gp, p.grad, rtol=0, atol=1e-11)


def test_hard_profit_matches_menu_choice():
    from amm_opt import Menu
    from amm_opt.solvers.rochetnet.kernel import hard_profit

    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5, adverse_selection=0.25)
    rng = np.random.default_rng(0)
    x, p = rng.uniform(-1, 1, (20, 2)), rng.uniform(-0.5, 1.0, 20)
    v = rng.random((5000, 2))
    menu = Menu(x, p)
    k = menu.choose(v, problem)
    expected = np.mean(menu.prices[k] - np.einsum("mn,mn->m", problem.posterior(v),
                                                  menu.allocations[k]))
    got = hard_profit(torch.tensor(x), torch.tensor(p), torch.tensor(v),
                      torch.tensor(problem.posterior(v)), 1024).item()
    # Random continuous data have no utility ties, so both pick the same items: round-off only.
    assert abs(got - expected) < 1e-12


# ------------------------------------------------------------------------------------ closed forms
def test_r1_bid_ask():
    problem, _, best = references.r1_bid_ask()
    res = solve(problem, backend="rochetnet", **fast(menu_size=8, steps=800, batch_size=2048))
    assert res.status is Status.OPTIMAL and res.bounds.lower_method == "exact"
    assert res.profit == res.bounds.lower <= best + 1e-12
    # R1 is flat at the optimum (profit loss ≈ (2-λ)/2 · Δprice² per side), so 0.3% of 1/8
    # allows price errors of about 0.02 or allocations at 0.997 of a unit: what 800 noisy steps
    # of 2048 types reach. The 0.1% at the default budget is test_r1_default_budget.
    assert res.profit >= best * (1 - 3e-3)
    asks = [p for x, p in res.menu if x[0] > 0.5]
    bids = [-p for x, p in res.menu if x[0] < -0.5]
    assert asks and bids
    assert min(abs(a - 0.75) for a in asks) < 0.02 and min(abs(b - 0.25) for b in bids) < 0.02


def test_r2_two_goods_beats_separate():
    problem, _, best = references.r2_two_goods(0.0)
    res = solve(problem, backend="rochetnet", **fast(menu_size=32, steps=1000, batch_size=2048))
    assert res.profit <= best + 1e-12               # exact evaluation of a feasible menu
    # Selling separately earns 0.25 (9% below the optimum). A 1000-step run must capture most of
    # the bundling gain: within 1% of 0.2746005 (the full-budget 0.5% target is a slow test).
    assert res.profit >= best * (1 - 1e-2)
    assert res.profit > references.r2_separate_profit(0.0) + 0.02


def test_r3_monopolist():
    problem, _, best = references.r3_monopolist()
    res = solve(problem, backend="rochetnet", **fast(menu_size=4, steps=600))
    # Revenue is flat at the posted price 1/2 (loss = Δ²): 0.5% of 1/4 allows Δ ≈ 0.035.
    assert best * (1 - 5e-3) <= res.profit <= best + 1e-12


def test_unused_items_are_dropped_and_stats_recorded():
    problem, _, _ = references.r2_two_goods(0.0)
    res = solve(problem, backend="rochetnet", **fast())
    probs = res.evaluation.item_probability
    trade = np.arange(res.menu.size) != res.menu.no_trade_index
    assert np.all(probs[trade] > 0)
    assert res.stats["items_kept"] == res.menu.size <= FAST["menu_size"] + 1
    assert res.stats["seeds"]["seed"] == 0 and len(res.stats["seeds"]) == 4
    assert res.stats["steps_run"] == FAST["steps"] and res.stats["stop_reason"] == "steps"
    assert res.stats["device"] == "cpu"
    assert res.menu.allocations.dtype == np.float64


# ------------------------------------------------------------------------------------ reproducible
def test_same_seed_same_menu_other_seed_other_menu():
    problem, _, _ = references.r2_two_goods(0.0)
    a = solve(problem, backend="rochetnet", **fast(steps=150))
    b = solve(problem, backend="rochetnet", **fast(steps=150))
    c = solve(problem, backend="rochetnet", **fast(steps=150, seed=1))
    assert np.array_equal(a.menu.allocations, b.menu.allocations)
    assert np.array_equal(a.menu.prices, b.menu.prices)
    assert a.profit == b.profit
    assert a.menu.size != c.menu.size or not np.array_equal(a.menu.prices, c.menu.prices)


class _Interrupt(Exception):
    pass


def test_resume_gives_the_uninterrupted_menu(tmp_path):
    problem, _, _ = references.r2_two_goods(0.25)
    opts = fast(steps=240, eval_every=40, checkpoint_every=80)
    whole = solve(problem, backend="rochetnet", checkpoint_path=tmp_path / "a.pt", **opts)

    def crash(step, info):
        if step == 200:                # after the step-160 checkpoint, before the next one
            raise _Interrupt

    path = tmp_path / "b.pt"
    with pytest.raises(_Interrupt):
        solve(problem, backend="rochetnet", checkpoint_path=path, callback=crash, **opts)
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == 160 and not saved["finished"]
    resumed = solve(problem, backend="rochetnet", checkpoint_path=path, resume=True, **opts)
    assert resumed.stats["resumed_from_step"] == 160
    assert np.array_equal(resumed.menu.allocations, whole.menu.allocations)
    assert np.array_equal(resumed.menu.prices, whole.menu.prices)
    assert resumed.stats["validation_history"] == whole.stats["validation_history"]
    # Resuming a finished run trains nothing and returns the same menu.
    again = solve(problem, backend="rochetnet", checkpoint_path=path, resume=True, **opts)
    assert again.stats["resumed_from_step"] == 240
    assert np.array_equal(again.menu.prices, whole.menu.prices)


def test_checkpoint_holds_only_tensors_and_plain_values(tmp_path):
    path = tmp_path / "c.pt"
    problem, _, _ = references.r1_bid_ask()
    solve(problem, backend="rochetnet", checkpoint_path=path, **fast(steps=100))
    data = torch.load(path, weights_only=True)   # would raise on pickled objects

    def plain(obj):
        if isinstance(obj, dict):
            return all(isinstance(k, (str, int)) and plain(v) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return all(plain(v) for v in obj)
        return obj is None or isinstance(obj, (torch.Tensor, str, int, float, bool))

    assert plain(data)
    assert data["finished"] and data["step"] == 100


def test_resume_refuses_foreign_or_corrupt_checkpoints(tmp_path):
    path = tmp_path / "d.pt"
    problem, _, _ = references.r1_bid_ask()
    solve(problem, backend="rochetnet", checkpoint_path=path, **fast(steps=50))
    with pytest.raises(OptionError, match="resume"):
        solve(problem, backend="rochetnet", checkpoint_path=path, resume=True,
              **fast(steps=50, seed=9))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(FileFormatError, match="checkpoint_path"):
        solve(problem, backend="rochetnet", checkpoint_path=bad, resume=True, **fast(steps=50))


def test_resume_without_file_starts_fresh(tmp_path):
    problem, _, _ = references.r1_bid_ask()
    a = solve(problem, backend="rochetnet", **fast(steps=100))
    b = solve(problem, backend="rochetnet", checkpoint_path=tmp_path / "new.pt", resume=True,
              **fast(steps=100))
    assert b.stats["resumed_from_step"] is None
    assert np.array_equal(a.menu.prices, b.menu.prices)


# ------------------------------------------------------------------------------------ problem kinds
def test_sample_only_problem():
    values = np.random.default_rng(5).random((20_000, 2))
    problem = Problem(goods=2, values=Samples(values), belief=0.5)
    res = solve(problem, backend="rochetnet", **fast(menu_size=32, steps=1000, batch_size=2048))
    sep = solve(problem, backend="separate")
    assert res.bounds.lower_method == "sample-mean" and res.bounds.lower_stderr > 0
    # Both profits are means over the same 20 000 types, so their difference has far less noise
    # than either; bundling gains ~0.025 on uniform values (R2), we ask for 0.01.
    assert res.profit > sep.profit + 0.01


def test_custom_update_rule_matches_linear_reference():
    lam = 0.3
    belief = np.array([0.5, 0.5])

    def update(v):
        return (1 - lam) * belief + lam * v

    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5, update=update)
    res = solve(problem, backend="rochetnet", **fast(menu_size=32, steps=1000, batch_size=2048))
    best = references.r2_profit(lam)
    assert res.bounds.lower_method == "quadrature"   # a custom rule is never closed-form
    # Same problem as R2 at λ = 0.3 written as a custom rule; the same 1% as the R2 fast test,
    # plus the quadrature error estimate (~1e-15 here).
    assert best * (1 - 1e-2) - res.bounds.lower_stderr <= res.profit
    assert res.profit <= best + 10 * res.bounds.lower_stderr + 1e-9


def test_three_goods_beat_separate():
    problem = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    res = solve(problem, backend="rochetnet", **fast(menu_size=48, steps=800, batch_size=2048))
    sep = solve(problem, backend="separate")
    assert res.bounds.lower_method == "exact"
    # Separate earns 3/8; the paper's 3-good menu gains ~15%. 0.02 is well inside that.
    assert res.profit > sep.profit + 0.02


def test_beta_values_train_with_tabulated_sampler():
    problem = Problem(goods=2, values=Beta(2, 2), belief=0.5)
    res = solve(problem, backend="rochetnet", **fast(menu_size=32, steps=800, batch_size=2048))
    sep = solve(problem, backend="separate")
    assert res.bounds.lower_method == "quadrature"
    assert res.profit > sep.profit + 0.005


def test_float64_training():
    problem, _, best = references.r1_bid_ask()
    res = solve(problem, backend="rochetnet", **fast(menu_size=8, steps=600, dtype="float64"))
    # float64 must train as float32 does; 1% is a working run (the R1 test pins accuracy).
    assert res.profit >= best * (1 - 1e-2)


# ------------------------------------------------------------------------------------ control
def test_callback_reports_and_can_stop():
    seen = []

    def cb(step, info):
        seen.append((step, dict(info)))
        return step >= 100

    problem, _, _ = references.r1_bid_ask()
    res = solve(problem, backend="rochetnet", callback=cb, **fast(steps=1000))
    assert [s for s, _ in seen] == [50, 100]
    assert res.stats["stop_reason"] == "callback" and res.stats["steps_run"] == 100
    info = seen[-1][1]
    assert {"profit_estimate", "best_estimate", "train_objective", "temperature", "lr",
            "seconds"} <= set(info)
    assert math.isfinite(info["profit_estimate"])


def test_early_stop_on_no_improvement():
    problem, _, _ = references.r1_bid_ask()
    # min_delta = 10: no validation can improve by 1000%, so two validations after the first
    # one the run stops.
    res = solve(problem, backend="rochetnet", patience=2, min_delta=10.0, **fast(steps=1000))
    assert res.stats["stop_reason"] == "early_stop"
    assert res.stats["steps_run"] == 3 * FAST["eval_every"]
    assert res.status is Status.OPTIMAL


def test_time_limit_status():
    problem, _, _ = references.r1_bid_ask()
    start = time.perf_counter()
    with pytest.warns(InaccurateSolutionWarning, match="time limit"):
        res = solve(problem, backend="rochetnet", time_limit=0.2, **fast(steps=10**6))
    assert res.status is Status.TIME_LIMIT and res.stats["stop_reason"] == "time_limit"
    assert res.profit is not None and time.perf_counter() - start < 30


def test_progress_bar_runs():
    pytest.importorskip("tqdm", reason="the progress bar is optional and uses tqdm")
    problem, _, _ = references.r1_bid_ask()
    res = solve(problem, backend="rochetnet", **fast(steps=60, progress=True))
    assert res.stats["steps_run"] == 60


def test_nan_in_training_names_step_and_checkpoint(tmp_path):
    belief = np.array([0.5, 0.5])

    def broken(v):
        out = np.repeat(belief[None, :], len(v), axis=0)
        out[(v[:, 0] > 0.2) & (v[:, 0] < 0.3)] = np.nan   # the probe points do not hit this
        return out

    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5, update=broken)
    with pytest.raises(SolverFailedError,
                       match=r"at step 1; last good checkpoint: none written yet"):
        solve(problem, backend="rochetnet", checkpoint_path=tmp_path / "n.pt", **fast())


# ------------------------------------------------------------------------------------ bad options
@pytest.mark.parametrize("field, value", [
    ("menu_size", 0), ("menu_size", 2.5), ("batch_size", -1), ("steps", True), ("lr", 0.0),
    ("lr", math.nan), ("lr_final", -1e-3), ("allocation_lr_scale", 0), ("temperature", -5),
    ("temperature_final", math.inf), ("seed", -1), ("dtype", "float16"), ("device", "tpu"),
    ("chunk_size", 0), ("eval_every", 0), ("validation_size", 1), ("patience", 0),
    ("min_delta", -0.1), ("time_limit", 0), ("checkpoint_every", 0), ("checkpoint_path", 3),
    ("resume", "yes"), ("callback", "print"), ("progress", "on"), ("torch_compile", 1),
    ("evaluate_method", "simpson"), ("threads", 0), ("threads", 1.5),
])
def test_bad_options_name_the_field(field, value):
    problem, _, _ = references.r1_bid_ask()
    with pytest.raises(OptionError, match=field) as info:
        solve(problem, backend="rochetnet", **{field: value})
    assert "allowed" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_threads_apply_to_the_run_only():
    import torch

    before = torch.get_num_threads()
    problem, _, _ = references.r1_bid_ask()
    res = solve(problem, backend="rochetnet", **fast(steps=60, threads=1))
    assert res.stats["threads"] == 1
    assert torch.get_num_threads() == before  # the global setting is restored
    res = solve(problem, backend="rochetnet", **fast(steps=60, threads=None))
    assert res.stats["threads"] == before


def test_resume_needs_a_path_and_unknown_options_are_listed():
    with pytest.raises(OptionError, match="checkpoint_path"):
        RochetNet(resume=True)
    problem, _, _ = references.r1_bid_ask()
    with pytest.raises(OptionError, match="menu_size"):
        solve(problem, backend="rochetnet", menu_sise=10)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    problem, _, _ = references.r1_bid_ask()
    with pytest.raises(BackendUnavailableError, match="device"):
        solve(problem, backend="rochetnet", **fast(device="cuda"))


# ------------------------------------------------------------------------------------ slow targets
@pytest.mark.slow
def test_r2_default_budget_within_half_percent_in_a_minute():
    problem, _, best = references.r2_two_goods(0.0)
    start = time.perf_counter()
    res = solve(problem, backend="rochetnet", device="cpu", progress=False)
    elapsed = time.perf_counter() - start
    # The target: 0.5% of 0.2746005 within 60 s on the 2-core development CPU.
    assert res.profit >= best * (1 - 5e-3)
    assert elapsed <= 60.0


@pytest.mark.slow
@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_r1_default_budget(lam):
    problem, _, best = references.r1_bid_ask(adverse_selection=lam)
    res = solve(problem, backend="rochetnet", device="cpu", progress=False)
    assert res.profit >= best * (1 - 1e-3)     # the 0.1% target for R1


@pytest.mark.slow
def test_beta22_converges():
    problem = Problem(goods=2, values=Beta(2, 2), belief=0.5)
    sep = solve(problem, backend="separate").profit
    runs = [solve(problem, backend="rochetnet", device="cpu", progress=False, seed=s).profit
            for s in (0, 1)]
    # Bundling gains ~11% over selling separately here (BENCHMARKS.md); ask for 10%, and for two
    # seeds to land within 0.2% of each other (seed-to-seed spread measured ~0.05%).
    assert min(runs) > 1.10 * sep
    assert abs(runs[0] - runs[1]) < 2e-3 * max(runs)


@pytest.mark.slow
def test_beta22_interior_allocations_with_gentle_annealing():
    problem = Problem(goods=2, values=Beta(2, 2), belief=0.5)
    # Less annealing, slower logits and no snapping let items rest inside the box; the paper
    # reports a continuum of allocations for Beta(2, 2) values. Defaults collapse most of them
    # onto faces at equal profit (see BENCHMARKS.md), so this checks the behaviour, not the
    # optimum.
    res = solve(problem, backend="rochetnet", device="cpu", progress=False, menu_size=128,
                allocation_lr_scale=1.0, temperature_final=500.0, snap=0.0, seed=2)
    assert res.profit > solve(problem, backend="separate").profit
    x, prob = res.menu.allocations, res.evaluation.item_probability
    chosen = x[prob > 1e-3]
    inner = chosen[np.abs(np.abs(chosen) - np.round(np.abs(chosen))) > 0.05]
    # At least five distinct trades strictly inside (0, 1) in absolute value, spread over an
    # interval of width >= 0.3: a family of allocations, not the 9 vertices of uniform values.
    assert len(np.unique(np.round(inner, 2))) >= 5
    assert np.ptp(inner) >= 0.3


# ------------------------------------------------------------------------------------ gpu
@pytest.mark.gpu
def test_gpu_r2_and_determinism():
    problem, _, best = references.r2_two_goods(0.0)
    a = solve(problem, backend="rochetnet", device="cuda", progress=False)
    b = solve(problem, backend="rochetnet", device="cuda", progress=False)
    assert a.stats["device"].startswith("cuda")
    assert a.profit >= best * (1 - 5e-3)
    assert np.array_equal(a.menu.prices, b.menu.prices)


def test_time_limited_run_continues_when_resumed(tmp_path):
    problem, _, _ = references.r1_bid_ask()
    path = tmp_path / "t.pt"
    with pytest.warns(InaccurateSolutionWarning, match="time limit"):
        cut = solve(problem, backend="rochetnet", checkpoint_path=path, time_limit=0.05,
                    **fast(steps=2000))
    assert cut.stats["stop_reason"] == "time_limit" and cut.stats["steps_run"] < 2000
    done = solve(problem, backend="rochetnet", checkpoint_path=path, resume=True,
                 **fast(steps=2000))
    assert done.stats["resumed_from_step"] == cut.stats["steps_run"]
    assert done.stats["steps_run"] == 2000 and done.stats["stop_reason"] == "steps"
    assert done.status is Status.OPTIMAL


def test_docstring_example_runs():
    import doctest

    import amm_opt.solvers.rochetnet.solver as module

    outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert outcome.attempted > 0 and outcome.failed == 0
