"""Noisy least-squares reads of single replicas, and of N replicas with one shared probe set.

The building blocks of :mod:`analog_tt.tiles.readout` (which re-exports the public ones): probes
``X ~ N(0, 1)`` go through a replica's analog forward (with its IO non-idealities) and the weights
are the least-squares fit ``W = lstsq(X, y)^T``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..core.validation import check_choice, check_int
from ..core.vocabulary import READ_ENGINES
from .io_forward import io_managed_forward, supports
from .layers import randn, sim_tile, tile_device

__all__ = ["read_replica_weights", "read_shared_probes"]


def _check_over_sampling(over_sampling: Any) -> int:
    return check_int("over_sampling", over_sampling, 1)


def _lstsq_weights(x: Tensor, y: Tensor) -> Tensor:
    """``W`` of shape ``[out, in]`` minimising ``||x W^T - y||`` (float64 solve)."""
    sol = torch.linalg.lstsq(x.double(), y.double()).solution
    return sol.T.float()


def _normal_equations_weights(x: Tensor, y: Tensor) -> Tensor:
    """:func:`_lstsq_weights` by a float64 Cholesky solve of ``x^T x W^T = x^T y``.

    For the reads' Gaussian probes (``M = over_sampling * in`` rows, condition number about
    ``(1 + 1 / sqrt(over_sampling)) / (1 - 1 / sqrt(over_sampling))``, 1.9 at 10) this is the
    least-squares solution to float64 rounding at about half a QR's cost. A probe matrix
    without full column rank is left to the QR solve.
    """
    xd = x.double()
    gram = xd.T @ xd
    factor, info = torch.linalg.cholesky_ex(gram)
    if int(info) != 0:
        return _lstsq_weights(x, y)
    return torch.cholesky_solve(xd.T @ y.double(), factor).T.float()


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
    forward_io: Any = None,
    engine: str = "auto",
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
    forward_io
        The replicas' forward ``IOParameters`` (``MultiTileTransferTile.weight_forward_io``);
        needed by the batched engine.
    engine
        ``"auto"``: the batched torch forward (:func:`analog_tt.tiles.io_forward.
        io_managed_forward`, one mat-mul for all replicas, output noise from ``generator``) when
        ``forward_io`` is given and supported, else each replica's aihwkit forward;
        ``"aihwkit"``: always aihwkit's (the reference path); ``"torch"``: always batched (an
        error when it cannot model ``forward_io``). The two are the same function of the
        weights and probes with the noise off and the same distribution with it on (aihwkit's
        CPU noise is drawn from a 32768-entry table of normals: its std is off by about 0.4 %
        per table); ``tests/test_io_forward.py`` compares them.

    Returns
    -------
    Tensor
        ``[N, out, in]`` or ``[1, out, in]`` float32 (CPU).
    """
    over_sampling = _check_over_sampling(over_sampling)
    check_choice("engine", engine, READ_ENGINES)
    sims = [sim_tile(r) for r in replicas]
    x_size = int(sims[0].get_x_size())
    d_size = int(sims[0].get_d_size())
    n_probe = over_sampling * x_size
    device = tile_device(replicas[0])
    x = randn((n_probe, x_size), generator, device)
    # one replica keeps aihwkit's forward under "auto": the same bits as read_replica_weights
    batched = engine == "torch" or (engine == "auto" and len(sims) > 1 and supports(forward_io))
    if engine == "torch" and not supports(forward_io):
        raise ValueError(
            "engine='torch' cannot model these forward IO parameters (io_forward.supports is "
            "False); use engine='auto' or 'aihwkit'"
        )
    p = None
    if combine is not None:
        p = torch.as_tensor(combine, dtype=torch.float64).flatten()
        if p.numel() != len(sims):
            raise ValueError(f"combine must have {len(sims)} entries, got {p.numel()}")
    _record_reads(ops, len(sims), n_probe)
    if batched and device.type == "cpu":
        weights = torch.stack([sim.get_weights().detach().float() for sim in sims])
        y = io_managed_forward(weights, x, forward_io, generator, combine=p)
        if p is not None:
            return _normal_equations_weights(x, y)[None]
        solution = _normal_equations_weights(x, y.permute(1, 0, 2).reshape(n_probe, -1))
        return solution.reshape(len(sims), d_size, x_size)
    outputs = [sim.forward(x).detach().cpu() for sim in sims]
    x = x.cpu()
    if p is not None:
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


def _record_reads(ops: list[dict[str, Any]] | None, n_replicas: int, n_probe: int) -> None:
    """One ``"read"`` record per replica (each replica's forward of every probe)."""
    if ops is not None:
        for _ in range(n_replicas):
            ops.append(
                {
                    "phase": "read",
                    "op": "forward",
                    "tile": "main",
                    "vectors": n_probe,
                    "pfactor": 1.0,
                }
            )
