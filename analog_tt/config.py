"""Compatibility name: :class:`MultiTileRPUConfig` lives in :mod:`analog_tt.tiles.config`.

Kept so that ``from analog_tt.config import MultiTileRPUConfig`` and checkpoints pickled before
the move (which name ``analog_tt.config.MultiTileRPUConfig``) still load.
"""

from .tiles.config import MultiTileRPUConfig

__all__ = ["MultiTileRPUConfig"]
