"""analog_tt: multi-tile Tiki-Taka on analog crossbars, as plug-ins for aihwkit's public API.

Reproducible artifact for "Accelerated Analog In-Memory Computing for Neural Network Training"
(I. J. Gallo, J. A. del Alamo).

Subpackages, bottom-up (each imports only those above it in this list):

``core``       seeding and determinism, atomic files, provenance, the vocabulary, validation
``tiles``      the aihwkit plug-in: multi-tile tile, config, presets, programming, read-out, SWA
``scratch``    Tiki-Taka from scratch in plain torch (notebook 01)
``hardware``   the paper's time and energy model
``data``       MNIST (offline, verified) and the spiral
``runs``       run configs, training, the result cache, sweeps, the ``sweep`` command
``report``     the artifact: paper values, verdicts, figures and tables, README blocks, pipeline

The names below are the public surface; they are imported on first use, so ``import analog_tt``
stays cheap and ``python -m analog_tt doctor`` can diagnose a broken torch/aihwkit install.
"""

from __future__ import annotations

import importlib
from typing import Any

# First, before torch is loaded: the clock helper that makes aihwkit's C++ RNG seedable.
from .core import determinism  # noqa: F401

__version__ = "0.1.0"

_PUBLIC = {
    "seed_everything": "analog_tt.core.seeding",
    "MultiTileRPUConfig": "analog_tt.tiles.config",
    "RunConfig": "analog_tt.runs.config",
    "run": "analog_tt.runs.training",
    "run_sweep": "analog_tt.runs.sweep",
    "load_profile": "analog_tt.runs.profiles",
    "load_results": "analog_tt.runs.results",
    "summarize": "analog_tt.runs.results",
}
_SUBPACKAGES = ("core", "tiles", "scratch", "hardware", "data", "runs", "report", "presets")

__all__ = ["__version__", *_PUBLIC, *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"analog_tt.{name}")
    raise AttributeError(f"module 'analog_tt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
