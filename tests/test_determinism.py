"""The same seed gives bit-identical analog training, in separate processes."""

from __future__ import annotations

import subprocess
import sys

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
