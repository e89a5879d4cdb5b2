"""Builders of plain aihwkit simulator tiles for the replica tests (public aihwkit API only)."""

from __future__ import annotations

import torch
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.presets.devices import EcRamPresetDevice
from aihwkit.simulator.presets.utils import PresetIOParameters, PresetUpdateParameters
from aihwkit.simulator.tiles.analog import AnalogTileWithoutPeriphery
from torch import nn


def c_tile_config() -> SingleRPUConfig:
    """The paper's C-tile setup (seed analysis §1.11): EcRam fit, PresetIO, 1-pulse writes."""
    return SingleRPUConfig(
        device=EcRamPresetDevice(gamma_up=-0.38, gamma_down=0.76, allow_increasing=True),
        forward=PresetIOParameters(),
        backward=PresetIOParameters(),
        update=PresetUpdateParameters(
            desired_bl=1, update_bl_management=False, update_management=False
        ),
        tile_class=AnalogTileWithoutPeriphery,
    )


def make_replicas(n: int, out_size: int, in_size: int) -> list[AnalogTileWithoutPeriphery]:
    """``n`` independent EcRam tile modules of shape ``[out, in]`` (aihwkit's own random init)."""
    return [AnalogTileWithoutPeriphery(out_size, in_size, c_tile_config()) for _ in range(n)]


class FakePeriphery(nn.Module):
    """Minimal stand-in for a multi-tile TileModule: replicas, scalar out scale, digital bias."""

    def __init__(self, replicas, alpha: float = 1.0, bias: bool = True) -> None:
        super().__init__()
        out_size = int(replicas[0].tile.get_d_size())
        self.in_size = int(replicas[0].tile.get_x_size())
        self.out_size = out_size
        self.replicas = nn.ModuleList(replicas)
        self.alpha = torch.tensor([float(alpha)])
        self.digital_bias = bias
        self.bias = nn.Parameter(torch.randn(out_size)) if bias else None

    def get_scales(self) -> torch.Tensor:
        return self.alpha


class FakeMultiTileLinear(nn.Module):
    """A layer shaped like ``AnalogLinear`` whose ``analog_module`` holds the replicas."""

    def __init__(self, replicas, alpha: float = 1.0, bias: bool = True) -> None:
        super().__init__()
        self.analog_module = FakePeriphery(replicas, alpha, bias)
        self.in_features = self.analog_module.in_size
        self.out_features = self.analog_module.out_size

    def exact_stack(self) -> torch.Tensor:
        return torch.stack([r.tile.get_weights() for r in self.analog_module.replicas])


def train_batches(
    model: nn.Module, optimizer, x: torch.Tensor, y: torch.Tensor, n: int, batch: int
):
    """A few optimiser steps of NLL on the first ``n`` samples (for state round-trip tests)."""
    for i in range(0, n, batch):
        optimizer.zero_grad()
        torch.nn.functional.nll_loss(model(x[i : i + batch]), y[i : i + batch]).backward()
        optimizer.step()
