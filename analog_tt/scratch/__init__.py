"""Tiki-Taka from scratch in plain torch (notebook 01): soft-bounds devices, the TikiTaka
optimiser in SHD form, its batched N-replica form, one-weight demos, the spiral network."""

from __future__ import annotations

from .tiki_taka import *  # noqa: F401,F403
from .tiki_taka import __all__  # noqa: F401
