"""The same seed gives bit-identical analog training, in separate processes."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import sys
import analog_tt
from analog_tt._utils import seed_everything
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
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(seed)], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def test_clock_helper_is_active():
    from analog_tt import _determinism

    assert _determinism.active(), _determinism.why_inactive()


def test_same_seed_same_analog_weights_across_processes():
    first, second, other = _train(3), _train(3), _train(4)
    assert first == second
    assert first != other


def test_bad_seed_is_rejected():
    import pytest

    from analog_tt._utils import seed_everything

    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            seed_everything(bad)
