"""Data, networks, optimisers and replica initialisation of a run (everything ``run`` builds)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..core.seeding import derived_seed
from ..core.vocabulary import DIGITAL_ALGORITHMS
from ..tiles import presets
from ..tiles.layers import find_multi_tile_layers, replicas_of, sim_tile
from ..tiles.programming import initialize_replicas, perturb_replicas, xavier_std
from .config import SPIRAL_POINTS_PER_CLASS, RunConfig, parse_network

__all__ = ["MLP", "build_model", "build_optimizer", "initialize", "load_dataset"]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _dataset(
    dataset: str, train_subset: int | None, test_subset: int | None, n_per_class: int | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    from .. import data

    if dataset == "mnist":
        x_train, y_train = data.load_mnist(train=True, subset=train_subset, seed=0)
        x_test, y_test = data.load_mnist(train=False, subset=test_subset, seed=0)
        return x_train, y_train, x_test, y_test
    # spiral: the paper's training set (nnfs.init(): RandomState(0)) and a held-out second draw
    n = n_per_class or SPIRAL_POINTS_PER_CLASS
    x_train, y_train = data.make_spiral(n, rng=np.random.RandomState(0))
    x_test, y_test = data.make_spiral(n, rng=np.random.RandomState(1))
    if train_subset is not None:
        keep = data.stratified_subset(y_train, train_subset, seed=0)
        x_train, y_train = x_train[keep], y_train[keep]
    if test_subset is not None:
        keep = data.stratified_subset(y_test, test_subset, seed=0)
        x_test, y_test = x_test[keep], y_test[keep]
    return tuple(torch.from_numpy(a) for a in (x_train, y_train, x_test, y_test))


def load_dataset(config: RunConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(X_train, y_train, X_test, y_test)`` of ``config`` (cached per process).

    Shapes ``[n, 784]`` / ``[n]`` for MNIST (pixels in [0, 1]), ``[n, 2]`` / ``[n]`` for the spiral.
    """
    return _dataset(config.dataset, config.train_subset, config.test_subset, config.n_per_class)


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------


class MLP(nn.Module):
    """Dense layers with an activation between them, outputs × scale, then LogSoftmax.

    Parameters
    ----------
    layers : sequence of nn.Module
        ``nn.Linear`` or aihwkit ``AnalogLinear`` layers, in order.
    activation : {"sigmoid", "relu"}
    output_scale : float
        Multiplies the last layer's output (the paper's spiral net: 25).
    """

    def __init__(
        self, layers: Sequence[nn.Module], activation: str, output_scale: float = 1.0
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.activation = activation
        self.output_scale = float(output_scale)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``[B, in]`` -> log-probabilities ``[B, classes]``."""
        act = torch.sigmoid if self.activation == "sigmoid" else torch.relu
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = act(x)
        if self.output_scale != 1.0:
            x = x * self.output_scale
        return torch.log_softmax(x, dim=1)


def _ecram_device():
    from aihwkit.simulator.presets import EcRamPresetDevice

    # the paper's "MIT protonic synapse" fit, used for every final MNIST run (seed analysis §1.11)
    return EcRamPresetDevice(gamma_up=-0.38, gamma_down=0.76, allow_increasing=True)


def _aihwkit_rpu_config(config: RunConfig, layer_index: int):
    """rpu_config of aihwkit's own analog algorithms (``analog_sgd``, ``tt_v1``), as shipped."""
    from aihwkit.simulator.presets import EcRamPreset, TikiTakaEcRamPreset

    if config.algorithm == "analog_sgd":
        rpu = EcRamPreset()
        rpu.device = _ecram_device()
    elif config.dataset == "spiral":
        # the paper's TikiTakaEcRamPreset with its spiral settings (SHD_analog.ipynb)
        rpu = TikiTakaEcRamPreset()
        rpu.device.fast_lr = config.lr if config.fast_lr is None else config.fast_lr
        rpu.device.transfer_every = float(_transfer_every(config)[layer_index])
        rpu.device.units_in_mbatch = True
        if config.out_noise is not None:
            rpu.forward.out_noise = config.out_noise
            rpu.backward.out_noise = config.out_noise
        transfer_noise = config.transfer_out_noise
        if transfer_noise is None:
            transfer_noise = config.out_noise
        if transfer_noise is not None:
            rpu.device.transfer_forward.out_noise = transfer_noise
    else:
        rpu = TikiTakaEcRamPreset()
        rpu.device.unit_cell_devices = [_ecram_device(), _ecram_device()]
        rpu.device.fast_lr = config.lr
        rpu.device.units_in_mbatch = True
    rpu.update.desired_bl = config.bl
    return rpu


def _transfer_every(config: RunConfig) -> tuple[int, ...]:
    n_layers = len(parse_network(config.network)[0]) - 1
    return config.transfer_every or (1,) * n_layers


def _multi_tile_rpu_config(config: RunConfig, layer_index: int):
    """Our multi-tile config (:mod:`analog_tt.tiles.presets`) of one layer."""
    common = {
        "n_tiles": config.n_tiles,
        "variant": config.variant,
        "bl": config.bl,
        "lr": config.lr,
        "auto_scale_start": config.auto_scale_start,
        "count_ops": config.count_ops,
    }
    if config.dataset == "mnist":
        rpu = presets.paper_mnist_config(**common)
        rpu.replica_engine = config.replica_engine
        return rpu
    spiral = {"fast_lr": config.fast_lr, "transfer_out_noise": config.transfer_out_noise}
    if config.out_noise is not None:
        spiral["out_noise"] = config.out_noise
    algorithm = "agad" if config.algorithm == "agad" else "tt_v1"
    rpu = presets.spiral_config(algorithm=algorithm, **common, **spiral)
    # units_in_mbatch=True: one column transfer every `transfer_every` mini-batches
    rpu.device.transfer_every = float(_transfer_every(config)[layer_index])
    rpu.replica_engine = config.replica_engine
    return rpu


def build_model(config: RunConfig) -> MLP:
    """The network of ``config`` with freshly initialised layers of its algorithm.

    Uses the global torch RNG for weight initialisation (seed it first). Replica initialisation
    (``config.init``) is :func:`initialize`'s job, not this one's.
    """
    from aihwkit.nn import AnalogLinear

    sizes, activation, scale = parse_network(config.network)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if config.algorithm in DIGITAL_ALGORITHMS:
            layer = nn.Linear(n_in, n_out)
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        else:
            rpu = (
                _multi_tile_rpu_config(config, i)
                if config.is_multi_tile
                else _aihwkit_rpu_config(config, i)
            )
            layer = AnalogLinear(n_in, n_out, bias=True, rpu_config=rpu)
            if config.init == "xavier_uniform":
                _set_xavier_uniform(layer, n_in, n_out)
        layers.append(layer)
    return MLP(layers, activation, scale)


def _set_xavier_uniform(layer: nn.Module, n_in: int, n_out: int) -> None:
    """Every replica (or aihwkit's one tile) := one Xavier-uniform draw; digital bias := 0."""
    weight = torch.empty(n_out, n_in)
    nn.init.xavier_uniform_(weight)
    tile_module = layer.analog_module
    sim = tile_module.tile
    if hasattr(sim, "set_replica_weights"):
        sim.set_replica_weights(weight)
    else:
        tile_module.set_weights(weight, torch.zeros(n_out))
    bias = getattr(tile_module, "bias", None)  # aihwkit keeps the digital bias on the tile module
    if isinstance(bias, Tensor):
        with torch.no_grad():
            bias.zero_()


def build_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """SGD / Adam for the digital algorithms, aihwkit's ``AnalogSGD`` (regrouped) otherwise."""
    if config.algorithm == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr)
    if config.algorithm == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    from aihwkit.optim import AnalogSGD

    optimizer = AnalogSGD(model.parameters(), lr=config.lr)
    optimizer.regroup_param_groups(model)
    return optimizer


def initialize(model: nn.Module, config: RunConfig) -> dict[str, Any] | None:
    """Replica initialisation of the multi-tile layers; returns the report per layer.

    ``program``: the paper's pulse programming to a Xavier-std target
    (:func:`analog_tt.tiles.programming.initialize_replicas`). ``init_std``: every replica = one
    Xavier-normal reference + Normal(0, init_std), as the paper's ``mnist_init_epochs_xavier.py``
    (aihwkit's own init, uniform +-1/sqrt(in), has half the Xavier std, and the network then
    stays at chance for >10000 batches). ``independent``: aihwkit's own independent random init of
    every replica (paper: -1). ``xavier_uniform`` and ``default`` were done by
    :func:`build_model`; nothing to report.
    """
    if not config.is_multi_tile or config.init in ("xavier_uniform", "default"):
        return None
    generator = torch.Generator().manual_seed(derived_seed(config.seed, "init"))
    if config.init != "init_std":
        return initialize_replicas(model, config.init, config.init_std, generator=generator)
    reports = {}
    for name, layer in find_multi_tile_layers(model).items():
        replicas = replicas_of(layer)
        sim = sim_tile(replicas[0])
        n_out, n_in = int(sim.get_d_size()), int(sim.get_x_size())
        std = xavier_std(n_in, n_out)
        reference = torch.randn(n_out, n_in, generator=generator) * std
        report = perturb_replicas(replicas, reference, config.init_std, generator)
        reports[name] = {
            **report,
            "mode": "init_std",
            "reference": "xavier_normal",
            "reference_std_target": std,
        }
    return reports
