"""Replica initialisation for multi-tile layers: pulse programming, perturbation, mismatch.

The paper initialises the N weight replicas C_1..C_N of every layer so that they start (almost)
identical (seed analysis §1.9, §4.6: identical replicas matter). Three modes are offered:

``"program"``
    :func:`program_replicas_from_one`: the paper's ``program_weights_from_one`` semantics. Every
    replica starts at ``randn * w_init``; replica 0 is driven towards zero with random inputs until
    the spread of its outputs matches a target weight std; every other replica is then
    pulse-programmed, with the replica's own update rule, to copy replica 0.
``"init_std"``
    :func:`perturb_replicas`: replica_i = reference + Normal(0, init_std), written exactly.
    ``init_std = 0`` gives identical replicas.
``"independent"``
    :func:`independent_replicas`: an independent random draw per replica (the paper's
    ``init_std = -1``).

Everything here works on a plain sequence of aihwkit simulator tiles: either the C++ tiles of
``aihwkit.simulator.rpu_base`` (``forward(x)``, ``update(x, d)``, ``get_weights()``,
``set_weights(w)``, ``get/set_learning_rate``, ``get_x_size()``, ``get_d_size()``) or tile
modules that hold such a tile in ``.tile`` (e.g. ``AnalogTileWithoutPeriphery``). Weights are in
normalised conductance units, i.e. those of ``get_weights()`` of the simulator tile.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..core.validation import check_int, check_number
from ..core.vocabulary import REPLICA_INIT_MODES
from .layers import (
    find_multi_tile_layers,
    forward_noise_of,
    holder_attr,
    randn,
    record_layer_ops,
    replicas_of,
    sim_tile,
    stack_replica_weights,
    tile_device,
)

__all__ = [
    "ProgramReport",
    "independent_replicas",
    "initialize_replicas",
    "mismatch_report",
    "noise_variance",
    "perturb_replicas",
    "program_counts",
    "program_replicas_from_one",
    "replica_mismatch_std",
    "xavier_std",
]


#: EW smoothing factor of the output-variance estimate while driving replica 0 (paper: 0.05).
ALPHA_ZERO = 0.05
#: EW smoothing factor of the error-variance estimate while copying replica 0 (paper: 0.01).
ALPHA_COPY = 0.01


# --------------------------------------------------------------------------------------------
# Mismatch statistics
# --------------------------------------------------------------------------------------------


def replica_mismatch_std(weights: Tensor) -> float:
    r"""Pairwise replica-difference std of a stack of replica weights.

    Defined as the root mean square, over all unordered replica pairs :math:`i < j`, of the
    population standard deviation (over the ``out * in`` elements) of the difference
    :math:`W_i - W_j`:

    .. math::

        D = \sqrt{\frac{2}{N(N-1)} \sum_{i<j} \operatorname{std}(W_i - W_j)^2}.

    For N = 2 this is ``std(W_1 - W_0)``, the number the paper printed as "pairwise
    replica-difference std". It is computed without the O(N^2) loop through the identity
    :math:`\sum_{i<j} \|A_i - A_j\|^2 = N \sum_i \|A_i - \bar A\|^2` with :math:`A_i` the
    mean-centred replicas. If every replica is an independent copy of a common matrix plus i.i.d.
    noise of std s, D is about ``sqrt(2) * s``.

    Parameters
    ----------
    weights
        ``[N, out, in]`` replica weights.

    Returns
    -------
    float
        D in weight units; ``0.0`` for N = 1 (no pairs).
    """
    if not isinstance(weights, Tensor) or weights.dim() != 3:
        shape = tuple(weights.shape) if isinstance(weights, Tensor) else type(weights).__name__
        raise ValueError(f"weights must be a [N, out, in] tensor, got {shape}")
    n = weights.shape[0]
    if n < 2:
        return 0.0
    w = weights.detach().double().flatten(1)
    centred = w - w.mean(dim=1, keepdim=True)
    spread = centred - centred.mean(dim=0, keepdim=True)
    mean_sq = spread.pow(2).mean(dim=1).sum()  # sum_i E[(A_i - Abar)^2]
    return float(torch.sqrt(2.0 * mean_sq / (n - 1)))


def mismatch_report(weights: Tensor, target_std: float | None = None) -> dict[str, Any]:
    """Per-layer summary of a replica stack, as printed by the paper (§1.9).

    Parameters
    ----------
    weights
        ``[N, out, in]`` replica weights.
    target_std
        The intended weight std (e.g. the Xavier std), echoed in the report.

    Returns
    -------
    dict
        ``n_replicas``, ``shape`` (``[out, in]``), ``intended_std``, ``reference_std`` (std of
        replica 0, the paper's "actual std"), ``mean_replica_std`` (average std of the replicas),
        ``mismatch_std`` (:func:`replica_mismatch_std`), ``max_abs_dev`` (largest
        ``|W_i - mean_j W_j|``) and ``copy_gain``: the least-squares slope of the centred
        replicas ``i >= 1`` on the centred replica 0, averaged over i (1 for perfect copies; None
        for N = 1). A gain below 1 means the copies are attenuated versions of the reference.
    """
    if not isinstance(weights, Tensor) or weights.dim() != 3:
        raise ValueError("weights must be a [N, out, in] tensor")
    w = weights.detach().double()
    gain = None
    if w.shape[0] > 1:
        ref = (w[0] - w[0].mean()).flatten()
        denom = float(ref @ ref)
        if denom > 0:
            gains = [float((w[i] - w[i].mean()).flatten() @ ref) / denom for i in range(1, len(w))]
            gain = sum(gains) / len(gains)
    return {
        "n_replicas": int(w.shape[0]),
        "shape": [int(w.shape[1]), int(w.shape[2])],
        "intended_std": None if target_std is None else float(target_std),
        "reference_std": float(w[0].std(correction=0)),
        "mean_replica_std": float(w.flatten(1).std(dim=1, correction=0).mean()),
        "mismatch_std": replica_mismatch_std(weights),
        "max_abs_dev": float((w - w.mean(dim=0, keepdim=True)).abs().max()),
        "copy_gain": gain,
    }


def xavier_std(in_size: int, out_size: int) -> float:
    """Std of a Xavier (Glorot) normal matrix, ``sqrt(2 / (in + out))``: the paper's target std."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"in_size and out_size must be >= 1, got {in_size}, {out_size}")
    return math.sqrt(2.0 / (in_size + out_size))


def noise_variance(forward_noise: float, in_size: int) -> float:
    r"""Expected variance that forward read noise adds to one output (paper's formula, §1.9).

    .. math::

        \sigma^2 = \left(\sigma_f + 2.2\times10^{-3}\,\frac{0.1}{\sigma_f}\right)^2
                   \frac{2\ln n - \ln\ln n}{n},

    with :math:`\sigma_f` the forward ``out_noise`` and :math:`n` the input size. The second factor
    is about the squared expected abs-max of n standard normals divided by n, i.e. the scale that
    abs-max noise management applies to an input ``x ~ N(0, 1) / sqrt(n)``. ``forward_noise = 0``
    gives 0 (as in the paper's code).

    Parameters
    ----------
    forward_noise
        Output noise std of the forward pass (``rpu_config.forward.out_noise``), >= 0.
    in_size
        Number of inputs n, >= 3 (``ln ln n`` must be defined and positive).
    """
    if forward_noise < 0:
        raise ValueError(f"forward_noise must be >= 0, got {forward_noise}")
    if in_size < 3:
        raise ValueError(f"in_size must be >= 3 for the noise formula, got {in_size}")
    if forward_noise == 0:
        return 0.0
    abs_max_sq = (2.0 * math.log(in_size) - math.log(math.log(in_size))) / in_size
    return (forward_noise + 2.2e-3 * (0.1 / forward_noise)) ** 2 * abs_max_sq


# --------------------------------------------------------------------------------------------
# Programming
# --------------------------------------------------------------------------------------------


@dataclass
class ProgramReport:
    """Outcome of :func:`program_replicas_from_one` for one layer.

    Attributes
    ----------
    n_replicas, out_size, in_size
        Layer geometry.
    target_std
        The weight std replica 0 was driven to.
    learning_rate
        Programming learning rate actually set on the tiles (``lr / transfer_bl``).
    noise_var
        :func:`noise_variance` used in both thresholds.
    threshold_zero, threshold_copy
        Stopping thresholds on the EW variance: ``target_std**2 + noise_var`` for replica 0,
        ``tolerance**2 + 2 * noise_var`` for the copies.
    iterations
        ``[N]`` number of probe vectors sent per replica (index 0: the drive of replica 0). A probe
        that meets the threshold is counted but not followed by an update.
    updates
        ``[N]`` number of pulsed updates applied per replica.
    stopped_by
        ``[N]`` ``"tolerance"`` (EW variance fell below the threshold) or ``"cap"`` (the
        iteration cap was reached first).
    final_ew_var
        ``[N]`` EW variance estimate when the replica's loop ended.
    analog_ops
        Vector operations for the hardware model, phase ``"program"``: a list of records with keys
        ``phase``, ``stage`` (``"drive_reference"`` or ``"copy"``), ``op`` (``"forward"`` or
        ``"update"``), ``tile`` (``"main"``), ``vectors`` and ``pfactor`` (how many of those
        vectors run at once across replicas). The copies are taken to run in parallel, as in the
        paper's log: one read of replica 0 per step serves all copies, so its forwards are
        ``sum(iterations[1:]) + max(iterations[1:])`` with pfactor ``sum / max``.
    simulated_forward_calls
        Forward calls actually made in this simulation (replica 0 is re-read for every copy).
    after
        :func:`mismatch_report` of the exact weights after programming.
    wall_s
        Wall-clock seconds spent.
    """

    n_replicas: int
    out_size: int
    in_size: int
    target_std: float
    learning_rate: float
    noise_var: float
    threshold_zero: float
    threshold_copy: float
    iterations: list[int] = field(default_factory=list)
    updates: list[int] = field(default_factory=list)
    stopped_by: list[str] = field(default_factory=list)
    final_ew_var: list[float] = field(default_factory=list)
    analog_ops: list[dict[str, Any]] = field(default_factory=list)
    simulated_forward_calls: int = 0
    after: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary of all fields."""
        return asdict(self)


def _ew_var_loop(
    probe: Any,
    step: Any,
    *,
    threshold: float,
    alpha: float,
    max_iter: int,
) -> tuple[int, int, str, float]:
    """Run ``probe -> EW variance -> stop or step`` until the variance is below ``threshold``.

    ``probe()`` returns ``(x, error)``; the EW variance starts at ``2 * threshold`` and follows
    ``v <- (1 - alpha) v + alpha var(error)``. Returns (iterations, updates, stopped_by, v).
    """
    ew_var = 2.0 * threshold
    for it in range(max_iter):
        x, error = probe()
        n_out = error.numel()
        current = float(torch.var(error, correction=1 if n_out > 1 else 0))
        ew_var = (1.0 - alpha) * ew_var + alpha * current
        if ew_var < threshold:
            return it + 1, it, "tolerance", ew_var
        step(x, error)
    return max_iter, max_iter, "cap", ew_var


def _check_nonneg_int(name: str, value: Any) -> int:
    return check_int(name, value, 0)


def _check_positive(name: str, value: Any, allow_zero: bool = False) -> float:
    return check_number(name, value, 0.0, low_open=not allow_zero)


@torch.no_grad()
def program_replicas_from_one(
    replicas: Sequence[Any],
    *,
    target_std: float,
    lr: float = 0.25,
    transfer_bl: int = 1,
    w_init: float = 0.4,
    max_iter_zero: int = 100_000,
    max_iter: int = 20_000,
    tolerance: float = 0.025,
    forward_noise: float | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> ProgramReport:
    """Pulse-program N replicas to (almost) the same random matrix of a given std (§1.9).

    1. Every replica is set to ``randn * w_init`` (Gaussian, exact write).
    2. Replica 0 is driven with single random inputs ``x ~ N(0, 1) / sqrt(in)``: ``y = C_0 x``,
       update ``C_0 <- C_0 - lr_p * y x^T`` (its own pulsed update), i.e. a noisy decay towards 0.
       The EW variance (alpha = 0.05, start 2x threshold) of the outputs estimates the weight
       variance; the loop stops before the update once it is below ``target_std**2 + noise_var``,
       or after ``max_iter_zero`` probes.
    3. Every other replica i is driven with fresh probes and the error ``C_i x - C_0 x`` (both noisy
       analog reads), update ``C_i <- C_i - lr_p * error x^T``, until the EW variance
       (alpha = 0.01) of the error is below ``tolerance**2 + 2 * noise_var`` or after ``max_iter``
       probes.

    ``lr_p = lr / transfer_bl`` is set as the tiles' learning rate during programming and every
    tile's previous learning rate is restored afterwards. Pulses follow each tile's own
    ``rpu_config.update`` (for the paper's C tiles: ``transfer_update``, BL 1, no update
    management). Unlike the paper's code, probes are allocated on the tiles' device and drawn from
    ``generator`` (or the seeded global RNG), and every tile's learning rate is restored.

    Parameters
    ----------
    replicas
        N >= 1 simulator tiles of equal shape ``[out, in]`` (see :func:`sim_tile`).
    target_std
        Std the reference replica is driven to (> 0), e.g. :func:`xavier_std`. Only the std of the
        paper's Xavier target is used, never its values.
    lr, transfer_bl
        Programming learning rate is ``lr / transfer_bl`` (paper: 0.25 / 1).
    w_init
        Std of the Gaussian start (>= 0; paper 0.4), normalised conductance units.
    max_iter_zero, max_iter
        Probe caps for replica 0 and for each copy (paper scripts: 100000 and 20000).
    tolerance
        Target std of the copy error (paper 0.025), output units for inputs of unit norm.
    forward_noise
        Forward output noise for :func:`noise_variance`; ``None`` reads
        ``replicas[0].rpu_config.forward.out_noise`` (required for raw rpu_base tiles).
    generator
        Optional ``torch.Generator`` for the probe inputs (the pulse noise comes from aihwkit's
        own RNG, seeded by ``torch.manual_seed``).
    device
        Device of the probes; default: the tiles' device.

    Returns
    -------
    ProgramReport

    Raises
    ------
    ValueError
        On an empty replica list, unequal shapes or invalid numbers.
    """
    if len(replicas) == 0:
        raise ValueError("replicas must hold at least one tile, got an empty sequence")
    target_std = _check_positive("target_std", target_std)
    lr = _check_positive("lr", lr)
    if isinstance(transfer_bl, bool) or not isinstance(transfer_bl, int) or transfer_bl < 1:
        raise ValueError(f"transfer_bl must be an int >= 1, got {transfer_bl!r}")
    w_init = _check_positive("w_init", w_init, allow_zero=True)
    max_iter_zero = _check_nonneg_int("max_iter_zero", max_iter_zero)
    max_iter = _check_nonneg_int("max_iter", max_iter)
    tolerance = _check_positive("tolerance", tolerance, allow_zero=True)

    sims = [sim_tile(r) for r in replicas]
    in_size, out_size = int(sims[0].get_x_size()), int(sims[0].get_d_size())
    for i, s in enumerate(sims):
        if (int(s.get_x_size()), int(s.get_d_size())) != (in_size, out_size):
            raise ValueError(
                f"replica {i} has shape [{s.get_d_size()}, {s.get_x_size()}], "
                f"replica 0 has [{out_size}, {in_size}]"
            )
    if forward_noise is None:
        forward_noise = forward_noise_of(replicas[0])
        if forward_noise is None:
            raise ValueError(
                "forward_noise must be given for tiles without an rpu_config "
                "(the forward out_noise, e.g. 0.1 for PresetIOParameters)"
            )
    forward_noise = _check_positive("forward_noise", forward_noise, allow_zero=True)
    dev = torch.device(device) if device is not None else tile_device(replicas[0])

    start = time.perf_counter()
    lr_p = lr / transfer_bl
    noise_var = noise_variance(forward_noise, in_size)
    report = ProgramReport(
        n_replicas=len(sims),
        out_size=out_size,
        in_size=in_size,
        target_std=target_std,
        learning_rate=lr_p,
        noise_var=noise_var,
        threshold_zero=target_std**2 + noise_var,
        threshold_copy=tolerance**2 + 2.0 * noise_var,
    )
    norm = math.sqrt(in_size)

    def draw() -> Tensor:
        return randn((1, in_size), generator, dev) / norm

    saved_lr = [s.get_learning_rate() for s in sims]
    try:
        for s in sims:
            s.set_weights(randn((out_size, in_size), generator, dev).cpu() * w_init)
            s.set_learning_rate(lr_p)

        ref = sims[0]
        calls = 0

        def probe_ref() -> tuple[Tensor, Tensor]:
            nonlocal calls
            x = draw()
            calls += 1
            return x, ref.forward(x)

        it0, up0, why0, v0 = _ew_var_loop(
            probe_ref,
            lambda x, e: ref.update(x, e, False),
            threshold=report.threshold_zero,
            alpha=ALPHA_ZERO,
            max_iter=max_iter_zero,
        )
        report.iterations.append(it0)
        report.updates.append(up0)
        report.stopped_by.append(why0)
        report.final_ew_var.append(v0)

        for s in sims[1:]:

            def probe_copy(s: Any = s) -> tuple[Tensor, Tensor]:
                nonlocal calls
                x = draw()
                calls += 2
                return x, s.forward(x) - ref.forward(x)

            it, up, why, v = _ew_var_loop(
                probe_copy,
                lambda x, e, s=s: s.update(x, e, False),
                threshold=report.threshold_copy,
                alpha=ALPHA_COPY,
                max_iter=max_iter,
            )
            report.iterations.append(it)
            report.updates.append(up)
            report.stopped_by.append(why)
            report.final_ew_var.append(v)
    finally:
        for s, old in zip(sims, saved_lr, strict=True):
            if old is not None:
                s.set_learning_rate(old)

    report.simulated_forward_calls = calls
    report.analog_ops = _program_op_records(report.iterations, report.updates)
    report.after = mismatch_report(stack_replica_weights(replicas), target_std)
    report.wall_s = time.perf_counter() - start
    return report


def _program_op_records(iterations: list[int], updates: list[int]) -> list[dict[str, Any]]:
    """Hardware-model vector counts of one programming run (see :class:`ProgramReport`)."""
    recs: list[dict[str, Any]] = []
    for op, n in (("forward", iterations[0]), ("update", updates[0])):
        recs.append(
            {
                "phase": "program",
                "stage": "drive_reference",
                "op": op,
                "tile": "main",
                "vectors": int(n),
                "pfactor": 1.0,
            }
        )
    copies_it, copies_up = iterations[1:], updates[1:]
    if copies_it:
        tot, peak = sum(copies_it), max(copies_it)
        pf = tot / peak if peak > 0 else 1.0
        recs.append(
            {
                "phase": "program",
                "stage": "copy",
                "op": "forward",
                "tile": "main",
                "vectors": int(tot + peak),
                "pfactor": pf,
            }
        )
        tot_u, peak_u = sum(copies_up), max(copies_up)
        recs.append(
            {
                "phase": "program",
                "stage": "copy",
                "op": "update",
                "tile": "main",
                "vectors": int(tot_u),
                "pfactor": tot_u / peak_u if peak_u > 0 else 1.0,
            }
        )
    return recs


# --------------------------------------------------------------------------------------------
# Perturbation mode
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def perturb_replicas(
    replicas: Sequence[Any],
    reference: Tensor | None,
    init_std: float,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    """Write ``replica_i = reference + Normal(0, init_std)`` exactly into every replica.

    This is the paper's ``init_std`` mode (``slow_weight_i = Normal(W_init, init_std)``).
    ``init_std = 0`` makes all replicas identical copies of ``reference``. The paper's
    ``init_std = -1`` ("independent") is ``initialize_replicas(..., mode="independent")`` here.
    Values outside the device bounds are clipped by aihwkit on write.

    Parameters
    ----------
    replicas
        N simulator tiles of shape ``[out, in]``.
    reference
        ``[out, in]`` common weights; ``None`` uses replica 0's current weights.
    init_std
        Std of the i.i.d. Gaussian perturbation (>= 0), weight units.
    generator
        Optional ``torch.Generator`` for the perturbations (CPU generator; aihwkit tiles take
        CPU weights).

    Returns
    -------
    dict
        :func:`mismatch_report` of the exact weights after the write.
    """
    if (
        isinstance(init_std, bool)
        or not isinstance(init_std, (int, float))
        or not math.isfinite(init_std)
        or init_std < 0
    ):
        raise ValueError(
            f"init_std must be a finite number >= 0, got {init_std!r} "
            "(use mode='independent' for independent per-replica draws)"
        )
    if len(replicas) == 0:
        raise ValueError("replicas must hold at least one tile, got an empty sequence")
    sims = [sim_tile(r) for r in replicas]
    shape = (int(sims[0].get_d_size()), int(sims[0].get_x_size()))
    if reference is None:
        reference = sims[0].get_weights()
    reference = reference.detach().float().cpu()
    if tuple(reference.shape) != shape:
        raise ValueError(f"reference must have shape {list(shape)}, got {list(reference.shape)}")
    for s in sims:
        noise = randn(shape, generator, torch.device("cpu")) * float(init_std)
        s.set_weights((reference + noise).contiguous())
    return mismatch_report(stack_replica_weights(replicas))


@torch.no_grad()
def independent_replicas(
    replicas: Sequence[Any],
    bound: float | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    """Give every replica its own independent draw ``W_i ~ U(-bound, bound)`` (exact write).

    This is the paper's ``init_std = -1`` ("independent") case. Note that leaving the tiles alone
    does not give it here: ``AnalogLinear.reset_parameters`` writes *one* matrix into every
    replica of an ``analog_tt`` layer, so its replicas start identical. The default bound
    ``1 / sqrt(in)`` is that of ``nn.Linear``'s default init, i.e. the distribution
    ``AnalogLinear`` itself draws from (aihwkit's C++ tiles are constructed with U(-0.1, 0.1)).

    Parameters
    ----------
    replicas
        N simulator tiles of shape ``[out, in]``.
    bound
        Half-width of the uniform distribution (> 0), weight units; default ``1 / sqrt(in)``.
    generator
        Optional ``torch.Generator`` (CPU).

    Returns
    -------
    dict
        :func:`mismatch_report` of the exact weights after the write.
    """
    if len(replicas) == 0:
        raise ValueError("replicas must hold at least one tile, got an empty sequence")
    sims = [sim_tile(r) for r in replicas]
    out_size, in_size = int(sims[0].get_d_size()), int(sims[0].get_x_size())
    if bound is None:
        bound = 1.0 / math.sqrt(in_size)
    bound = _check_positive("bound", bound)
    for s in sims:
        u = (
            torch.rand((out_size, in_size), generator=generator)
            if generator is not None
            else (torch.rand((out_size, in_size)))
        )
        s.set_weights(((2.0 * u - 1.0) * bound).contiguous())
    return mismatch_report(stack_replica_weights(replicas))


# --------------------------------------------------------------------------------------------
# Model-level entry
# --------------------------------------------------------------------------------------------


def program_counts(report: ProgramReport, pulses_per_update: int = 1) -> dict[str, int]:
    """Totals of a programming run in the schema of ``analog_tt.tiles.counting`` (phase ``program``).

    ``vectors`` = forward + update vectors of :attr:`ProgramReport.analog_ops`;
    ``sequential`` = drive steps (forward + update) plus, for the copies run in parallel,
    ``max(iterations[1:]) + max(updates[1:])``; ``pulses`` = update vectors x
    ``pulses_per_update`` (the replicas' update BL).
    """
    vectors = sum(r["vectors"] for r in report.analog_ops)
    updates = sum(r["vectors"] for r in report.analog_ops if r["op"] == "update")
    seq = report.iterations[0] + report.updates[0]
    if report.n_replicas > 1:
        seq += max(report.iterations[1:]) + max(report.updates[1:])
    return {
        "vectors": int(vectors),
        "sequential": int(seq),
        "pulses": int(updates * pulses_per_update),
    }


def _update_bl(replica: Any, default: int) -> int:
    cfg = getattr(replica, "rpu_config", None)
    bl = getattr(getattr(cfg, "update", None), "desired_bl", None)
    return int(bl) if bl is not None else default


def initialize_replicas(
    model: nn.Module,
    mode: Literal["program", "init_std", "independent"],
    init_std: float = 0.0,
    *,
    target_std: float | dict[str, float] | None = None,
    generator: torch.Generator | None = None,
    **program_kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """Initialise the replicas of every multi-tile layer in ``model``.

    Parameters
    ----------
    model
        Module containing multi-tile layers (see :func:`find_multi_tile_layers`).
    mode
        ``"program"`` (:func:`program_replicas_from_one`), ``"init_std"``
        (:func:`perturb_replicas` around replica 0's current weights, i.e. the layer's init) or
        ``"independent"`` (:func:`independent_replicas`: one independent ``nn.Linear``-style
        uniform draw per replica).
    init_std
        Perturbation std for ``"init_std"`` (>= 0); must be 0 for the other modes.
    target_std
        For ``"program"``: the std to program to, a float for all layers or a dict by layer
        name; default :func:`xavier_std` of each layer (what the paper used).
    generator
        Optional ``torch.Generator`` for probes and perturbations.
    **program_kwargs
        Passed to :func:`program_replicas_from_one` (``lr``, ``max_iter``, ...). ``transfer_bl``
        defaults to the layer's ``transfer_bl`` (``device.transfer_update.desired_bl``) when the
        replica holder has one, else 1.

    Returns
    -------
    dict
        ``{layer_name: report}`` where report is ``ProgramReport.to_dict()`` for ``"program"``
        (plus ``"counts"``, the :func:`program_counts` recorded into ``analog_tt`` layers with
        ``count_ops``) and :func:`mismatch_report` otherwise, each with ``"mode"`` added.

    Raises
    ------
    ValueError
        Unknown mode, negative ``init_std``, ``init_std`` with another mode, or no multi-tile
        layer in ``model``.
    """
    if mode not in REPLICA_INIT_MODES:
        raise ValueError(f"mode must be one of {REPLICA_INIT_MODES}, got {mode!r}")
    if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or init_std < 0:
        raise ValueError(f"init_std must be a number >= 0, got {init_std!r}")
    if mode != "init_std" and init_std != 0:
        raise ValueError(f"init_std is only used with mode='init_std', got mode={mode!r}")
    if program_kwargs and mode != "program":
        raise ValueError(f"{sorted(program_kwargs)} only apply to mode='program'")
    layers = find_multi_tile_layers(model)
    if not layers:
        raise ValueError("model has no multi-tile layer (no module with a `replicas` list)")
    out: dict[str, dict[str, Any]] = {}
    for name, layer in layers.items():
        reps = replicas_of(layer)
        if mode == "program":
            sim0 = sim_tile(reps[0])
            if isinstance(target_std, dict):
                std = target_std[name]
            elif target_std is None:
                std = xavier_std(int(sim0.get_x_size()), int(sim0.get_d_size()))
            else:
                std = float(target_std)
            kwargs = dict(program_kwargs)
            if "transfer_bl" not in kwargs:
                kwargs["transfer_bl"] = int(holder_attr(layer, "transfer_bl") or 1)
            result = program_replicas_from_one(reps, target_std=std, generator=generator, **kwargs)
            counts = program_counts(result, _update_bl(reps[0], kwargs["transfer_bl"]))
            record_layer_ops(layer, "program", **counts)
            rep = result.to_dict()
            rep["counts"] = counts
        elif mode == "init_std":
            rep = perturb_replicas(reps, None, init_std, generator)
        else:
            rep = independent_replicas(reps, generator=generator)
        rep["mode"] = mode
        out[name] = rep
    return out
