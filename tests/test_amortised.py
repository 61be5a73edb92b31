"""Amortised menus (issue 16): a tiny family trained for a few seconds.

Checks: the family's menus are feasible (allocations in X, IR, IC, u(c) = 0) at held-out
parameters and within a stated tolerance of grid_lp's certified bound; a save/load round trip
is bit-identical; seeds reproduce; a resumed checkpoint equals an uninterrupted run; bad ranges
and members outside the family get clear AmmOptErrors; numpy and torch forward passes agree.
"""

from __future__ import annotations

import doctest
import json
from dataclasses import replace

import numpy as np
import pytest

from amm_opt import Menu, Samples, Uniform, evaluate, references
from amm_opt.amortised import AmortisedTrainer, FamilySpec, MenuFamily
from amm_opt.amortised.accuracy import accuracy_map, grid_parameters, heldout_parameters
from amm_opt.amortised.files import load_family, save_family
from amm_opt.errors import (
    AmmOptError,
    FileFormatError,
    OptionError,
    ProblemError,
    UnsupportedProblemError,
)
from amm_opt.validation import check_menu

torch = pytest.importorskip("torch")

SPEC = FamilySpec(2, Uniform(0, 1), belief=(0.4, 0.6), adverse_selection=(0.0, 0.3))
# 150 steps of 1024 rows, 16 items: about 4 s on one loaded CPU core.
TINY = AmortisedTrainer(items=16, hidden=(32, 32), steps=150, batch_size=1024, eval_every=50,
                        validation_parameters=4, validation_types=1024, device="cpu")
# A shorter run for the reproducibility and checkpoint tests (they compare weights, not quality).
MINI = AmortisedTrainer(items=8, hidden=(16,), steps=40, batch_size=256, eval_every=10,
                        validation_parameters=2, validation_types=256, device="cpu")


@pytest.fixture(scope="module")
def family() -> MenuFamily:
    return TINY.train(SPEC)


def _same_weights(a: MenuFamily, b: MenuFamily) -> bool:
    return len(a.weights) == len(b.weights) and all(
        np.array_equal(x, y) for x, y in zip(a.weights, b.weights, strict=True))


# ------------------------------------------------------------------ menus
def test_menus_are_feasible_at_held_out_parameters(family):
    for t in heldout_parameters(SPEC, 6, seed=7):
        problem = family.problem(t[:2], t[2])
        menu = family.menu(t[:2], t[2])
        checks = check_menu(problem, menu, points=2048, seed=1)
        assert all(c.passed for c in checks), [str(c) for c in checks]
        # By construction (sigmoid allocations, prices x·c + softplus): u(c) = 0 exactly up to
        # rounding, no allocation outside X.
        assert menu.utility(np.asarray(problem.belief)[None])[0] <= 1e-12
        assert np.all(np.abs(np.asarray(menu.allocations)) <= 1.0)


def test_menus_are_within_the_stated_tolerance_of_the_certified_bound(family):
    points = grid_parameters(SPEC, axes=(0, -1), shape=(2, 2))
    amap = accuracy_map(family, points, upper_options={"grid": 48}, grid_shape=(2, 2),
                        axes=(0, 2))
    for p in amap.points:
        # A feasible menu's exact profit never exceeds a certified bound (beyond rounding):
        # this fails if either number is wrong.
        assert p.profit <= p.upper * (1 + 1e-9)
        # 150 steps of a 16-item network: measured 95.7%..98.8% of the grid-48 bound
        # (whose own gap is ~0.3%); 92% leaves room for the platform's rounding of the
        # training trajectory while still catching a broken trainer (no-trade earns 0,
        # selling separately ~91% at c = 1/2).
        assert p.ratio >= 0.92, amap.table()
    assert "median" in amap.table()
    assert amap.to_dict()["summary"]["points"] == 4


def test_menu_is_snapped_and_pruned_without_losing_profit(family):
    problem = family.problem([0.45, 0.55], 0.2)
    raw = family.raw_menu([0.45, 0.55], 0.2)
    final = family.menu([0.45, 0.55], 0.2)
    assert final.size <= raw.size
    # Snapping is kept only when the exact profit is not lower; pruning drops unchosen items.
    assert evaluate(problem, final).profit >= evaluate(problem, raw).profit - 1e-12


def test_menu_outside_the_family_is_refused(family):
    with pytest.raises(ProblemError, match="belief"):
        family.menu([0.2, 0.5], 0.1)
    with pytest.raises(ProblemError, match="adverse_selection"):
        family.menu([0.5, 0.5], 0.5)
    with pytest.raises(ProblemError, match="belief"):
        family.menu([0.5, 0.5, 0.5], 0.1)


# ------------------------------------------------------------------ files
def test_save_load_round_trip_is_bit_identical(family, tmp_path):
    path = tmp_path / "family.json"
    save_family(family, path)
    loaded = load_family(path)
    assert _same_weights(family, loaded)
    assert loaded.spec.to_dict() == family.spec.to_dict()
    assert loaded.architecture == family.architecture and loaded.snap == family.snap
    for t in heldout_parameters(SPEC, 3, seed=3):
        a, b = family.raw_menu(t[:2], t[2]), loaded.raw_menu(t[:2], t[2])
        assert np.array_equal(a.allocations, b.allocations)
        assert np.array_equal(a.prices, b.prices)
    data = json.loads(path.read_text())
    assert data["format"] == "amm_opt.menu_family" and data["schema"] == 1
    # Saving again (same content) keeps exactly one weights file beside the JSON.
    save_family(loaded, path)
    assert len(list(tmp_path.glob("family.*.pt"))) == 1


def test_load_refuses_damaged_or_foreign_files(family, tmp_path):
    path = tmp_path / "family.json"
    save_family(family, path)
    weights = next(tmp_path.glob("family.*.pt"))
    blob = bytearray(weights.read_bytes())
    blob[-20] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(FileFormatError, match="sha256"):
        load_family(path)
    data = json.loads(path.read_text())
    data["schema"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match="schema"):
        load_family(path)
    data["schema"], data["format"] = 1, "amm_opt.menu"
    path.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match="format"):
        load_family(path)


# ------------------------------------------------------------------ reproducibility
def test_the_same_seed_gives_the_same_family_and_another_seed_does_not():
    a, b = MINI.train(SPEC), MINI.train(SPEC)
    assert _same_weights(a, b)
    c = replace(MINI, seed=1).train(SPEC)
    assert not _same_weights(a, c)


def test_a_resumed_checkpoint_ends_like_an_uninterrupted_run(tmp_path):
    path = tmp_path / "ck.pt"
    whole = MINI.train(SPEC)
    settings = {"checkpoint_path": path, "checkpoint_every": 10}
    stopped = replace(MINI, **settings, callback=lambda step, info: step >= 20).train(SPEC)
    assert stopped.info["stop_reason"] == "callback" and stopped.info["steps_run"] == 20
    resumed = replace(MINI, **settings, resume=True).train(SPEC)
    assert resumed.info["resumed_from_step"] == 20 and resumed.info["steps_run"] == 40
    assert _same_weights(whole, resumed)
    # A checkpoint of other settings is refused, not silently continued.
    with pytest.raises(OptionError, match="different"):
        replace(MINI, **settings, lr=1e-2, resume=True).train(SPEC)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(FileFormatError):
        replace(MINI, **settings, resume=True).train(SPEC)


def test_ctrl_c_writes_a_last_checkpoint_that_resumes_bit_for_bit(tmp_path):
    import os
    import signal

    whole = MINI.train(SPEC)
    path = tmp_path / "cut.pt"
    settings = {"checkpoint_path": path, "checkpoint_every": 10**6}   # no periodic checkpoint

    def interrupt(step, info):
        if step == 20:
            os.kill(os.getpid(), signal.SIGINT)       # the step ends, then training stops

    with pytest.raises(KeyboardInterrupt):
        replace(MINI, **settings, callback=interrupt).train(SPEC)
    assert torch.load(path, weights_only=True)["step"] == 20
    resumed = replace(MINI, **settings, resume=True).train(SPEC)
    assert resumed.info["resumed_from_step"] == 20
    assert _same_weights(whole, resumed)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # restored


def test_numpy_and_torch_forward_passes_agree():
    from amm_opt.amortised.torch_net import MenuNet

    fam = MenuFamily(SPEC, TINY.architecture(), _random_weights(TINY, seed=4))
    lo, hi = SPEC.theta_low, SPEC.theta_high
    low = fam.spec.reference.allocation_low
    net = MenuNet(fam.weights, 2, (lo + hi) / 2, (hi - lo) / 2, low, 2 - 0 * low,
                  fam.architecture.logit_gain, fam.scale, torch.float64, torch.device("cpu"))
    theta = heldout_parameters(SPEC, 5, seed=9)
    with torch.no_grad():
        x, p = net(torch.tensor(theta))
    for i, t in enumerate(theta):
        menu = fam.raw_menu(t[:2], t[2])
        # Same float64 arithmetic in a different order: agreement to ~1e-15 relative.
        np.testing.assert_allclose(np.asarray(menu.allocations)[:-1], x[i].numpy(), atol=1e-12)
        np.testing.assert_allclose(np.asarray(menu.prices)[:-1], p[i].numpy(), atol=1e-12)


def _random_weights(trainer: AmortisedTrainer, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for o, i in trainer.architecture().shapes(3, 2)
            for s in ((o, i), (o,))]


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, field", [
    ({"belief": (0.6, 0.4)}, "belief"),                        # empty
    ({"belief": [[0.2, 0.3], [0.5, 0.4]]}, "belief"),          # one good's range empty
    ({"belief": (-0.1, 0.5)}, "belief"),                       # outside the value box
    ({"belief": (0.2, 1.5)}, "belief"),
    ({"belief": (0.2, float("nan"))}, "belief"),
    ({"belief": (0.2, 0.3, 0.4)}, "belief"),
    ({"adverse_selection": (0.3, 0.1)}, "adverse_selection"),  # empty
    ({"adverse_selection": (0.0, 1.0)}, "adverse_selection"),  # lambda >= 1
    ({"adverse_selection": (-0.1, 0.5)}, "adverse_selection"),
    ({"adverse_selection": 0.3}, "adverse_selection"),
    ({"allocation": (0.5, 1.0)}, "allocation"),
])
def test_bad_ranges_get_clear_errors(kwargs, field):
    args = {"goods": 2, "values": Uniform(0, 1), "belief": (0.25, 0.75),
            "adverse_selection": (0.0, 0.6), **kwargs}
    with pytest.raises(AmmOptError) as info:
        FamilySpec(**args)
    assert info.value.field == field and info.value.allowed


def test_a_family_needs_a_density():
    values = Samples(np.random.default_rng(0).random((50, 2)))
    with pytest.raises(UnsupportedProblemError, match="density"):
        FamilySpec(2, values, belief=(0.4, 0.6))


@pytest.mark.parametrize("kwargs", [{"items": 0}, {"hidden": ()}, {"hidden": (8, -1)},
                                    {"steps": 0}, {"lr": -1.0}, {"device": "tpu"},
                                    {"resume": True}, {"dtype": "float16"}])
def test_bad_trainer_options_get_clear_errors(kwargs):
    with pytest.raises(OptionError):
        AmortisedTrainer(**kwargs)


def test_spec_round_trips_and_rejects_foreign_data():
    assert FamilySpec.from_dict(SPEC.to_dict()).to_dict() == SPEC.to_dict()
    with pytest.raises(ProblemError, match="family"):
        FamilySpec.from_dict({"goods": 2})


def test_docstring_examples_run():
    import amm_opt.amortised.spec as spec_module
    import amm_opt.amortised.trainer as trainer_module

    for module in (spec_module, trainer_module):
        outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert outcome.failed == 0 and outcome.attempted > 0


def test_a_menu_from_the_family_is_a_menu(family):
    assert isinstance(family.menu(0.5, 0.0), Menu)
    menus = family.menus([[0.5, 0.5, 0.0], [0.45, 0.55, 0.3]])
    assert len(menus) == 2 and all(isinstance(m, Menu) for m in menus)


def test_validation_sizes_that_are_not_powers_of_two_do_not_warn():
    # filterwarnings = error: scipy's Sobol warning would fail this test.
    fam = replace(MINI, steps=10, validation_parameters=3, validation_types=100).train(SPEC)
    assert fam.info["steps_run"] == 10


@pytest.mark.slow
def test_a_one_minute_family_meets_most_of_the_benchmark_target():
    # The benchmark's family with a 600-step schedule (about a minute on one core): measured
    # median 99.7%, min 99.0% of grid_lp's certified bound at 6 held-out points (the 10-minute
    # run: 99.85% / 99.37% at 25). 99.3% / 98% leave room for the platform's rounding.
    spec = FamilySpec(2, Uniform(0, 1), belief=(0.25, 0.75), adverse_selection=(0.0, 0.6))
    fam = AmortisedTrainer(steps=600, device="cpu").train(spec)
    amap = accuracy_map(fam, heldout_parameters(spec, 6), upper_options={"grid": 96})
    s = amap.summary()
    assert s["median"] >= 0.993 and s["min"] >= 0.98, amap.table()
    assert all(p.profit <= p.upper * (1 + 1e-9) for p in amap.points)
    # Closed form R2 (c = 1/2, lambda = 0): the 10-minute family is 0.023% below it.
    problem, _, best = references.r2_two_goods(0.0)
    assert evaluate(problem, fam.menu([0.5, 0.5], 0.0)).profit >= 0.99 * best


@pytest.mark.gpu
def test_training_on_cuda_gives_feasible_reproducible_menus():
    trainer = replace(MINI, device="cuda")
    a, b = trainer.train(SPEC), trainer.train(SPEC)
    assert a.info["device"].startswith("cuda")
    assert _same_weights(a, b)
    problem = a.problem([0.5, 0.45], 0.2)
    assert all(c.passed for c in check_menu(problem, a.menu([0.5, 0.45], 0.2)))
