"""Compatibility name: the presets live in :mod:`analog_tt.tiles.presets`.

``from analog_tt.presets import paper_mnist_config`` (the README's first example) keeps working.
"""

from .tiles.presets import *  # noqa: F401,F403
from .tiles.presets import __all__  # noqa: F401
