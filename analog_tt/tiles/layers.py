"""Adapters between aihwkit's layers and tiles and the multi-tile tile's replicas.

One logical multi-tile layer (an ``AnalogLinear`` whose ``analog_module`` is a
:class:`~analog_tt.tiles.tile.MultiTileTransferTile`) holds ``N`` replica tiles; programming,
read-out, SWA, op counting and the runner reach them through these functions, so none of them
depends on where aihwkit keeps the tile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..core.vocabulary import PHASES
from .counting import COUNT_KEYS
from .tile import MultiTileTransferSimulatorTile, MultiTileTransferTile

__all__ = [
    "find_multi_tile_layers",
    "find_replicas",
    "forward_noise_of",
    "holder_attr",
    "randn",
    "record_layer_ops",
    "record_ops",
    "replicas_of",
    "sim_tile",
    "stack_replica_weights",
    "tile_device",
]


def sim_tile(replica: Any) -> Any:
    """Return the simulator tile that does the analog work for ``replica``.

    Parameters
    ----------
    replica
        Either an ``aihwkit.simulator.rpu_base`` tile, or a tile module (e.g.
        ``AnalogTileWithoutPeriphery``) holding one in ``.tile``.

    Returns
    -------
    object
        An object with ``forward(x)``, ``update(x, d, bias)``, ``get_weights()``, ``set_weights(w)``,
        ``get_learning_rate()``, ``set_learning_rate(lr)``, ``get_x_size()``, ``get_d_size()``.

    Raises
    ------
    TypeError
        If neither ``replica`` nor ``replica.tile`` has that interface.
    """
    needed = ("forward", "update", "get_weights", "set_weights", "get_x_size", "get_d_size")
    inner = getattr(replica, "tile", None)
    if inner is not None and all(hasattr(inner, name) for name in needed):
        return inner
    if all(hasattr(replica, name) for name in needed):
        return replica
    raise TypeError(
        f"{type(replica).__name__} is not an aihwkit simulator tile (needs {', '.join(needed)} "
        "on the object or on its .tile)"
    )


def tile_device(replica: Any) -> torch.device:
    """Device on which probes for ``replica`` are allocated (the tile's device, CPU if unknown)."""
    for obj in (replica, getattr(replica, "tile", None)):
        dev = getattr(obj, "device", None)
        if isinstance(dev, torch.device):
            return dev
    return torch.device("cpu")


def forward_noise_of(replica: Any) -> float | None:
    """``rpu_config.forward.out_noise`` of a tile module, or ``None`` when it has no config."""
    cfg = getattr(replica, "rpu_config", None)
    fwd = getattr(cfg, "forward", None)
    noise = getattr(fwd, "out_noise", None)
    return None if noise is None else float(noise)


def stack_replica_weights(replicas: Sequence[Any]) -> Tensor:
    """Exact weights of all replicas.

    Parameters
    ----------
    replicas
        Sequence of N simulator tiles (see :func:`sim_tile`).

    Returns
    -------
    Tensor
        ``[N, out, in]`` float32 weights (CPU, detached), normalised conductance units.
    """
    if len(replicas) == 0:
        raise ValueError("replicas must hold at least one tile, got an empty sequence")
    return torch.stack([sim_tile(r).get_weights().detach().float().cpu() for r in replicas])


def randn(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """Standard normal draws from ``generator`` (or torch's global RNG when ``None``)."""
    if generator is not None:
        gen_dev = generator.device
        out = torch.randn(shape, generator=generator, device=gen_dev)
        return out.to(device)
    return torch.randn(shape, device=device)


def _holders(module: nn.Module) -> list[Any]:
    """``module``, its ``analog_module`` and their ``.tile``: where a multi-tile layer keeps state."""
    candidates = [module, getattr(module, "analog_module", None)]
    candidates += [getattr(c, "tile", None) for c in list(candidates) if c is not None]
    return [c for c in candidates if c is not None]


def find_replicas(module: nn.Module) -> Sequence[Any] | None:
    """The replica list of a multi-tile layer, tile module or simulator tile, else ``None``."""
    for c in _holders(module):
        reps = getattr(c, "replicas", None)
        if reps is not None and len(reps) > 0:
            return reps
    return None


def find_forward_io(module: nn.Module) -> Any | None:
    """The replicas' forward ``IOParameters`` of a multi-tile layer (``weight_forward_io``)."""
    for c in _holders(module):
        io_pars = getattr(c, "weight_forward_io", None)
        if io_pars is not None:
            return io_pars
    return None


def find_multi_tile_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Map the qualified name of every multi-tile layer in ``model`` to the layer.

    A layer is multi-tile when it, its ``analog_module`` or that module's ``.tile`` has a
    non-empty ``replicas`` sequence (for :class:`analog_tt.tiles.tile.MultiTileTransferTile` inside an
    ``AnalogLinear``: ``layer.analog_module.tile.replicas``). Only the outermost holder is
    reported (the ``AnalogLinear``, not its tile module). ``replicas_of(layer)`` gives the list.
    """
    found: dict[str, nn.Module] = {}
    seen: set[int] = set()
    for name, mod in model.named_modules():
        reps = find_replicas(mod)
        if reps is None or id(reps) in seen:
            continue
        seen.add(id(reps))
        found[name] = mod
    return found


def replicas_of(layer: nn.Module) -> Sequence[Any]:
    """The replica tiles of a multi-tile layer (see :func:`find_multi_tile_layers`)."""
    reps = find_replicas(layer)
    if reps is None:
        raise ValueError(f"{type(layer).__name__} is not a multi-tile layer (no `replicas`)")
    return reps


def holder_attr(layer: nn.Module, name: str) -> Any:
    """Attribute ``name`` of the simulator tile that holds the replicas (None if absent)."""
    for c in (layer, getattr(layer, "analog_module", None)):
        if c is None:
            continue
        for obj in (c, getattr(c, "tile", None)):
            if obj is not None and getattr(obj, "replicas", None) is not None:
                return getattr(obj, name, None)
    return None


def record_layer_ops(
    layer: nn.Module, phase: str, vectors: int, sequential: int, pulses: int = 0
) -> bool:
    """Add counts to an ``analog_tt`` multi-tile layer's counters (``analog_tt.tiles.counting``).

    Does nothing (returns False) for other layers, or when the layer's ``count_ops`` is off
    (``record_ops`` checks that).
    """
    kinds = (MultiTileTransferTile, MultiTileTransferSimulatorTile)
    if not any(isinstance(m, kinds) for m in layer.modules()):
        return False
    record_ops(layer, phase, vectors, sequential, pulses)
    return True


def record_ops(
    layer: nn.Module,
    phase: str,
    vectors: int,
    sequential: int,
    pulses: int = 0,
    bm_rounds: int = 0,
    bm_vectors: int = 0,
) -> None:
    """Add counts to ``phase`` of a layer (for programming and read-out code).

    Parameters
    ----------
    layer : nn.Module
        An ``AnalogLinear`` with a multi-tile tile, the tile module itself, or its simulator
        tile. Nothing is recorded when the layer's ``count_ops`` is off.
    phase : str
        One of :data:`analog_tt.core.vocabulary.PHASES`.
    """
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    if isinstance(layer, MultiTileTransferSimulatorTile):
        sim = layer
    elif isinstance(layer, MultiTileTransferTile):
        sim = layer.tile
    else:
        tiles = [m for m in layer.modules() if isinstance(m, MultiTileTransferTile)]
        if len(tiles) != 1:
            raise ValueError(f"expected one multi-tile tile in {type(layer).__name__}")
        sim = tiles[0].tile
    if not sim.count_ops:
        return
    entry = sim.op_counts[phase]
    for key, value in zip(
        COUNT_KEYS, (vectors, sequential, pulses, bm_rounds, bm_vectors), strict=True
    ):
        entry[key] += int(value)
