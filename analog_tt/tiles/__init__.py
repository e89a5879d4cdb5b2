"""The aihwkit plug-in: multi-tile Tiki-Taka tiles, their configs, presets and tools.

Layered bottom-up, no module importing one above it:

``counting``      op-count schema and bound-management rounds (hardware model inputs)
``tile``          :class:`MultiTileTransferTile` (aihwkit tile module) and its simulator tile
``config``        :class:`MultiTileRPUConfig` (aihwkit ``UnitCellRPUConfig`` selecting the tile)
``presets``       the paper's configs as named functions (``paper_mnist_config``, ...)
``layers``        adapters from aihwkit layers to the replica tiles
``programming``   replica initialisation: pulse programming, perturbation, mismatch statistics
``readout``       noisy least-squares and exact reads, digitised copies of analog models
``swa``           stochastic weight averaging over replicas and epochs

This subpackage imports nothing of ``analog_tt`` but :mod:`analog_tt.core`.
"""

from __future__ import annotations

from .config import MultiTileRPUConfig
from .tile import (
    MultiTileTransferSimulatorTile,
    MultiTileTransferTile,
    check_tile_config,
    slice_bounds,
    tile_algorithm,
)

__all__ = [
    "MultiTileRPUConfig",
    "MultiTileTransferSimulatorTile",
    "MultiTileTransferTile",
    "check_tile_config",
    "slice_bounds",
    "tile_algorithm",
]
