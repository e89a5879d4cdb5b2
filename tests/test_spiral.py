"""Tests of analog_tt.spiral: configs, data, model init, evaluation, caching, the GIF demo."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from analog_tt import spiral
from analog_tt.data import make_spiral
from analog_tt.spiral import SpiralRun

TINY = {"n_per_class": 8, "epochs": 2, "batch_size": 8, "lr": 0.01}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"tile": "digital"}, "tile must be one of"),
        ({"algorithm": "sgd"}, "algorithm must be one of"),
        ({"variant": "v2"}, "variant must be one of"),
        ({"n_tiles": 0}, "n_tiles must be an int >= 1"),
        ({"tile": "aihwkit", "algorithm": "agad"}, "AGAD is run on our tile"),
        ({"tile": "aihwkit", "algorithm": "tt_v1", "n_tiles": 2}, "n_tiles must be 1"),
        ({"n_tiles": 65, "batch_size": 64}, "must be <= batch_size"),
        ({"transfer_every": (1,)}, "one period per layer"),
        ({"transfer_every": (0, 1)}, r"transfer_every\[0\]"),
        ({"out_noise": -0.1}, "out_noise must be"),
        ({"lr": 0.0}, "lr must be"),
        ({"epochs": 0}, "epochs must be"),
    ],
)
def test_spiral_run_rejects_bad_values(changes, match):
    with pytest.raises(ValueError, match=match):
        SpiralRun(**changes)


def test_spiral_run_round_trip_and_key():
    run = SpiralRun(n_tiles=4, variant="replicated_A", transfer_every=[5, 1])
    assert run.transfer_every == (5, 1)
    again = SpiralRun.from_dict(json.loads(json.dumps(run.to_dict())))
    assert again == run and again.key() == run.key()
    assert run.replace(seed=1).key() != run.key()
    with pytest.raises(ValueError, match="unknown SpiralRun field"):
        SpiralRun.from_dict({"n_tile": 2})


# -------------------------------------------------------------------------------------- data
def test_spiral_data_is_the_papers_spiral_plus_a_second_draw():
    xtr, ytr, xho, yho = spiral.spiral_data(50)
    ref_x, ref_y = make_spiral(50, rng=np.random.RandomState(0))
    np.testing.assert_array_equal(xtr.numpy(), ref_x)
    np.testing.assert_array_equal(ytr.numpy(), ref_y)
    assert xho.shape == (150, 2) and torch.equal(yho, ytr)
    assert not torch.equal(xho, xtr)


# ------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("variant", ["shared_A", "replicated_A"])
def test_build_model_identical_xavier_replicas(variant):
    torch.manual_seed(0)
    model = spiral.build_model(SpiralRun(n_tiles=4, variant=variant))
    for layer, (n_out, n_in) in ((model.l1, (64, 2)), (model.l2, (3, 64))):
        reps = layer.analog_module.tile.get_replica_weights()
        assert reps.shape == (4, n_out, n_in)
        assert torch.equal(reps, reps[:1].expand_as(reps))
        bound = math.sqrt(6.0 / (n_in + n_out))
        assert reps.abs().max() <= bound + 1e-6
        assert reps.std() > bound / 4  # a real draw, not zeros
        assert torch.count_nonzero(layer.analog_module.bias) == 0


def test_build_model_transfer_period_per_layer():
    torch.manual_seed(0)
    model = spiral.build_model(SpiralRun(algorithm="tt_v1", n_tiles=2, transfer_every=(5, 1)))
    assert model.l1.analog_module.tile.device_config.transfer_every == 5.0
    assert model.l2.analog_module.tile.device_config.transfer_every == 1.0
    assert model.l1.analog_module.tile.device_config.units_in_mbatch


def test_digital_accuracy_is_the_fp_network_with_averaged_weights():
    torch.manual_seed(1)
    model = spiral.build_model(SpiralRun(n_tiles=2, out_noise=0.0))
    # make the replicas differ: the digital model must use their mean
    sim1 = model.l1.analog_module.tile
    reps = sim1.get_replica_weights()
    sim1.set_replica_weights(torch.stack([reps[0] + 0.2, reps[1] - 0.2]))
    x, y, _, _ = spiral.spiral_data(20)
    w1 = sim1.get_replica_weights().mean(0)
    w2 = model.l2.analog_module.tile.get_replica_weights().mean(0)
    logits = torch.relu(x @ w1.T) @ w2.T * 25.0  # alpha = 1, bias = 0 at init
    expected = float((logits.argmax(1) == y).float().mean())
    assert spiral.digital_accuracy(model, x, y) == pytest.approx(expected)


def test_aihwkit_tile_model_and_analog_accuracy():
    torch.manual_seed(0)
    model = spiral.build_model(SpiralRun(tile="aihwkit", algorithm="tt_v1", out_noise=0.0))
    x, y, _, _ = spiral.spiral_data(20)
    accs = spiral.analog_accuracy(model, x, y, repeats=3)
    assert len(accs) == 3 and all(0.0 <= a <= 1.0 for a in accs)
    # without output noise, the analog forward agrees with the digital copy up to DAC/ADC
    assert abs(np.mean(accs) - spiral.digital_accuracy(model, x, y)) < 0.15
    with pytest.raises(ValueError, match="repeats"):
        spiral.analog_accuracy(model, x, y, repeats=0)


# ---------------------------------------------------------------------------------- training
@pytest.mark.parametrize(
    "run",
    [
        SpiralRun(algorithm="agad", n_tiles=2, variant="replicated_A", **TINY),
        SpiralRun(algorithm="tt_v1", n_tiles=2, **TINY),
        SpiralRun(tile="aihwkit", algorithm="tt_v1", transfer_every=(5, 1), **TINY),
    ],
    ids=["agad-replicated", "tt_v1-multi", "tt_v1-aihwkit"],
)
def test_run_spiral_result_and_cache(run, tmp_path):
    run = run.replace(analog_eval_repeats=2)
    result = spiral.run_spiral(run, cache_dir=tmp_path)
    assert result["key"] == run.key() and result["config"] == run.to_dict()
    assert result["epochs"] == [1, 2] and len(result["loss"]) == 2
    assert not result["diverged"]
    for name in ("train", "heldout", "analog_train", "analog_heldout"):
        assert 0.0 <= result["final"][name] <= 1.0
    assert result["final"]["train"] == result["train_acc"][-1]
    spread = result["replica_spread"]
    assert (spread is None) == (run.n_tiles == 1)
    path = tmp_path / f"{run.key()}.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(result))
    # a finished run is read back, not trained again
    path.write_text(json.dumps({**result, "marker": True}))
    assert spiral.run_spiral(run, cache_dir=tmp_path)["marker"] is True


def test_run_spiral_rejects_non_config():
    with pytest.raises(TypeError, match="SpiralRun"):
        spiral.run_spiral({"tile": "multi"})


def test_summarize_runs_groups_and_ci():
    def fake(n_tiles, seed, acc, diverged=False):
        cfg = SpiralRun(n_tiles=n_tiles, seed=seed).to_dict()
        final = {} if diverged else {"train": acc, "heldout": acc - 0.1}
        return {"config": cfg, "final": final, "diverged": diverged}

    rows = spiral.summarize_runs(
        [fake(1, 0, 0.8), fake(1, 1, 0.6), fake(4, 0, 0.7), fake(4, 1, 0.0, diverged=True)],
        by=["n_tiles"],
    )
    assert [r["n_tiles"] for r in rows] == [1, 4]
    assert rows[0]["n"] == 2 and rows[0]["train_mean"] == pytest.approx(0.7)
    assert rows[0]["train_ci"] == pytest.approx(12.706 * np.std([0.8, 0.6], ddof=1) / 2**0.5, 1e-3)
    assert rows[1]["n"] == 1 and rows[1]["diverged"] == 1 and math.isnan(rows[1]["train_ci"])


# ------------------------------------------------------------------------------- GIF demo
def test_one_weight_regression_trajectories():
    out = spiral.one_weight_regression(epochs=3, n_points=10, seed=0)
    reps = np.asarray(out["replicas"])
    assert reps.shape == (4, 2)
    np.testing.assert_allclose(reps[0], [-0.5, 0.25], atol=1e-6)
    np.testing.assert_allclose(out["average"], reps.mean(1), atol=1e-6)
    assert np.asarray(out["fast"]).shape == (4, 1) and out["fast"][0] == [0.0]
    assert len(out["loss"]) == 4 and all(v >= 0 for v in out["loss"])
    rep_a = spiral.one_weight_regression(epochs=1, n_points=10, variant="replicated_A")
    assert np.asarray(rep_a["fast"]).shape == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"slow_init": (0.1,)}, "one start weight per replica"),
        ({"n_tiles": 3, "slow_init": (0, 0, 0), "batch_size": 2}, "must be <= batch_size"),
        ({"epochs": 0}, "epochs must be"),
    ],
)
def test_one_weight_regression_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spiral.one_weight_regression(**kwargs)


def test_check_list_and_compare_to_paper():
    assert spiral.check_list("n_tiles", [1, 4]) == [1, 4]
    assert spiral.check_list("noise", [0, 0.1], kind=float, minimum=0.0) == [0.0, 0.1]
    with pytest.raises(ValueError, match=r"n_tiles values must be ints >= 1, got 0"):
        spiral.check_list("n_tiles", [1, 0], minimum=1)
    with pytest.raises(ValueError, match="seeds must be a non-empty list"):
        spiral.check_list("seeds", [])
    with pytest.raises(ValueError, match=r"variants values must be in \['shared_A'"):
        spiral.check_list("variants", ["v1"], allowed=["shared_A", "replicated_A"])
    assert spiral.compare_to_paper(0.8, 0.05, 3, None) == ""
    assert spiral.compare_to_paper(0.8, float("nan"), 1, 0.85) == "n/a (n < 2)"
    assert spiral.compare_to_paper(0.8, 0.1, 3, 0.85) == "indistinguishable"
    assert spiral.compare_to_paper(0.6, 0.1, 3, 0.85) == "worse"


def test_draw_replica_frame():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traj = spiral.one_weight_regression(epochs=2, n_points=10)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    spiral.draw_replica_frame(ax1, traj, 99, ax_loss=ax2)  # clipped to the last epoch
    assert ax1.get_title() == "epoch 2"
    assert len(ax2.lines) == 1 and len(ax2.lines[0].get_xdata()) == 3
    spiral.draw_replica_frame(None, traj, 1, ax_loss=ax2)
    plt.close(fig)
