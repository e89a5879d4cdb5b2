"""Stochastic weight averaging over replicas (space) and epochs (time), seed analysis §1.10.

:class:`SWA`
    From epoch ``swa_start`` on, every ``swa_freq`` epochs, the tile-averaged digital weights
    ``W_t`` (and biases) of every analog linear layer (:func:`analog_tt.tiles.readout.digital_weights`)
    enter a running mean ``W_swa <- W_swa + (W_t - W_swa) / (n + 1)``.
:class:`PerformanceWeightedSWA`
    Same, but the replicas are averaged with weights ``p = softmax(1 / (L + 1e-8) / T)`` of
    per-replica losses ``L_i``: an EMA (momentum 0.9) of the loss of replica i's slice of the
    batch output. ``T <= 0`` uses normalised inverse losses ``p_i = (1/L_i) / sum_j (1/L_j)``.
    Requires every multi-tile layer to have the same number of replicas (slice i of the batch
    runs through replica i of every layer).

Both produce an FP ``nn.Module`` for evaluation (:meth:`SWA.averaged_model`) and have
``state_dict``/``load_state_dict`` for checkpointing. Neither changes the analog model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.vocabulary import READ_MODES
from .layers import find_replicas
from .readout import (
    analog_linear_layers,
    build_digital_model,
    digital_weights,
)
from .tile import slice_bounds

__all__ = ["PerformanceWeightedSWA", "SWA", "performance_weights"]


def performance_weights(losses: Tensor, temperature: float = 0.2) -> Tensor:
    """Replica weights from per-replica losses.

    Parameters
    ----------
    losses
        ``[N]`` non-negative losses (lower is better).
    temperature
        ``T > 0``: ``softmax(1 / (L + 1e-8) / T)``; ``T <= 0``: ``(1/(L+1e-8)) / sum(1/(L+1e-8))``.

    Returns
    -------
    Tensor
        ``[N]`` float64 weights, non-negative, summing to 1.
    """
    inv = 1.0 / (losses.detach().double().flatten() + 1e-8)
    if temperature > 0:
        return torch.softmax(inv / temperature, dim=0)
    return inv / inv.sum()


class SWA:
    """Running mean of tile-averaged digital weights over epochs.

    Parameters
    ----------
    swa_start
        First epoch (in the caller's numbering) that is averaged, >= 0.
    swa_freq
        Average every ``swa_freq`` epochs from ``swa_start`` (>= 1).
    read_mode
        ``"lstsq"`` (noisy read, the paper's ``mnist_swa.py``) or ``"exact"`` weights.
    over_sampling
        Probes per input of the lstsq read (>= 1).
    generator
        Optional ``torch.Generator`` for the read probes.
    """

    kind = "swa"

    def __init__(
        self,
        swa_start: int,
        swa_freq: int = 1,
        read_mode: Literal["lstsq", "exact"] = "lstsq",
        over_sampling: int = 10,
        generator: torch.Generator | None = None,
    ) -> None:
        if isinstance(swa_start, bool) or not isinstance(swa_start, int) or swa_start < 0:
            raise ValueError(f"swa_start must be an int >= 0, got {swa_start!r}")
        if isinstance(swa_freq, bool) or not isinstance(swa_freq, int) or swa_freq < 1:
            raise ValueError(f"swa_freq must be an int >= 1, got {swa_freq!r}")
        if read_mode not in READ_MODES:
            raise ValueError(f"read_mode must be one of {READ_MODES}, got {read_mode!r}")
        if (
            isinstance(over_sampling, bool)
            or not isinstance(over_sampling, int)
            or over_sampling < 1
        ):
            raise ValueError(f"over_sampling must be an int >= 1, got {over_sampling!r}")
        self.swa_start = swa_start
        self.swa_freq = swa_freq
        self.read_mode = read_mode
        self.over_sampling = over_sampling
        self.generator = generator
        self.n_averaged = 0
        self.weights: dict[str, Tensor] = {}
        self.biases: dict[str, Tensor | None] = {}
        self.epochs: list[int] = []

    # -- schedule --------------------------------------------------------------------------

    def due(self, epoch: int) -> bool:
        """Whether ``epoch`` is averaged: ``epoch >= swa_start`` and on the ``swa_freq`` grid."""
        return epoch >= self.swa_start and (epoch - self.swa_start) % self.swa_freq == 0

    def _replica_weighting(self) -> Tensor | None:
        return None

    def snapshot(
        self, model: nn.Module, ops: list[dict[str, Any]] | None = None
    ) -> dict[str, tuple[Tensor, Tensor | None]]:
        """Current (weighted) tile-averaged digital weights ``{layer: (W, bias)}``."""
        layers = analog_linear_layers(model)
        if not layers:
            raise ValueError("model has no analog linear layer to average")
        p = self._replica_weighting()
        return {
            name: digital_weights(
                layer,
                self.read_mode,
                replica_weighting=p,
                over_sampling=self.over_sampling,
                generator=self.generator,
                ops=ops,
            )
            for name, layer in layers.items()
        }

    def update(self, model: nn.Module, epoch: int, ops: list[dict[str, Any]] | None = None) -> bool:
        """Average the model's current weights in if ``epoch`` is due; return whether it was."""
        if not self.due(epoch):
            return False
        self.add_snapshot(self.snapshot(model, ops), epoch)
        return True

    def add_snapshot(
        self, snap: dict[str, tuple[Tensor, Tensor | None]], epoch: int | None = None
    ) -> None:
        """Running-mean update with one snapshot ``{layer: (W, bias)}`` (no schedule check)."""
        if self.n_averaged and set(snap) != set(self.weights):
            raise ValueError(
                f"snapshot layers {sorted(snap)} differ from the averaged ones {sorted(self.weights)}"
            )
        n = self.n_averaged
        for name, (w, b) in snap.items():
            w = w.detach().double().cpu()
            if n == 0:
                self.weights[name] = w.clone()
                self.biases[name] = None if b is None else b.detach().double().cpu().clone()
                continue
            self.weights[name] += (w - self.weights[name]) / (n + 1)
            if b is not None:
                prev = self.biases[name]
                if prev is None:
                    raise ValueError(f"layer {name!r} gained a bias after the first snapshot")
                prev += (b.detach().double().cpu() - prev) / (n + 1)
        self.n_averaged = n + 1
        if epoch is not None:
            self.epochs.append(int(epoch))

    # -- results ---------------------------------------------------------------------------

    def averaged_params(self) -> dict[str, tuple[Tensor, Tensor | None]]:
        """``{layer: (W_swa, b_swa)}`` as float32 tensors."""
        if self.n_averaged == 0:
            raise ValueError("nothing averaged yet (no epoch >= swa_start has been seen)")
        return {
            name: (w.float(), None if self.biases[name] is None else self.biases[name].float())
            for name, w in self.weights.items()
        }

    def averaged_model(self, model: nn.Module) -> nn.Module:
        """FP copy of ``model`` with the averaged weights in place of its analog layers."""
        return build_digital_model(model, self.averaged_params())

    # -- checkpointing ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume averaging (tensors on CPU, float64)."""
        return {
            "kind": self.kind,
            "swa_start": self.swa_start,
            "swa_freq": self.swa_freq,
            "read_mode": self.read_mode,
            "over_sampling": self.over_sampling,
            "n_averaged": self.n_averaged,
            "epochs": list(self.epochs),
            "weights": {k: v.clone() for k, v in self.weights.items()},
            "biases": {k: None if v is None else v.clone() for k, v in self.biases.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (the settings must match this object's)."""
        if state.get("kind") != self.kind:
            raise ValueError(f"state is for {state.get('kind')!r}, this is {self.kind!r}")
        for key in ("swa_start", "swa_freq", "read_mode", "over_sampling"):
            if state[key] != getattr(self, key):
                raise ValueError(
                    f"{key} differs: state {state[key]!r}, object {getattr(self, key)!r}"
                )
        self.n_averaged = int(state["n_averaged"])
        self.epochs = [int(e) for e in state["epochs"]]
        self.weights = {k: v.clone().double() for k, v in state["weights"].items()}
        self.biases = {
            k: None if v is None else v.clone().double() for k, v in state["biases"].items()
        }


class PerformanceWeightedSWA(SWA):
    """SWA whose replica average is weighted by per-replica loss EMAs.

    Parameters
    ----------
    swa_start, swa_freq, read_mode, over_sampling, generator
        As in :class:`SWA`.
    n_tiles
        Number of replicas N of every multi-tile layer.
    temperature
        ``T`` of :func:`performance_weights` (paper: 0.2 in ``mnist_swa.py``, 1.0 in a notebook).
    momentum
        EMA momentum of the per-replica losses (paper: 0.9): ``L <- m L + (1 - m) loss``. The
        first observation of a replica initialises its EMA.
    loss_fn
        ``loss_fn(output_slice, target_slice) -> scalar`` (default ``F.nll_loss``, mean over the
        slice, for the paper's LogSoftmax outputs).
    """

    kind = "performance_weighted_swa"

    def __init__(
        self,
        swa_start: int,
        n_tiles: int,
        swa_freq: int = 1,
        temperature: float = 0.2,
        momentum: float = 0.9,
        read_mode: Literal["lstsq", "exact"] = "lstsq",
        over_sampling: int = 10,
        generator: torch.Generator | None = None,
        loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__(swa_start, swa_freq, read_mode, over_sampling, generator)
        if isinstance(n_tiles, bool) or not isinstance(n_tiles, int) or n_tiles < 1:
            raise ValueError(f"n_tiles must be an int >= 1, got {n_tiles!r}")
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if not math.isfinite(temperature):
            raise ValueError(f"temperature must be finite, got {temperature!r}")
        self.n_tiles = n_tiles
        self.temperature = float(temperature)
        self.momentum = float(momentum)
        self.loss_fn = loss_fn if loss_fn is not None else F.nll_loss
        self.tile_losses = torch.zeros(n_tiles, dtype=torch.float64)
        self.tile_seen = torch.zeros(n_tiles, dtype=torch.bool)

    @torch.no_grad()
    def observe(self, output: Tensor, target: Tensor) -> Tensor:
        """Update the per-replica loss EMAs with one training batch.

        Parameters
        ----------
        output
            ``[B, ...]`` network output of the batch (rows in batch order).
        target
            ``[B, ...]`` targets.

        Returns
        -------
        Tensor
            ``[N]`` current loss EMAs. Replicas without rows in this batch keep their value.
        """
        if output.shape[0] != target.shape[0]:
            raise ValueError(f"output has {output.shape[0]} rows, target {target.shape[0]}")
        for i, (a, b) in enumerate(slice_bounds(int(output.shape[0]), self.n_tiles)):
            if b <= a:
                continue
            loss = float(self.loss_fn(output[a:b].detach(), target[a:b]))
            if self.tile_seen[i]:
                m = self.momentum
                self.tile_losses[i] = m * self.tile_losses[i] + (1.0 - m) * loss
            else:
                self.tile_losses[i] = loss
                self.tile_seen[i] = True
        return self.tile_losses.clone()

    def replica_weights(self) -> Tensor:
        """``[N]`` current replica weights (uniform until every replica has a loss)."""
        if not bool(self.tile_seen.all()):
            return torch.full((self.n_tiles,), 1.0 / self.n_tiles, dtype=torch.float64)
        return performance_weights(self.tile_losses, self.temperature)

    def _replica_weighting(self) -> Tensor | None:
        return self.replica_weights()

    def snapshot(
        self, model: nn.Module, ops: list[dict[str, Any]] | None = None
    ) -> dict[str, tuple[Tensor, Tensor | None]]:
        layers = analog_linear_layers(model)

        for name, layer in layers.items():
            reps = find_replicas(layer)
            n = 1 if reps is None else len(reps)
            if n != self.n_tiles:
                raise ValueError(f"layer {name!r} has {n} replicas, n_tiles is {self.n_tiles}")
        return super().snapshot(model, ops)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(
            n_tiles=self.n_tiles,
            temperature=self.temperature,
            momentum=self.momentum,
            tile_losses=self.tile_losses.clone(),
            tile_seen=self.tile_seen.clone(),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("n_tiles", "temperature", "momentum"):
            if state[key] != getattr(self, key):
                raise ValueError(
                    f"{key} differs: state {state[key]!r}, object {getattr(self, key)!r}"
                )
        super().load_state_dict(state)
        self.tile_losses = state["tile_losses"].clone().double()
        self.tile_seen = state["tile_seen"].clone().bool()
