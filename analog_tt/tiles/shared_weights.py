"""One ``[N, out, in]`` torch tensor that N aihwkit CPU tiles use as their weight storage.

aihwkit's C++ tiles can keep their weights in memory they do not own
(``tile.set_shared_weights(tensor)``, ``RPUSimple::setSharedWeights``; aihwkit's own CUDA tiles
use it). Pointed at the slices of one contiguous ``[N, out, in]`` tensor, the N replicas' weights
*are* that tensor: aihwkit's pulsed updates (the transfer writes), diffusion and decay change it
in place, and a batched torch forward can read all N replicas with no copy per batch. aihwkit
stays the only writer.

The sharing belongs to the C++ tile objects: a tile rebuilt from a state (``load_state_dict``,
unpickling, ``deepcopy``) owns its weights again. :meth:`SharedReplicaWeights.tensor` notices a
rebuilt tile by identity and shares again; a copy of the holder starts empty.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["SharedReplicaWeights"]


class SharedReplicaWeights:
    """The weight storage shared by the C++ tiles of a list of replicas.

    Examples
    --------
    >>> shared = SharedReplicaWeights()
    >>> weights = shared.tensor(layer.analog_module.tile.replicas)  # doctest: +SKIP
    >>> weights.shape  # [N, out, in]  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._tensor: Tensor | None = None
        self._tiles: tuple[Any, ...] = ()
        # storage that a replaced C++ tile still held by someone else may point into
        self._retired: list[tuple[Tensor, tuple[Any, ...]]] = []

    def tensor(self, replicas: Sequence[Any]) -> Tensor:
        """``[N, out, in]`` float32: the live weights of ``replicas`` (their C++ ``.tile``).

        Read it, never write it (aihwkit owns the weights). Valid until a replica's C++ tile is
        replaced; call again before each use (an identity check per replica when nothing
        changed).
        """
        tiles = tuple(replica.tile for replica in replicas)
        current = self._tensor
        if (
            current is not None
            and len(tiles) == len(self._tiles)
            and all(a is b for a, b in zip(tiles, self._tiles, strict=True))
        ):
            return current
        return self._share(tiles)

    def _share(self, tiles: tuple[Any, ...]) -> Tensor:
        # the current weights, wherever each tile keeps them now; a tile that already shares
        # only switches its pointer (setSharedWeights copies nothing then), so fill first
        storage = torch.stack([tile.get_weights() for tile in tiles]).contiguous()
        if storage.dtype != torch.float32:
            raise TypeError(f"replica weights must be float32 to be shared, got {storage.dtype}")
        for i, tile in enumerate(tiles):
            tile.set_shared_weights(storage[i])
        old_tensor, old_tiles = self._tensor, self._tiles
        self._tensor, self._tiles = storage, tiles
        if old_tensor is not None:
            self._retire(old_tensor, old_tiles, tiles)
        return storage

    def _retire(self, tensor: Tensor, tiles: tuple[Any, ...], kept: tuple[Any, ...]) -> None:
        """Free old storage unless a replaced tile that points into it is still alive elsewhere."""
        kept_ids = {id(t) for t in kept}
        # references: our tuple, the loop variable and getrefcount's argument
        alive = [t for t in tiles if id(t) not in kept_ids and sys.getrefcount(t) > 3]
        if alive:
            self._retired.append((tensor, tiles))

    def __deepcopy__(self, memo: dict) -> SharedReplicaWeights:
        return SharedReplicaWeights()  # the copy's tiles are new and own their weights

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
