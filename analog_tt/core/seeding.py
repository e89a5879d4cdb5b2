"""Seeds for python, numpy, torch and aihwkit's C++ tiles."""

from __future__ import annotations

import random

import numpy as np

from . import determinism
from .files import stable_hash

__all__ = [
    "all_named_modules",
    "derived_seed",
    "reseed_analog_tiles",
    "restore_hidden_parameters",
    "seed_everything",
]


def seed_everything(seed: int, *, strict: bool = False) -> np.random.Generator:
    """Seed python, numpy, torch and aihwkit's C++ tiles; return a ``numpy.random.Generator``.

    aihwkit seeds each C++ simulator tile from the wall clock when the tile is built;
    :mod:`analog_tt.core.determinism` fixes that clock so tiles built after this call get seeds
    set by ``seed`` and their order of construction. Build models *after* seeding.

    Parameters
    ----------
    seed : int
        Non-negative seed.
    strict : bool
        Raise instead of warning when aihwkit's tiles cannot be seeded (see
        :func:`analog_tt.core.determinism.why_inactive`).
    """
    import torch

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if not determinism.fix_clock(seed):
        message = "aihwkit tiles cannot be seeded, analog results will not repeat: " + (
            determinism.why_inactive()
        )
        if strict:
            raise RuntimeError(message)
        import warnings

        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return np.random.default_rng(seed)


def derived_seed(seed: int, *tags: object) -> int:
    """A 32-bit seed derived from ``seed`` and ``tags`` (e.g. ``("epoch", 3)``), stable across runs."""
    return int(stable_hash([int(seed), *tags], length=8), 16)


def reseed_analog_tiles(model, seed: int) -> int:
    """Give every aihwkit C++ tile in ``model`` a fresh random generator seeded by ``seed``.

    aihwkit keeps no random-generator state in its checkpoints, so a run resumed from a
    checkpoint would draw different pulse noise than the uninterrupted run. Calling this at the
    same points of both (e.g. the start of every epoch, with a seed derived from the run's seed
    and the epoch) makes them bit-identical: each tile is rebuilt through aihwkit's own
    ``__getstate__``/``__setstate__`` (weights, hidden parameters, learning rate and extra state
    carried over) while the clock its generator is seeded from is fixed.

    Returns
    -------
    int
        How many C++ tiles were rebuilt.
    """
    if not determinism.fix_clock(seed):
        return 0
    rebuilt = 0
    for module in _cpp_tile_modules(model):
        # aihwkit's __setstate__ sets the hidden parameters and *then* the weights, and for a
        # transfer compound (TT-v1) setting the weights zeroes the fast weights A; put them
        # back so that a rebuild changes nothing but the random generator
        hidden = module.tile.get_hidden_parameters()
        context = module.analog_ctx
        module.__setstate__(module.__getstate__())
        module.tile.set_hidden_parameters(hidden)
        # __setstate__ also makes a new AnalogContext, the parameter through which aihwkit's
        # optimizer updates the tile: an optimizer built before would step the old one, which the
        # forward no longer feeds, and the analog weights would never change again
        module.analog_ctx = context
        rebuilt += 1
    return rebuilt


def all_named_modules(model, prefix: str = ""):
    """Every submodule of ``model`` with its qualified name, in ``named_modules()``'s order.

    Unlike ``model.named_modules()`` this walks ``_modules`` itself, so it also reaches modules
    below a module that presents itself as one (the multi-tile simulator tile hides its replica
    and gradient tiles from ``named_modules``, so that aihwkit counts one tile per layer).
    """
    seen: set[int] = set()
    stack = [(prefix, model)]
    while stack:
        name, module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        yield name, module
        children = [
            (f"{name}.{child_name}" if name else child_name, child)
            for child_name, child in module._modules.items()
            if child is not None
        ]
        stack.extend(reversed(children))


def _cpp_tile_modules(model):
    """The aihwkit tile modules of ``model`` that hold a C++ simulator tile."""
    import torch
    from aihwkit.simulator.tiles.base import SimulatorTileWrapper

    for _, module in all_named_modules(model):
        if isinstance(module, SimulatorTileWrapper) and not isinstance(
            getattr(module, "tile", None), torch.nn.Module
        ):
            yield module


def restore_hidden_parameters(model, state_dict) -> int:
    """After ``model.load_state_dict(state_dict)``: set every C++ tile's hidden parameters to the
    stored ones (aihwkit's loading rewrites the fast weights of transfer compounds when it sets
    the weights; see :func:`reseed_analog_tiles`). Returns how many tiles were restored."""
    from aihwkit.simulator.tiles.base import AnalogTileStateNames

    names = {id(m): n for n, m in all_named_modules(model)}
    restored = 0
    for module in _cpp_tile_modules(model):
        key = f"{names[id(module)]}.analog_tile_state".lstrip(".")
        state = state_dict.get(key)
        if state is None:
            continue
        hidden = state[AnalogTileStateNames.HIDDEN_PARAMETERS]
        module.tile.set_hidden_parameters(_as_tensor(hidden))
        restored += 1
    return restored


def _as_tensor(value):
    import torch

    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
