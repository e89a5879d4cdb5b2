"""Spiral runs on the one runner: configs, data, model init, evaluation, caching, the GIF demo."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from analog_tt.core.validation import check_list
from analog_tt.data import make_spiral
from analog_tt.report.plotting import draw_replica_frame
from analog_tt.report.verdicts import paper_verdict
from analog_tt.runs import RunConfig, run
from analog_tt.runs.demos import one_weight_regression
from analog_tt.runs.evaluation import accuracy_and_loss, analog_accuracies
from analog_tt.runs.models import build_model, load_dataset
from analog_tt.tiles.readout import digitize

SPIRAL = {"dataset": "spiral", "network": "2-64-3-relu-x25", "lr": 0.01, "bl": 31}
TINY = {**SPIRAL, "n_per_class": 8, "epochs": 2, "batch_size": 8}


def spiral(**changes) -> RunConfig:
    return RunConfig(**{**SPIRAL, "algorithm": "agad", **changes})


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
        ({"algorithm": "tt_v1", "n_tiles": 2}, "n_tiles must be 1"),
        ({"transfer_every": (1,)}, "one period per layer"),
        ({"transfer_every": (0, 1)}, r"transfer_every\[0\]"),
        ({"out_noise": -0.1}, "out_noise must be"),
        ({"fast_lr": 0.0}, "fast_lr must be"),
        ({"n_per_class": 0}, "n_per_class must be"),
        ({"algorithm": "sgd", "analog_eval_repeats": 2}, "analog_eval_repeats needs an analog"),
    ],
)
def test_spiral_config_rejects_bad_values(changes, match):
    with pytest.raises(ValueError, match=match):
        spiral(**changes)


def test_spiral_fields_are_refused_for_mnist():
    with pytest.raises(ValueError, match="out_noise: spiral-only"):
        RunConfig(out_noise=0.1)


def test_spiral_config_round_trip_and_defaults():
    cfg = spiral(n_tiles=4, variant="replicated_A", transfer_every=[5, 1])
    assert cfg.transfer_every == (5, 1)
    assert cfg.init == "xavier_uniform" and cfg.eval_modes == ("exact",)
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.key() == cfg.key()
    assert cfg.replace(seed=1).key() != cfg.key()


def test_n_tiles_may_exceed_batch_size_and_swa_must_start_in_time():
    assert spiral(n_tiles=8, batch_size=4).n_tiles == 8  # the replicas beyond the batch idle
    with pytest.raises(ValueError, match="swa_start .* after the last epoch"):
        spiral(epochs=10, swa_start=11)


# -------------------------------------------------------------------------------------- data
def test_spiral_data_is_the_papers_spiral_plus_a_second_draw():
    xtr, ytr, xho, yho = load_dataset(spiral(n_per_class=50))
    ref_x, ref_y = make_spiral(50, rng=np.random.RandomState(0))
    np.testing.assert_array_equal(xtr.numpy(), ref_x)
    np.testing.assert_array_equal(ytr.numpy(), ref_y)
    assert xho.shape == (150, 2) and torch.equal(yho, ytr)
    assert not torch.equal(xho, xtr)


# ------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("variant", ["shared_A", "replicated_A"])
def test_build_model_identical_xavier_replicas(variant):
    torch.manual_seed(0)
    model = build_model(spiral(n_tiles=4, variant=variant))
    for layer, (n_out, n_in) in zip(model.layers, ((64, 2), (3, 64)), strict=True):
        reps = layer.analog_module.tile.get_replica_weights()
        assert reps.shape == (4, n_out, n_in)
        assert torch.equal(reps, reps[:1].expand_as(reps))
        bound = math.sqrt(6.0 / (n_in + n_out))
        assert reps.abs().max() <= bound + 1e-6
        assert reps.std() > bound / 4  # a real draw, not zeros
        assert torch.count_nonzero(layer.analog_module.bias) == 0


def test_build_model_transfer_period_per_layer():
    torch.manual_seed(0)
    model = build_model(spiral(algorithm="tt_v1_multi", n_tiles=2, transfer_every=(5, 1)))
    first, second = (layer.analog_module.tile.device_config for layer in model.layers)
    assert first.transfer_every == 5.0 and second.transfer_every == 1.0
    assert first.units_in_mbatch


def test_digital_copy_uses_the_replica_average():
    torch.manual_seed(1)
    model = build_model(spiral(n_tiles=2, out_noise=0.0))
    # make the replicas differ: the digital model must use their mean
    sim1 = model.layers[0].analog_module.tile
    reps = sim1.get_replica_weights()
    sim1.set_replica_weights(torch.stack([reps[0] + 0.2, reps[1] - 0.2]))
    x, y, _, _ = load_dataset(spiral(n_per_class=20))
    w1 = sim1.get_replica_weights().mean(0)
    w2 = model.layers[1].analog_module.tile.get_replica_weights().mean(0)
    logits = torch.relu(x @ w1.T) @ w2.T * 25.0  # alpha = 1, bias = 0 at init
    expected = float((logits.argmax(1) == y).float().mean())
    acc, _ = accuracy_and_loss(digitize(model, "exact"), x, y)
    assert acc == pytest.approx(expected)


def test_aihwkit_tile_model_and_analog_accuracy():
    torch.manual_seed(0)
    model = build_model(spiral(algorithm="tt_v1", out_noise=0.0))
    x, y, _, _ = load_dataset(spiral(n_per_class=20))
    accs = analog_accuracies(model, x, y, repeats=3)
    assert len(accs) == 3 and all(0.0 <= a <= 1.0 for a in accs)
    # without output noise, the analog forward agrees with the digital copy up to DAC/ADC
    digital, _ = accuracy_and_loss(digitize(model, "exact"), x, y)
    assert abs(np.mean(accs) - digital) < 0.15


# ---------------------------------------------------------------------------------- training
@pytest.mark.parametrize(
    "changes",
    [
        {"algorithm": "agad", "n_tiles": 2, "variant": "replicated_A"},
        {"algorithm": "tt_v1_multi", "n_tiles": 2},
        {"algorithm": "tt_v1", "transfer_every": (5, 1)},
    ],
    ids=["agad-replicated", "tt_v1-multi", "tt_v1-aihwkit"],
)
def test_spiral_run_result_and_cache(changes, tmp_path):
    cfg = RunConfig(**{**TINY, **changes, "analog_eval_repeats": 2})
    result = run(cfg, cache_dir=tmp_path, progress=False)
    assert result["key"] == cfg.key() and result["config"] == cfg.to_dict()
    assert [r["epoch"] for r in result["epochs"]] == [1, 2]
    assert result["diverged_at_epoch"] is None
    final = result["final"]["exact"]["tile_avg"]
    for name in ("acc", "train_acc"):
        assert 0.0 <= final[name] <= 1.0
    for name in ("train", "test"):
        assert 0.0 <= result["final_analog"][name] <= 1.0
    assert (result["replica_spread"] is None) == (cfg.n_tiles == 1)
    path = tmp_path / f"{cfg.key()}.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(result))
    # a finished run is read back, not trained again
    path.write_text(json.dumps({**result, "marker": True}))
    assert run(cfg, cache_dir=tmp_path, progress=False)["marker"] is True


# ------------------------------------------------------------------------------- GIF demo
def test_one_weight_regression_trajectories():
    out = one_weight_regression(epochs=3, n_points=10, seed=0)
    reps = np.asarray(out["replicas"])
    assert reps.shape == (4, 2)
    np.testing.assert_allclose(reps[0], [-0.5, 0.25], atol=1e-6)
    np.testing.assert_allclose(out["average"], reps.mean(1), atol=1e-6)
    assert np.asarray(out["fast"]).shape == (4, 1) and out["fast"][0] == [0.0]
    assert len(out["loss"]) == 4 and all(v >= 0 for v in out["loss"])
    rep_a = one_weight_regression(epochs=1, n_points=10, variant="replicated_A")
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
        one_weight_regression(**kwargs)


def test_check_list_and_paper_verdict():
    assert check_list("n_tiles", [1, 4]) == [1, 4]
    assert check_list("noise", [0, 0.1], kind=float, minimum=0.0) == [0.0, 0.1]
    with pytest.raises(ValueError, match=r"n_tiles values must be ints >= 1, got 0"):
        check_list("n_tiles", [1, 0], minimum=1)
    with pytest.raises(ValueError, match="seeds must be a non-empty list"):
        check_list("seeds", [])
    with pytest.raises(ValueError, match=r"variants values must be in \['shared_A'"):
        check_list("variants", ["v1"], allowed=["shared_A", "replicated_A"])
    assert paper_verdict(0.8, 0.05, 3, None, no_paper="") == ""
    assert paper_verdict(0.8, float("nan"), 1, 0.85, too_few="n/a (n < 2)") == "n/a (n < 2)"
    assert paper_verdict(0.8, 0.1, 3, 0.85) == "indistinguishable"
    assert paper_verdict(0.6, 0.1, 3, 0.85) == "worse"
    assert paper_verdict(0.6, 0.1, 1, 0.85) == "n/a"


def test_draw_replica_frame():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traj = one_weight_regression(epochs=2, n_points=10)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    draw_replica_frame(ax1, traj, 99, ax_loss=ax2)  # clipped to the last epoch
    assert ax1.get_title() == "epoch 2"
    assert len(ax2.lines) == 1 and len(ax2.lines[0].get_xdata()) == 3
    draw_replica_frame(None, traj, 1, ax_loss=ax2)
    plt.close(fig)
