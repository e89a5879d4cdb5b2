"""Replica initialisation: pulse programming, perturbation, mismatch statistics."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from replica_helpers import FakeMultiTileLinear, make_replicas
from torch import nn

from analog_tt.tiles.programming import (
    initialize_replicas,
    mismatch_report,
    noise_variance,
    perturb_replicas,
    program_replicas_from_one,
    replica_mismatch_std,
    stack_replica_weights,
    xavier_std,
)

OUT, IN = 16, 64


def _pairwise_bruteforce(w: torch.Tensor) -> float:
    n = w.shape[0]
    w = w.double()
    vals = [(w[i] - w[j]).std(correction=0) ** 2 for i, j in itertools.combinations(range(n), 2)]
    return math.sqrt(sum(vals) / len(vals))


def test_noise_variance_formula() -> None:
    n = 784
    expected = (0.1 + 2.2e-3) ** 2 * (2 * math.log(n) - math.log(math.log(n))) / n
    assert noise_variance(0.1, n) == pytest.approx(expected, rel=1e-12)
    assert noise_variance(0.1, n) == pytest.approx(1.52e-4, rel=0.01)
    assert noise_variance(0.0, n) == 0.0
    with pytest.raises(ValueError, match="forward_noise"):
        noise_variance(-0.1, n)


def test_xavier_std_matches_paper_table() -> None:
    # seed analysis §1.9: intended std 0.0439 / 0.0718 / 0.1195 (sampled Xavier matrices)
    assert xavier_std(784, 256) == pytest.approx(0.0439, abs=5e-4)
    assert xavier_std(256, 128) == pytest.approx(0.0722, abs=5e-4)
    assert xavier_std(128, 10) == pytest.approx(0.1204, abs=5e-4)


def test_mismatch_std_equals_pairwise_definition() -> None:
    g = torch.Generator().manual_seed(3)
    w = torch.randn(5, 7, 9, generator=g) + torch.randn(5, 1, 1, generator=g)
    assert replica_mismatch_std(w) == pytest.approx(_pairwise_bruteforce(w), rel=1e-9)
    assert replica_mismatch_std(w[:2]) == pytest.approx(
        float((w[1] - w[0]).std(correction=0)), rel=1e-6
    )
    assert replica_mismatch_std(w[:1]) == 0.0
    with pytest.raises(ValueError, match=r"\[N, out, in\]"):
        replica_mismatch_std(w[0])


def test_programmed_replicas_match_reference_within_tolerance() -> None:
    torch.manual_seed(11)
    reps = make_replicas(3, OUT, IN)
    target, tol = 0.1, 0.03
    rep = program_replicas_from_one(
        reps, target_std=target, tolerance=tol, generator=torch.Generator().manual_seed(1)
    )
    assert rep.stopped_by == ["tolerance"] * 3
    assert all(u == i - 1 for i, u in zip(rep.iterations, rep.updates, strict=True))
    w = stack_replica_weights(reps)
    # replica 0: a decayed random matrix with about the target std (started at 0.4)
    assert 0.7 * target < float(w[0].std()) < 1.3 * target
    # copies: the stopping rule bounds the output-error variance, i.e. mean((W_i - W_0)^2)
    for i in (1, 2):
        diff_std = float((w[i] - w[0]).std())
        assert diff_std < 1.3 * tol, (i, diff_std)
    assert rep.after["mismatch_std"] == pytest.approx(replica_mismatch_std(w), rel=1e-6)
    assert rep.after["mismatch_std"] < 1.3 * tol
    # they started 0.4 * sqrt(2) apart: programming must have closed most of that
    assert rep.after["mismatch_std"] < 0.1 * 0.4 * math.sqrt(2)


def test_iteration_caps_and_op_counts() -> None:
    torch.manual_seed(0)
    reps = make_replicas(3, OUT, IN)
    rep = program_replicas_from_one(
        reps,
        target_std=0.05,
        max_iter_zero=5,
        max_iter=7,
        generator=torch.Generator().manual_seed(0),
    )
    assert rep.iterations == [5, 7, 7]
    assert rep.updates == [5, 7, 7]
    assert rep.stopped_by == ["cap", "cap", "cap"]
    assert rep.simulated_forward_calls == 5 + 2 * 14
    ops = {(r["stage"], r["op"]): r for r in rep.analog_ops}
    assert ops[("drive_reference", "forward")]["vectors"] == 5
    assert ops[("drive_reference", "update")]["vectors"] == 5
    assert ops[("copy", "forward")]["vectors"] == 14 + 7
    assert ops[("copy", "update")]["vectors"] == 14
    assert ops[("copy", "update")]["pfactor"] == pytest.approx(2.0)
    assert all(r["phase"] == "program" for r in rep.analog_ops)


def test_zero_caps_leave_gaussian_start() -> None:
    torch.manual_seed(0)
    reps = make_replicas(2, 32, 64)
    rep = program_replicas_from_one(reps, target_std=0.05, w_init=0.2, max_iter_zero=0, max_iter=0)
    assert rep.iterations == [0, 0]
    w = stack_replica_weights(reps)
    assert float(w.std()) == pytest.approx(0.2, rel=0.1)


def test_learning_rate_restored() -> None:
    # Note: the C++ simulator draws its pulse and read noise from its own RNG, which
    # torch.manual_seed does not seed (aihwkit 1.1.0), so weights are not bit-reproducible.
    torch.manual_seed(5)
    reps = make_replicas(2, OUT, IN)
    for r in reps:
        r.tile.set_learning_rate(0.0123)
    program_replicas_from_one(reps, target_std=0.1, max_iter_zero=300, max_iter=300)
    for r in reps:
        assert r.tile.get_learning_rate() == pytest.approx(0.0123, rel=1e-5)


def test_program_validation() -> None:
    reps = make_replicas(2, 4, 8)
    with pytest.raises(ValueError, match="target_std"):
        program_replicas_from_one(reps, target_std=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        program_replicas_from_one(reps, target_std=0.1, max_iter=-1)
    with pytest.raises(ValueError, match="transfer_bl"):
        program_replicas_from_one(reps, target_std=0.1, transfer_bl=0)
    with pytest.raises(ValueError, match="at least one"):
        program_replicas_from_one([], target_std=0.1)
    with pytest.raises(ValueError, match="shape"):
        program_replicas_from_one(reps + make_replicas(1, 5, 8), target_std=0.1, max_iter=0)
    with pytest.raises(ValueError, match="forward_noise"):
        program_replicas_from_one([r.tile for r in reps], target_std=0.1)


def test_init_std_zero_gives_identical_replicas_and_mismatch_grows() -> None:
    torch.manual_seed(2)
    reps = make_replicas(4, 32, 48)
    ref = 0.05 * torch.randn(32, 48)
    rep0 = perturb_replicas(reps, ref, 0.0)
    w = stack_replica_weights(reps)
    assert rep0["mismatch_std"] == 0.0
    assert all(torch.equal(w[i], w[0]) for i in range(4))
    assert torch.allclose(w[0], ref, atol=1e-7)
    got = []
    for s in (0.01, 0.03, 0.08):
        rep = perturb_replicas(reps, ref, s, generator=torch.Generator().manual_seed(9))
        got.append(rep["mismatch_std"])
        assert rep["mismatch_std"] == pytest.approx(math.sqrt(2) * s, rel=0.1)
    assert got[0] < got[1] < got[2]


def test_perturb_validation() -> None:
    reps = make_replicas(2, 4, 8)
    with pytest.raises(ValueError, match="init_std.*>= 0"):
        perturb_replicas(reps, None, -1.0)
    with pytest.raises(ValueError, match="reference must have shape"):
        perturb_replicas(reps, torch.zeros(8, 4), 0.0)


def test_initialize_replicas_model_level() -> None:
    torch.manual_seed(4)
    model = nn.Sequential(
        FakeMultiTileLinear(make_replicas(3, 16, 32)),
        nn.Sigmoid(),
        FakeMultiTileLinear(make_replicas(3, 8, 16)),
    )
    indep = initialize_replicas(model, "independent")
    assert set(indep) == {"0", "2"}
    assert all(r["mismatch_std"] > 0.01 for r in indep.values())
    same = initialize_replicas(model, "init_std", 0.0)
    assert all(r["mismatch_std"] == 0.0 and r["mode"] == "init_std" for r in same.values())
    prog = initialize_replicas(model, "program", max_iter_zero=50, max_iter=50)
    assert prog["0"]["target_std"] == pytest.approx(xavier_std(32, 16))
    assert len(prog["2"]["iterations"]) == 3 and max(prog["2"]["iterations"]) <= 50
    with pytest.raises(
        ValueError, match=r"mode must be one of \('program', 'init_std', 'independent'\)"
    ):
        initialize_replicas(model, "xavier")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="init_std"):
        initialize_replicas(model, "init_std", -0.5)
    with pytest.raises(ValueError, match="init_std is only used"):
        initialize_replicas(model, "independent", 0.1)
    with pytest.raises(ValueError, match="no multi-tile layer"):
        initialize_replicas(nn.Linear(2, 2), "independent")


def test_mismatch_report_fields() -> None:
    w = torch.zeros(2, 3, 4)
    w[1] += 1.0
    rep = mismatch_report(w, 0.5)
    assert rep["n_replicas"] == 2 and rep["shape"] == [3, 4]
    assert rep["intended_std"] == 0.5
    assert rep["mismatch_std"] == 0.0  # a constant offset is not a spread
    assert rep["max_abs_dev"] == pytest.approx(0.5)


def _analog_tt_model(n_tiles: int) -> nn.Module:
    from aihwkit.nn import AnalogLinear, AnalogSequential

    from analog_tt.presets import paper_mnist_config

    cfg = paper_mnist_config(n_tiles=n_tiles, count_ops=True)
    return AnalogSequential(
        AnalogLinear(64, 16, bias=True, rpu_config=cfg),
        nn.Sigmoid(),
        AnalogLinear(16, 10, bias=True, rpu_config=cfg),
    )


def test_initialize_replicas_on_analog_tt_layers_records_program_ops() -> None:
    from analog_tt.tiles.counting import collect_op_counts

    torch.manual_seed(6)
    model = _analog_tt_model(3)
    replica_lr = model[0].analog_module.tile.replica_lr
    reports = initialize_replicas(model, "program", max_iter_zero=40, max_iter=30)
    assert set(reports) == {"0", "2"}
    counts = collect_op_counts(model)
    for name, rep in reports.items():
        assert rep["learning_rate"] == pytest.approx(0.25)  # lr / transfer_bl with transfer BL 1
        it, up = rep["iterations"], rep["updates"]
        assert it[1:] == [30, 30] and up[1:] == [30, 30]
        fwd = it[0] + 60 + 30  # drive reads + copy reads + one shared read of replica 0 per step
        assert counts[name]["program"]["vectors"] == fwd + up[0] + 60
        assert counts[name]["program"]["sequential"] == it[0] + up[0] + 30 + 30
        assert counts[name]["program"]["pulses"] == up[0] + 60  # 1 pulse per transfer write
        assert counts[name]["forward"]["vectors"] == 0  # programming is not training
    for rep in model[0].analog_module.tile.replicas:
        assert rep.tile.get_learning_rate() == pytest.approx(replica_lr, rel=1e-6)


def test_init_std_zero_on_analog_tt_layers_gives_identical_replicas() -> None:
    torch.manual_seed(7)
    model = _analog_tt_model(4)
    before = initialize_replicas(model, "independent")
    # independent U(-1/sqrt(in), 1/sqrt(in)) draws: pairwise std sqrt(2) * bound / sqrt(3)
    expected = math.sqrt(2) * (1 / math.sqrt(64)) / math.sqrt(3)
    assert before["0"]["mismatch_std"] == pytest.approx(expected, rel=0.1)
    initialize_replicas(model, "init_std", 0.0)
    w = model[0].analog_module.get_replica_weights()
    assert all(torch.equal(w[i], w[0]) for i in range(4))
