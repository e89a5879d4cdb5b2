"""Tests of the multi-tile Tiki-Taka tile (analog_tt.tiles / config / presets).

aihwkit 1.1.0's C++ tiles draw their pulse and read noise from an internal random generator that
is seeded per tile at construction, not from torch, and that can be neither set nor copied
(``dump_extra`` holds no RNG state). Two tiles therefore never share noise, and bit-identical
comparisons are made with every stochastic element switched off (perfect IO, deterministic
pulses, no device-to-device or cycle-to-cycle variation); with noise on we test statistical
agreement.
"""

from __future__ import annotations

import copy

import pytest
import torch
from aihwkit.exceptions import ConfigError
from aihwkit.nn import AnalogLinear
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.configs.compounds import (
    BufferedTransferCompound,
    ChoppedTransferCompound,
    DynamicTransferCompound,
    TransferCompound,
)
from aihwkit.simulator.configs.configs import UnitCellRPUConfig
from aihwkit.simulator.configs.devices import ConstantStepDevice, LinearStepDevice
from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType, PulseType
from aihwkit.simulator.parameters.io import IOParameters
from aihwkit.simulator.parameters.training import UpdateParameters
from aihwkit.simulator.tiles.transfer import TorchTransferTile
from torch import nn

from analog_tt.config import MultiTileRPUConfig
from analog_tt.presets import paper_mnist_config, paper_mnist_tt_v1_config, spiral_config
from analog_tt.tiles import MultiTileTransferTile, slice_bounds

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- helpers
def quiet_device(**kwargs) -> LinearStepDevice:
    """A LinearStep device without any randomness (no dtod, no c2c noise)."""
    return LinearStepDevice(
        dw_min=0.01,
        dw_min_dtod=0.0,
        dw_min_std=0.0,
        up_down_dtod=0.0,
        w_max_dtod=0.0,
        w_min_dtod=0.0,
        gamma_up_dtod=0.0,
        gamma_down_dtod=0.0,
        write_noise_std=0.0,
        **kwargs,
    )


def deterministic_update(desired_bl: int = 31) -> UpdateParameters:
    return UpdateParameters(
        desired_bl=desired_bl,
        pulse_type=PulseType.DETERMINISTIC_IMPLICIT,
        update_bl_management=False,
        update_management=False,
    )


def deterministic_compound(kind: str = "agad", **kwargs):
    common = dict(
        unit_cell_devices=[quiet_device(), quiet_device()],
        transfer_forward=IOParameters(is_perfect=True),
        transfer_update=deterministic_update(1),
        units_in_mbatch=True,
        transfer_every=1,
    )
    if kind == "tt_v1":
        return TransferCompound(fast_lr=0.5, **common, **kwargs)
    chopped = dict(
        fast_lr=0.5,
        auto_scale=True,
        auto_granularity=50,
        in_chop_prob=0.5,  # deterministic chopper: all columns flip every 2 sweeps
        in_chop_random=False,
    )
    chopped.update(kwargs)
    if kind == "agad":
        return DynamicTransferCompound(tail_weightening=1.0, **common, **chopped)
    return ChoppedTransferCompound(**common, **chopped)


def deterministic_config(kind: str = "agad", **fields) -> MultiTileRPUConfig:
    return MultiTileRPUConfig(
        device=deterministic_compound(kind),
        forward=IOParameters(is_perfect=True),
        backward=IOParameters(is_perfect=True),
        update=deterministic_update(31),
        **fields,
    )


def batches(n_batches: int, batch_size: int, in_size: int, out_size: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return [
        (
            torch.rand(batch_size, in_size, generator=gen),
            torch.randn(batch_size, out_size, generator=gen),
        )
        for _ in range(n_batches)
    ]


# ----------------------------------------------------------------------------- slicing
def test_slice_bounds_rule():
    assert slice_bounds(8, 4) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert slice_bounds(7, 3) == [(0, 3), (3, 5), (5, 7)]
    assert slice_bounds(2, 4) == [(0, 1), (1, 2), (2, 2), (2, 2)]
    assert slice_bounds(5, 1) == [(0, 5)]
    for batch in range(0, 20):
        for n_tiles in range(1, 9):
            bounds = slice_bounds(batch, n_tiles)
            lengths = [b - a for a, b in bounds]
            assert len(bounds) == n_tiles and sum(lengths) == batch
            assert bounds[0][0] == 0 and all(
                bounds[i][1] == bounds[i + 1][0] for i in range(n_tiles - 1)
            )
            assert max(lengths) == -(-batch // n_tiles)  # ceil(B / N), as the paper's chunks
    with pytest.raises(ValueError, match="n_tiles"):
        slice_bounds(4, 0)


# ----------------------------------------------------------------------------- structure
@pytest.mark.parametrize("variant, n_grad", [("shared_A", 1), ("replicated_A", 3)])
def test_analog_linear_structure_and_api(variant, n_grad):
    cfg = paper_mnist_config(n_tiles=3, variant=variant)
    layer = AnalogLinear(6, 4, bias=True, rpu_config=cfg)
    tile_module = layer.analog_module
    assert isinstance(tile_module, MultiTileTransferTile)
    sim = tile_module.tile
    assert isinstance(sim.replicas, nn.ModuleList) and len(sim.replicas) == 3
    assert isinstance(sim.grad_tiles, nn.ModuleList) and len(sim.grad_tiles) == n_grad
    assert tile_module.rpu_config.n_tiles == 3 and tile_module.rpu_config.variant == variant
    # AnalogLinear's init writes the same matrix into every replica; A starts at 0
    weights = tile_module.get_replica_weights()
    assert weights.shape == (3, 4, 6)
    assert torch.equal(weights[0], weights[1]) and torch.equal(weights[0], weights[2])
    for grad_tile in sim.grad_tiles:
        assert torch.count_nonzero(grad_tile.tile.get_weights()) == 0
    assert tile_module.get_out_scale().shape == (1,) and float(tile_module.get_out_scale()) == 1.0
    assert tile_module.get_digital_bias().shape == (4,)
    # per-replica weights in, averaged weights out of aihwkit's get_weights
    new = torch.randn(3, 4, 6) * 0.1
    sim.set_replica_weights(new)
    assert torch.allclose(tile_module.get_replica_weights(), new, atol=1e-7)
    weight, bias = layer.get_weights()
    assert torch.allclose(weight, new.mean(0), atol=1e-6)
    names = list(layer.state_dict())
    for key in (
        "tile.m_x",
        "tile.m_d",
        "tile.chopper",
        "tile.hidden_weight",
        "tile.transfer_idx",
        "tile.reference_weight",
        "tile.past_mean_weight",
        "tile.update_counter",
        "tile.replicas.2.analog_tile_state",
        f"tile.grad_tiles.{n_grad - 1}.analog_tile_state",
        "out_scaling_alpha",
        "bias",
    ):
        assert "analog_module." + key in names, key
    layer = layer.to("cpu")
    assert layer(torch.rand(5, 6)).shape == (5, 4)


def test_trains_through_aihwkit_api():
    """AnalogLinear + AnalogSGD work unchanged and the weights move."""
    torch.manual_seed(0)
    cfg = spiral_config(n_tiles=4, variant="replicated_A", lr=0.1, fast_lr=1.0)
    model = nn.Sequential(AnalogLinear(2, 8, True, cfg), nn.ReLU(), AnalogLinear(8, 3, True, cfg))
    opt = AnalogSGD(model.parameters(), lr=0.1)
    opt.regroup_param_groups(model)
    before = model[0].analog_module.get_replica_weights().clone()
    for x, _ in batches(20, 10, 2, 3):
        opt.zero_grad()
        loss = model(x).pow(2).sum()
        loss.backward()
        opt.step()
    after = model[0].analog_module.get_replica_weights()
    assert not torch.equal(before, after)
    assert int(model[0].analog_module.tile.transfer_idx) == 20 % 2


# ----------------------------------------------------------------------------- vs aihwkit
def _copy_state_into_ours(theirs: TorchTransferTile, ours: MultiTileTransferTile) -> None:
    ours.tile.grad_tiles[0].tile.set_weights(theirs.tile.grad_tile.tile.get_weights())
    ours.tile.replicas[0].tile.set_weights(theirs.tile.weight_tile.tile.get_weights())


@pytest.mark.parametrize("kind", ["agad", "ttv2"])
def test_reproduces_aihwkit_torch_transfer_tile_bit_identically(kind):
    """N = 1, shared_A, "zero" start == aihwkit 1.1.0's TorchTransferTile (noise off)."""
    torch.manual_seed(1)
    device = deterministic_compound(kind)
    io = IOParameters(is_perfect=True)
    theirs_cfg = UnitCellRPUConfig(
        device=copy.deepcopy(device), forward=io, backward=io, update=deterministic_update(31)
    )
    theirs_cfg.tile_class = TorchTransferTile
    ours_cfg = deterministic_config(kind, n_tiles=1, auto_scale_start="zero")
    in_size, out_size = 5, 3
    theirs = TorchTransferTile(out_size, in_size, theirs_cfg)
    ours = MultiTileTransferTile(out_size, in_size, ours_cfg)
    _copy_state_into_ours(theirs, ours)
    theirs.set_learning_rate(0.3)
    ours.set_learning_rate(0.3)
    n_writes = 0
    for step, (x, d) in enumerate(batches(30, 4, in_size, out_size)):
        assert torch.equal(theirs.tile.forward(x), ours.tile.forward(x))
        theirs.tile.update(x.clone(), d.clone())
        before = ours.tile.replicas[0].tile.get_weights()
        ours.tile.update(x.clone(), d.clone())
        n_writes += int(not torch.equal(before, ours.tile.replicas[0].tile.get_weights()))
        assert torch.equal(
            theirs.tile.weight_tile.tile.get_weights(), ours.tile.replicas[0].tile.get_weights()
        ), step
        assert torch.equal(
            theirs.tile.grad_tile.tile.get_weights(), ours.tile.grad_tiles[0].tile.get_weights()
        ), step
        assert torch.equal(theirs.tile.hidden_weight, ours.tile.hidden_weight), step
        assert torch.equal(theirs.tile.chopper, ours.tile.chopper), step
        assert theirs.tile.m_x == ours.tile.m_x.item() and theirs.tile.m_d == ours.tile.m_d.item()
        assert theirs.tile.transfer_idx == int(ours.tile.transfer_idx)
        if kind == "agad":
            assert torch.equal(theirs.tile.reference_weight, ours.tile.reference_weight[0])
            assert torch.equal(theirs.tile.past_mean_weight, ours.tile.past_mean_weight[0])
    assert n_writes > 5  # the comparison covered real transfers
    assert (ours.tile.chopper < 0).any() or int(ours.tile.chop_counter) > 0


def test_auto_scale_start_differs_from_aihwkit_unless_zero():
    """Negative control for the test above: the "paper" start gives a different trajectory."""
    device = deterministic_compound("agad")
    io = IOParameters(is_perfect=True)
    theirs_cfg = UnitCellRPUConfig(
        device=device, forward=io, backward=io, update=deterministic_update(31)
    )
    theirs = TorchTransferTile(3, 5, theirs_cfg)
    ours = MultiTileTransferTile(3, 5, deterministic_config("agad", auto_scale_start="paper"))
    _copy_state_into_ours(theirs, ours)
    for x, d in batches(5, 4, 5, 3):
        theirs.tile.update(x.clone(), d.clone())
        ours.tile.update(x.clone(), d.clone())
    assert not torch.equal(
        theirs.tile.grad_tile.tile.get_weights(), ours.tile.grad_tiles[0].tile.get_weights()
    )


def test_statistical_agreement_with_aihwkit_when_noisy():
    """Noise on (independent RNGs): the gradient tile A of both implementations agrees closely."""
    torch.manual_seed(3)
    cfg = paper_mnist_config(n_tiles=1, auto_scale_start="zero")
    theirs_cfg = UnitCellRPUConfig(
        device=copy.deepcopy(cfg.device),
        forward=cfg.forward,
        backward=cfg.backward,
        update=cfg.update,
    )
    theirs = TorchTransferTile(6, 12, theirs_cfg)
    ours = MultiTileTransferTile(6, 12, cfg)
    _copy_state_into_ours(theirs, ours)
    theirs.set_learning_rate(0.1)
    ours.set_learning_rate(0.1)
    gen = torch.Generator().manual_seed(0)
    direction = torch.randn(6, 12, generator=gen)
    for _ in range(40):
        x = torch.rand(16, 12, generator=gen)
        d = 0.01 * x @ direction.T + 0.001 * torch.randn(16, 6, generator=gen)
        theirs.tile.update(x.clone(), d.clone())
        ours.tile.update(x.clone(), d.clone())
    a_theirs = theirs.tile.grad_tile.tile.get_weights().flatten()
    a_ours = ours.tile.grad_tiles[0].tile.get_weights().flatten()
    corr = torch.corrcoef(torch.stack([a_theirs, a_ours]))[0, 1]
    assert corr > 0.9
    assert 0.8 < a_ours.abs().mean() / a_theirs.abs().mean() < 1.25
    assert abs(theirs.tile.m_x - ours.tile.m_x.item()) < 1e-12


# ----------------------------------------------------------------------------- replicas
class _RecordingTile:
    """Proxy around an aihwkit C++ tile that records update calls."""

    def __init__(self, tile, log):
        self._tile = tile
        self._log = log

    def __getattr__(self, name):
        return getattr(self._tile, name)

    def update(self, x_input, d_input, *args):
        self._log.append((x_input.clone(), d_input.clone()))
        return self._tile.update(x_input, d_input, *args)


@pytest.mark.parametrize("kind", ["agad", "ttv2", "tt_v1"])
@pytest.mark.parametrize("variant", ["shared_A", "replicated_A"])
def test_every_replica_gets_the_same_write(kind, variant):
    cfg = (
        paper_mnist_config(n_tiles=4, variant=variant)
        if kind == "agad"
        else (
            paper_mnist_tt_v1_config(n_tiles=4, variant=variant)
            if kind == "tt_v1"
            else deterministic_config("ttv2", n_tiles=4, variant=variant)
        )
    )
    tile = MultiTileTransferTile(3, 5, cfg)
    tile.set_learning_rate(0.5)
    logs = [[] for _ in range(4)]
    for replica, log in zip(tile.tile.replicas, logs, strict=True):
        replica.tile = _RecordingTile(replica.tile, log)
    for x, d in batches(12, 6, 5, 3):
        tile.tile.update(x, d)
    assert len(logs[0]) > 0
    for log in logs[1:]:
        assert len(log) == len(logs[0])
        for (x0, d0), (xi, di) in zip(logs[0], log, strict=True):
            assert torch.equal(x0, xi) and torch.equal(d0, di)
    # one-hot inputs on sequential columns
    assert all(int(x.sum()) == 1 and x.dim() == 1 for x, _ in logs[0])


def test_deterministic_replicas_stay_identical():
    torch.manual_seed(0)
    layer = AnalogLinear(5, 3, True, deterministic_config("agad", n_tiles=3))
    opt = AnalogSGD(layer.parameters(), lr=0.5)
    opt.regroup_param_groups(layer)
    start = layer.analog_module.get_replica_weights().clone()
    for x, _ in batches(15, 7, 5, 3):
        opt.zero_grad()
        layer(x).pow(2).sum().backward()
        opt.step()
    weights = layer.analog_module.get_replica_weights()
    assert not torch.equal(weights, start)
    assert torch.equal(weights[0], weights[1]) and torch.equal(weights[0], weights[2])


@pytest.mark.parametrize("batch_size", [7, 2, 9])
def test_uneven_slices_equal_running_each_slice_alone(batch_size):
    """Forward/backward of the batch == each replica run on its own slice (N = 3)."""
    io = IOParameters(
        out_noise=0.0,
        inp_noise=0.0,
        w_noise=0.0,
        out_bound=2.0,
        bound_management=BoundManagementType.ITERATIVE,
        noise_management=NoiseManagementType.ABS_MAX,
    )
    cfg = paper_mnist_config(n_tiles=3, forward=io, backward=copy.deepcopy(io))
    tile = MultiTileTransferTile(4, 6, cfg)
    gen = torch.Generator().manual_seed(batch_size)
    tile.tile.set_replica_weights(torch.randn(3, 4, 6, generator=gen) * 0.5)
    x = torch.rand(batch_size, 6, generator=gen) * 3
    d = torch.randn(batch_size, 4, generator=gen)
    y = tile.tile.forward(x)
    g = tile.tile.backward(d)
    y_alone, g_alone = [], []
    for replica, (a, b) in zip(tile.tile.replicas, slice_bounds(batch_size, 3), strict=True):
        if b > a:
            y_alone.append(replica.tile.forward(x[a:b], False, False, False, False, False))
            g_alone.append(replica.tile.backward(d[a:b], False, False, False, False))
    assert torch.equal(y, torch.cat(y_alone)) and torch.equal(g, torch.cat(g_alone))
    # and the replicas really differ: one replica on the whole batch gives other outputs
    whole = tile.tile.replicas[0].tile.forward(x, False, False, False, False, False)
    assert not torch.equal(whole, y)


def test_idle_replicas_and_replicated_A_slices():
    """N > B: replicas (and gradient tiles) beyond the batch stay untouched."""
    cfg = deterministic_config("agad", n_tiles=4, variant="replicated_A")
    tile = MultiTileTransferTile(3, 5, cfg)
    tile.set_learning_rate(1e-6)  # keep |H| < 1: no write, H holds the summed reads
    grads_before = [g.tile.get_weights().clone() for g in tile.tile.grad_tiles]
    x, d = batches(1, 2, 5, 3)[0]
    tile.tile.update(x, d)
    grads_after = [g.tile.get_weights() for g in tile.tile.grad_tiles]
    assert not torch.equal(grads_before[0], grads_after[0])
    assert not torch.equal(grads_before[1], grads_after[1])
    assert torch.equal(grads_before[2], grads_after[2]) and torch.equal(
        grads_before[3], grads_after[3]
    )
    # reads summed into H: H[k] = lr_h * c_k * sum_i (A_i[:, k] - R_i[k]) with perfect reads
    sim = tile.tile
    k = int(sim.transfer_idx)
    lr_h = 1e-6 / (sim.from_weight_granularity * cfg.device.auto_granularity / (5 * 2))
    expected = lr_h * sum(g[:, k] for g in grads_after)
    assert torch.allclose(sim.hidden_weight[k], expected, rtol=1e-5, atol=1e-12)


def test_tt_v1_write_is_gain_times_lr_times_read():
    cfg = deterministic_config("tt_v1", n_tiles=2, tt_v1_transfer_gain=10.0)
    tile = MultiTileTransferTile(3, 5, cfg)
    tile.set_learning_rate(0.2)
    log = []
    tile.tile.replicas[1].tile = _RecordingTile(tile.tile.replicas[1].tile, log)
    for x, d in batches(3, 4, 5, 3):
        tile.tile.update(x, d)
        k = int(tile.tile.transfer_idx)
        omega = tile.tile.grad_tiles[0].tile.get_weights()[:, k]  # perfect read
        assert torch.allclose(log[-1][1], -10.0 * 0.2 * omega, rtol=1e-6)
        assert float(tile.tile.replicas[1].get_learning_rate()) == pytest.approx(0.2)


@pytest.mark.parametrize("start, expected_m_x", [("paper", None), ("first", 1.0), ("zero", None)])
def test_auto_scale_start_values(start, expected_m_x):
    cfg = paper_mnist_config(auto_scale_start=start)
    tile = MultiTileTransferTile(3, 5, cfg)
    assert tile.tile.m_x.item() == {"paper": 1.0, "first": 0.0, "zero": 0.0}[start]
    x = torch.full((4, 5), 0.5)
    x[0, 0] = 1.0
    d = torch.full((4, 3), 0.01)
    tile.tile.update(x, d)
    tau = (1 - cfg.device.auto_momentum) / 4
    m_x = {"paper": (1 - tau) * 1.0 + tau * 1.0, "first": 1.0, "zero": tau * 1.0}[start]
    assert tile.tile.m_x.item() == pytest.approx(m_x, rel=1e-12)


# ----------------------------------------------------------------------------- checkpointing
def _train(model, opt, data):
    for x, _ in data:
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()


@pytest.mark.parametrize("variant", ["shared_A", "replicated_A"])
def test_state_dict_round_trip_continues_bit_identically(variant, tmp_path):
    def make():
        cfg = deterministic_config("agad", n_tiles=3, variant=variant)
        cfg.mapping.learn_out_scaling = True
        return nn.Sequential(
            AnalogLinear(5, 4, True, cfg), nn.Sigmoid(), AnalogLinear(4, 2, True, cfg)
        )

    torch.manual_seed(0)
    data = batches(16, 7, 5, 2)
    model_a = make()
    opt_a = AnalogSGD(model_a.parameters(), lr=0.5)
    opt_a.regroup_param_groups(model_a)
    _train(model_a, opt_a, data[:8])
    sim = model_a[0].analog_module.tile
    assert int(sim.transfer_idx) != 0 and int(sim.update_counter) == 56
    assert sim.hidden_weight.abs().sum() > 0 and sim.m_x.item() != 0.0
    torch.save(model_a.state_dict(), tmp_path / "ckpt.pt")

    torch.manual_seed(123)
    model_b = make()  # different random init
    model_b.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=False))
    opt_b = AnalogSGD(model_b.parameters(), lr=0.5)
    opt_b.regroup_param_groups(model_b)
    _train(model_a, opt_a, data[8:])
    _train(model_b, opt_b, data[8:])
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key, value in state_a.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, state_b[key]), key
    for layer_a, layer_b in zip(model_a[::2], model_b[::2], strict=True):
        assert torch.equal(
            layer_a.analog_module.get_replica_weights(), layer_b.analog_module.get_replica_weights()
        )
        for ga, gb in zip(
            layer_a.analog_module.tile.grad_tiles,
            layer_b.analog_module.tile.grad_tiles,
            strict=True,
        ):
            assert torch.equal(ga.tile.get_weights(), gb.tile.get_weights())


def test_whole_model_pickle_round_trip(tmp_path):
    cfg = paper_mnist_config(n_tiles=2)
    model = nn.Sequential(AnalogLinear(5, 3, True, cfg))
    opt = AnalogSGD(model.parameters(), lr=0.1)
    opt.regroup_param_groups(model)
    _train(model, opt, batches(3, 4, 5, 3))
    torch.save(model, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt", weights_only=False)
    assert torch.equal(
        model[0].analog_module.get_replica_weights(), loaded[0].analog_module.get_replica_weights()
    )
    assert int(loaded[0].analog_module.tile.update_counter) == 12


def test_inner_tiles_hold_their_analog_context_as_a_buffer(tmp_path):
    """Inner tiles add no optimiser groups; checkpoints keep their keys and class names."""
    from aihwkit.simulator.tiles.analog import AnalogTileWithoutPeriphery
    from aihwkit.simulator.tiles.base import AnalogTileStateNames

    from analog_tt.core.seeding import reseed_analog_tiles

    cfg = paper_mnist_config(n_tiles=4, variant="replicated_A")
    model = nn.Sequential(AnalogLinear(5, 3, True, cfg))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.analog_module.analog_ctx", "0.analog_module.bias"] + [
        "0.analog_module.out_scaling_alpha"
    ]
    keys = list(model.state_dict())
    for i in range(4):
        assert f"0.analog_module.tile.replicas.{i}.analog_ctx" in keys
        assert f"0.analog_module.tile.grad_tiles.{i}.analog_ctx" in keys
    state = model.state_dict()["0.analog_module.tile.replicas.0.analog_tile_state"]
    assert state[AnalogTileStateNames.CLASS] == AnalogTileWithoutPeriphery.__name__
    opt = AnalogSGD(model.parameters(), lr=0.1)
    opt.regroup_param_groups(model)
    assert len(opt.param_groups) == 2  # bias + alpha, and the layer's analog context
    # rebuilding the C++ tiles (reseed, state-dict load) keeps the context a buffer
    reseed_analog_tiles(model, 3)
    model.load_state_dict(model.state_dict())
    assert [name for name, _ in model.named_parameters()] == names
    _train(model, opt, batches(3, 4, 5, 3))
    torch.save(model, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt", weights_only=False)
    assert [name for name, _ in loaded.named_parameters()] == names


@pytest.mark.parametrize("n_tiles, batch_size", [(4, 10), (8, 8), (16, 5), (3, 64)])
def test_batched_bound_management_count_equals_per_replica_count(n_tiles, batch_size):
    """The batched bm-round count of the forward pass equals the per-replica criterion."""
    from analog_tt.tiles.counting import bound_management_rounds, collect_op_counts

    io = IOParameters(
        out_noise=0.0,
        out_bound=1.0,
        bound_management=BoundManagementType.ITERATIVE,
        noise_management=NoiseManagementType.ABS_MAX,
    )
    config = paper_mnist_config(n_tiles=n_tiles, count_ops=True, forward=io)
    layer = AnalogLinear(12, 5, True, config)
    gen = torch.Generator().manual_seed(1)
    weights = torch.rand(n_tiles, 5, 12, generator=gen) * torch.linspace(0.6, 0.05, n_tiles).view(
        -1, 1, 1
    )
    layer.analog_module.tile.set_replica_weights(weights)
    x = torch.rand(batch_size, 12, generator=gen)
    layer(x)
    counts = collect_op_counts(nn.Sequential(layer))["0"]["forward"]
    rounds = vectors = 0
    replica_weights = layer.analog_module.get_replica_weights()
    for i, (start, stop) in enumerate(slice_bounds(batch_size, n_tiles)):
        if stop > start:
            extra = bound_management_rounds(replica_weights[i], x[start:stop], io) - 1
            rounds += extra
            vectors += extra * (stop - start)
    assert rounds > 0
    assert counts["bm_rounds"] == rounds and counts["bm_vectors"] == vectors


# ----------------------------------------------------------------------------- bad configs
@pytest.mark.parametrize(
    "fields, exc, match",
    [
        (dict(n_tiles=0), ValueError, "n_tiles"),
        (dict(n_tiles=-2), ValueError, "n_tiles"),
        (dict(n_tiles=2.0), ValueError, "n_tiles"),
        (dict(variant="shared"), ValueError, "variant"),
        (dict(auto_scale_start="one"), ValueError, "auto_scale_start"),
        (dict(count_ops="yes"), ValueError, "count_ops"),
        (dict(tt_v1_transfer_gain=0.0), ValueError, "tt_v1_transfer_gain"),
    ],
)
def test_bad_fields_raise_naming_the_field(fields, exc, match):
    with pytest.raises(exc, match=match):
        paper_mnist_config(**fields)


@pytest.mark.parametrize(
    "device, match",
    [
        (ConstantStepDevice(), "device must be a TransferCompound"),
        (BufferedTransferCompound(unit_cell_devices=[ConstantStepDevice()] * 2), "device must be"),
        (
            ChoppedTransferCompound(
                unit_cell_devices=[ConstantStepDevice()] * 2, n_reads_per_transfer=2
            ),
            "n_reads_per_transfer",
        ),
        (
            ChoppedTransferCompound(
                unit_cell_devices=[ConstantStepDevice()] * 2,
                transfer_every=0.5,
                units_in_mbatch=True,
            ),
            "transfer_every",
        ),
        (
            ChoppedTransferCompound(
                unit_cell_devices=[ConstantStepDevice()] * 2, transfer_columns=False
            ),
            "transfer_columns",
        ),
        (
            ChoppedTransferCompound(unit_cell_devices=[ConstantStepDevice()] * 3),
            "unit_cell_devices",
        ),
        (
            DynamicTransferCompound(
                unit_cell_devices=[ConstantStepDevice()] * 2, experimental_correct_accumulation=True
            ),
            "experimental_correct_accumulation",
        ),
        (TransferCompound(unit_cell_devices=[ConstantStepDevice()] * 2, gamma=0.5), "gamma"),
    ],
)
def test_unsupported_compounds_raise_config_error(device, match):
    with pytest.raises(ConfigError, match=match):
        MultiTileRPUConfig(device=device)


def test_errors_raised_at_tile_build_and_run_time():
    cfg = paper_mnist_config()
    cfg.n_tiles = 0  # changed after validation
    with pytest.raises(ValueError, match="n_tiles"):
        AnalogLinear(4, 3, True, cfg)
    cfg = paper_mnist_config()
    cfg.mapping.digital_bias = False
    with pytest.raises(ConfigError, match="digital_bias"):
        AnalogLinear(4, 3, True, cfg)
    cfg = paper_mnist_config()
    cfg.mapping.max_input_size = 512
    with pytest.raises(ConfigError, match="max_input_size"):
        AnalogLinear(4, 3, True, cfg)
    cfg = paper_mnist_config()
    cfg.device.units_in_mbatch = False  # transfer every sample: B transfers per batch
    tile = MultiTileTransferTile(3, 4, cfg)
    with pytest.raises(ConfigError, match="more than one transfer"):
        tile.tile.update(torch.rand(4, 4), torch.randn(4, 3))


def test_preset_overrides_are_checked():
    cfg = paper_mnist_config(n_tiles=8, bl=5, lr=0.05, count_ops=True)
    assert cfg.n_tiles == 8 and cfg.update.desired_bl == 5 and cfg.device.fast_lr == 0.05
    assert cfg.count_ops and cfg.auto_scale_start == "paper" and cfg.mapping.learn_out_scaling
    with pytest.raises(ValueError, match="unknown config field"):
        paper_mnist_config(n_tile=8)
    with pytest.raises(ValueError, match="algorithm"):
        spiral_config(algorithm="sgd")


def test_paper_mnist_preset_values():
    """The preset holds the paper's MNIST settings (seed analysis §1.11)."""
    cfg = paper_mnist_config(n_tiles=8, bl=31, lr=0.1)
    dev = cfg.device
    assert isinstance(dev, DynamicTransferCompound)
    for cell in dev.unit_cell_devices:
        assert (cell.gamma_up, cell.gamma_down, cell.allow_increasing) == (-0.38, 0.76, True)
        assert cell.dw_min == 0.002
    assert (dev.fast_lr, dev.auto_granularity, dev.tail_weightening) == (0.1, 750, 50.0)
    assert (dev.in_chop_prob, dev.in_chop_random, dev.units_in_mbatch) == (0.005, False, True)
    assert (dev.transfer_every, dev.auto_scale, dev.auto_momentum) == (1, True, 0.99)
    assert dev.transfer_update.desired_bl == 1 and not dev.transfer_update.update_management
    assert dev.transfer_forward.noise_management == NoiseManagementType.NONE
    assert dev.transfer_forward.bound_management == BoundManagementType.NONE
    assert cfg.update.desired_bl == 31 and cfg.update.update_bl_management
    fwd = cfg.forward
    assert (fwd.out_noise, fwd.out_bound, fwd.inp_res, fwd.out_res) == (
        0.1,
        20.0,
        1 / 126,
        1 / 510,
    )
    assert fwd.bound_management == BoundManagementType.ITERATIVE
    assert cfg.mapping.learn_out_scaling and not cfg.mapping.out_scaling_columnwise
    assert cfg.mapping.digital_bias and cfg.auto_scale_start == "paper"
    assert paper_mnist_tt_v1_config().tt_v1_transfer_gain == 10.0


def test_checkpoint_of_another_replica_count_is_refused():
    from aihwkit.nn import AnalogLinear

    from analog_tt.presets import paper_mnist_config

    eight = AnalogLinear(4, 3, rpu_config=paper_mnist_config(n_tiles=8))
    same = AnalogLinear(4, 3, rpu_config=paper_mnist_config(n_tiles=8))
    same.load_state_dict(eight.state_dict())
    four = AnalogLinear(4, 3, rpu_config=paper_mnist_config(n_tiles=4))
    with pytest.raises(ValueError, match="the checkpoint holds 8, this layer has 4"):
        four.load_state_dict(eight.state_dict())
    shared = AnalogLinear(4, 3, rpu_config=paper_mnist_config(n_tiles=4))
    replicated = AnalogLinear(
        4, 3, rpu_config=paper_mnist_config(n_tiles=4, variant="replicated_A")
    )
    with pytest.raises(ValueError, match="grad_tiles: the checkpoint holds 4, this layer has 1"):
        shared.load_state_dict(replicated.state_dict())


def test_a_multi_tile_checkpoint_into_a_plain_aihwkit_layer_fails_naming_both_tiles():
    from aihwkit.exceptions import TileError
    from aihwkit.nn import AnalogLinear
    from aihwkit.simulator.configs import InferenceRPUConfig, SingleRPUConfig

    from analog_tt.presets import paper_mnist_config

    multi = AnalogLinear(4, 3, rpu_config=paper_mnist_config(n_tiles=2))
    for config, name in (
        (SingleRPUConfig(), "AnalogTile"),
        (InferenceRPUConfig(), "InferenceTile"),
    ):
        plain = AnalogLinear(4, 3, rpu_config=config)
        with pytest.raises(TileError, match=f"between MultiTileTransferTile and {name}"):
            plain.load_state_dict(multi.state_dict())  # was: KeyError 'analog_tile_weights'
    again = AnalogLinear(4, 3, rpu_config=paper_mnist_config(n_tiles=2))
    again.load_state_dict(multi.state_dict())  # the fields it adds do not stick to the tile
    assert not [k for k in vars(again.analog_module) if k.startswith("analog_tile_")]
    torch.testing.assert_close(again.get_weights()[0], multi.get_weights()[0])


def test_dtype_changes_are_refused_clearly_and_float_is_a_no_op():
    from aihwkit.exceptions import ConfigError
    from aihwkit.nn import AnalogLinear, AnalogSequential

    from analog_tt.presets import paper_mnist_config

    model = AnalogSequential(AnalogLinear(4, 3, True, paper_mnist_config(n_tiles=2)))
    before = model[0].analog_module.get_replica_weights()
    for cast in (model.double, model.half, lambda: model.to(torch.float64)):
        with pytest.raises(ConfigError, match="float32 only .* cast the inputs with x.float"):
            cast()  # was: TileModuleError "Applied function is not supported" x 6
    model.float()  # aihwkit's own tiles recurse without end here
    model.to("cpu")
    assert model(torch.rand(2, 4)).dtype == torch.float32
    assert torch.equal(model[0].analog_module.get_replica_weights(), before)


def test_conv1d_and_conv3d_fail_at_the_first_forward_naming_indexed_computation():
    """The README's stated limit: aihwkit's indexed convolution is not implemented."""
    from aihwkit.exceptions import ModuleError
    from aihwkit.nn import AnalogConv1d, AnalogConv3d

    from analog_tt.presets import paper_mnist_config

    config = paper_mnist_config(n_tiles=2)
    for layer, x in ((AnalogConv1d(1, 2, 3, rpu_config=config), torch.rand(2, 1, 8)),
                     (AnalogConv3d(1, 2, 3, rpu_config=config), torch.rand(2, 1, 4, 4, 4))):  # fmt: skip
        with pytest.raises(ModuleError, match="does not support indexed computation"):
            layer(x)


@pytest.mark.parametrize("n_tiles", [1, 4])
def test_forward_of_an_empty_batch(n_tiles):
    from aihwkit.nn import AnalogLinear

    from analog_tt.presets import paper_mnist_config

    layer = AnalogLinear(5, 3, rpu_config=paper_mnist_config(n_tiles=n_tiles))
    assert layer(torch.zeros(0, 5)).shape == (0, 3)


def test_replacing_the_rpu_config_in_place_says_what_to_do():
    from aihwkit.nn import AnalogLinear, AnalogSequential

    from analog_tt.presets import paper_mnist_config

    model = AnalogSequential(AnalogLinear(4, 3, rpu_config=paper_mnist_config(n_tiles=2)))
    with pytest.raises(NotImplementedError, match="build the model again"):
        model.replace_rpu_config(paper_mnist_config(n_tiles=2))


@pytest.mark.parametrize("variant", ["shared_A", "replicated_A"])
def test_one_layer_is_one_analog_tile_to_aihwkits_tile_apis(variant):
    from aihwkit.nn import AnalogSequential

    from analog_tt.core.seeding import all_named_modules, reseed_analog_tiles
    from analog_tt.tiles.tile import MultiTileTransferTile

    torch.manual_seed(0)
    model = AnalogSequential(
        AnalogLinear(12, 6, True, paper_mnist_config(n_tiles=3, variant=variant)),
        nn.Sigmoid(),
        AnalogLinear(6, 4, True, paper_mnist_config(n_tiles=2, variant=variant)),
    )
    assert model.analog_tile_count() == 2
    assert all(isinstance(t, MultiTileTransferTile) for t in model.analog_tiles())
    assert len(model.get_analog_tile_devices()) == 2
    weights = model.get_weights()  # crashed on the inner tiles before
    assert [w.shape for w, _ in weights.values()] == [(6, 12), (4, 6)]
    model.set_weights(weights)
    for (w_in, _), (w_out, _) in zip(weights.values(), model.get_weights().values(), strict=True):
        torch.testing.assert_close(w_out, w_in, atol=1e-6, rtol=0)
    model.remap_analog_weights()
    # the inner tiles are still children: checkpoints keep them, and the seeding reaches them
    assert any(".replicas.2." in key for key in model.state_dict())
    n_inner = (3 + 2) + (1 + 1 if variant == "shared_A" else 3 + 2)
    assert reseed_analog_tiles(model, 1) == n_inner
    assert sum(".replicas." in name for name, _ in all_named_modules(model)) == 3 + 2


@pytest.mark.parametrize("where", ["compound", "device"])
def test_a_construction_seed_gives_every_replica_its_own_reproducible_variation(where):
    def device_bounds():
        config = paper_mnist_config(n_tiles=3, variant="replicated_A")
        if where == "compound":
            config.device.construction_seed = 5
        else:
            for device in config.device.unit_cell_devices:
                device.construction_seed = 7
        sim = AnalogLinear(10, 5, False, config).analog_module.tile
        tiles = list(sim.replicas) + list(sim.grad_tiles)
        return [t.tile.get_hidden_parameters()[0].clone() for t in tiles]  # max_bound

    first, second = device_bounds(), device_bounds()
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))  # reproducible
    for i in range(len(first)):
        for j in range(i + 1, len(first)):
            assert not torch.equal(first[i], first[j]), (i, j)  # a separate array each


def test_hidden_parameters_name_a_c_and_h_as_aihwkits_transfer_tile_does():
    torch.manual_seed(0)
    config = paper_mnist_config(n_tiles=2, variant="replicated_A")
    sim = AnalogLinear(10, 5, True, config).analog_module.tile
    names = sim.get_hidden_parameter_names()
    for name in ("fast_weight", "fast_weight_1", "slow_weight", "slow_weight_1", "hidden_weight"):
        assert name in names, name
    assert "past_mean_weight_1" in names and "reference_weight" in names  # AGAD, per A tile
    params = sim.get_hidden_parameters()
    assert params.shape == (len(names), 5, 10)
    torch.testing.assert_close(params[names.index("slow_weight_1")], sim.get_replica_weights()[1])
    changed = params.clone()
    changed[names.index("slow_weight_1")] = 0.3
    changed[names.index("hidden_weight")] = 0.25
    sim.set_hidden_parameters(changed)
    assert torch.allclose(sim.get_replica_weights()[1], torch.tensor(0.3))
    assert torch.allclose(sim.hidden_weight, torch.tensor(0.25))  # [in, out] inside
    torch.testing.assert_close(sim.get_hidden_parameters(), changed)
    with pytest.raises(ValueError, match="get_hidden_parameter_names"):
        sim.set_hidden_parameters(changed[:-3])


def test_a_learning_rate_given_twice_and_differently_is_warned_about_once():
    import warnings

    config = paper_mnist_config(n_tiles=2, lr=0.1)
    x = torch.rand(4, 6)
    for lr, warns in ((0.1, False), (0.05, True)):
        layer = AnalogLinear(6, 3, True, config)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            opt = AnalogSGD(layer.parameters(), lr=lr)
            opt.regroup_param_groups(layer)
            for _ in range(3):
                opt.zero_grad()
                layer(x).sum().backward()
                opt.step()
        mismatch = [w for w in caught if "optimizer_lr" in str(w.message)]
        assert len(mismatch) == (1 if warns else 0), (lr, [str(w.message) for w in caught])
    config.optimizer_lr = None  # a scheduler changing the lr on purpose: no check
    layer = AnalogLinear(6, 3, True, config)
    opt = AnalogSGD(layer.parameters(), lr=0.05)
    opt.regroup_param_groups(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x).sum().backward()
        opt.step()
    with pytest.raises(ValueError, match="optimizer_lr"):
        paper_mnist_config(optimizer_lr=-1.0)


def test_a_realistic_read_of_diverged_replicas_is_their_mean():
    torch.manual_seed(0)
    layer = AnalogLinear(40, 6, True, paper_mnist_config(n_tiles=3))
    tile = layer.analog_module
    tile.tile.set_replica_weights(torch.stack([torch.full((6, 40), v) for v in (0.1, 0.2, 0.3)]))
    weight, bias = tile.read_weights()
    assert weight.shape == (6, 40) and bias is not None
    # out_noise 0.1 per read, 400 probes, averaged over 3 replicas: error std about 0.003
    assert abs(float(weight.mean()) - 0.2) < 0.005 and float((weight - 0.2).std()) < 0.01
    realistic, _ = tile.get_weights(apply_weight_scaling=False, realistic=True)
    assert abs(float(realistic.mean()) - 0.2) < 0.005


def test_programming_a_replicated_layer_programs_every_replica():
    from aihwkit.simulator.parameters.io import IOParameters

    torch.manual_seed(0)
    target = torch.rand(8, 20) * 0.4 - 0.2
    errors = {}
    for n in (1, 3):
        config = paper_mnist_config(n_tiles=n, forward=IOParameters(is_perfect=True))
        tile = AnalogLinear(20, 8, False, config).analog_module
        tile.set_weights(target)  # the reference
        tile.program_weights()
        replicas = tile.tile.get_replica_weights()
        errors[n] = float((replicas - target).abs().mean(dim=(1, 2)).max())  # the worst replica
    assert errors[3] <= 1.5 * errors[1] + 1e-3, errors


def test_a_convolution_gives_each_replica_whole_images():
    from aihwkit.nn import AnalogConv2d
    from aihwkit.simulator.parameters.io import IOParameters

    torch.manual_seed(0)
    perfect = IOParameters(is_perfect=True)
    config = paper_mnist_config(n_tiles=2, forward=perfect, backward=perfect)
    conv = AnalogConv2d(1, 3, kernel_size=3, bias=True, rpu_config=config)
    sim = conv.analog_module.tile
    weights = torch.stack([torch.full((3, 9), 0.1), torch.full((3, 9), -0.2)])
    sim.set_replica_weights(weights)
    bias = conv.analog_module.bias.detach()
    x = torch.rand(3, 1, 6, 6)  # 3 images of 16 patches: 2 + 1, not 24 + 24 patches
    out = conv(x)
    scale = conv.analog_module.get_scales().detach()
    for image, replica in ((0, 0), (1, 0), (2, 1)):
        kernel = weights[replica].view(3, 1, 3, 3) * scale.view(-1, 1, 1, 1)
        expected = torch.nn.functional.conv2d(x[image : image + 1], kernel, bias)
        torch.testing.assert_close(out[image : image + 1], expected, atol=1e-5, rtol=1e-5)
    # the transfer period and the auto-scale time constant count images, not patches
    before = int(sim.update_counter)
    sim.update(torch.rand(4, 16, 9), torch.rand(4, 16, 3))  # 4 images of 16 patches
    assert int(sim.update_counter) - before == 4


def test_a_small_analog_cnn_learns_with_replicas():
    from aihwkit.nn import AnalogConv2d

    # TT-v1 (AGAD writes one pulse per transfer and needs far more steps than a test affords)
    torch.manual_seed(0)
    config = paper_mnist_tt_v1_config(n_tiles=2, lr=0.5)
    model = nn.Sequential(
        AnalogConv2d(1, 4, kernel_size=3, bias=True, rpu_config=config),
        nn.Sigmoid(),
        nn.Flatten(),
        AnalogLinear(4 * 6 * 6, 2, True, config),
    )
    gen = torch.Generator().manual_seed(1)
    y = torch.arange(64) % 2
    x = torch.rand(64, 1, 8, 8, generator=gen) * 0.5
    x[y == 1, :, :4] += 0.5  # class 1: a bright top half
    opt = AnalogSGD(model.parameters(), lr=0.5)
    opt.regroup_param_groups(model)
    losses = []
    for _ in range(120):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10, losses[::10]
    assert float((model(x).argmax(dim=1) == y).float().mean()) > 0.9


def test_forward_parameters_per_replica():
    single = AnalogLinear(6, 3, True, paper_mnist_config(n_tiles=1)).analog_module
    assert set(single.get_forward_parameters()) >= {"out_noise_values", "v_offset"}
    tile = AnalogLinear(6, 3, True, paper_mnist_config(n_tiles=3)).analog_module
    params = tile.get_forward_parameters()
    assert all(value.shape[0] == 3 for value in params.values())
    tile.set_forward_parameters(params)  # round trip
    with pytest.raises(ValueError, match="one value per replica"):
        tile.set_forward_parameters(out_nonlinearity_factor=torch.ones(1))
