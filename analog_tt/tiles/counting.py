"""Operation counting for the hardware (time / energy) model, without modifying aihwkit.

Counting is switched on per layer by the rpu-config field ``count_ops=True`` and costs a few
integer additions per call (plus, for forward passes with iterative bound management, one
noise-free digital mat-mul per replica slice to count the bound-management rounds).

Record schema (plain JSON, ints only), as returned by :func:`collect_op_counts`::

    {
      "<layer name>": {                  # name of the module holding the tile, e.g. "0" or "fc1"
        "batches": int,                  # training mini-batches (calls of the tile update)
        "samples": int,                  # training samples (sum of the batch sizes)
        "forward":        {"vectors", "sequential", "pulses", "bm_rounds", "bm_vectors"},
        "backward":       {...},         # same five keys in every phase
        "update_A":       {...},
        "transfer_read":  {...},
        "transfer_write": {...},
        "program":        {...},
        "read":           {...},
      },
      ...
    }

Per phase:

``vectors``
    Analog vector operations in total (one MVM of one input vector on one tile, or one rank-1
    pulsed update of one vector pair), summed over replicas.
``sequential``
    Time steps when the replicas (and replicated gradient tiles) run in parallel: forward and
    backward of ``B`` samples on ``N`` replicas take ``max slice length = ceil(B / N)`` steps;
    the ``shared_A`` gradient update takes ``B`` steps, the ``replicated_A`` one ``ceil(B / N)``;
    a transfer read takes 1 step (``shared_A``: 1 vector; ``replicated_A``: ``N`` vectors in
    parallel); a transfer write takes 1 step (``N`` vectors, one per replica). A transfer write
    is counted only when the write vector is non-zero (as in the paper's logs).
``pulses``
    Sum over the update vectors of the pulse-train length used: ``update.desired_bl`` for the
    gradient-tile updates, ``device.transfer_update.desired_bl`` for transfer writes (upper
    bounds: update-BL management may shorten trains).
``bm_rounds``
    Extra (beyond the first) iterative bound-management rounds, summed over forward calls and
    replicas. Computed by :func:`bound_management_rounds`, a side re-implementation of aihwkit's
    iterative bound-management criterion on the same inputs and exact replica weights (noise-free,
    whole-slice criterion as in aihwkit's ``AnalogMVM``). Non-zero only for ``forward``.
``bm_vectors``
    Extra analog vector operations caused by those rounds: ``sum (rounds_i - 1) * len_i``.

Forward passes in evaluation mode (``model.eval()``) are not counted. ``program`` and ``read``
are filled by the programming / read-out code through :func:`record_ops`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType
from torch import Tensor, nn

from ..core.vocabulary import PHASES
from .io_forward import IO_FIELDS_OFF

__all__ = [
    "COUNT_KEYS",
    "PHASES",
    "bound_management_rounds",
    "bound_management_rounds_batched",
    "certificate_supported",
    "first_round_certified",
    "collect_op_counts",
    "empty_record",
    "reset_op_counts",
]

COUNT_KEYS = ("vectors", "sequential", "pulses", "bm_rounds", "bm_vectors")


def empty_record() -> dict[str, Any]:
    """A zeroed per-layer record (see the module docstring for the schema)."""
    record: dict[str, Any] = {phase: dict.fromkeys(COUNT_KEYS, 0) for phase in PHASES}
    record["batches"] = 0
    record["samples"] = 0
    return record


def _quantize(values: Tensor, res: float, bound: float) -> Tensor:
    """Deterministic uniform quantisation as aihwkit's ``UniformQuantize`` (no stochastic round)."""
    if res <= 0:
        return values
    res = 1.0 / res if res > 1.0 else res
    step = res * 2.0 * bound if bound > 0 else res
    return torch.round(values / step) * step


@torch.no_grad()
def _bm_limits(io_pars: Any) -> tuple[float, float, float]:
    """``(out_bound, inp_bound, inp_res)`` as aihwkit's bound-management loop uses them: a
    non-positive bound means none (inf); ``inp_res`` as a step in input units (``1/res`` when
    given as a level count), scaled by ``2 * inp_bound``."""
    out_bound = io_pars.out_bound if io_pars.out_bound > 0 else float("inf")
    inp_bound = io_pars.inp_bound if io_pars.inp_bound > 0 else float("inf")
    inp_res = io_pars.inp_res
    if inp_res > 0:
        inp_res = 1 / inp_res if inp_res > 1.0 else inp_res
        inp_res *= 2.0 * io_pars.inp_bound
    return out_bound, inp_bound, inp_res


def bound_management_rounds(weight: Tensor, inputs: Tensor, io_pars: Any) -> int:
    """Number of iterative bound-management rounds for one forward MVM of a batch slice.

    Re-implements the criterion of aihwkit's ``AnalogMVM.matmul`` (bound management ``ITERATIVE``)
    without noise: the input is scaled by the noise-management scale (``ABS_MAX`` per row, or
    1 for ``NONE``) and by a reduction ``r = 1, 2, 4, ...``, quantised by the DAC and clipped to
    ``inp_bound``; the round passes when every output of the slice, after ADC quantisation, lies in
    ``[-out_bound, out_bound]``; the loop also stops once ``r > max_bm_factor`` or
    ``r > max_bm_res / (inp_res * 2 * inp_bound)``.

    Parameters
    ----------
    weight : Tensor
        ``[out, in]`` exact weights of the tile.
    inputs : Tensor
        ``[m, in]`` input rows of the slice.
    io_pars : IOParameters
        Forward IO parameters of the tile.

    Returns
    -------
    int
        Rounds used (``>= 1``); 1 when bound management is off or the output never clips.
    """
    if io_pars.bound_management == BoundManagementType.NONE or inputs.numel() == 0:
        return 1
    x = inputs.to(weight.dtype)
    nm = _noise_management_scale(x, io_pars)
    out_bound, inp_bound, inp_res = _bm_limits(io_pars)
    reduction = 0.5
    rounds = 0
    while True:
        reduction *= 2.0
        rounds += 1
        scaled = _quantize(x / nm / reduction, io_pars.inp_res, io_pars.inp_bound)
        scaled = scaled.clamp(-inp_bound, inp_bound)
        out = _quantize(scaled @ weight.T, io_pars.out_res, io_pars.out_bound)
        passed = bool(((out <= out_bound) & (out >= -out_bound)).all())
        passed = (
            passed
            or reduction > io_pars.max_bm_factor
            or (inp_res > 0.0 and reduction > io_pars.max_bm_res / inp_res)
        )
        if passed:
            return rounds


def _noise_management_scale(x: Tensor, io_pars: Any) -> Tensor:
    """Per-row noise-management scale of aihwkit's ``AnalogMVM`` (rows along the last dim)."""
    if io_pars.noise_management == NoiseManagementType.ABS_MAX:
        nm = x.abs().max(dim=-1, keepdim=True)[0]
        if io_pars.nm_thres > 0.0:
            nm = nm.clamp(max=io_pars.nm_thres)
        nm[nm <= 0.0] = 1.0
    elif io_pars.noise_management == NoiseManagementType.NONE:
        nm = torch.ones(1, dtype=x.dtype)
    elif io_pars.noise_management == NoiseManagementType.MAX:
        nm = x.max(dim=-1, keepdim=True)[0]
        nm[nm <= 0.0] = 1.0
    else:  # CONSTANT
        nm = torch.full((1,), io_pars.nm_thres if io_pars.nm_thres > 0 else 1.0, dtype=x.dtype)
    return nm


@torch.no_grad()
def bound_management_rounds_batched(
    weights: Sequence[Tensor] | Callable[[int], Tensor], inputs: Tensor, io_pars: Any
) -> list[int]:
    """:func:`bound_management_rounds` of ``n`` replica slices, the element-wise work batched.

    The same criterion as :func:`bound_management_rounds`; the input scaling, quantisation and
    the pass test run once per round for all replicas (the per-call overhead of those small
    tensor operations dominated the counting cost at large ``N``), the mat-muls per replica.
    With a callable, each replica's weights are fetched right before its mat-mul (while they
    are in cache) and kept only for replicas that need another round.

    Parameters
    ----------
    weights : sequence of Tensor or callable
        ``n`` matrices ``[out, in]`` (exact weights of the replicas), or ``i -> weights of
        replica i``.
    inputs : Tensor
        ``[n, L, in]`` input rows of each replica's slice in the weights' dtype, shorter slices
        padded with zero rows (a zero row never clips, so padding does not change the result).
    io_pars : IOParameters
        Forward IO parameters of the tiles.

    Returns
    -------
    list of int
        Rounds used per replica (``>= 1``).
    """
    n = inputs.shape[0]
    if io_pars.bound_management == BoundManagementType.NONE or inputs.numel() == 0:
        return [1] * n
    weight_of = weights if callable(weights) else weights.__getitem__
    kept: dict[int, Tensor] = {}
    x = inputs
    nm = _noise_management_scale(x, io_pars)
    out_bound, inp_bound, inp_res = _bm_limits(io_pars)
    rounds = [0] * n
    pending = list(range(n))
    reduction = 0.5
    count = 0
    while pending:
        reduction *= 2.0
        count += 1
        stop = reduction > io_pars.max_bm_factor or (
            inp_res > 0.0 and reduction > io_pars.max_bm_res / inp_res
        )
        if len(pending) == n:
            x_p, nm_p = x, nm
        else:
            index = torch.tensor(pending)
            x_p = x[index]
            nm_p = nm[index] if nm.dim() == 3 else nm
        scaled = _quantize(x_p / nm_p / reduction, io_pars.inp_res, io_pars.inp_bound)
        scaled = scaled.clamp(-inp_bound, inp_bound)
        used = []
        outs = []
        for j, i in enumerate(pending):
            weight = kept.get(i)
            if weight is None:
                weight = weight_of(i)
            used.append(weight)
            outs.append(scaled[j] @ weight.T)
        out = _quantize(torch.stack(outs), io_pars.out_res, io_pars.out_bound)
        passed = ((out <= out_bound) & (out >= -out_bound)).flatten(1).all(dim=1).tolist()
        still = []
        kept = {}
        for i, ok, weight in zip(pending, passed, used, strict=True):
            if ok or stop:
                rounds[i] = count
            else:
                still.append(i)
                kept[i] = weight
        pending = still
    return rounds


#: Output-noise draws beyond this many standard deviations (probability < 1e-32 per draw) are the
#: only way :func:`first_round_certified` can certify a row that the exact count would not.
CERTIFICATE_SIGMAS = 12.0

_IO_FIELDS_OFF = IO_FIELDS_OFF


def certificate_supported(io_pars: Any) -> bool:
    """Whether :func:`first_round_certified` applies to a forward with these IO parameters.

    It needs what makes the forward's own output a faithful witness: an ADC grid
    (``out_res > 0``, deterministic rounding), additive Gaussian output noise as the only noise,
    the ``ITERATIVE`` bound management and ``ABS_MAX`` or no noise management.
    """
    if io_pars.bound_management != BoundManagementType.ITERATIVE or io_pars.is_perfect:
        return False
    if io_pars.noise_management not in (NoiseManagementType.ABS_MAX, NoiseManagementType.NONE):
        return False
    if io_pars.out_res <= 0 or io_pars.out_bound <= 0 or io_pars.out_scale == 0:
        return False
    if io_pars.out_sto_round or io_pars.inp_sto_round:
        return False
    if str(getattr(io_pars.mv_type, "value", io_pars.mv_type)) != "OnePass":
        return False
    return all(float(getattr(io_pars, name, 0.0) or 0.0) == 0.0 for name in _IO_FIELDS_OFF)


@torch.no_grad()
def first_round_certified(rows: Tensor, outputs: Tensor, io_pars: Any) -> Tensor:
    """Rows that certainly pass the first bound-management round, read off the forward's output.

    The analog forward already ran aihwkit's own (noisy) iterative bound management on every
    row. Its output ``y = o * nm * r * out_scale`` is the ADC value ``o`` (a multiple of the ADC
    step) times the noise-management scale ``nm`` and the reduction ``r`` (1, 2, 4, ...). A row
    with an output that is an *odd* multiple of the step came from ``r = 1``: its first round
    passed, and ``|o| = |Q(v + noise)|`` bounds the noise-free value ``v`` of the same first
    round by ``|v| <= |o| + step / 2 + |noise|``. So when every output of the row satisfies
    ``|o| <= out_bound - k sigma - step`` (``k =`` :data:`CERTIFICATE_SIGMAS`, ``sigma =
    out_noise``), the exact criterion of :func:`bound_management_rounds` passes the first round
    too, unless a noise draw exceeded ``k`` standard deviations. All-zero input rows never clip.
    Every other row is left to the exact count.

    Parameters
    ----------
    rows : Tensor
        ``[B, in]`` forward inputs.
    outputs : Tensor
        ``[B, out]`` the simulator tile's forward outputs of those rows.
    io_pars : IOParameters
        Forward IO parameters (see :func:`certificate_supported`).

    Returns
    -------
    Tensor
        ``[B]`` bool.
    """
    res = 1.0 / io_pars.out_res if io_pars.out_res > 1.0 else io_pars.out_res
    step = res * 2.0 * io_pars.out_bound
    if io_pars.noise_management == NoiseManagementType.ABS_MAX:
        nm = rows.abs().amax(dim=-1)
    else:
        nm = torch.ones(rows.shape[0], dtype=rows.dtype)
    zero = nm <= 0.0
    unit = nm.clamp(min=torch.finfo(rows.dtype).tiny) * (io_pars.out_scale * step)
    levels = outputs / unit[:, None]  # ADC levels times the reduction
    nearest = torch.round(levels)
    on_grid = (levels - nearest).abs().amax(dim=-1) <= 1e-3
    first_round = (nearest.to(torch.int64) & 1).any(dim=-1)  # an odd level: reduction 1
    limit = io_pars.out_bound - CERTIFICATE_SIGMAS * io_pars.out_noise - step
    inside = nearest.abs().amax(dim=-1) * step <= limit - 1e-3 * step
    return zero | (on_grid & first_round & inside)


def _counting_tiles(model: nn.Module):
    # duck-typed (a tile module whose simulator tile keeps op counts), so that this module, which
    # the tile imports, does not import the tile
    for name, module in model.named_modules():
        tile = getattr(module, "tile", None)
        if hasattr(tile, "op_counts") and hasattr(tile, "reset_op_counts"):
            yield name, module


def _layer_name(tile_name: str) -> str:
    # AnalogLinear keeps its tile in ``analog_module``; report the layer's own name
    for suffix in (".analog_module", "analog_module"):
        if tile_name.endswith(suffix):
            return tile_name[: -len(suffix)] or "layer"
    return tile_name or "layer"


def collect_op_counts(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Copy of the operation counts of every multi-tile layer of ``model``.

    Returns
    -------
    dict
        ``{layer_name: record}`` with the schema of the module docstring (plain ints).
    """
    out = {}
    for name, tile_module in _counting_tiles(model):
        record = tile_module.tile.op_counts
        out[_layer_name(name)] = {
            key: (dict(value) if isinstance(value, dict) else int(value))
            for key, value in record.items()
        }
    return out


def reset_op_counts(model: nn.Module) -> None:
    """Zero the operation counts of every multi-tile layer of ``model``."""
    for _, tile_module in _counting_tiles(model):
        tile_module.tile.reset_op_counts()
