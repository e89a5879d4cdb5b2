"""aihwkit's IO-managed analog forward, batched over replicas in torch (for noisy reads).

aihwkit's CPU pulsed tiles run a batch forward one vector at a time (``RPUAbstract::
forwardMatrix`` loops ``forwardVector``; each vector is a ``gemv`` with its own noise and bound
management, ``src/rpucuda/rpu_forward_backward_pass.cpp`` of aihwkit 1.1.0). A noisy
least-squares read sends ``10 * in`` probes through every replica, so at N = 32 that loop is
most of a test's cost. :func:`io_managed_forward` computes the same function of the same
weights with one mat-mul per replica and per bound-management round:

1. noise management: ``nm = max |x|`` per vector (``ABS_MAX``) or 1 (``NONE``);
2. per vector, rounds ``r = 1, 2, 4, ...`` of iterative bound management (``ITERATIVE``): the
   input ``x / nm / r`` is rounded to the DAC grid (``rint``, step ``inp_res * 2 * inp_bound``)
   and clipped at ``inp_bound``; ``y = W x``; Gaussian output noise ``out_noise``; ``y`` is
   rounded to the ADC grid (step ``out_res * 2 * out_bound``) and clipped at ``out_bound``;
   a vector whose output clipped (either sign, with ``bm_test_negative_bound``) is redone at
   ``2 r`` unless ``r > max_bm_factor`` or ``r > max_bm_res / inp_step``;
3. the output is scaled back by ``out_scale * nm * r``.

Every step is the C++ code's, in the same float32 arithmetic; only the order of the sums in the
mat-mul (``gemm`` vs ``gemv``) and the random stream of the output noise differ. With the noise
off the two agree except where a sum lands within rounding of an ADC step boundary (one ADC step,
rarely); with it on they are the same distribution (``tests/test_io_forward.py`` checks both
against aihwkit's own tiles). Settings outside this list are refused by :func:`supports` and the
callers then use aihwkit's forward.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from aihwkit.simulator.parameters.enums import (
    AnalogMVType,
    BoundManagementType,
    NoiseManagementType,
    WeightNoiseType,
)
from torch import Tensor

__all__ = ["io_managed_forward", "io_managed_sliced", "read_columns_batched", "supports"]

#: IO fields that must be 0 for the batched forward (noise sources and non-idealities it omits);
#: the op counting's output certificate needs the same (:mod:`analog_tt.tiles.counting`)
IO_FIELDS_OFF = (
    "inp_noise",
    "inp_asymmetry",
    "out_noise_std",
    "out_asymmetry",
    "w_noise",
    "ir_drop",
    "out_nonlinearity",
    "out_nonlinearity_std",
    "slope_calibration",
    "v_offset_std",
    "r_series",
    "w_read_asymmetry_dtod",
    "nm_thres",
)

#: output elements per chunk of replicas (keeps the [replicas, vectors, out] buffers small)
_CHUNK_ELEMENTS = 1 << 21


def supports(io_pars: Any) -> bool:
    """Whether :func:`io_managed_forward` reproduces aihwkit's forward for these IO parameters.

    Supported: ``ONE_PASS`` MVMs, noise management ``NONE`` or ``ABS_MAX``, bound management
    ``NONE`` or ``ITERATIVE``, deterministic DAC/ADC rounding, additive Gaussian output noise
    as the only noise, and none of the other non-idealities (``IO_FIELDS_OFF``). ``is_perfect``
    is supported (a plain mat-mul).
    """
    if io_pars is None:
        return False
    if io_pars.is_perfect:
        return True
    if io_pars.mv_type != AnalogMVType.ONE_PASS:
        return False
    if io_pars.noise_management not in (NoiseManagementType.NONE, NoiseManagementType.ABS_MAX):
        return False
    if io_pars.bound_management not in (BoundManagementType.NONE, BoundManagementType.ITERATIVE):
        return False
    if io_pars.inp_sto_round or io_pars.out_sto_round:
        return False
    if io_pars.w_noise_type != WeightNoiseType.NONE:
        return False
    if io_pars.noise_management != NoiseManagementType.NONE and io_pars.inp_bound != 1.0:
        return False  # aihwkit refuses this combination itself
    return all(float(getattr(io_pars, name, 0.0) or 0.0) == 0.0 for name in IO_FIELDS_OFF)


def _grid_step(res: float, value_range: float) -> float:
    """aihwkit's ``checkAndSetRes`` in its float32: a resolution > 1 means ``1 / levels``."""
    res32 = np.float32(max(float(res), 0.0))
    res32 = np.float32(1.0) / res32 if res32 > 1.0 else res32
    return float(res32 * np.float32(value_range))


def _quantize(values: Tensor, step: float) -> Tensor:
    """``rint(values / step) * step`` in place (ties to even, as aihwkit's ``RPU_ROUNDFUNF``)."""
    if step <= 0:
        return values
    return values.div_(step).round_().mul_(step)


class _Plan:
    """The float32 constants of one IO configuration (as aihwkit initialises them)."""

    def __init__(self, io_pars: Any) -> None:
        self.nm = io_pars.noise_management == NoiseManagementType.ABS_MAX
        self.bm = io_pars.bound_management == BoundManagementType.ITERATIVE
        self.inp_bound = float(io_pars.inp_bound) if io_pars.inp_bound > 0 else float("inf")
        self.out_bound = float(io_pars.out_bound) if io_pars.out_bound > 0 else float("inf")
        self.inp_step = _grid_step(io_pars.inp_res, 2.0 * self.inp_bound)
        self.out_step = _grid_step(io_pars.out_res, 2.0 * self.out_bound)
        self.out_noise = float(io_pars.out_noise)
        self.out_scale = float(io_pars.out_scale)
        self.max_bm_factor = int(io_pars.max_bm_factor)
        self.max_bm_res = float(io_pars.max_bm_res)
        self.test_negative = bool(io_pars.bm_test_negative_bound)

    def last_round(self, reduction: float) -> bool:
        """aihwkit's stopping rule: the round with this reduction is accepted as it is."""
        if int(reduction) > self.max_bm_factor:
            return True
        return self.inp_step > 0 and reduction > self.max_bm_res / self.inp_step


def _prepare(x: Tensor, scale: Tensor, plan: _Plan) -> Tensor:
    """DAC: ``x * scale`` (scale per vector) on the input grid, clipped at the input bound."""
    return _quantize(x * scale[:, None], plan.inp_step).clamp_(-plan.inp_bound, plan.inp_bound)


def _finalize(out: Tensor, plan: _Plan, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """ADC of raw outputs ``[..., out]``: noise, grid, clip; also whether each vector clipped."""
    if plan.out_noise > 0:
        noise = torch.randn(out.shape, generator=generator, dtype=out.dtype, device=out.device)
        out.add_(noise, alpha=plan.out_noise)
    out = _quantize(out, plan.out_step)
    if plan.test_negative:
        clipped = out.abs().amax(dim=-1) > plan.out_bound
    else:
        clipped = out.amax(dim=-1) > plan.out_bound
    return out.clamp_(-plan.out_bound, plan.out_bound), clipped


def _pair_products(inputs: Tensor, weights: Tensor, replica_ids: Tensor) -> Tensor:
    """``[k, out]``: row ``j`` is ``weights[replica_ids[j]] @ inputs[j]``.

    In slices of pairs, so the gathered ``[pairs, out, in]`` weights stay within a few
    ``_CHUNK_ELEMENTS`` however many vectors clipped (each pair's product is computed alone, so
    the slicing does not change its bits).
    """
    per_slice = max(1, 4 * _CHUNK_ELEMENTS // (weights.shape[1] * weights.shape[2]))
    parts = [
        torch.einsum(
            "ki,koi->ko",
            inputs[start : start + per_slice],
            weights[replica_ids[start : start + per_slice]],
        )
        for start in range(0, inputs.shape[0], per_slice)
    ]
    return torch.cat(parts) if parts else inputs.new_zeros((0, weights.shape[1]))


def _forward_chunk(
    weights: Tensor,
    x: Tensor,
    prepared: Tensor,
    base: Tensor,
    plan: _Plan,
    generator: torch.Generator | None,
) -> Tensor:
    """``[m, n, out]`` outputs of ``n`` replicas for the probes ``x [m, in]``.

    The first round sends the one prepared input through all ``n`` replicas in one mat-mul;
    the (rare) vectors that clipped are redone per (vector, replica) pair. ``prepared`` is the
    first round's DAC input ``[m, in]`` and ``base`` the per-vector ``1 / nm`` ``[m]``.
    """
    n, d_size = weights.shape[0], weights.shape[1]
    m = x.shape[0]
    raw = (prepared @ weights.reshape(n * d_size, -1).T).view(m, n, d_size)
    out, clipped = _finalize(raw, plan, generator)
    out *= (plan.out_scale / base)[:, None, None]
    reduction = 1.0
    while plan.bm and bool(clipped.any()) and not plan.last_round(reduction):
        reduction *= 2.0
        rows, replica_ids = clipped.nonzero(as_tuple=True)
        scale = base[rows] / reduction
        raw = _pair_products(_prepare(x[rows], scale, plan), weights, replica_ids)
        redo, still = _finalize(raw, plan, generator)
        out[rows, replica_ids] = redo * (plan.out_scale / scale)[:, None]
        clipped = torch.zeros_like(clipped)
        clipped[rows, replica_ids] = still
    return out


@torch.no_grad()
def io_managed_forward(
    weights: Tensor,
    x: Tensor,
    io_pars: Any,
    generator: torch.Generator | None = None,
    combine: Tensor | None = None,
) -> Tensor:
    """aihwkit's IO-managed forward of ``x`` through every replica, batched.

    Parameters
    ----------
    weights
        ``[N, out, in]`` float32 replica weights (conductance units, e.g. ``get_weights()``).
    x
        ``[M, in]`` float32 input vectors (the same for every replica).
    io_pars
        The replicas' forward ``IOParameters`` (``supports(io_pars)`` must hold).
    generator
        ``torch.Generator`` for the output noise (else torch's global RNG).
    combine
        ``None``: return ``[N, M, out]``. A ``[N]`` weight vector ``p``: return
        ``sum_i p_i y_i`` as ``[M, out]`` float64, without keeping every replica's outputs.

    Returns
    -------
    Tensor
        ``[N, M, out]`` float32, or ``[M, out]`` float64 with ``combine``.
    """
    if not supports(io_pars):
        raise ValueError(
            "io_managed_forward does not model these IO parameters; use aihwkit's forward "
            "(supports(io_pars) is False)"
        )
    if weights.ndim != 3 or x.ndim != 2 or weights.shape[2] != x.shape[1]:
        raise ValueError(
            f"expected weights [N, out, in] and x [M, in], got {tuple(weights.shape)} "
            f"and {tuple(x.shape)}"
        )
    weights = weights.float()
    x = x.float()
    n, d_size = weights.shape[0], weights.shape[1]
    if io_pars.is_perfect:
        outputs = torch.matmul(x, weights.transpose(-1, -2))
        if combine is None:
            return outputs
        return torch.einsum("n,nmo->mo", combine.double(), outputs.double())
    plan = _Plan(io_pars)
    nm = x.abs().amax(dim=1) if plan.nm else torch.ones(x.shape[0])
    zero_rows = nm <= 0
    nm = torch.where(zero_rows, torch.ones_like(nm), nm)
    base = torch.ones((), dtype=torch.float32) / nm if plan.nm else torch.ones(x.shape[0])
    prepared = _prepare(x, base, plan)
    per_chunk = max(1, _CHUNK_ELEMENTS // max(1, x.shape[0] * d_size))
    chunks = []
    total = None
    for start in range(0, n, per_chunk):
        out = _forward_chunk(weights[start : start + per_chunk], x, prepared, base, plan, generator)
        out[zero_rows] = 0.0
        if combine is None:
            chunks.append(out.permute(1, 0, 2))
        else:
            p = combine[start : start + per_chunk].to(torch.float32)
            if p.numel() == 1:  # one replica per chunk: einsum's one product, without its cost
                part = (out[:, 0] * p[0]).double()
            else:
                part = torch.einsum("n,mno->mo", p, out).double()
            total = part if total is None else total + part
    return torch.cat(chunks).contiguous() if combine is None else total


@torch.no_grad()
def io_managed_sliced(
    weights: Tensor,
    x: Tensor,
    io_pars: Any,
    generator: torch.Generator | None = None,
    transposed: bool = False,
) -> Tensor:
    """aihwkit's IO-managed MVM of slice ``i`` of a batch through replica ``i``, batched.

    What N aihwkit calls ``replicas[i].tile.forward(x[i])`` (or ``.backward``) compute, in one
    ``torch.bmm`` per round: the multi-tile tile's training forward and backward
    (``replica_engine="batched"``). The steps are :func:`io_managed_forward`'s; the backward
    (``transposed``) has no bound management, as in aihwkit's ``ForwardBackwardPassIOManaged::
    backwardVector``.

    Parameters
    ----------
    weights
        ``[N, out, in]`` float32 replica weights.
    x
        ``[N, M, in]`` inputs (``[N, M, out]`` errors with ``transposed``), slice ``i`` for
        replica ``i``. All-zero rows (e.g. padding) give all-zero outputs, as in aihwkit.
    io_pars
        The replicas' forward (or backward) ``IOParameters``; ``supports(io_pars)`` must hold.
    generator
        ``torch.Generator`` for the output noise (else torch's global RNG).
    transposed
        Backward pass: ``W^T d`` instead of ``W x``.

    Returns
    -------
    Tensor
        ``[N, M, out]`` (``[N, M, in]`` with ``transposed``) float32.
    """
    if not supports(io_pars):
        raise ValueError(
            "io_managed_sliced does not model these IO parameters; use aihwkit's forward "
            "(supports(io_pars) is False)"
        )
    k_dim = weights.shape[1] if transposed else weights.shape[-1]
    if weights.ndim != 3 or x.ndim != 3 or x.shape[0] != weights.shape[0] or x.shape[2] != k_dim:
        raise ValueError(
            f"expected weights [N, out, in] and x [N, M, {'out' if transposed else 'in'}], got "
            f"{tuple(weights.shape)} and {tuple(x.shape)}"
        )
    weights = weights.float()
    matrices = weights if transposed else weights.transpose(1, 2)  # right factors [N, k, o]
    x = x.float()
    n, m = x.shape[0], x.shape[1]
    if io_pars.is_perfect:
        return torch.bmm(x, matrices)
    plan = _Plan(io_pars)
    if transposed:
        plan.bm = False
    flat = x.reshape(n * m, k_dim)
    nm = flat.abs().amax(dim=1) if plan.nm else torch.ones(n * m)
    zero_rows = nm <= 0
    nm = torch.where(zero_rows, torch.ones_like(nm), nm)
    base = torch.ones((), dtype=torch.float32) / nm if plan.nm else torch.ones(n * m)
    prepared = _prepare(flat, base, plan).view(n, m, k_dim)
    out, clipped = _finalize(torch.bmm(prepared, matrices), plan, generator)
    if transposed:  # aihwkit's backward scales by out_scale * nm, its forward by out_scale / scale
        out *= (torch.tensor(plan.out_scale, dtype=torch.float32) * nm).view(n, m, 1)
    else:
        out *= (plan.out_scale / base).view(n, m, 1)
    reduction = 1.0
    while plan.bm and bool(clipped.any()) and not plan.last_round(reduction):
        reduction *= 2.0
        replica_ids, rows = clipped.nonzero(as_tuple=True)
        flat_ids = replica_ids * m + rows
        scale = base[flat_ids] / reduction
        raw = _pair_products(_prepare(flat[flat_ids], scale, plan), weights, replica_ids)
        redo, still = _finalize(raw, plan, generator)
        out[replica_ids, rows] = redo * (plan.out_scale / scale)[:, None]
        clipped = torch.zeros_like(clipped)
        clipped[replica_ids, rows] = still
    out.view(n * m, -1)[zero_rows] = 0.0
    return out


def read_columns_batched(
    weights: Tensor, column: int, io_pars: Any, generator: torch.Generator | None = None
) -> Tensor:
    """Column ``column`` of N replicas, read as aihwkit's forward of the unit vector reads it.

    The transfer read of ``replicated_A``'s N gradient tiles in one pass: aihwkit computes
    ``W e_k`` as a full MVM, whose sum over the zero inputs adds nothing, so the same IO steps
    (input quantisation of the 1, output noise, bound, ADC) applied to the one column give its
    bits with the noise off.

    Parameters
    ----------
    weights
        ``[N, out, in]`` float32 weights.
    column
        The column ``k`` (``0 <= k < in``).
    io_pars
        The tiles' forward ``IOParameters`` (a transfer's read: ``device.transfer_forward``);
        ``supports(io_pars)`` must hold.
    generator
        ``torch.Generator`` for the output noise (else torch's global RNG).

    Returns
    -------
    Tensor
        ``[N, out]`` float32.
    """
    if weights.ndim != 3 or not 0 <= column < weights.shape[-1]:
        raise ValueError(
            f"expected weights [N, out, in] and 0 <= column < in, got {tuple(weights.shape)} "
            f"and column {column}"
        )
    unit = torch.ones(weights.shape[0], 1, 1, dtype=torch.float32)
    return io_managed_sliced(weights[:, :, column : column + 1], unit, io_pars, generator)[:, 0]
