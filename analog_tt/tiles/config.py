"""RPU config for the multi-tile Tiki-Taka tile.

:class:`MultiTileRPUConfig` is aihwkit's public ``UnitCellRPUConfig`` with extra fields and
``tile_class`` set to :class:`analog_tt.tiles.tile.MultiTileTransferTile`, so that::

    cfg = MultiTileRPUConfig(device=DynamicTransferCompound(...), n_tiles=8)
    layer = aihwkit.nn.AnalogLinear(784, 256, bias=True, rpu_config=cfg)

builds an 8-replica layer. Fields are validated when the config is built and again when a tile is
built from it (dataclass fields can be changed in between).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aihwkit.simulator.configs.configs import UnitCellRPUConfig
from aihwkit.simulator.parameters.mapping import MappingParameter

from .tile import MultiTileTransferTile, check_tile_config

__all__ = ["MultiTileRPUConfig"]


def _single_tile_mapping() -> MappingParameter:
    # one logical layer = one (replicated) tile: no splitting into tile arrays
    return MappingParameter(max_input_size=0, max_output_size=0)


@dataclass
class MultiTileRPUConfig(UnitCellRPUConfig):
    """``UnitCellRPUConfig`` for :class:`~analog_tt.tiles.tile.MultiTileTransferTile`.

    ``device`` must be a ``TransferCompound`` (TT-v1), ``ChoppedTransferCompound`` (TTv2 / c-TTv2)
    or ``DynamicTransferCompound`` (AGAD) with two unit-cell devices ``[A, C]``.

    Attributes
    ----------
    n_tiles : int
        Number of weight replicas ``N >= 1``.
    variant : {"shared_A", "replicated_A"}
        One gradient tile updated with the whole batch (paper "v1"), or one per replica updated
        with its slice, reads summed into the shared buffer (paper "v2").
    auto_scale_start : {"paper", "first", "zero"}
        Start value of the auto-scale running maxima ``m_x``, ``m_d``: 1.0 (the paper's tiles),
        the first observed batch maxima (aihwkit's C++ compound) or 0.0 (aihwkit's python
        ``TorchTransferTile``). Only used when ``device.auto_scale`` is on. The maxima follow
        ``m <- (1 - tau) m + tau max|.|`` with ``tau = (1 - auto_momentum) / B``, a time constant
        of 6400 batches (6.8 MNIST epochs) at B = 64. With ``"paper"``, ``m_d`` therefore stays
        near 1 for several epochs while the true ``max|d|`` is 1e-4 to 1e-2, so
        ``lr_a = fast_lr * BL * g_A / (m_x m_d)`` starts 100-1000x below its steady value and the
        first epochs barely learn; ``"first"`` starts at the steady value; ``"zero"`` starts
        ``(B / (1 - auto_momentum))**2`` (4e7 at B = 64) times too high.
    count_ops : bool
        Count analog operations for the hardware model (see :mod:`analog_tt.tiles.counting`).
    tt_v1_transfer_gain : float
        TT-v1 only: the transfer write is ``-tt_v1_transfer_gain * lr * omega`` applied with the
        replica learning rate ``lr``. The paper's code hard-codes 10.
    optimizer_lr : float or None
        The optimizer learning rate this config was made for. The learning rate is given twice,
        to the preset (which derives ``device.fast_lr`` from it) and to ``AnalogSGD`` (which sets
        the tile's transfer learning rate every step); the presets set this field to their
        ``lr``, and the tile warns once when the optimizer's differs. ``None``: no check (e.g. a
        learning-rate scheduler that changes it on purpose).
    replica_engine : {"aihwkit", "batched"}
        How the training forward and backward of the N replicas run: each replica's own aihwkit
        C++ call (the reference) or one batched torch pass over the replicas' weights, shared
        with their C++ tiles (:mod:`analog_tt.tiles.shared_weights`,
        :func:`analog_tt.tiles.io_forward.io_managed_sliced`). The same IO model, its own random
        stream (torch's global RNG): the same training in distribution, not in bits. Updates and
        transfers are aihwkit's either way. ``"batched"`` needs IO parameters it models.
    zero_grad_tiles : bool
        Start the gradient tiles ``A`` at exactly 0 (as aihwkit's C++ transfer compounds and the
        paper's ``fast_weight = 0`` initialisation do). ``False`` keeps the +-0.1 uniform random
        start of a bare aihwkit tile (what aihwkit's python ``TorchTransferTile`` does), an offset
        that the transfer writes into ``C`` as if it were gradient.
    """

    tile_class: type = MultiTileTransferTile
    tile_array_class: type | None = None
    mapping: MappingParameter = field(default_factory=_single_tile_mapping)
    n_tiles: int = 1
    variant: Literal["shared_A", "replicated_A"] = "shared_A"
    auto_scale_start: Literal["paper", "first", "zero"] = "paper"
    count_ops: bool = False
    tt_v1_transfer_gain: float = 10.0
    zero_grad_tiles: bool = True
    optimizer_lr: float | None = None
    replica_engine: Literal["aihwkit", "batched"] = "aihwkit"

    def __post_init__(self) -> None:
        if not isinstance(self.tt_v1_transfer_gain, (int, float)) or self.tt_v1_transfer_gain <= 0:
            raise ValueError(
                f"tt_v1_transfer_gain must be a number > 0, got {self.tt_v1_transfer_gain!r}"
            )
        if self.optimizer_lr is not None and (
            isinstance(self.optimizer_lr, bool)
            or not isinstance(self.optimizer_lr, (int, float))
            or self.optimizer_lr <= 0
        ):
            raise ValueError(
                f"optimizer_lr must be a number > 0 or None, got {self.optimizer_lr!r}"
            )
        for name in ("count_ops", "zero_grad_tiles"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        check_tile_config(self)
