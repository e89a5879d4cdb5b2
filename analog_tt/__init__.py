"""analog_tt: multi-tile Tiki-Taka on analog crossbars, as plug-ins for aihwkit's public API.

Reproducible artifact for "Accelerated Analog In-Memory Computing for Neural Network Training"
(I. J. Gallo, J. A. del Alamo). Sub-modules are imported lazily so that ``import analog_tt`` stays
cheap and ``python -m analog_tt doctor`` can diagnose a broken torch/aihwkit install.
"""

from __future__ import annotations

# First, before torch is loaded: the clock helper that makes aihwkit's C++ RNG seedable.
from . import _determinism  # noqa: F401

__version__ = "0.1.0"

__all__ = ["__version__"]
