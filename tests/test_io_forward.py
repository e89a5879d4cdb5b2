"""The batched torch IO-managed forward against aihwkit's own tiles (the reference path)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType
from aihwkit.simulator.presets.devices import EcRamPresetDevice
from aihwkit.simulator.presets.utils import PresetIOParameters
from aihwkit.simulator.tiles.analog import AnalogTileWithoutPeriphery

from analog_tt.tiles.io_forward import io_managed_forward, supports
from analog_tt.tiles.readout import read_shared_probes

OUT, IN, M = 48, 120, 3000


def _tile(io: PresetIOParameters, weight_scale: float, seed: int = 0) -> AnalogTileWithoutPeriphery:
    config = SingleRPUConfig(device=EcRamPresetDevice(), forward=io, backward=io)
    tile = AnalogTileWithoutPeriphery(OUT, IN, config)
    gen = torch.Generator().manual_seed(seed)
    tile.tile.set_weights((torch.rand(OUT, IN, generator=gen) * 2 - 1) * weight_scale)
    return tile


def _aihwkit_forward(tile: AnalogTileWithoutPeriphery, x: torch.Tensor) -> torch.Tensor:
    return tile.tile.forward(x, False, False, False, True, False)


@pytest.mark.parametrize(("out_bound", "weight_scale"), [(20.0, 0.3), (2.0, 0.5)])
def test_without_noise_the_batched_forward_is_aihwkits(out_bound: float, weight_scale: float):
    """Noise off: the same outputs, bar a sum within float rounding of an ADC step boundary.

    At out_bound 2 most probe vectors clip at first, so the iterative bound management (its
    rounds, its stopping rule at ``max_bm_res / inp_step``) is exercised.
    """
    io = PresetIOParameters(out_noise=0.0, out_bound=out_bound)
    tile = _tile(io, weight_scale)
    x = torch.randn(M, IN, generator=torch.Generator().manual_seed(1))
    weights = tile.tile.get_weights()
    clipping = ((x / x.abs().amax(1, keepdim=True)) @ weights.T).abs().amax(1) > out_bound
    if out_bound == 2.0:
        assert clipping.float().mean() > 0.5  # bound management really runs
    reference = _aihwkit_forward(tile, x)
    batched = io_managed_forward(weights[None], x, io)[0]
    differing = (batched != reference).float().mean().item()
    assert differing < 1e-3, differing
    assert torch.allclose(batched, reference, atol=0.5, rtol=0)  # never more than a step or so


def test_with_noise_the_batched_forward_has_aihwkits_noise() -> None:
    """Noise on: the residual ``(y - W x) / max|x|`` has aihwkit's spread (output noise, ADC and
    DAC steps); aihwkit's CPU normals come from a 32768-entry table (std off by ~0.4 %)."""
    io = PresetIOParameters(out_noise=0.1)
    tile = _tile(io, 0.3)
    x = torch.randn(M, IN, generator=torch.Generator().manual_seed(2))
    weights = tile.tile.get_weights()
    scale = x.abs().amax(1, keepdim=True)
    exact = x @ weights.T
    ref = ((_aihwkit_forward(tile, x) - exact) / scale).flatten()
    new = ((io_managed_forward(weights[None], x, io, torch.Generator().manual_seed(3))[0] - exact)
           / scale).flatten()  # fmt: skip
    assert abs(new.std() / ref.std() - 1) < 0.02, (new.std(), ref.std())
    assert abs(new.mean()) < 5 * new.std() / new.numel() ** 0.5
    off = io_managed_forward(weights[None], x, dataclasses.replace(io, out_noise=0.0))[0]
    assert ((off - exact) / scale).std() < 0.5 * new.std()  # the noise is really there


def test_the_same_generator_seed_gives_the_same_bits() -> None:
    io = PresetIOParameters()
    weights = torch.randn(3, OUT, IN) * 0.1
    x = torch.randn(200, IN)
    first = io_managed_forward(weights, x, io, torch.Generator().manual_seed(7))
    again = io_managed_forward(weights, x, io, torch.Generator().manual_seed(7))
    assert first.shape == (3, 200, OUT) and torch.equal(first, again)
    p = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    combined = io_managed_forward(weights, x, io, torch.Generator().manual_seed(7), combine=p)
    torch.testing.assert_close(combined, torch.einsum("n,nmo->mo", p, first.double()))


@pytest.mark.parametrize(
    "change",
    [
        {"inp_noise": 0.01},
        {"w_noise": 0.01},
        {"out_sto_round": True},
        {"noise_management": NoiseManagementType.AVERAGE_ABS_MAX},
        {"bound_management": BoundManagementType.ITERATIVE_WORST_CASE},
    ],
)
def test_settings_it_does_not_model_are_refused(change: dict) -> None:
    io = dataclasses.replace(PresetIOParameters(), **change)
    assert not supports(io)
    with pytest.raises(ValueError, match="supports"):
        io_managed_forward(torch.zeros(1, 2, 3), torch.zeros(4, 3), io)
    tiles = [_tile(io, 0.2, seed) for seed in range(2)]
    with pytest.raises(ValueError, match="engine='torch'"):
        read_shared_probes(tiles, 2, forward_io=io, engine="torch")
    assert supports(PresetIOParameters())


def test_a_shared_probe_read_is_as_accurate_with_either_engine() -> None:
    """Read level: the tile-average estimate of 4 replicas has the same error either way."""
    io = PresetIOParameters()
    tiles = [_tile(io, 0.3, seed) for seed in range(4)]
    exact = torch.stack([t.tile.get_weights() for t in tiles]).mean(0)
    p = torch.full((4,), 0.25, dtype=torch.float64)
    errors: dict[str, list[float]] = {"aihwkit": [], "torch": []}
    for engine, values in errors.items():
        for seed in range(6):
            gen = torch.Generator().manual_seed(10 + seed)
            read = read_shared_probes(tiles, 10, gen, combine=p, forward_io=io, engine=engine)[0]
            values.append(float((read - exact).pow(2).mean().sqrt()))
    ratio = sum(errors["torch"]) / sum(errors["aihwkit"])
    assert 0.9 < ratio < 1.1, errors
    each = read_shared_probes(tiles, 10, torch.Generator().manual_seed(1), forward_io=io)
    assert each.shape == (4, OUT, IN)
    assert float((each.mean(0) - exact).abs().max()) < 0.05


def test_replicas_batched_together_read_as_each_alone_when_most_vectors_clip() -> None:
    """Noise off, out_bound 2: most (vector, replica) pairs need bound-management rounds; the
    16-replica forward gives every replica the bits of its forward alone (the redo rounds run in
    bounded slices of pairs, not one gather of every clipped pair's weights)."""
    io = PresetIOParameters(out_noise=0.0, out_bound=2.0)
    weights = (torch.rand(16, OUT, IN, generator=torch.Generator().manual_seed(4)) * 2 - 1) * 0.5
    x = torch.randn(M, IN, generator=torch.Generator().manual_seed(5))
    together = io_managed_forward(weights, x, io)
    clipped_first = ((x / x.abs().amax(1, keepdim=True)) @ weights.transpose(1, 2)).abs()
    assert (clipped_first.amax(2) > 2.0).float().mean() > 0.5
    for i in range(weights.shape[0]):
        assert torch.equal(together[i], io_managed_forward(weights[i : i + 1], x, io)[0])
