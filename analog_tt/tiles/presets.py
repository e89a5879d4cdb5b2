"""Named configurations of the paper (seed analysis §1.11, §2.4, §3.1).

Every function returns a fresh :class:`~analog_tt.config.MultiTileRPUConfig`. Keyword
``overrides`` set top-level fields of the config (e.g. ``auto_scale_start="first"``,
``count_ops=True``); an unknown name raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any, Literal

from aihwkit.simulator.configs.compounds import DynamicTransferCompound, TransferCompound
from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType
from aihwkit.simulator.parameters.mapping import MappingParameter
from aihwkit.simulator.presets.devices import EcRamPresetDevice
from aihwkit.simulator.presets.utils import PresetIOParameters, PresetUpdateParameters

from .config import MultiTileRPUConfig

__all__ = ["paper_device", "paper_mnist_config", "paper_mnist_tt_v1_config", "spiral_config"]

#: gamma_up / gamma_down of the "MIT protonic synapse" fit used by every final MNIST run.
PAPER_GAMMA_UP = -0.38
PAPER_GAMMA_DOWN = 0.76


def paper_device() -> EcRamPresetDevice:
    """``EcRamPresetDevice(gamma_up=-0.38, gamma_down=0.76, allow_increasing=True)``."""
    return EcRamPresetDevice(
        gamma_up=PAPER_GAMMA_UP, gamma_down=PAPER_GAMMA_DOWN, allow_increasing=True
    )


def _transfer_io(out_noise: float | None = None) -> PresetIOParameters:
    io = PresetIOParameters(
        noise_management=NoiseManagementType.NONE, bound_management=BoundManagementType.NONE
    )
    if out_noise is not None:
        io.out_noise = out_noise
    return io


def _paper_mapping() -> MappingParameter:
    # digital bias, one learned scalar output scale, no tile splitting
    return MappingParameter(
        digital_bias=True,
        learn_out_scaling=True,
        out_scaling_columnwise=False,
        weight_scaling_omega=0.0,
        max_input_size=0,
        max_output_size=0,
    )


def _apply_overrides(config: MultiTileRPUConfig, overrides: dict[str, Any]) -> MultiTileRPUConfig:
    for name, value in overrides.items():
        if not hasattr(config, name):
            raise ValueError(f"unknown config field {name!r}")
        setattr(config, name, value)
    config.__post_init__()  # re-validate
    return config


def paper_mnist_config(
    n_tiles: int = 1,
    variant: Literal["shared_A", "replicated_A"] = "shared_A",
    bl: int = 31,
    lr: float = 0.1,
    **overrides: Any,
) -> MultiTileRPUConfig:
    """The paper's MNIST config: AGAD on the protonic EcRam fit (§1.11).

    ``DynamicTransferCompound`` with :func:`paper_device` for ``A`` and ``C``; transfer read with
    ``PresetIOParameters`` without noise / bound management; transfer write 1 pulse, no update
    management; ``fast_lr = lr``, ``auto_granularity = 750``, ``tail_weightening = 50``,
    ``in_chop_prob = 0.005`` (deterministic chopper every 200 sweeps), ``auto_scale``,
    ``units_in_mbatch=True`` and ``transfer_every=1`` (one column transfer per mini-batch);
    forward/backward ``PresetIOParameters`` (7-bit DAC, 9-bit ADC, out_noise 0.1, out_bound 20,
    ABS_MAX noise management, iterative bound management); update ``PresetUpdateParameters``
    with ``desired_bl = bl``; digital bias and a learned scalar output scale;
    ``auto_scale_start="paper"`` (m_x = m_d = 1.0 at the start).

    Parameters
    ----------
    n_tiles : int
        Number of replicas ``N``.
    variant : {"shared_A", "replicated_A"}
        Paper "v1" / "v2".
    bl : int
        Pulse-train length of the gradient update.
    lr : float
        SGD learning rate; also the device ``fast_lr`` (the optimiser must use the same ``lr``).
    """
    device = DynamicTransferCompound(
        unit_cell_devices=[paper_device(), paper_device()],
        transfer_forward=_transfer_io(),
        transfer_update=PresetUpdateParameters(
            desired_bl=1, update_bl_management=False, update_management=False
        ),
        fast_lr=lr,
        auto_granularity=750,
        tail_weightening=50.0,
        in_chop_prob=0.005,
        units_in_mbatch=True,
        transfer_every=1,
        auto_scale=True,
    )
    config = MultiTileRPUConfig(
        device=device,
        forward=PresetIOParameters(),
        backward=PresetIOParameters(),
        update=PresetUpdateParameters(desired_bl=bl),
        mapping=_paper_mapping(),
        n_tiles=n_tiles,
        variant=variant,
        auto_scale_start="paper",
        optimizer_lr=lr,
    )
    return _apply_overrides(config, overrides)


def paper_mnist_tt_v1_config(
    n_tiles: int = 1,
    variant: Literal["shared_A", "replicated_A"] = "shared_A",
    lr: float = 0.1,
    **overrides: Any,
) -> MultiTileRPUConfig:
    """TT-v1 (``TransferCompound``) on the same device/IO as :func:`paper_mnist_config`.

    As the paper's ``TikiTakaEcRamPreset`` runs (§1.3-1.4): ``fast_lr = lr``, transfer write
    ``-10 * lr * omega`` with ``PresetUpdateParameters`` (BL 31, update management),
    ``units_in_mbatch=True``, one transfer per batch.
    """
    device = TransferCompound(
        unit_cell_devices=[paper_device(), paper_device()],
        transfer_forward=_transfer_io(),
        transfer_update=PresetUpdateParameters(),
        units_in_mbatch=True,
        transfer_every=1,
        fast_lr=lr,
    )
    config = MultiTileRPUConfig(
        device=device,
        forward=PresetIOParameters(),
        backward=PresetIOParameters(),
        update=PresetUpdateParameters(),
        mapping=_paper_mapping(),
        n_tiles=n_tiles,
        variant=variant,
        tt_v1_transfer_gain=10.0,
        optimizer_lr=lr,
    )
    return _apply_overrides(config, overrides)


def spiral_config(
    n_tiles: int = 1,
    variant: Literal["shared_A", "replicated_A"] = "shared_A",
    algorithm: Literal["agad", "tt_v1"] = "agad",
    lr: float = 0.0064,
    fast_lr: float | None = None,
    out_noise: float = 0.1,
    transfer_out_noise: float | None = None,
    in_chop_prob: float = 0.001,
    bl: int = 31,
    **overrides: Any,
) -> MultiTileRPUConfig:
    """Config of the 2-64-3 spiral runs (§2.4, ``train_combined.py`` / ``train_ttbatch.py``).

    ``algorithm="agad"``: ``AGADEcRamPreset`` devices (default EcRam), ``in_chop_prob`` 0.001,
    ``fast_lr = 16 * lr`` by default, one transfer per batch. ``algorithm="tt_v1"``:
    ``TikiTakaEcRamPreset`` (``TransferCompound``), ``fast_lr = lr`` by default. Both with the
    forward/backward ``out_noise`` given and the transfer read noise ``transfer_out_noise``
    (default: same as ``out_noise``), learned scalar output scale and digital bias.
    """
    if transfer_out_noise is None:
        transfer_out_noise = out_noise
    forward = PresetIOParameters(out_noise=out_noise)
    backward = PresetIOParameters(out_noise=out_noise)
    if algorithm == "agad":
        device = DynamicTransferCompound(
            unit_cell_devices=[EcRamPresetDevice(), EcRamPresetDevice()],
            transfer_forward=_transfer_io(transfer_out_noise),
            transfer_update=PresetUpdateParameters(
                desired_bl=1, update_bl_management=False, update_management=False
            ),
            fast_lr=16 * lr if fast_lr is None else fast_lr,
            auto_granularity=750,
            tail_weightening=50.0,
            in_chop_prob=in_chop_prob,
            units_in_mbatch=True,
            transfer_every=1,
            auto_scale=True,
        )
    elif algorithm == "tt_v1":
        device = TransferCompound(
            unit_cell_devices=[EcRamPresetDevice(), EcRamPresetDevice()],
            transfer_forward=_transfer_io(transfer_out_noise),
            transfer_update=PresetUpdateParameters(),
            units_in_mbatch=True,
            transfer_every=1,
            fast_lr=lr if fast_lr is None else fast_lr,
        )
    else:
        raise ValueError(f"algorithm must be 'agad' or 'tt_v1', got {algorithm!r}")
    config = MultiTileRPUConfig(
        device=device,
        forward=forward,
        backward=backward,
        update=PresetUpdateParameters(desired_bl=bl),
        mapping=_paper_mapping(),
        n_tiles=n_tiles,
        variant=variant,
        optimizer_lr=lr,
    )
    return _apply_overrides(config, overrides)
