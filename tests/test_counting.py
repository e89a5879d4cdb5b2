"""Tests of the operation counting (analog_tt.counting)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from aihwkit.nn import AnalogLinear
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType
from aihwkit.simulator.parameters.io import IOParameters
from aihwkit.simulator.tiles.analog_mvm import AnalogMVM
from torch import nn

from analog_tt.presets import paper_mnist_config, paper_mnist_tt_v1_config
from analog_tt.tiles.counting import (
    COUNT_KEYS,
    PHASES,
    bound_management_rounds,
    collect_op_counts,
    reset_op_counts,
)
from analog_tt.tiles.layers import record_ops

torch.set_num_threads(1)

BATCH_SIZES = [7, 4, 2, 9]


def _net(config) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        AnalogLinear(5, 4, True, config), nn.Sigmoid(), AnalogLinear(4, 3, True, config)
    )


def _train(model: nn.Sequential, batch_sizes, lr: float = 0.1) -> None:
    opt = AnalogSGD(model.parameters(), lr=lr)
    opt.regroup_param_groups(model)
    gen = torch.Generator().manual_seed(0)
    for batch in batch_sizes:
        opt.zero_grad()
        model(torch.rand(batch, 5, generator=gen)).pow(2).sum().backward()
        opt.step()


def _expected(batch_sizes, n_tiles, variant, desired_bl, transfer_bl, write_each_batch=True):
    ceil = [math.ceil(b / n_tiles) for b in batch_sizes]
    total = sum(batch_sizes)
    n_grad = n_tiles if variant == "replicated_A" else 1
    n_batches = len(batch_sizes)
    zero = dict.fromkeys(COUNT_KEYS, 0)
    return {
        "forward": {**zero, "vectors": total, "sequential": sum(ceil)},
        "backward": {**zero, "vectors": total, "sequential": sum(ceil)},
        "update_A": {
            **zero,
            "vectors": total,
            "sequential": total if variant == "shared_A" else sum(ceil),
            "pulses": total * desired_bl,
        },
        "transfer_read": {**zero, "vectors": n_batches * n_grad, "sequential": n_batches},
        "transfer_write": {
            **zero,
            "vectors": n_batches * n_tiles,
            "sequential": n_batches,
            "pulses": n_batches * n_tiles * transfer_bl,
        },
        "program": dict(zero),
        "read": dict(zero),
        "batches": n_batches,
        "samples": total,
    }


@pytest.mark.parametrize("variant", ["shared_A", "replicated_A"])
@pytest.mark.parametrize("n_tiles", [1, 3, 8])
def test_counts_equal_closed_form_agad(variant, n_tiles):
    # bound management off in the forward so that bm_rounds is 0 and the rest is closed form
    io = IOParameters(bound_management=BoundManagementType.NONE)
    config = paper_mnist_config(n_tiles=n_tiles, variant=variant, bl=31, count_ops=True, forward=io)
    config.device.auto_granularity = 0.0  # lr_h = lr / g_A = 500
    config.device.transfer_forward.out_noise = 1.0  # reads rarely round to 0 on the 9-bit ADC
    model = _net(config)
    _train(model, BATCH_SIZES, lr=1.0)
    counts = collect_op_counts(model)
    assert set(counts) == {"0", "2"}
    # a read of std 1 times lr_h = 500 makes every write non-zero (an all-zero write needs
    # every read of the column to quantise to 0: probability ~3e-5 per transfer)
    expected = _expected(BATCH_SIZES, n_tiles, variant, 31, 1)
    for layer in ("0", "2"):
        assert counts[layer] == expected, layer
    json.dumps(counts)  # plain JSON
    assert all(type(v) is int for rec in counts.values() for ph in PHASES for v in rec[ph].values())


def test_counts_tt_v1_write_pulses():
    io = IOParameters(bound_management=BoundManagementType.NONE)
    config = paper_mnist_tt_v1_config(n_tiles=2, count_ops=True, forward=io)
    model = _net(config)
    _train(model, BATCH_SIZES)
    counts = collect_op_counts(model)
    assert counts["0"] == _expected(BATCH_SIZES, 2, "shared_A", 31, 31)


def test_counting_off_and_reset_and_eval():
    config = paper_mnist_config(n_tiles=2)
    model = _net(config)
    _train(model, [4, 4])
    assert all(
        rec[ph][key] == 0 and rec["batches"] == 0
        for rec in collect_op_counts(model).values()
        for ph in PHASES
        for key in COUNT_KEYS
    )
    config = paper_mnist_config(n_tiles=2, count_ops=True)
    model = _net(config)
    _train(model, [4, 4])
    assert collect_op_counts(model)["0"]["batches"] == 2
    model.eval()
    with torch.no_grad():
        model(torch.rand(10, 5))
    assert collect_op_counts(model)["0"]["forward"]["vectors"] == 8  # eval forward not counted
    record_ops(model[0], "read", vectors=50, sequential=25)
    assert collect_op_counts(model)["0"]["read"]["vectors"] == 50
    with pytest.raises(ValueError, match="phase"):
        record_ops(model[0], "erase", 1, 1)
    reset_op_counts(model)
    counts = collect_op_counts(model)
    assert counts["0"]["batches"] == 0 and counts["0"]["read"]["vectors"] == 0


def _aihwkit_output(weight, x, io):
    return AnalogMVM.matmul(weight, x, io)


def test_bound_management_rounds_match_aihwkit_criterion():
    io = IOParameters(
        out_noise=0.0,
        inp_noise=0.0,
        w_noise=0.0,
        out_bound=20.0,
        inp_res=-1.0,
        out_res=-1.0,
        bound_management=BoundManagementType.ITERATIVE,
        noise_management=NoiseManagementType.ABS_MAX,
    )
    x = torch.ones(3, 20)
    # y = 40 per row: round 1 clips at 20, round 2 (input halved) gives exactly 20: passes
    assert bound_management_rounds(torch.full((2, 20), 2.0), x, io) == 2
    assert bound_management_rounds(torch.full((2, 20), 0.5), x, io) == 1
    assert bound_management_rounds(torch.full((2, 20), 7.0), x, io) == 4  # 140, 70, 35, 17.5
    # against aihwkit's own python implementation: the output is un-clipped iff BM ran
    # enough rounds, and then equals W x
    gen = torch.Generator().manual_seed(0)
    for scale in (0.1, 1.0, 10.0, 30.0):
        weight = torch.randn(4, 20, generator=gen) * scale
        inputs = torch.rand(5, 20, generator=gen)
        rounds = bound_management_rounds(weight, inputs, io)
        reference = _aihwkit_output(weight, inputs.clone(), io)
        exact = inputs @ weight.T
        assert torch.allclose(reference, exact, rtol=1e-4, atol=1e-4)
        if scale >= 10.0:
            assert rounds > 1
        # one round fewer would clip
        if rounds > 1:
            nm = inputs.abs().max(dim=-1, keepdim=True)[0]
            previous = (inputs / nm / 2 ** (rounds - 2)) @ weight.T
            assert previous.abs().max() > io.out_bound


def test_bm_rounds_counted_in_forward():
    io = IOParameters(
        out_noise=0.0,
        out_bound=0.5,
        bound_management=BoundManagementType.ITERATIVE,
        noise_management=NoiseManagementType.ABS_MAX,
    )
    config = paper_mnist_config(n_tiles=2, count_ops=True, forward=io)
    layer = AnalogLinear(6, 3, True, config)
    weights = torch.full((2, 3, 6), 0.4)
    layer.analog_module.tile.set_replica_weights(weights)
    x = torch.ones(5, 6)  # y = 2.4 per output: needs 4 rounds (2.4, 1.2, 0.6, 0.3) per slice
    layer(x)
    counts = collect_op_counts(nn.Sequential(layer))["0"]["forward"]
    assert counts["bm_rounds"] == 2 * 3
    assert counts["bm_vectors"] == 3 * 3 + 3 * 2
