"""The same seed gives bit-identical analog training, in separate processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from replica_helpers import train_batches

SCRIPT = r"""
import sys
import analog_tt
from analog_tt.core.seeding import seed_everything
import torch
from aihwkit.nn import AnalogLinear
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.presets import EcRamPreset

seed_everything(int(sys.argv[1]), strict=True)
layer = AnalogLinear(6, 4, rpu_config=EcRamPreset())
opt = AnalogSGD(layer.parameters(), lr=0.1)
opt.regroup_param_groups(layer)
x, target = torch.rand(16, 6), torch.rand(16, 4)
for _ in range(10):
    opt.zero_grad()
    ((layer(x) - target) ** 2).sum().backward()
    opt.step()
w = layer.get_weights()[0]
print(repr(w.flatten().tolist()))
"""


def _train(seed: int) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(seed)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_clock_helper_is_active():
    from analog_tt.core import determinism as _determinism

    assert _determinism.active(), _determinism.why_inactive()


def test_same_seed_same_analog_weights_across_processes():
    first, second, other = _train(3), _train(3), _train(4)
    assert first == second
    assert first != other


def test_bad_seed_is_rejected():
    import pytest

    from analog_tt.core.seeding import seed_everything

    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            seed_everything(bad)


def _train_steps(layer, n, x, target):
    """``n`` AnalogSGD steps (lr 0.1) on a squared loss, with a fresh optimizer."""
    from aihwkit.optim import AnalogSGD

    opt = AnalogSGD(layer.parameters(), lr=0.1)
    opt.regroup_param_groups(layer)
    for _ in range(n):
        opt.zero_grad()
        ((layer(x) - target) ** 2).sum().backward()
        opt.step()


def test_reseeding_makes_a_resumed_run_bit_identical():
    import torch
    from aihwkit.nn import AnalogLinear
    from aihwkit.simulator.presets import EcRamPreset

    from analog_tt.core.seeding import reseed_analog_tiles, seed_everything

    seed_everything(11)
    x, target = torch.rand(16, 6), torch.rand(16, 4)
    layer = AnalogLinear(6, 4, rpu_config=EcRamPreset())
    _train_steps(layer, 5, x, target)
    checkpoint = {k: v.clone() if torch.is_tensor(v) else v for k, v in layer.state_dict().items()}
    assert reseed_analog_tiles(layer, 99) == 1
    _train_steps(layer, 5, x, target)
    uninterrupted = layer.get_weights()[0]

    seed_everything(12)  # a different process history before the resume
    resumed = AnalogLinear(6, 4, rpu_config=EcRamPreset())
    resumed.load_state_dict(checkpoint)
    reseed_analog_tiles(resumed, 99)
    _train_steps(resumed, 5, x, target)
    assert torch.equal(resumed.get_weights()[0], uninterrupted)

    other = AnalogLinear(6, 4, rpu_config=EcRamPreset())
    other.load_state_dict(checkpoint)
    reseed_analog_tiles(other, 100)  # another seed: another pulse-noise draw
    _train_steps(other, 5, x, target)
    assert not torch.equal(other.get_weights()[0], uninterrupted)


def test_multi_tile_checkpoint_resume_is_bit_identical_with_noise_on():
    """The paper's noisy AGAD preset, 3 replicas: resume = uninterrupted, through state_dict."""
    import torch
    from aihwkit.nn import AnalogLinear

    from analog_tt.core.seeding import reseed_analog_tiles, seed_everything
    from analog_tt.presets import paper_mnist_config

    def make():
        return AnalogLinear(12, 5, bias=True, rpu_config=paper_mnist_config(n_tiles=3, bl=5))

    seed_everything(5)
    x, target = torch.rand(8, 12), torch.rand(8, 5)
    layer = make()
    _train_steps(layer, 4, x, target)
    checkpoint = {k: v.clone() if torch.is_tensor(v) else v for k, v in layer.state_dict().items()}
    assert reseed_analog_tiles(layer, 7) >= 4  # 3 replicas + 1 gradient tile
    _train_steps(layer, 6, x, target)
    uninterrupted = layer.analog_module.get_replica_weights()

    seed_everything(6)
    resumed = make()
    resumed.load_state_dict(checkpoint)
    reseed_analog_tiles(resumed, 7)
    _train_steps(resumed, 6, x, target)
    assert torch.equal(resumed.analog_module.get_replica_weights(), uninterrupted)


@pytest.mark.parametrize(("first", "expected"), [("aihwkit", False), ("analog_tt", True)])
def test_import_order_is_detected_and_reported(first, expected):
    """aihwkit imported before analog_tt (no LD_PRELOAD): its tiles keep the real clock, and
    determinism.active(), seed_everything's warning and a run's provenance say so."""
    imports = (
        "from aihwkit.nn import AnalogLinear\nimport analog_tt\n"
        if first == "aihwkit"
        else "import analog_tt\nfrom aihwkit.nn import AnalogLinear\n"
    )
    code = imports + textwrap.dedent(
        """
        import json, warnings
        from analog_tt.core import determinism
        from analog_tt.runs import RunConfig, run
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run(RunConfig(dataset="spiral", network="2-8-3-relu-x25", algorithm="analog_sgd",
                                   n_per_class=10, epochs=1, batch_size=10), progress=False)
        print(json.dumps({"active": determinism.active(),
                          "provenance": result["provenance"]["bitwise_reproducible"],
                          "warned": any("cannot be seeded" in str(w.message) for w in caught)}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {"active": expected, "provenance": expected, "warned": not expected}


@pytest.mark.parametrize("dataset", ["mnist", "spiral"])
def test_rebuilding_tiles_keeps_every_hidden_parameter(dataset):
    """Reseeding rebuilds aihwkit's C++ tiles through __setstate__, which rewrites the fast weights
    of a TransferCompound (TT-v1) when it sets the weights; the rebuild and a checkpoint load
    (with restore_hidden_parameters) must keep the whole state."""
    import torch
    from aihwkit.simulator.tiles.base import SimulatorTileWrapper

    from analog_tt.core.seeding import (
        reseed_analog_tiles,
        restore_hidden_parameters,
        seed_everything,
    )
    from analog_tt.runs import RunConfig
    from analog_tt.runs.models import build_model, build_optimizer, load_dataset

    def state(model):
        return [
            (m.tile.get_weights().clone(), m.tile.get_hidden_parameters().clone())
            for m in model.modules()
            if isinstance(m, SimulatorTileWrapper) and not isinstance(m.tile, torch.nn.Module)
        ]

    extra = {"network": "2-64-3-relu-x25", "out_noise": 0.04} if dataset == "spiral" else {}
    cfg = RunConfig(dataset=dataset, algorithm="tt_v1", batch_size=32, train_subset=320, **extra)
    seed_everything(0)
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    train_batches(model, optimizer, *load_dataset(cfg)[:2], n=320, batch=32)
    before = state(model)
    assert reseed_analog_tiles(model, 7) == len(before)
    after = state(model)
    loaded = build_model(cfg)
    loaded.load_state_dict(model.state_dict())
    restore_hidden_parameters(loaded, model.state_dict())
    for got in (after, state(loaded)):
        for (w0, h0), (w1, h1) in zip(before, got, strict=True):
            assert torch.equal(w0, w1) and torch.equal(h0, h1)


@pytest.mark.parametrize("algorithm", ["analog_sgd", "tt_v1"])
def test_the_optimizer_still_updates_tiles_after_they_are_rebuilt(algorithm):
    """Rebuilding a tile must keep the AnalogContext the optimizer steps: before the fix, every
    aihwkit analog SGD / TT-v1 run stopped updating its analog weights at the first reseed."""
    import torch

    from analog_tt.core.seeding import reseed_analog_tiles, seed_everything
    from analog_tt.runs import RunConfig
    from analog_tt.runs.models import build_model, build_optimizer, load_dataset

    cfg = RunConfig(algorithm=algorithm, train_subset=640)
    seed_everything(0)
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    reseed_analog_tiles(model, 3)  # as run() does at every epoch start
    before = [w.clone() for w in (layer.get_weights()[0] for layer in model.layers)]
    train_batches(model, optimizer, *load_dataset(cfg)[:2], n=640, batch=64)
    after = [layer.get_weights()[0] for layer in model.layers]
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
