"""Multi-tile Tiki-Taka tiles as aihwkit plug-ins.

One logical layer is held on ``N = n_tiles`` analog weight replicas ``C_1..C_N`` that share one
digital transfer state. Every mini-batch is cut into contiguous slices (:func:`slice_bounds`);
replica ``i`` runs the forward and backward pass of slice ``i``. The gradient is accumulated on
analog gradient tile(s) ``A`` and moved to the replicas by the Tiki-Taka column transfer; every
replica receives the *same* transfer write.

Algorithms (selected by the compound device of the rpu config):

``TransferCompound``  -> TT-v1 (seed analysis §1.3-1.4)
    ``A.lr = fast_lr``; one ``A`` update per batch; on a transfer, column ``k`` of ``A`` is read
    with a one-hot input, ``omega = A e_k``, and ``C_i.update(e_k, -gain * lr * omega)`` is
    applied to every replica with the replica learning rate set to the SGD learning rate ``lr``
    (the paper never sets C's learning rate; ``AnalogSGD.regroup_param_groups`` sets it to ``lr``
    there, so the applied change is ``gain * lr**2 * omega`` in both). ``gain`` is the config
    field ``tt_v1_transfer_gain`` (the paper hard-codes 10). With ``replicated_A`` the reads of
    all ``A_i`` are summed (an extension: the paper has no replicated TT-v1).
``ChoppedTransferCompound`` -> TTv2 / c-TTv2, ``DynamicTransferCompound`` -> AGAD (§1.2)
    The arithmetic of aihwkit 1.1.0's ``TransferSimulatorTile.update`` (auto-scaled ``lr_a``,
    buffer learning rate ``lr_h``, hidden buffer ``H`` with threshold ``trunc``, chopper,
    AGAD reference/past-mean buffers ``R``/``P``), with the write sent to every replica.

Variants (config field ``variant``):

``"shared_A"`` (the paper's "v1")
    One gradient tile ``A`` updated with the whole mini-batch.
``"replicated_A"`` (the paper's "v2")
    ``N`` gradient tiles; ``A_i`` is updated with slice ``i``; on a transfer all ``A_i`` are read
    and the reads are **summed** into ``H`` (AGAD keeps ``P``/``R`` per gradient tile). ``H`` and
    the chopper stay shared.

The auto-scale running maxima ``m_x``, ``m_d`` of ``lr_a = fast_lr * BL * g_A / (m_x * m_d)``
start at 1.0 (``auto_scale_start="paper"``, what the paper's tiles do), at the first observed
batch maxima (``"first"``, what aihwkit's C++ compound does) or at 0.0 (``"zero"``, aihwkit 1.1.0's
python ``TorchTransferTile``). With ``"zero"`` the EMA ``m <- (1 - tau) m + tau max|x|`` with
``tau = (1 - auto_momentum) / B`` stays tiny for thousands of batches, so ``lr_a`` is huge, every
``A`` update fires the maximum number of pulses (slow: seconds per batch on 2 cores) and the
gradient tile saturates.

The gradient tiles start at exactly 0 (``zero_grad_tiles=True``, as aihwkit's C++ compounds
and the paper's ``fast_weight = 0`` initialisation). aihwkit's python ``TorchTransferTile`` leaves
them at a bare tile's uniform +-0.1 start; that offset is read and written into ``C`` like a
gradient (sign of a random matrix, one pulse per element and transfer) and, on the paper's MNIST
config, masks the true gradient for many epochs.

Differences from aihwkit 1.1.0's ``TorchTransferTile`` (besides ``N``, the variants and the
start options): the running maxima, counters and transfer index are registered buffers (they are
saved by ``state_dict``); the replica learning rate is set again before every transfer write,
because ``AnalogSGD.regroup_param_groups`` overwrites the learning rate of every analog context
it finds, the inner tiles' included; the chopper is applied out of place (aihwkit multiplies the
caller's input tensor in place). With ``N = 1``, ``shared_A``, ``auto_scale_start="zero"`` and
the same gradient-tile start, the arithmetic is identical to aihwkit's (tested bit for bit with
noise switched off).

Replica passes (config field ``replica_engine``): ``"aihwkit"`` runs slice ``i`` through
replica ``i``'s own C++ forward / backward; ``"batched"`` runs all slices in one torch ``bmm``
over the replicas' weights, shared with their C++ tiles (:mod:`analog_tt.tiles.shared_weights`;
the same IO model, its own random stream). Updates and transfers are aihwkit's either way.

The layer-level module is :class:`MultiTileTransferTile` (an aihwkit ``TorchTransferTile``
subclass: ``TileModule`` + ``TileWithPeriphery`` + ``SimulatorTileWrapper``). It provides the
digital bias and the learned output scale ``alpha`` through aihwkit's periphery. Its simulator
tile, :class:`MultiTileTransferSimulatorTile`, is reachable as ``layer.analog_module.tile``.
"""

from __future__ import annotations

from copy import deepcopy
from math import ceil
from typing import Any

import torch
from aihwkit.exceptions import ConfigError
from aihwkit.simulator.configs.compounds import (
    BufferedTransferCompound,
    ChoppedTransferCompound,
    DynamicTransferCompound,
    TransferCompound,
)
from aihwkit.simulator.configs.configs import SingleRPUConfig, UnitCellRPUConfig
from aihwkit.simulator.parameters.enums import BoundManagementType, RPUDataType
from aihwkit.simulator.tiles.analog import AnalogTileWithoutPeriphery
from aihwkit.simulator.tiles.base import AnalogTileStateNames, SimulatorTile
from aihwkit.simulator.tiles.transfer import TorchTransferTile
from torch import Tensor, nn

from ..core.seeding import derived_seed
from ..core.validation import check_choice, check_int
from ..core.vocabulary import AUTO_SCALE_STARTS, REPLICA_ENGINES, VARIANTS
from .counting import (
    bound_management_rounds_batched,
    certificate_supported,
    empty_record,
    first_round_certified,
)
from .io_forward import io_managed_sliced, read_columns_batched
from .io_forward import supports as io_forward_supports
from .shared_weights import SharedReplicaWeights

__all__ = [
    "MultiTileTransferSimulatorTile",
    "MultiTileTransferTile",
    "check_tile_config",
    "slice_bounds",
    "tile_algorithm",
]

_AUTO_SCALE_INIT = {"paper": 1.0, "zero": 0.0, "first": 0.0}


def slice_bounds(batch_size: int, n_tiles: int) -> list[tuple[int, int]]:
    """Contiguous slice ``[start, stop)`` of the mini-batch handled by each replica.

    Rule: replica ``i`` gets ``floor(B / N) + (1 if i < B mod N else 0)`` consecutive samples, in
    order (the ``numpy.array_split`` rule). Slices differ in length by at most one sample; when
    ``N > B`` the replicas ``i >= B`` get empty slices ``(B, B)`` and stay idle. The longest slice
    is ``ceil(B / N)`` samples, as in the paper's ``p = ceil(B / N)`` chunking, and when ``N``
    divides ``B`` both rules give identical slices.

    Parameters
    ----------
    batch_size : int
        Number of samples ``B`` in the mini-batch (``>= 0``).
    n_tiles : int
        Number of replicas ``N`` (``>= 1``).

    Returns
    -------
    list of tuple of int
        ``N`` pairs ``(start, stop)``; ``stop - start`` is the slice length (may be 0).
    """
    if n_tiles < 1:
        raise ValueError(f"n_tiles must be >= 1, got {n_tiles}")
    if batch_size < 0:
        raise ValueError(f"batch_size must be >= 0, got {batch_size}")
    base, extra = divmod(batch_size, n_tiles)
    bounds = []
    start = 0
    for i in range(n_tiles):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def tile_algorithm(device: Any) -> str:
    """Name of the transfer algorithm run for a compound device: ``tt_v1``, ``ttv2`` or ``agad``."""
    if isinstance(device, DynamicTransferCompound):
        return "agad"
    if isinstance(device, ChoppedTransferCompound):
        return "ttv2"
    if isinstance(device, TransferCompound) and not isinstance(device, BufferedTransferCompound):
        return "tt_v1"
    raise ConfigError(
        "device must be a TransferCompound (TT-v1), ChoppedTransferCompound (TTv2/c-TTv2) or "
        f"DynamicTransferCompound (AGAD); got {type(device).__name__}"
    )


def check_tile_config(rpu_config: Any) -> None:
    """Validate an rpu config for :class:`MultiTileTransferTile`.

    Raises
    ------
    ValueError
        For a bad ``n_tiles``, ``variant`` or ``auto_scale_start`` value.
    aihwkit.exceptions.ConfigError
        For a compound device or option the tile cannot run. The message names the field.
    """
    check_int("n_tiles", getattr(rpu_config, "n_tiles", 1), 1)
    check_choice("variant", getattr(rpu_config, "variant", "shared_A"), VARIANTS)
    check_choice(
        "auto_scale_start", getattr(rpu_config, "auto_scale_start", "paper"), AUTO_SCALE_STARTS
    )
    engine = getattr(rpu_config, "replica_engine", "aihwkit")
    check_choice("replica_engine", engine, REPLICA_ENGINES)
    if not isinstance(rpu_config, UnitCellRPUConfig):
        raise ConfigError(
            f"rpu_config must be a UnitCellRPUConfig, got {type(rpu_config).__name__}"
        )
    if engine == "batched":
        for name in ("forward", "backward"):
            if not io_forward_supports(getattr(rpu_config, name)):
                raise ConfigError(
                    f"replica_engine='batched' does not model these rpu_config.{name} IO "
                    "parameters (analog_tt.tiles.io_forward.supports is False: e.g. input "
                    "noise, weight noise, stochastic rounding); use replica_engine='aihwkit'"
                )
    cfg = rpu_config.device
    algorithm = tile_algorithm(cfg)
    if len(cfg.unit_cell_devices) != 2:
        raise ConfigError(
            "device.unit_cell_devices must hold exactly 2 devices (A, C), "
            f"got {len(cfg.unit_cell_devices)}"
        )
    if cfg.n_reads_per_transfer != 1:
        raise ConfigError(f"device.n_reads_per_transfer must be 1, got {cfg.n_reads_per_transfer}")
    if not cfg.transfer_columns:
        raise ConfigError("device.transfer_columns must be True (column-wise transfer only)")
    if cfg.transfer_every <= 0:
        raise ConfigError(
            f"device.transfer_every must be > 0 (no automatic period), got {cfg.transfer_every}"
        )
    if cfg.units_in_mbatch and cfg.transfer_every < 1:
        raise ConfigError(
            "device.transfer_every < 1 with device.units_in_mbatch=True needs more than one "
            f"transfer per batch (got {cfg.transfer_every}); only one transfer per batch is "
            "supported"
        )
    if getattr(cfg, "gamma", 0.0) != 0.0 or getattr(cfg, "gamma_vec", []):
        raise ConfigError("device.gamma must be 0: forward and backward read the replicas C only")
    if algorithm == "tt_v1" and getattr(cfg, "random_selection", False):
        raise ConfigError("device.random_selection is not supported (sequential columns only)")
    if algorithm == "tt_v1" and getattr(cfg, "with_reset_prob", 0.0) != 0.0:
        raise ConfigError("device.with_reset_prob is not supported")
    if algorithm != "tt_v1" and getattr(cfg, "out_chop_prob", 0.0) != 0.0:
        raise ConfigError("device.out_chop_prob is not supported (input chopper only)")
    if algorithm == "agad":
        if cfg.experimental_correct_accumulation:
            raise ConfigError("device.experimental_correct_accumulation is not supported")
        if cfg.buffer_cap != 0.0:
            raise ConfigError(f"device.buffer_cap must be 0, got {cfg.buffer_cap}")
    mapping = getattr(rpu_config, "mapping", None)
    if mapping is not None and (mapping.max_input_size != 0 or mapping.max_output_size != 0):
        raise ConfigError(
            "mapping.max_input_size and mapping.max_output_size must be 0: one logical layer "
            "is one (replicated) tile, tile arrays are not supported"
        )


def _seeded(config: SingleRPUConfig, compound_seed: int, kind: str, index: int) -> SingleRPUConfig:
    """The config of inner tile ``index`` of ``kind`` ("A" or "C"), with its own device seed.

    Every replica (and every gradient tile) is a physical array of its own, so with a fixed
    ``construction_seed`` each gets distinct, reproducible device-to-device variation: seeds
    derived from the compound's ``construction_seed`` when it is set (aihwkit's own compounds
    seed all their devices from it), else from the unit-cell device's own seed (replica 0 keeps
    that seed itself; the gradient tiles, other arrays of the same device, get derived ones).
    Seed 0 (aihwkit's default, a fresh draw per tile) is left alone.
    """
    device_seed = int(getattr(config.device, "construction_seed", 0) or 0)
    if compound_seed:
        seed = derived_seed(compound_seed, "construction", kind, index) % (2**31 - 1) + 1
    elif device_seed and (index or kind == "A"):
        seed = derived_seed(device_seed, "construction", kind, index) % (2**31 - 1) + 1
    else:
        return config
    config = deepcopy(config)
    config.device.construction_seed = seed
    return config


class _InnerTile(AnalogTileWithoutPeriphery):
    """``AnalogTileWithoutPeriphery`` whose analog context is a buffer, not a parameter.

    The replicas ``C_i`` and gradient tiles ``A`` are driven by the multi-tile tile through their
    C++ tiles; their own analog contexts are never used. As parameters they would make
    ``AnalogSGD.regroup_param_groups`` create one optimiser group per inner tile (``N`` + 1 or
    ``2 N`` per layer) that every ``AnalogSGD.step`` walks through, and ``step`` would call every
    inner tile's ``post_update_step`` a second time (after the multi-tile tile's own call). Held
    as a buffer, the context keeps its ``state_dict`` key (``...replicas.<i>.analog_ctx``), so
    checkpoints are unchanged, and the saved tile class name stays
    ``AnalogTileWithoutPeriphery`` (the class the inner rpu configs name).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        buffers = self.__dict__.get("_buffers")
        if name == "analog_ctx" and buffers is not None and isinstance(value, Tensor):
            self.__dict__.get("_parameters", {}).pop(name, None)
            self.__dict__.pop(name, None)
            buffers[name] = value
            return
        super().__setattr__(name, value)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state[AnalogTileStateNames.CLASS] = AnalogTileWithoutPeriphery.__name__
        return state


class MultiTileTransferSimulatorTile(SimulatorTile, nn.Module):
    """Simulator tile with ``N`` replicas ``C_i`` and shared digital transfer state.

    Parameters
    ----------
    x_size : int
        Input size ``in`` (no analog bias column).
    d_size : int
        Output size ``out``.
    rpu_config : UnitCellRPUConfig
        Config with a transfer compound device and the fields ``n_tiles``, ``variant``,
        ``auto_scale_start``, ``count_ops`` and ``tt_v1_transfer_gain`` (defaults 1,
        ``"shared_A"``, ``"paper"``, False, 10.0 when absent).
    dtype : RPUDataType
        Data type of the tiles.

    Attributes
    ----------
    replicas : nn.ModuleList
        ``N`` aihwkit ``AnalogTileWithoutPeriphery`` weight tiles ``C_i`` (device
        ``unit_cell_devices[1]``, IO ``rpu_config.forward/backward``, update
        ``device.transfer_update``).
    grad_tiles : nn.ModuleList
        Gradient tiles ``A`` (1 for ``shared_A``, ``N`` for ``replicated_A``; device
        ``unit_cell_devices[0]``, IO ``device.transfer_forward``, update ``rpu_config.update``).
    shared_weights : SharedReplicaWeights
        The replicas' weights as one ``[N, out, in]`` tensor shared with their C++ tiles (made
        on first use by the ``"batched"`` replica engine).
    hidden_weight : Tensor
        Buffer ``H`` ``[in, out]`` (TTv2/AGAD only).
    past_mean_weight, reference_weight : Tensor
        AGAD buffers ``P``, ``R`` ``[n_grad_tiles, in, out]``.
    chopper : Tensor
        Input chopper signs ``[in]``.
    m_x, m_d : Tensor
        Auto-scale running maxima (float64 scalars).
    update_counter, chop_counter, transfer_idx, auto_scale_steps : Tensor
        int64 scalar counters (samples seen, chopper sweeps, last transferred column, batches
        that updated the running maxima).
    """

    def __init__(
        self, x_size: int, d_size: int, rpu_config: UnitCellRPUConfig, dtype: RPUDataType
    ) -> None:
        nn.Module.__init__(self)
        check_tile_config(rpu_config)
        self.x_size = x_size
        self.d_size = d_size
        self.n_tiles: int = getattr(rpu_config, "n_tiles", 1)
        self.variant: str = getattr(rpu_config, "variant", "shared_A")
        self.auto_scale_start: str = getattr(rpu_config, "auto_scale_start", "paper")
        self.count_ops: bool = bool(getattr(rpu_config, "count_ops", False))
        self.tt_v1_transfer_gain: float = float(getattr(rpu_config, "tt_v1_transfer_gain", 10.0))
        self.optimizer_lr: float | None = getattr(rpu_config, "optimizer_lr", None)
        self._lr_mismatch_warned = False
        self.device_config = deepcopy(rpu_config.device)
        self.algorithm = tile_algorithm(self.device_config)
        self.learning_rate = 0.1
        torch_dtype = dtype.as_torch()
        cfg = self.device_config

        grad_config = SingleRPUConfig(
            device=deepcopy(cfg.unit_cell_devices[0]),
            forward=deepcopy(cfg.transfer_forward),
            backward=deepcopy(cfg.transfer_forward),
            update=deepcopy(rpu_config.update),
            tile_class=AnalogTileWithoutPeriphery,
        )
        weight_config = SingleRPUConfig(
            device=deepcopy(cfg.unit_cell_devices[1]),
            forward=deepcopy(rpu_config.forward),
            backward=deepcopy(rpu_config.backward),
            update=deepcopy(cfg.transfer_update),
            tile_class=AnalogTileWithoutPeriphery,
        )
        self.weight_forward_io = deepcopy(rpu_config.forward)
        self.weight_backward_io = deepcopy(rpu_config.backward)
        self.replica_engine: str = getattr(rpu_config, "replica_engine", "aihwkit")
        self.shared_weights = SharedReplicaWeights()
        self.transfer_read_io = deepcopy(cfg.transfer_forward)
        #: the batched engine reads column k of the N gradient tiles of replicated_A in one
        #: torch pass over their shared storage where io_forward models the transfer IO; else
        #: (and with one gradient tile) one aihwkit forward per tile
        self.batched_column_reads: bool = self.replica_engine == "batched" and (
            io_forward_supports(self.transfer_read_io)
        )
        self.shared_grad_weights = SharedReplicaWeights()
        #: count bound-management rounds from the forward's own output where that is exact
        #: (:func:`analog_tt.tiles.counting.first_round_certified`); False: always re-compute
        self.count_from_output: bool = certificate_supported(self.weight_forward_io)
        self.certified_slices = 0  # replica slices counted from the output / re-computed
        self.exact_slices = 0
        n_grad = self.n_tiles if self.variant == "replicated_A" else 1
        # same construction order as aihwkit's TransferSimulatorTile: gradient tile(s) first
        compound_seed = int(getattr(cfg, "construction_seed", 0) or 0)
        self.grad_tiles = nn.ModuleList(
            [
                _InnerTile(d_size, x_size, _seeded(grad_config, compound_seed, "A", i))
                for i in range(n_grad)
            ]
        )
        self.replicas = nn.ModuleList(
            [
                _InnerTile(d_size, x_size, _seeded(weight_config, compound_seed, "C", i))
                for i in range(self.n_tiles)
            ]
        )
        if getattr(rpu_config, "zero_grad_tiles", True):
            # aihwkit's C++ transfer compounds start the fast (gradient) weights at 0; a bare
            # AnalogTileWithoutPeriphery starts uniform in +-0.1, an offset that the transfer
            # then writes into C as if it were gradient
            for grad_tile in self.grad_tiles:
                grad_tile.tile.set_weights(torch.zeros(d_size, x_size, dtype=torch_dtype))
        self.from_weight_granularity = grad_config.device.as_bindings(
            dtype
        ).calc_weight_granularity()
        self.to_weight_granularity = weight_config.device.as_bindings(
            dtype
        ).calc_weight_granularity()
        self.desired_bl = int(rpu_config.update.desired_bl)
        self.transfer_bl = int(cfg.transfer_update.desired_bl)

        if self.algorithm == "tt_v1":
            self.replica_lr = None  # set to the SGD lr before every write
        else:
            self.replica_lr = cfg.step * self.to_weight_granularity
            for replica in self.replicas:
                replica.set_learning_rate(self.replica_lr)
            self.register_buffer("hidden_weight", torch.zeros(x_size, d_size, dtype=torch_dtype))
            if self.algorithm == "agad":
                self.register_buffer(
                    "past_mean_weight", torch.zeros(n_grad, x_size, d_size, dtype=torch_dtype)
                )
                self.register_buffer(
                    "reference_weight", torch.zeros(n_grad, x_size, d_size, dtype=torch_dtype)
                )
            # auto-scale base: fast_lr * BL * g_A
            self.lr_a_auto_scale = cfg.fast_lr * self.desired_bl * self.from_weight_granularity
        self.register_buffer("chopper", torch.ones(x_size, dtype=torch_dtype))
        m_init = _AUTO_SCALE_INIT[self.auto_scale_start]
        self.register_buffer("m_x", torch.tensor(m_init, dtype=torch.float64))
        self.register_buffer("m_d", torch.tensor(m_init, dtype=torch.float64))
        for name in ("update_counter", "chop_counter", "transfer_idx", "auto_scale_steps"):
            self.register_buffer(name, torch.tensor(0, dtype=torch.int64))
        self._transfer_vecs: dict[tuple, Tensor] = {}
        self._slices_cache: dict[int, tuple[tuple[tuple[int, int], ...], int]] = {}
        # diffusion / decay of the inner tiles (the only work of their post_update_step)
        self._needs_post_update = any(
            c.device.requires_diffusion() or c.device.requires_decay()
            for c in (grad_config, weight_config)
        )
        self.op_counts: dict[str, Any] = {}
        self.reset_op_counts()

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """This tile alone: its replica and gradient tiles are parts of one logical tile.

        aihwkit's tile iteration (``analog_tiles()``, ``analog_tile_count()``,
        ``get_weights()`` of containers, ``remap_analog_weights()``, ...) walks
        ``named_modules()`` and would otherwise treat the N replicas and the gradient tiles as
        tiles of their own (N + 2 or 2N + 1 per layer). They stay children: ``state_dict``,
        ``.to()``, ``train()`` and ``apply()`` still reach them
        (:func:`analog_tt.core.seeding.all_named_modules` walks into them too).
        """
        if memo is None:
            memo = set()
        if self not in memo or not remove_duplicate:
            if remove_duplicate:
                memo.add(self)
            yield prefix, self

    # ------------------------------------------------------------------ helpers
    def n_grad_tiles(self) -> int:
        """Number of gradient tiles ``A`` (1 or ``N``)."""
        return len(self.grad_tiles)

    def _slices(self, batch_size: int) -> tuple[tuple[tuple[int, int], ...], int]:
        """Cached busy slices of a batch size and the longest slice length.

        The busy slices are the non-empty ones of :func:`slice_bounds`: those of replicas
        ``0 .. min(B, N) - 1``.
        """
        cached = self._slices_cache.get(batch_size)
        if cached is None:
            bounds = slice_bounds(batch_size, self.n_tiles)
            busy = tuple(b for b in bounds if b[1] > b[0])
            cached = (busy, max(stop - start for start, stop in bounds))
            self._slices_cache[batch_size] = cached
        return cached

    def _row_slices(self, inputs: Tensor, n_rows: int) -> tuple[tuple[tuple[int, int], ...], int]:
        """Busy row slices of a forward / backward / update input and the longest one.

        A 2-D input ``[B, in]`` is sliced by rows (samples). An input with more dimensions
        ``[B, L, in]`` (a convolution's unfolded patches, a sequence) is sliced by its first
        dimension: replica ``i`` processes all ``L`` rows of its samples, so one image's patches
        never land on different replicas.
        """
        leading = inputs.shape[0] if inputs.dim() > 2 else n_rows
        busy, longest = self._slices(leading)
        if leading == n_rows or leading == 0:
            return busy, longest
        per = n_rows // leading
        return tuple((a * per, b * per) for a, b in busy), longest * per

    def _eye_row(self, k: int, like: Tensor) -> Tensor:
        key = (like.device, like.dtype)
        eye = self._transfer_vecs.get(key)
        if eye is None:
            eye = torch.eye(self.x_size, dtype=like.dtype, device=like.device)
            self._transfer_vecs[key] = eye
        return eye[k]

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors
    ) -> None:
        # a checkpoint of another replica count would otherwise load "successfully" into the
        # first replicas and leave the rest untouched
        for name, have in (("replicas", len(self.replicas)), ("grad_tiles", len(self.grad_tiles))):
            stored = {
                key[len(prefix) + len(name) + 1 :].split(".", 1)[0]
                for key in state_dict
                if key.startswith(f"{prefix}{name}.")
            }
            if stored and len(stored) != have:
                raise ValueError(
                    f"{prefix or 'tile.'}{name}: the checkpoint holds {len(stored)}, this layer "
                    f"has {have}; build the layer with the checkpoint's n_tiles and variant "
                    f"(n_tiles={len(stored) if name == 'replicas' else 'see checkpoint'})"
                )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors
        )

    def reset_op_counts(self) -> None:
        """Zero the operation counters (see :mod:`analog_tt.tiles.counting` for the schema)."""
        self.op_counts = empty_record()

    def _count(self, phase: str, vectors: int, sequential: int, pulses: int = 0) -> None:
        entry = self.op_counts[phase]
        entry["vectors"] += int(vectors)
        entry["sequential"] += int(sequential)
        entry["pulses"] += int(pulses)

    def _count_bound_management(
        self, rows: Tensor, busy: tuple[tuple[int, int], ...], longest: int, outputs: Tensor
    ) -> None:
        """Add the extra bound-management rounds of one forward pass to the counts.

        A replica slice whose rows the forward's own outputs certify
        (:func:`~analog_tt.tiles.counting.first_round_certified`) took 1 round; only the other
        slices are re-computed exactly (which copies their replicas' weights out of aihwkit).
        """
        entry = self.op_counts["forward"]
        io = self.weight_forward_io
        replicas = self.replicas
        n_busy = len(busy)
        todo = list(range(n_busy))
        if self.count_from_output:
            certified = first_round_certified(rows, outputs, io)
            if n_busy == 1:
                todo = [] if bool(certified.all()) else [0]
            elif all(stop - start == longest for start, stop in busy):
                ok = certified[: n_busy * longest].view(n_busy, longest).all(dim=1).tolist()
                todo = [i for i, passed in enumerate(ok) if not passed]
            else:
                ok = [bool(certified[start:stop].all()) for start, stop in busy]
                todo = [i for i, passed in enumerate(ok) if not passed]
        rounds = [1] * n_busy
        self.certified_slices += n_busy - len(todo)
        self.exact_slices += len(todo)
        if todo:
            chosen = [busy[i] for i in todo]
            if all(stop - start == longest for start, stop in chosen) and todo == list(
                range(len(todo))
            ):
                slices = rows[: len(todo) * longest].reshape(len(todo), longest, self.x_size)
            else:  # uneven or scattered slices: gather them, padding with zero rows
                slices = rows.new_zeros(len(todo), longest, self.x_size)
                for j, (start, stop) in enumerate(chosen):
                    slices[j, : stop - start] = rows[start:stop]
            if self.replica_engine == "batched":
                shared = self.shared_weights.tensor(replicas)

                def weights_of(j: int) -> Tensor:
                    return shared[todo[j]]
            else:

                def weights_of(j: int) -> Tensor:
                    return replicas[todo[j]].tile.get_weights()

            exact = bound_management_rounds_batched(
                weights_of,
                slices.to(self.chopper.dtype),
                io,
            )
            for i, r in zip(todo, exact, strict=True):
                rounds[i] = r
        for r, (start, stop) in zip(rounds, busy, strict=True):
            entry["bm_rounds"] += r - 1
            entry["bm_vectors"] += (r - 1) * (stop - start)

    # ------------------------------------------------------------------ forward / backward
    def forward(
        self,
        x_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        is_test: bool = False,
        non_blocking: bool = False,
    ) -> Tensor:
        """Analog forward; slice ``i`` of the (flattened) batch goes through replica ``C_i``.

        Parameters
        ----------
        x_input : Tensor
            ``[..., in]`` inputs; all leading dimensions are flattened into the batch.

        Returns
        -------
        Tensor
            ``[..., out]`` outputs, rows in input order.
        """
        if bias or in_trans or out_trans:
            raise ConfigError("analog bias and transposed inputs are not supported")
        rows = x_input.reshape(-1, self.x_size)
        busy, longest = self._row_slices(x_input, rows.shape[0])
        if self.replica_engine == "batched" and busy:
            out = self._sliced_mvm(rows, busy, longest, transposed=False)
        elif self.n_tiles == 1 or not busy:  # not busy: an empty batch, as aihwkit returns it
            out = self.replicas[0].tile.forward(rows, False, False, False, is_test, non_blocking)
        else:
            # zip stops after the busy replicas: idle ones (N > B) are not visited
            parts = [
                replica.tile.forward(rows[start:stop], False, False, False, is_test, non_blocking)
                for replica, (start, stop) in zip(self.replicas, busy, strict=False)
            ]
            out = torch.cat(parts, dim=0)
        if self.count_ops and not is_test:
            self._count("forward", rows.shape[0], longest)
            if self.weight_forward_io.bound_management != BoundManagementType.NONE:
                self._count_bound_management(rows, busy, longest, out)
        return out.reshape(*x_input.shape[:-1], self.d_size)

    def backward(
        self,
        d_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        non_blocking: bool = False,
    ) -> Tensor:
        """Analog backward (transposed MVM); slice ``i`` goes through replica ``C_i``.

        Parameters
        ----------
        d_input : Tensor
            ``[..., out]`` errors.

        Returns
        -------
        Tensor
            ``[..., in]`` back-propagated errors.
        """
        if bias or in_trans or out_trans:
            raise ConfigError("analog bias and transposed inputs are not supported")
        rows = d_input.reshape(-1, self.d_size)
        busy, longest = self._row_slices(d_input, rows.shape[0])
        if self.replica_engine == "batched" and busy:
            out = self._sliced_mvm(rows, busy, longest, transposed=True)
        elif self.n_tiles == 1 or not busy:
            out = self.replicas[0].tile.backward(rows, False, False, False, non_blocking)
        else:
            parts = [
                replica.tile.backward(rows[start:stop], False, False, False, non_blocking)
                for replica, (start, stop) in zip(self.replicas, busy, strict=False)
            ]
            out = torch.cat(parts, dim=0)
        if self.count_ops:
            self._count("backward", rows.shape[0], longest)
        return out.reshape(*d_input.shape[:-1], self.x_size)

    def _sliced_mvm(
        self, rows: Tensor, busy: tuple[tuple[int, int], ...], longest: int, transposed: bool
    ) -> Tensor:
        """Slice ``i`` of ``rows`` through replica ``i`` in one batched pass (``"batched"``).

        The replicas' live weights (shared with their C++ tiles, no copy) go through
        :func:`~analog_tt.tiles.io_forward.io_managed_sliced`; uneven slices are padded with
        zero rows, whose outputs are zero and dropped.
        """
        weights = self.shared_weights.tensor(self.replicas)
        n_busy = len(busy)
        if n_busy < self.n_tiles:
            weights = weights[:n_busy]
        io = self.weight_backward_io if transposed else self.weight_forward_io
        n_rows, width = rows.shape
        if n_busy * longest == n_rows:  # every slice full: a view
            out = io_managed_sliced(weights, rows.reshape(n_busy, longest, width), io, None,
                                    transposed)  # fmt: skip
            return out.reshape(n_rows, -1)
        padded = rows.new_zeros(n_busy, longest, width)
        for j, (start, stop) in enumerate(busy):
            padded[j, : stop - start] = rows[start:stop]
        out = io_managed_sliced(weights, padded, io, None, transposed)
        return torch.cat([out[j, : stop - start] for j, (start, stop) in enumerate(busy)])

    # ------------------------------------------------------------------ update
    def update(
        self,
        x_input: Tensor,
        d_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        non_blocking: bool = False,
    ) -> None:
        """One mini-batch update: gradient accumulation on ``A`` and at most one transfer.

        Parameters
        ----------
        x_input : Tensor
            ``[..., in]`` forward inputs of the batch.
        d_input : Tensor
            ``[..., out]`` output errors of the batch (``dL/dy``).
        """
        if bias or in_trans or out_trans:
            raise ConfigError("analog bias and transposed inputs are not supported")
        x_rows = x_input.reshape(-1, self.x_size)
        d_rows = d_input.reshape(-1, self.d_size)
        n_rows = x_rows.shape[0]
        # samples of the batch: the first dimension (aihwkit's transfer tile counts the same), so
        # a convolution's B images, not its B x L patches, set the transfer period and the
        # auto-scale time constant
        m_batch = x_input.shape[0] if x_input.dim() > 2 else n_rows
        cfg = self.device_config

        transfer_every = cfg.transfer_every * (m_batch if cfg.units_in_mbatch else 1)
        transfer_every = int(ceil(transfer_every))

        if self.algorithm == "tt_v1":
            lr_a = cfg.fast_lr
        elif cfg.auto_scale:
            lr_a = self._auto_scaled_lr(x_rows, d_rows, m_batch)
        else:
            lr_a = cfg.fast_lr
        if self.algorithm != "tt_v1":
            x_rows = x_rows * self.chopper

        if self.variant == "shared_A":
            grad_cpp = self.grad_tiles[0].tile
            grad_cpp.set_learning_rate(lr_a)
            grad_cpp.update(x_rows, d_rows, False, False, False, non_blocking)
            sequential = n_rows
        else:
            busy, sequential = self._row_slices(x_input, n_rows)
            for grad_tile in self.grad_tiles:
                grad_tile.tile.set_learning_rate(lr_a)
            for grad_tile, (start, stop) in zip(self.grad_tiles, busy, strict=False):
                grad_tile.tile.update(
                    x_rows[start:stop], d_rows[start:stop], False, False, False, non_blocking
                )
        if self.count_ops:
            self._count("update_A", n_rows, sequential, n_rows * self.desired_bl)
            self.op_counts["batches"] += 1
            self.op_counts["samples"] += m_batch

        self.update_counter += m_batch
        rest_count = ((int(self.update_counter) - m_batch) % transfer_every) + m_batch
        if rest_count >= transfer_every:
            if rest_count >= 2 * transfer_every:
                raise ConfigError(
                    "this batch needs more than one transfer (device.transfer_every="
                    f"{cfg.transfer_every}, device.units_in_mbatch={cfg.units_in_mbatch}, "
                    f"batch {m_batch}); only one transfer per batch is supported: use "
                    "units_in_mbatch=True with transfer_every >= 1"
                )
            if self.algorithm == "tt_v1":
                self._transfer_tt_v1(x_rows, non_blocking)
            else:
                self._transfer_chopped(x_rows, lr_a, transfer_every, non_blocking)

    def _auto_scaled_lr(self, x_rows: Tensor, d_rows: Tensor, m_batch: int) -> float:
        cfg = self.device_config
        lr_a = self.lr_a_auto_scale
        tau = (1.0 - cfg.auto_momentum) / m_batch
        m_x_obs = x_rows.abs().max().item()
        m_d_obs = d_rows.abs().max().item()
        if self.auto_scale_start == "first" and int(self.auto_scale_steps) == 0:
            m_x, m_d = m_x_obs, m_d_obs
        else:
            # python floats (float64) in the same order as aihwkit's TransferSimulatorTile
            m_x = (1 - tau) * self.m_x.item() + tau * m_x_obs
            m_d = (1 - tau) * self.m_d.item() + tau * m_d_obs
        self.m_x.fill_(m_x)
        self.m_d.fill_(m_d)
        self.auto_scale_steps += 1
        if m_x > 0.0 and m_d > 0.0:
            lr_a /= m_x * m_d
        return lr_a

    def _read_columns(self, k: int, like: Tensor, non_blocking: bool) -> Tensor:
        """Read column ``k`` of every gradient tile: ``[n_grad, out]``."""
        e_k = self._eye_row(k, like)
        grad_tiles = self.grad_tiles
        if self.count_ops:
            self._count("transfer_read", len(grad_tiles), 1)
        if len(grad_tiles) == 1:
            return grad_tiles[0].tile.forward(e_k, False, False, False, False, non_blocking)[None]
        if self.batched_column_reads:
            weights = self.shared_grad_weights.tensor(grad_tiles)  # [N, out, in], live
            return read_columns_batched(weights, k, self.transfer_read_io)
        return torch.stack(
            [
                grad_tile.tile.forward(e_k, False, False, False, False, non_blocking)
                for grad_tile in grad_tiles
            ],
            dim=0,
        )

    def _write_columns(self, k: int, write_values: Tensor, like: Tensor, lr: float, nb: bool):
        e_k = self._eye_row(k, like)
        for replica in self.replicas:
            # re-set every time: the replica lr may have been changed from outside (e.g. by
            # AnalogSGD.regroup_param_groups on checkpoints of tiles that held their analog
            # context as a parameter)
            cpp = replica.tile
            cpp.set_learning_rate(lr)
            cpp.update(e_k, write_values, False, False, False, nb)
        if self.count_ops:
            self._count("transfer_write", self.n_tiles, 1, self.n_tiles * self.transfer_bl)

    def _transfer_tt_v1(self, like: Tensor, non_blocking: bool) -> None:
        k = (int(self.transfer_idx) + 1) % self.x_size
        self.transfer_idx.fill_(k)
        omega = self._read_columns(k, like, non_blocking).sum(dim=0)
        write_values = -self.learning_rate * self.tt_v1_transfer_gain * omega
        self._write_columns(k, write_values, like, self.learning_rate, non_blocking)

    def _transfer_chopped(
        self, like: Tensor, lr_a: float, transfer_every: int, non_blocking: bool
    ) -> None:
        cfg = self.device_config
        buffer_granularity = cfg.buffer_granularity if cfg.buffer_granularity > 0.0 else 1.0
        if cfg.auto_granularity > 0.0:
            period = self.x_size * transfer_every
            buffer_granularity *= self.from_weight_granularity * cfg.auto_granularity / period
        else:
            buffer_granularity *= self.from_weight_granularity
        if cfg.correct_gradient_magnitudes:
            buffer_granularity *= self.to_weight_granularity / self.from_weight_granularity
            lr_h = self.learning_rate / lr_a / buffer_granularity
        else:
            lr_h = self.learning_rate / buffer_granularity
        chop_period = int(round(1.0 / cfg.in_chop_prob)) if cfg.in_chop_prob > 0 else 1

        k = (int(self.transfer_idx) + 1) % self.x_size
        self.transfer_idx.fill_(k)
        omega = self._read_columns(k, like, non_blocking)  # [n_grad, out]

        chopper = self.chopper
        hidden_k = self.hidden_weight[k]  # a view: in-place ops write into H
        if self.algorithm == "agad":
            beta = min(cfg.tail_weightening / chop_period, 1)
            past_mean = self.past_mean_weight
            hidden_k += lr_h * chopper[k] * (omega - self.reference_weight[:, k]).sum(dim=0)
            past_mean[:, k] = (1 - beta) * past_mean[:, k] + beta * omega
        else:
            hidden_k += lr_h * chopper[k] * omega.sum(dim=0)

        write_values = -torch.trunc(hidden_k)
        if cfg.forget_buffer:
            hidden_k[write_values != 0] = cfg.momentum
        else:
            hidden_k += write_values * (1 - cfg.momentum)

        switch_chopper = False
        if cfg.in_chop_prob:
            if cfg.in_chop_random:
                switch_chopper = torch.rand(1).item() < cfg.in_chop_prob
            else:
                if k == 0:
                    self.chop_counter.fill_((int(self.chop_counter) + 1) % chop_period)
                switch_chopper = int(self.chop_counter) == 0
        if switch_chopper:
            chopper[k] = -chopper[k]

        if write_values.any():  # (NaN counts as non-zero, as in abs().sum() != 0)
            self._write_columns(k, write_values, like, self.replica_lr, non_blocking)

        if self.algorithm == "agad" and switch_chopper:
            self.reference_weight[:, k] = self.past_mean_weight[:, k]

    # ------------------------------------------------------------------ weights
    def get_replica_weights(self) -> Tensor:
        """Exact weights of every replica, ``[N, out, in]`` (CPU copy, no output scale)."""
        return torch.stack([replica.tile.get_weights() for replica in self.replicas], dim=0)

    def set_replica_weights(self, weights: Tensor) -> None:
        """Set replica weights from ``[N, out, in]`` or broadcast an ``[out, in]`` matrix."""
        weights = torch.as_tensor(weights)
        if weights.dim() == 2:
            weights = weights.expand(self.n_tiles, *weights.shape)
        if tuple(weights.shape) != (self.n_tiles, self.d_size, self.x_size):
            raise ValueError(
                f"weights must have shape [{self.n_tiles}, {self.d_size}, {self.x_size}] or "
                f"[{self.d_size}, {self.x_size}], got {list(weights.shape)}"
            )
        for replica, weight in zip(self.replicas, weights, strict=True):
            replica.tile.set_weights(weight.to(dtype=replica.get_dtype()).clone().contiguous())

    def get_weights(self) -> Tensor:
        """Replica-averaged exact weights ``[out, in]`` (replica 0 itself when ``N = 1``)."""
        if self.n_tiles == 1:
            return self.replicas[0].tile.get_weights()
        return self.get_replica_weights().mean(dim=0)

    def set_weights(self, weight: Tensor) -> None:
        """Set all replicas (2-D weight: the same matrix everywhere; 3-D: one per replica)."""
        self.set_replica_weights(weight)

    def get_x_size(self) -> int:
        return self.x_size

    def get_d_size(self) -> int:
        return self.d_size

    def get_brief_info(self) -> str:
        return (
            f"{self.__class__.__name__}(in={self.x_size}, out={self.d_size}, "
            f"n_tiles={self.n_tiles}, variant={self.variant}, algorithm={self.algorithm})"
        )

    def get_learning_rate(self) -> float | None:
        return self.learning_rate

    def set_learning_rate(self, learning_rate: float | None) -> None:
        if learning_rate is None:
            return
        self.learning_rate = learning_rate
        expected = getattr(self, "optimizer_lr", None)
        if (
            expected is not None
            and not getattr(self, "_lr_mismatch_warned", False)
            and abs(learning_rate - expected) > 1e-9 * max(abs(expected), 1.0)
        ):
            import warnings

            self._lr_mismatch_warned = True
            warnings.warn(
                f"the optimizer's learning rate {learning_rate:g} differs from the rpu config's "
                f"optimizer_lr {expected:g} (the lr its preset derived device.fast_lr from): "
                "pass the same lr to the preset and to AnalogSGD, or set "
                "rpu_config.optimizer_lr = None when the difference is intended (e.g. a scheduler)",
                UserWarning,
                stacklevel=2,
            )

    def _weight_states(self) -> list[tuple[str, Any]]:
        """``(name, getter)`` of the [out, in] weight states, aihwkit's transfer-tile names.

        ``fast_weight`` / ``slow_weight`` are the weights of A and C (aihwkit's
        ``TorchTransferTile`` names; replica / gradient tile ``i > 0`` adds ``_i``), then the
        digital buffers whose name holds ``weight`` (``hidden_weight`` H and, for AGAD,
        ``past_mean_weight`` P and ``reference_weight`` R per gradient tile), transposed to
        [out, in] as aihwkit does with ``transfer_columns``.
        """

        def suffix(i: int) -> str:
            return "" if i == 0 else f"_{i}"

        states = [(f"fast_weight{suffix(i)}", t) for i, t in enumerate(self.grad_tiles)]
        states += [(f"slow_weight{suffix(i)}", t) for i, t in enumerate(self.replicas)]
        for name in ("hidden_weight", "past_mean_weight", "reference_weight"):
            buffer = getattr(self, name, None)
            if buffer is None:
                continue
            if buffer.dim() == 2:
                states.append((name, (buffer, None)))
            else:
                states += [(f"{name}{suffix(i)}", (buffer, i)) for i in range(buffer.shape[0])]
        return states

    def get_hidden_parameters(self) -> Tensor:
        """Device parameters of every gradient tile then every replica, then the weight states.

        Shape ``[n_params, out, in]``; the names (:meth:`get_hidden_parameter_names`) are the
        inner tiles' own with ``_grad<i>`` / ``_replica<i>``, then :meth:`_weight_states`.
        """
        tiles = list(self.grad_tiles) + list(self.replicas)
        parts = [t.tile.get_hidden_parameters() for t in tiles]
        for _, state in self._weight_states():
            if isinstance(state, tuple):
                buffer, i = state
                value = buffer if i is None else buffer[i]
                parts.append(value.detach().T.to(parts[0].dtype).cpu()[None])
            else:
                parts.append(state.tile.get_weights()[None].to(parts[0].dtype))
        return torch.cat(parts, dim=0)

    def get_hidden_parameter_names(self) -> list[str]:
        names = []
        for prefix, tiles in (("grad", self.grad_tiles), ("replica", self.replicas)):
            for i, t in enumerate(tiles):
                names += [f"{n}_{prefix}{i}" for n in t.tile.get_hidden_parameter_names()]
        return names + [name for name, _ in self._weight_states()]

    def set_hidden_parameters(self, params: Tensor) -> None:
        """Inverse of :meth:`get_hidden_parameters` (device parameters, then weight states)."""
        n_expected = len(self.get_hidden_parameter_names())
        if params.shape[0] not in (n_expected, n_expected - len(self._weight_states())):
            raise ValueError(
                f"hidden parameters: {params.shape[0]} given, this tile has {n_expected} "
                "(see get_hidden_parameter_names())"
            )
        offset = 0
        for t in list(self.grad_tiles) + list(self.replicas):
            n = len(t.tile.get_hidden_parameter_names())
            t.tile.set_hidden_parameters(params[offset : offset + n])
            offset += n
        if params.shape[0] > offset:  # the weight states (absent in the older layout)
            with torch.no_grad():
                for _, state in self._weight_states():
                    value = params[offset]
                    offset += 1
                    if isinstance(state, tuple):
                        buffer, i = state
                        target = buffer if i is None else buffer[i]
                        target.copy_(value.T.to(target.dtype))
                    else:
                        state.tile.set_weights(value.to(state.get_dtype()).clone().contiguous())

    def post_update_step(self) -> None:
        """Diffusion / decay of every inner tile (nothing to do when their devices have none)."""
        if not getattr(self, "_needs_post_update", True):
            return
        for t in list(self.grad_tiles) + list(self.replicas):
            t.post_update_step()

    def dump_extra(self) -> dict | None:
        return None

    def load_extra(self, extra: dict, strict: bool = False) -> None:
        return None

    def set_weights_uniform_random(self, bmin: float, bmax: float) -> None:
        for replica in self.replicas:
            replica.tile.set_weights_uniform_random(bmin, bmax)

    def get_meta_parameters(self) -> Any:
        return self.replicas[0].tile.get_meta_parameters()


class MultiTileTransferTile(TorchTransferTile):
    """Layer-level tile: ``N`` replicated Tiki-Taka tiles behind aihwkit's digital periphery.

    Select it with ``rpu_config.tile_class = MultiTileTransferTile`` (the default of
    :class:`analog_tt.config.MultiTileRPUConfig`); then ``aihwkit.nn.AnalogLinear`` and
    ``aihwkit.optim.AnalogSGD`` use it unchanged. The digital bias (``mapping.digital_bias``) and
    the learned output scale (``mapping.learn_out_scaling``) come from aihwkit's
    ``TileWithPeriphery``; ``layer.get_weights()`` returns the replica-averaged weights times the
    scales and the digital bias.

    Parameters
    ----------
    out_size, in_size : int
        Layer output / input sizes.
    rpu_config : UnitCellRPUConfig
        See :func:`check_tile_config`.
    bias : bool
        Whether the layer has a bias; it must be digital (``mapping.digital_bias=True``).
    """

    def __init__(
        self,
        out_size: int,
        in_size: int,
        rpu_config: Any,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
    ) -> None:
        if in_trans or out_trans:
            raise ConfigError("in_trans/out_trans are not supported")
        super().__init__(out_size, in_size, rpu_config, bias, in_trans, out_trans)
        if self.analog_bias:
            raise ConfigError(
                "mapping.digital_bias must be True: an analog bias column is not supported"
            )

    def _create_simulator_tile(
        self, x_size: int, d_size: int, rpu_config: Any
    ) -> MultiTileTransferSimulatorTile:
        return MultiTileTransferSimulatorTile(x_size, d_size, rpu_config, self.get_data_type())

    def replace_with(self, rpu_config: Any) -> None:
        """Not supported (nor by aihwkit's ``TorchTransferTile``): say what to do instead."""
        raise NotImplementedError(
            "a multi-tile layer cannot swap its rpu_config in place (replace_rpu_config, "
            "tile.to(rpu_config)): build the model again with the new config and copy the "
            "weights over (layer.set_weights(*old_layer.get_weights())), or load a checkpoint "
            "saved with that config"
        )

    def _apply(self, fn: Any) -> Any:
        """``model.double()``, ``.half()``, ``.to(dtype)``: a clear error (float32 only);
        ``model.float()`` on this float32 CPU tile: nothing to do (aihwkit's own tiles recurse
        without end there); anything else (devices, ``share_memory``) goes to aihwkit."""
        probe = torch.zeros(1)
        try:
            out = fn(probe)
        except Exception:  # not a plain tensor function: aihwkit says what it cannot do
            out = None
        if isinstance(out, Tensor) and out.dtype != torch.float32:
            raise ConfigError(
                f"a multi-tile layer runs in float32 only (asked for {out.dtype}: aihwkit's CPU "
                "tiles have no float64 or half precision): keep the model in float32 and cast the "
                "inputs with x.float()"
            )
        if isinstance(out, Tensor) and out.device == probe.device and not out.is_shared():
            if not self.is_cuda:  # a float32 cast or a move to the CPU it is on: a no-op
                return self
        return super()._apply(fn)

    def get_analog_state(self) -> dict:
        """aihwkit's analog state, plus the fields a plain aihwkit tile reads first.

        A plain tile (``AnalogTile``, ``InferenceTile``) loading this layer's checkpoint reads the
        tile class, weights and hidden parameters before it checks the class; with them present
        it stops with its own ``TileError`` ("Possible mismatch between MultiTileTransferTile
        and AnalogTile") instead of a ``KeyError``. They carry no data (the replicas are in the
        state dict) and are dropped again by :meth:`__setstate__`.
        """
        state = super().get_analog_state()
        state[AnalogTileStateNames.CLASS] = type(self).__name__
        state[AnalogTileStateNames.WEIGHTS] = None
        state[AnalogTileStateNames.HIDDEN_PARAMETERS] = None
        return state

    def __setstate__(self, state: dict) -> None:
        drop = (
            AnalogTileStateNames.CLASS,
            AnalogTileStateNames.WEIGHTS,
            AnalogTileStateNames.HIDDEN_PARAMETERS,
        )
        super().__setstate__({k: v for k, v in state.items() if k not in drop})

    @property
    def n_tiles(self) -> int:
        """Number of weight replicas ``N``."""
        return self.tile.n_tiles

    @torch.no_grad()
    def get_replica_weights(self) -> Tensor:
        """Exact analog weights of every replica, ``[N, out, in]``, *without* output scales.

        The digital weights of replica ``i`` are ``get_replica_weights()[i] * get_out_scale()``
        (see :meth:`get_out_scale`).
        """
        return self.tile.get_replica_weights()

    @torch.no_grad()
    def get_forward_parameters(self) -> dict[str, Tensor]:
        """The forward's extra parameters (aihwkit's ``get_forward_parameters``), per replica.

        With ``N = 1`` the replica's own dict (as aihwkit's tiles return it); with ``N > 1``
        every value is stacked over the replicas, ``[N, ...]``.
        """
        per_replica = [r.get_forward_parameters() for r in self.tile.replicas]
        if len(per_replica) == 1:
            return per_replica[0]
        return {key: torch.stack([p[key] for p in per_replica]) for key in per_replica[0]}

    def set_forward_parameters(
        self, dic: dict[str, Tensor] | None = None, **kwargs: Tensor
    ) -> None:
        """Inverse of :meth:`get_forward_parameters` (``N > 1``: values stacked ``[N, ...]``)."""
        values = dict(dic or {}, **kwargs)
        replicas = list(self.tile.replicas)
        if len(replicas) == 1:
            replicas[0].set_forward_parameters(values)
            return
        for key, value in values.items():
            if value.shape[:1] != (len(replicas),):
                raise ValueError(
                    f"forward parameter {key!r}: expected one value per replica stacked on the "
                    f"first dimension ([{len(replicas)}, ...]), got shape {list(value.shape)}"
                )
        for i, replica in enumerate(replicas):
            replica.set_forward_parameters({key: value[i] for key, value in values.items()})

    @torch.no_grad()
    def program_weights(
        self,
        from_reference: bool = True,
        x_values: Tensor | None = None,
        learning_rate: float = 0.1,
        max_iter: int = 10000,
        tolerance: float | None = 0.01,
        w_init: float | Tensor = 0.01,
    ) -> None:
        """Program the target weights into every replica with aihwkit's verify-and-correct loop.

        The algorithm of aihwkit's ``TileWithPeriphery.program_weights`` (start from
        ``w_init``, then read ``y = C x`` for the probes ``x_values`` (default: unit vectors),
        update ``C <- C - lr (y - target) x^T`` with the replica's own pulsed update until the
        mean error is below ``tolerance`` of the largest target output, or ``max_iter``), run on
        each replica's own aihwkit tile. Through the layer's forward and update, as aihwkit's
        loop would run it, each probe reached one replica only (the slice rule) and the update
        was the Tiki-Taka gradient update, not a write of C. The gradient tiles are left alone.
        The target is the replica mean (``reference_combined_weights``, aihwkit's convention).
        """
        if not from_reference or self.reference_combined_weights is None:
            self.reference_combined_weights = self.tile.get_weights()
        target_weights = self.reference_combined_weights.to(self.device)
        if x_values is None:
            x_values = torch.eye(self.tile.get_x_size(), device=self.device)
        x_values = x_values.to(self.device)
        target_values = x_values @ target_weights.T
        target_max = target_values.abs().max().item()
        for replica in self.tile.replicas:
            cpp = replica.tile
            if isinstance(w_init, Tensor):
                cpp.set_weights(w_init.to(replica.get_dtype()).clone().contiguous())
            else:
                cpp.set_weights_uniform_random(-w_init, w_init)
            saved = cpp.get_learning_rate()
            cpp.set_learning_rate(learning_rate)
            try:
                for _ in range(max_iter):
                    error = cpp.forward(x_values, False, False, False, False, False) - target_values
                    if tolerance is not None and error.abs().mean().item() / target_max < tolerance:
                        break
                    cpp.update(x_values, error, False, False, False, False)
            finally:
                cpp.set_learning_rate(saved)

    def read_weights(
        self,
        apply_weight_scaling: bool = False,
        x_values: Tensor | None = None,
        over_sampling: int = 10,
    ) -> tuple[Tensor, Tensor | None]:
        """Realistic read of the layer: the mean of every replica's noisy least-squares read.

        aihwkit's ``TileWithPeriphery.read_weights`` fits one least-squares model to the tile's
        forward, which sends each probe through one replica only (the slice rule), so with
        replicas that differ it returned neither their mean nor any replica. Here the same probes
        ``x_values`` (default ``randn(over_sampling * in, in)``, torch's global RNG as aihwkit's)
        go through every replica's analog forward and one solve of the averaged outputs gives the
        mean of the per-replica estimates (the read is linear). ``get_weights(realistic=True)``
        uses it too.

        Returns
        -------
        (Tensor, Tensor or None)
            ``[out, in]`` weights (conductance units; times the output scales with
            ``apply_weight_scaling``) and the digital bias ``[out]`` (or None).
        """
        dtype = self.get_dtype()
        if x_values is None:
            x_values = torch.randn(
                self.in_size * over_sampling, self.in_size, device=self.device, dtype=dtype
            )
        else:
            x_values = x_values.to(self.device)
        outputs = [
            replica.tile.forward(x_values, False, False, False, True, False)
            for replica in self.tile.replicas
        ]
        mean_output = torch.stack(outputs).double().mean(dim=0)
        solution = torch.linalg.lstsq(x_values.double(), mean_output).solution
        weight = solution.T.to(dtype).cpu()
        if apply_weight_scaling:
            alpha = self.get_scales()
            if alpha is not None:
                weight = weight * alpha.detach().cpu().view(-1, 1)
        bias = self.bias.detach().cpu() if isinstance(getattr(self, "bias", None), Tensor) else None
        return weight, bias

    def get_out_scale(self) -> Tensor:
        """Digital output scale as a 1-D tensor (``[1]`` scalar or ``[out]`` columnwise).

        This is aihwkit's ``TileWithPeriphery.get_scales()``: the learned ``out_scaling_alpha``
        (``get_learned_out_scales()``) times the mapping scales; ones when neither exists.
        """
        scales = self.get_scales()
        if scales is None:
            return torch.ones(1, dtype=self.get_dtype())
        return scales.detach().cpu().clone().view(-1)

    @torch.no_grad()
    def get_digital_bias(self) -> Tensor | None:
        """The digital bias ``[out]`` (the periphery's ``bias`` parameter), or None."""
        if not self.digital_bias:
            return None
        return self.bias.detach().cpu().clone()

    def reset_op_counts(self) -> None:
        """Zero the operation counters of this layer."""
        self.tile.reset_op_counts()
