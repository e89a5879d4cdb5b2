"""Noisy least-squares reads of single replicas, and of N replicas with one shared probe set.

The building blocks of :mod:`analog_tt.tiles.readout` (which re-exports the public ones): probes
``X ~ N(0, 1)`` go through a replica's analog forward (with its IO non-idealities) and the weights
are the least-squares fit ``W = lstsq(X, y)^T``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..core.validation import check_int
from .layers import randn, sim_tile, tile_device

__all__ = ["read_replica_weights", "read_shared_probes"]


def _check_over_sampling(over_sampling: Any) -> int:
    return check_int("over_sampling", over_sampling, 1)


def _lstsq_weights(x: Tensor, y: Tensor) -> Tensor:
    """``W`` of shape ``[out, in]`` minimising ``||x W^T - y||`` (float64 solve)."""
    sol = torch.linalg.lstsq(x.double(), y.double()).solution
    return sol.T.float()


@torch.no_grad()
def read_replica_weights(
    replica: Any,
    in_size: int | None = None,
    over_sampling: int = 10,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str | None = None,
    ops: list[dict[str, Any]] | None = None,
) -> Tensor:
    """Estimate one replica's weights by a noisy least-squares read through its forward pass.

    ``X ~ N(0, 1)`` of shape ``[over_sampling * in, in]`` is sent through the replica's analog
    forward (with its IO non-idealities: DAC/ADC, output noise, noise/bound management),
    ``y = forward(X)`` and ``W = lstsq(X, y)^T``. The replicas of a multi-tile layer hold no
    bias (the digital bias lives outside the tiles), so nothing is subtracted. With output noise
    of std ``s`` per read, each weight's read error has std about ``s / sqrt(M - in)``, with
    ``M = over_sampling * in`` probes; ``over_sampling = 1`` is a square, noise-amplifying fit.

    Parameters
    ----------
    replica
        A simulator tile (see :func:`analog_tt.tiles.layers.sim_tile`).
    in_size
        Input size; ``None`` takes it from the tile (a given value must match).
    over_sampling
        Probe vectors per input (int >= 1; paper: 10).
    generator
        Optional ``torch.Generator`` for the probes (else torch's seeded global RNG).
    device
        Device of the probes; default the tile's device.
    ops
        If given, one ``"read"`` record is appended (``vectors = over_sampling * in``).

    Returns
    -------
    Tensor
        ``[out, in]`` float32 estimate (CPU), conductance units.
    """
    over_sampling = _check_over_sampling(over_sampling)
    sim = sim_tile(replica)
    x_size = int(sim.get_x_size())
    if in_size is not None and int(in_size) != x_size:
        raise ValueError(f"in_size={in_size} does not match the tile's input size {x_size}")
    dev = torch.device(device) if device is not None else tile_device(replica)
    n_probe = over_sampling * x_size
    x = randn((n_probe, x_size), generator, dev)
    y = sim.forward(x)
    if ops is not None:
        ops.append(
            {"phase": "read", "op": "forward", "tile": "main", "vectors": n_probe, "pfactor": 1.0}
        )
    return _lstsq_weights(x.cpu(), y.detach().cpu())


@torch.no_grad()
def read_shared_probes(
    replicas: Any,
    over_sampling: int = 10,
    generator: torch.Generator | None = None,
    *,
    combine: Tensor | None = None,
    ops: list[dict[str, Any]] | None = None,
) -> Tensor:
    """Noisy least-squares read of N replicas with one probe set sent to every replica.

    The same ``X ~ N(0, 1)`` ``[over_sampling * in, in]`` goes through every replica's analog
    forward (what a chip does: all tiles are driven by the same probe lines) and one least-squares
    factorisation of ``X`` serves every replica. The probes are drawn exactly as
    :func:`read_replica_weights` draws replica 0's, so with one replica both reads are the same
    bits. Each replica's own read noise stays independent (its own forward); only the probes
    are common.

    Parameters
    ----------
    replicas
        Sequence of N simulator tiles (see :func:`analog_tt.tiles.layers.sim_tile`).
    over_sampling, generator
        As in :func:`read_replica_weights`.
    combine
        ``None``: return every replica's estimate ``[N, out, in]``. A ``[N]`` weight vector
        ``p``: return the estimate of ``sum_i p_i W_i`` ``[1, out, in]`` from one solve (the read
        is linear in the outputs: ``lstsq(X, sum_i p_i y_i) = sum_i p_i lstsq(X, y_i)``).
    ops
        If given, one ``"read"`` record per replica is appended, as the per-replica read does.

    Returns
    -------
    Tensor
        ``[N, out, in]`` or ``[1, out, in]`` float32 (CPU).
    """
    over_sampling = _check_over_sampling(over_sampling)
    sims = [sim_tile(r) for r in replicas]
    x_size = int(sims[0].get_x_size())
    d_size = int(sims[0].get_d_size())
    n_probe = over_sampling * x_size
    x = randn((n_probe, x_size), generator, tile_device(replicas[0]))
    outputs = [sim.forward(x).detach().cpu() for sim in sims]
    if ops is not None:
        for _ in sims:
            ops.append(
                {
                    "phase": "read",
                    "op": "forward",
                    "tile": "main",
                    "vectors": n_probe,
                    "pfactor": 1.0,
                }
            )
    x = x.cpu()
    if combine is not None:
        p = torch.as_tensor(combine, dtype=torch.float64).flatten()
        if p.numel() != len(sims):
            raise ValueError(f"combine must have {len(sims)} entries, got {p.numel()}")
        if len(sims) == 1 and float(p[0]) == 1.0:
            y = outputs[0]
        else:
            y = sum(float(w) * out.double() for w, out in zip(p, outputs, strict=True))
        return _lstsq_weights(x, y)[None]
    if len(sims) == 1:
        return _lstsq_weights(x, outputs[0])[None]
    # one factorisation, every replica's outputs as right-hand sides
    solution = torch.linalg.lstsq(x.double(), torch.cat(outputs, dim=1).double()).solution
    return solution.T.float().reshape(len(sims), d_size, x_size)
