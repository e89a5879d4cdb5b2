"""Experiment runner: frozen run configs, a resumable ``run``, cached and distributed sweeps.

A *run* is a :class:`RunConfig` (a frozen dataclass) and :func:`run` is a function of it alone:
data, model, replica initialisation, training order and evaluation probes are all seeded from
``config.seed`` (see the note on determinism below). Results are JSON files under
``data/results/<profile>/<experiment>/<key>.json``, ``key = config.key()``, written atomically
(a file that exists is a finished run). A run in progress writes a checkpoint ``<key>.ckpt``
after every epoch (model, optimiser, SWA, RNG states and the records so far), so a killed run
resumes at the last finished epoch.

A *sweep* is a profile (``profiles/<name>.yaml``, key ``experiments:``) whose experiments are
grids of run configs. :func:`run_sweep` skips finished runs and computes the rest on a
``dask.distributed`` cluster (a local one with one single-threaded worker per core by default, or
any scheduler address); the workers write the result files themselves, so killing a sweep loses
only the runs that were in flight, and those resume from their last checkpoint.

Determinism
-----------
Python's, numpy's and torch's generators are seeded from the config before the model is built,
torch is re-seeded at the start of every epoch from ``(seed, epoch)``, the shuffling order and the
probe vectors of the least-squares reads have their own seeded generators, and aihwkit's C++
tiles (which seed their own generators from the wall clock) get generators seeded from
``(seed, epoch)`` at the start of every epoch (:func:`analog_tt._utils.reseed_analog_tiles`). So
runs are bit-identical run to run, in the same process or another one, and a run resumed from a
checkpoint gives the same bits as an uninterrupted one, for the floating-point and the analog
algorithms alike (tested).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import _determinism
from ._utils import (
    REPO_ROOT,
    atomic_write_bytes,
    atomic_write_json,
    config_from_dict,
    config_to_dict,
    git_commit,
    machine_info,
    package_versions,
    reseed_analog_tiles,
    seed_everything,
    stable_hash,
    utc_now,
)

__all__ = [
    "ALGORITHMS",
    "DATASETS",
    "EVAL_MODES",
    "EXPERIMENTS",
    "INIT_MODES",
    "PROFILE_DIR",
    "RESULTS_ROOT",
    "RunConfig",
    "Sweep",
    "SweepReport",
    "available_profiles",
    "build_model",
    "load_profile",
    "load_results",
    "numerics_code_hash",
    "run",
    "run_sweep",
    "summarize",
    "sweep_main",
]

#: Bumped whenever a change of this module changes what a result file holds or means; part of
#: every config key, so old cached results are never mistaken for new ones.
RESULTS_FORMAT_VERSION = 1

DATASETS = ("mnist", "spiral")
ALGORITHMS = ("sgd", "adam", "analog_sgd", "tt_v1", "agad")
DIGITAL_ALGORITHMS = ("sgd", "adam")
#: Multi-tile variants (as in ``analog_tt.tiles``): ``shared_A`` = one gradient tile A (the
#: paper's "v1"), ``replicated_A`` = one A per replica (the paper's "v2"); seed analysis §1.5-1.6.
VARIANTS = ("shared_A", "replicated_A")
#: Replica initialisation (``default`` = the tile's own init; the only choice for 1-tile
#: algorithms other than ``agad``).
INIT_MODES = ("program", "init_std", "independent", "default")
EVAL_MODES = ("lstsq", "exact")
#: Initial value of the auto-scale running maxima m_x, m_d of the AGAD tile (as in
#: ``analog_tt.tiles``): ``paper`` (1.0, the paper's tiles), ``first`` (aihwkit's C++ compound:
#: the first observed maxima), ``zero`` (aihwkit 1.1.0's Python ``TorchTransferTile``).
AUTO_SCALE_STARTS = ("paper", "first", "zero")
ACTIVATIONS = ("sigmoid", "relu")
EXPERIMENTS = ("fig2", "epochs_to_97", "lr_sweep", "init_study", "swa", "baselines")

PROFILE_DIR = REPO_ROOT / "profiles"
#: Where results go; the environment variable ``ANALOG_TT_RESULTS`` overrides it (tests use it).
RESULTS_ROOT = REPO_ROOT / "data" / "results"

_DATASET_SHAPES = {"mnist": (784, 10), "spiral": (2, 3)}
_DATASET_SIZES = {"mnist": (60000, 10000), "spiral": (3000, 3000)}


def _results_root(results_root: str | os.PathLike | None = None) -> Path:
    if results_root is not None:
        return Path(results_root)
    return Path(os.environ.get("ANALOG_TT_RESULTS", RESULTS_ROOT))


# --------------------------------------------------------------------------------------------
# Run configuration
# --------------------------------------------------------------------------------------------


def parse_network(network: str) -> tuple[tuple[int, ...], str, float]:
    """Parse a network name ``"<in>-<hidden>-...-<out>-<activation>[-x<scale>]"``.

    Examples: ``"784-256-128-10-sigmoid"`` (the paper's MNIST net), ``"2-64-3-relu-x25"`` (the
    spiral net with its outputs multiplied by 25).

    Returns
    -------
    sizes, activation, output_scale
    """
    parts = str(network).split("-")
    scale = 1.0
    if parts and parts[-1].startswith("x"):
        try:
            scale = float(parts[-1][1:])
        except ValueError:
            raise ValueError(f"network: bad output scale {parts[-1]!r} in {network!r}") from None
        parts = parts[:-1]
    if len(parts) < 3 or parts[-1] not in ACTIVATIONS:
        raise ValueError(
            f"network must look like '784-256-128-10-sigmoid' or '2-64-3-relu-x25' "
            f"(sizes, then one of {ACTIVATIONS}, then optionally x<output scale>), got {network!r}"
        )
    try:
        sizes = tuple(int(p) for p in parts[:-1])
    except ValueError:
        raise ValueError(f"network: layer sizes must be integers, got {network!r}") from None
    if any(s < 1 for s in sizes) or scale <= 0:
        raise ValueError(f"network: sizes and output scale must be positive, got {network!r}")
    return sizes, parts[-1], scale


def _check_choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


def _check_int(name: str, value: Any, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an int >= {minimum}{extra}, got {value!r}")


def _check_float(
    name: str,
    value: Any,
    low: float,
    high: float = math.inf,
    low_open: bool = True,
    allow_none: bool = False,
) -> None:
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        extra = " or None" if allow_none else ""
        raise ValueError(
            f"{name} must be a number in {bracket}{low}, {high}]{extra}, got {value!r}"
        )


@dataclass(frozen=True)
class RunConfig:
    """One training run. Frozen, hashable, JSON-serialisable; :meth:`key` names its result.

    Defaults are the paper's MNIST setting (seed analysis §3): 784-256-128-10 sigmoid,
    batch 64, AGAD on the EcRam device (γ -0.38/0.76), lr 0.1, BL 31, 40 epochs, pulse-programmed
    replicas, evaluation by tile-averaged noisy least-squares reads.

    Attributes
    ----------
    dataset : {"mnist", "spiral"}
        ``spiral`` is the 3-class nnfs spiral (3000 train points, and a held-out test set of 3000
        points drawn with another seed).
    network : str
        See :func:`parse_network`; its input and output sizes must fit the dataset.
    algorithm : {"sgd", "adam", "analog_sgd", "tt_v1", "agad"}
        ``sgd``/``adam``: floating point (digital baselines); ``analog_sgd``: aihwkit
        single-device EcRam SGD; ``tt_v1``: aihwkit's Tiki-Taka ``TransferCompound`` (1 tile);
        ``agad``: our multi-tile AGAD tile (``analog_tt.presets``).
    variant : {"shared_A", "replicated_A"}
        Multi-tile variant (the paper's v1 and v2); only used by ``agad``.
    n_tiles : int
        Number of weight replicas N (``agad`` only; 1 for the others).
    bl : int
        Pulse-train length of the gradient update (``update.desired_bl``); analog only.
    lr : float
        Learning rate (also the fast learning rate of A for ``agad``/``tt_v1``).
    batch_size : int
    epochs : int or None
        Number of epochs for a fixed-length run; ``None`` with ``stop_at_accuracy``.
    stop_at_accuracy : float or None
        Stop at the first epoch whose test accuracy (tile average, first eval mode) reaches it.
    max_epochs : int or None
        Cap of a ``stop_at_accuracy`` run (required with it).
    init : {"program", "init_std", "independent", "default"} or None
        Replica initialisation; ``None`` picks ``program`` for ``agad``, ``default`` otherwise.
    init_std : float
        Perturbation std for ``init="init_std"`` (0 = identical replicas).
    seed : int
    train_subset, test_subset : int or None
        Deterministic class-stratified subsets (``None`` = full split).
    eval_modes : tuple of {"lstsq", "exact"} or None
        How analog weights are digitised for testing: noisy least-squares reads (the paper) or
        exact weights. ``None`` picks ``("lstsq",)`` for analog, ``("exact",)`` for digital.
    eval_every : int
        Test every ``eval_every`` epochs (and at every SWA epoch and the last epoch); the
        stop-at-accuracy check happens only on tested epochs. Reads are the costly part for
        large N (one noisy least-squares read per replica and layer).
    swa_start : int or None
        First epoch whose weights enter the SWA running mean; ``None`` disables SWA.
    swa_freq : int
        Epochs between SWA updates.
    swa_weighted_T : float or None
        Temperature of the performance-weighted SWA (paper: 0.2); ``None`` disables it.
    auto_scale_start : {"paper", "first", "zero"}
        Initial auto-scale maxima of the AGAD tile (``agad`` only).
    count_ops : bool
        Record the hardware model's operation counts per epoch (multi-tile tiles only).
    """

    dataset: str = "mnist"
    network: str = "784-256-128-10-sigmoid"
    algorithm: str = "agad"
    variant: str = "shared_A"
    n_tiles: int = 1
    bl: int = 31
    lr: float = 0.1
    batch_size: int = 64
    epochs: int | None = 40
    stop_at_accuracy: float | None = None
    max_epochs: int | None = None
    init: str | None = None
    init_std: float = 0.0
    seed: int = 0
    train_subset: int | None = None
    test_subset: int | None = None
    eval_modes: tuple[str, ...] | None = None
    eval_every: int = 1
    swa_start: int | None = None
    swa_freq: int = 1
    swa_weighted_T: float | None = None
    auto_scale_start: str = "paper"
    count_ops: bool = False

    def __post_init__(self) -> None:
        _check_choice("dataset", self.dataset, DATASETS)
        sizes, _, _ = parse_network(self.network)
        n_in, n_out = _DATASET_SHAPES[self.dataset]
        if sizes[0] != n_in or sizes[-1] != n_out:
            raise ValueError(
                f"network {self.network!r} must start with {n_in} inputs and end with {n_out} "
                f"outputs for dataset {self.dataset!r}"
            )
        _check_choice("algorithm", self.algorithm, ALGORITHMS)
        _check_choice("variant", self.variant, VARIANTS)
        _check_int("n_tiles", self.n_tiles, 1)
        if self.algorithm != "agad" and self.n_tiles != 1:
            raise ValueError(
                f"n_tiles must be 1 for algorithm {self.algorithm!r} (multi-tile is 'agad')"
            )
        _check_int("batch_size", self.batch_size, 1)
        if self.n_tiles > self.batch_size:
            raise ValueError(f"n_tiles ({self.n_tiles}) must be <= batch_size ({self.batch_size})")
        _check_int("bl", self.bl, 1)
        _check_float("lr", self.lr, 0.0)
        if self.stop_at_accuracy is None:
            _check_int("epochs", self.epochs, 1)
            if self.max_epochs is not None:
                raise ValueError(
                    "max_epochs is the cap of a stop_at_accuracy run; use epochs for a fixed run"
                )
        else:
            _check_float("stop_at_accuracy", self.stop_at_accuracy, 0.0, 1.0)
            if self.epochs is not None:
                raise ValueError(
                    "give either epochs (fixed run) or stop_at_accuracy + max_epochs, not both "
                    "(set epochs to None with stop_at_accuracy)"
                )
            if self.max_epochs is None:
                raise ValueError("stop_at_accuracy needs max_epochs (the cap), got None")
            _check_int("max_epochs", self.max_epochs, 1)
        init = self.init
        if init is None:
            init = "program" if self.algorithm == "agad" else "default"
            object.__setattr__(self, "init", init)
        _check_choice("init", init, INIT_MODES)
        if self.algorithm != "agad" and init != "default":
            raise ValueError(
                f"init must be 'default' for algorithm {self.algorithm!r}, got {init!r}"
            )
        if self.algorithm == "agad" and init == "default":
            raise ValueError(
                "init for 'agad' must be one of ('program', 'init_std', 'independent')"
            )
        _check_float("init_std", self.init_std, 0.0, low_open=False)
        if init != "init_std" and self.init_std != 0:
            raise ValueError(f"init_std is only used with init='init_std', got init={init!r}")
        object.__setattr__(self, "init_std", float(self.init_std))
        object.__setattr__(self, "lr", float(self.lr))
        _check_int("seed", self.seed, 0)
        n_train, n_test = _DATASET_SIZES[self.dataset]
        _check_int("train_subset", self.train_subset, 1, allow_none=True)
        _check_int("test_subset", self.test_subset, 1, allow_none=True)
        if self.train_subset is not None and self.train_subset > n_train:
            raise ValueError(
                f"train_subset must be <= {n_train} for {self.dataset}, got {self.train_subset}"
            )
        if self.test_subset is not None and self.test_subset > n_test:
            raise ValueError(
                f"test_subset must be <= {n_test} for {self.dataset}, got {self.test_subset}"
            )
        modes = self.eval_modes
        if modes is None:
            modes = ("exact",) if self.algorithm in DIGITAL_ALGORITHMS else ("lstsq",)
        if isinstance(modes, str):
            modes = (modes,)
        modes = tuple(modes)
        if not modes or len(set(modes)) != len(modes) or any(m not in EVAL_MODES for m in modes):
            raise ValueError(
                f"eval_modes must be a non-empty tuple of distinct {EVAL_MODES}, got {self.eval_modes!r}"
            )
        if self.algorithm in DIGITAL_ALGORITHMS and modes != ("exact",):
            raise ValueError(
                f"eval_modes must be ('exact',) for the digital algorithm {self.algorithm!r}"
            )
        object.__setattr__(self, "eval_modes", modes)
        _check_int("eval_every", self.eval_every, 1)
        _check_int("swa_start", self.swa_start, 1, allow_none=True)
        _check_int("swa_freq", self.swa_freq, 1)
        if self.swa_weighted_T is not None:
            _check_float("swa_weighted_T", self.swa_weighted_T, -math.inf)
            if self.swa_start is None:
                raise ValueError(
                    "swa_weighted_T needs swa_start (performance-weighted SWA is a kind of SWA)"
                )
            if self.algorithm != "agad":
                raise ValueError(
                    "swa_weighted_T (per-tile performance weights) needs algorithm 'agad'"
                )
        _check_choice("auto_scale_start", self.auto_scale_start, AUTO_SCALE_STARTS)
        if not isinstance(self.count_ops, bool):
            raise ValueError(f"count_ops must be a bool, got {self.count_ops!r}")

    # -- derived -----------------------------------------------------------------------------
    @property
    def n_epochs_max(self) -> int:
        """The most epochs this run may train."""
        return int(self.epochs if self.stop_at_accuracy is None else self.max_epochs)

    @property
    def is_analog(self) -> bool:
        return self.algorithm not in DIGITAL_ALGORITHMS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (tuples become lists)."""
        return config_to_dict(self, ("eval_modes",))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown fields raise a ValueError naming them."""
        return config_from_dict(cls, data, ("eval_modes",))

    def key(self) -> str:
        """Stable 16-hex-digit hash of every field and the result format version."""
        return stable_hash({"results_format": RESULTS_FORMAT_VERSION, **self.to_dict()})

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _load_dataset(dataset: str, train_subset: int | None, test_subset: int | None):
    """(X_train, y_train, X_test, y_test) as torch tensors; cached per process."""
    import torch

    from . import data

    if dataset == "mnist":
        Xtr, ytr = data.load_mnist(train=True, subset=train_subset, seed=0)
        Xte, yte = data.load_mnist(train=False, subset=test_subset, seed=0)
        return Xtr, ytr, Xte, yte
    # spiral: the paper's training set (nnfs.init(): RandomState(0)) and a held-out test set
    Xtr, ytr = data.make_spiral(1000, rng=np.random.RandomState(0))
    Xte, yte = data.make_spiral(1000, rng=np.random.RandomState(1))
    if train_subset is not None:
        keep = data.stratified_subset(ytr, train_subset, seed=0)
        Xtr, ytr = Xtr[keep], ytr[keep]
    if test_subset is not None:
        keep = data.stratified_subset(yte, test_subset, seed=0)
        Xte, yte = Xte[keep], yte[keep]
    return (
        torch.from_numpy(Xtr),
        torch.from_numpy(ytr),
        torch.from_numpy(Xte),
        torch.from_numpy(yte),
    )


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def _mlp_class():
    from torch import nn

    class MLP(nn.Module):
        """Dense layers with an activation between them, outputs × scale, then LogSoftmax."""

        def __init__(self, layers: Sequence[nn.Module], activation: str, output_scale: float = 1.0):
            super().__init__()
            self.layers = nn.ModuleList(layers)
            self.activation = activation
            self.output_scale = float(output_scale)

        def forward(self, x):
            import torch

            act = torch.sigmoid if self.activation == "sigmoid" else torch.relu
            for i, layer in enumerate(self.layers):
                x = layer(x)
                if i < len(self.layers) - 1:
                    x = act(x)
            if self.output_scale != 1.0:
                x = x * self.output_scale
            return torch.log_softmax(x, dim=1)

    return MLP


def _ecram_device():
    from aihwkit.simulator.presets import EcRamPresetDevice

    # the paper's "MIT protonic synapse" fit, used for every final MNIST run (seed analysis §1.11)
    return EcRamPresetDevice(gamma_up=-0.38, gamma_down=0.76, allow_increasing=True)


def _aihwkit_rpu_config(config: RunConfig):
    """rpu_config of the aihwkit (non multi-tile) analog algorithms."""
    from aihwkit.simulator.presets import EcRamPreset, TikiTakaEcRamPreset

    if config.algorithm == "analog_sgd":
        rpu = EcRamPreset()
        rpu.device = _ecram_device()
    else:  # tt_v1
        rpu = TikiTakaEcRamPreset()
        rpu.device.unit_cell_devices = [_ecram_device(), _ecram_device()]
        rpu.device.fast_lr = config.lr
        rpu.device.units_in_mbatch = True
    rpu.update.desired_bl = config.bl
    # aihwkit's own mapping (no learned output scale): these are aihwkit's baselines as shipped
    return rpu


def _agad_layer(config: RunConfig, n_in: int, n_out: int):
    """One multi-tile AGAD layer (``analog_tt.presets``) as an aihwkit ``AnalogLinear``."""
    from aihwkit.nn import AnalogLinear

    from . import presets

    common = {
        "n_tiles": config.n_tiles,
        "variant": config.variant,
        "bl": config.bl,
        "lr": config.lr,
        "auto_scale_start": config.auto_scale_start,
        "count_ops": config.count_ops,
    }
    if config.dataset == "spiral":
        rpu = presets.spiral_config(algorithm="agad", **common)
    else:
        rpu = presets.paper_mnist_config(**common)
    return AnalogLinear(n_in, n_out, bias=True, rpu_config=rpu)


def build_model(config: RunConfig):
    """The network of ``config`` with freshly initialised layers of its algorithm.

    Uses the global torch RNG for weight initialisation (seed it first). Replica initialisation
    of multi-tile layers (``config.init``) is done by :func:`run`, not here.

    Returns
    -------
    torch.nn.Module
        An ``MLP``: ``.layers`` (``nn.Linear`` or ``AnalogLinear``), forward returns log-probs.
    """
    from torch import nn

    sizes, activation, scale = parse_network(config.network)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        if config.algorithm in DIGITAL_ALGORITHMS:
            layer = nn.Linear(n_in, n_out)
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif config.algorithm == "agad":
            layer = _agad_layer(config, n_in, n_out)
        else:
            from aihwkit.nn import AnalogLinear

            layer = AnalogLinear(n_in, n_out, bias=True, rpu_config=_aihwkit_rpu_config(config))
        layers.append(layer)
    return _mlp_class()(layers, activation, scale)


def _build_optimizer(model, config: RunConfig):
    import torch

    if config.algorithm == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr)
    if config.algorithm == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    from aihwkit.optim import AnalogSGD

    opt = AnalogSGD(model.parameters(), lr=config.lr)
    opt.regroup_param_groups(model)
    return opt


def _initialize(model, config: RunConfig, seed: int) -> dict[str, Any] | None:
    """Replica initialisation of the multi-tile layers (``agad``); returns the report per layer.

    ``program``: the paper's pulse programming to a Xavier-std target (``initialize_replicas``).
    ``init_std``: every replica = one Xavier-normal reference + Normal(0, init_std), as the paper's
    ``mnist_init_epochs_xavier.py`` (aihwkit's own init, uniform +-1/sqrt(in), has half the
    Xavier std, and the network then stays at chance for >10000 batches).
    ``independent``: aihwkit's own independent random init of every replica (paper: -1).
    """
    if config.algorithm != "agad":
        return None
    import torch

    from .programming import (
        find_multi_tile_layers,
        initialize_replicas,
        perturb_replicas,
        replicas_of,
        sim_tile,
        xavier_std,
    )

    generator = torch.Generator().manual_seed(_derived_seed(seed, "init"))
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


# --------------------------------------------------------------------------------------------
# Evaluation: digitise, test, SWA
# --------------------------------------------------------------------------------------------


def _snapshot(
    model, mode: str, generator=None, replica_weighting=None
) -> dict[str, tuple[Any, Any]]:
    """Digital ``{"layers.<i>": (W, bias)}`` of every layer, analog ones read as ``mode``.

    Analog layers go through :func:`analog_tt.readout.digital_weights` (tile average, or the
    ``replica_weighting`` average, times alpha; digital bias); ``nn.Linear`` layers are copied.
    """
    import torch

    from .readout import digital_weights

    snap = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, torch.nn.Linear) and not hasattr(layer, "analog_module"):
            w, b = layer.weight.detach().clone(), layer.bias.detach().clone()
        else:
            w, b = digital_weights(
                layer, mode, replica_weighting=replica_weighting, generator=generator
            )
            if b is None:
                b = torch.zeros(w.shape[0])
        snap[f"layers.{i}"] = (w, b)
    return snap


def _digital_model(model, params: Mapping[str, tuple[Any, Any]]):
    """A floating-point ``MLP`` like ``model`` with the given ``{"layers.<i>": (W, b)}``."""
    import torch
    from torch import nn

    layers = []
    for i in range(len(model.layers)):
        weight, bias = params[f"layers.{i}"]
        lin = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            lin.weight.copy_(weight)
            lin.bias.copy_(bias)
        layers.append(lin)
    return _mlp_class()(layers, model.activation, model.output_scale)


def _evaluate(model, X, y, batch: int = 2000) -> tuple[float, float]:
    import torch

    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(X), batch):
            logp = model(X[i : i + batch])
            loss_sum += float(torch.nn.functional.nll_loss(logp, y[i : i + batch], reduction="sum"))
            correct += int((logp.argmax(1) == y[i : i + batch]).sum())
    return correct / len(X), loss_sum / len(X)


# --------------------------------------------------------------------------------------------
# Op counts (hardware model)
# --------------------------------------------------------------------------------------------


def _count_ops(model, reset: bool) -> dict[str, Any] | None:
    try:
        from . import counting
    except ImportError:  # pragma: no cover - depends on parallel work
        return None
    if reset:
        counting.reset_op_counts(model)
        return None
    return counting.collect_op_counts(model)


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------


def _derived_seed(seed: int, *tags: Any) -> int:
    return int(stable_hash([int(seed), *tags], length=8), 16)


def _seed_epoch(seed: int, epoch: int) -> None:
    import torch

    s = _derived_seed(seed, "epoch", epoch)
    torch.manual_seed(s)
    np.random.seed(s % 2**32)
    random.seed(s)


def _is_finished(path: Path) -> bool:
    """A result file counts as finished only if it parses and says so."""
    try:
        return json.loads(path.read_text()).get("status") == "finished"
    except (OSError, ValueError, AttributeError):
        return False


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _load_checkpoint(path: Path, key: str) -> dict[str, Any] | None:
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - an unreadable checkpoint means: start over
        return None
    if payload.get("key") != key or payload.get("results_format") != RESULTS_FORMAT_VERSION:
        return None
    return payload


class _StopForTest(Exception):
    """Raised by ``run(..., _stop_after_epoch=k)`` to simulate a kill after epoch k's checkpoint."""


def run(
    config: RunConfig,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    _stop_after_epoch: int | None = None,
) -> dict[str, Any]:
    """Train and evaluate one configuration; return (and with ``cache_dir``, store) its result.

    Parameters
    ----------
    config
        The run.
    cache_dir
        Folder of ``<key>.json`` (the finished result, returned as is when present) and
        ``<key>.ckpt`` (per-epoch checkpoint; a run resumes from it and deletes it when done).
        ``None``: no caching, no checkpoints.
    progress
        Show a tqdm bar over epochs.

    Returns
    -------
    dict
        JSON-ready: ``config``, ``key``, ``status``, ``epochs`` (one record per epoch: train loss,
        per eval mode the test accuracy/loss of the tile average, SWA and weighted SWA, wall
        times, op counts), ``final``, ``epochs_to_target``, ``init_report``,
        ``op_counts_total``, ``op_counts_per_epoch_mean``, ``provenance``. Epochs that were not
        tested (``config.eval_every``) have ``test = None``; a run whose training loss became NaN
        stops there (``diverged_at_epoch``).
    """
    import torch

    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    key = config.key()
    result_path = ckpt_path = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        result_path = cache_dir / f"{key}.json"
        ckpt_path = cache_dir / f"{key}.ckpt"
        if _is_finished(result_path):
            return json.loads(result_path.read_text())

    started_at = utc_now()
    Xtr, ytr, Xte, yte = _load_dataset(config.dataset, config.train_subset, config.test_subset)
    payload = _load_checkpoint(ckpt_path, key) if ckpt_path and ckpt_path.exists() else None
    seed_everything(config.seed)
    model = build_model(config)
    # replica initialisation (pulse programming: minutes for large N) only for a fresh start
    init_report = _initialize(model, config, config.seed) if payload is None else None
    if payload is not None:
        model.load_state_dict(payload["model"])
    # built after the state is loaded: loading an aihwkit tile replaces its parameter objects
    # (digital bias, output scale), and an optimizer built before would train stale copies
    optimizer = _build_optimizer(model, config)
    swa, weighted_swa = _make_swa(config)
    records: list[dict[str, Any]] = []
    resumes: list[dict[str, Any]] = []
    first_epoch = 1
    if payload is not None:
        optimizer.load_state_dict(payload["optimizer"])
        for m, state in payload["swa"].items():
            swa[m].load_state_dict(state)
        if weighted_swa is not None:
            weighted_swa.load_state_dict(payload["weighted_swa"])
        records = payload["records"]
        init_report = payload["init_report"]
        started_at = payload["started_at"]
        resumes = payload["resumes"] + [{"at_epoch": len(records), "time": utc_now()}]
        first_epoch = len(records) + 1

    n_train = len(Xtr)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=config.n_epochs_max, initial=first_epoch - 1, desc=f"run {key[:8]}", leave=False
        )
    stopped = any(r.get("reached_target") or r.get("diverged") for r in records)
    loss_fn = torch.nn.functional.nll_loss
    for epoch in range(first_epoch, config.n_epochs_max + 1):
        if stopped:
            break
        _seed_epoch(config.seed, epoch)
        if config.is_analog:
            # fresh C++ generators seeded from (seed, epoch): a resumed run draws the same noise
            reseed_analog_tiles(model, _derived_seed(config.seed, "tiles", epoch))
        if config.count_ops:
            _count_ops(model, reset=True)
        shuffle = torch.Generator().manual_seed(_derived_seed(config.seed, "shuffle", epoch))
        order = torch.randperm(n_train, generator=shuffle)
        model.train()
        t0 = time.perf_counter()
        loss_sum = 0.0
        for i in range(0, n_train, config.batch_size):
            idx = order[i : i + config.batch_size]
            optimizer.zero_grad()
            logp = model(Xtr[idx])
            loss = loss_fn(logp, ytr[idx])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            if weighted_swa is not None:
                weighted_swa.observe(logp.detach(), ytr[idx])
        train_s = time.perf_counter() - t0
        record: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": loss_sum / n_train,
            "train_s": train_s,
        }
        t1 = time.perf_counter()
        swa_due = config.swa_start is not None and swa_schedule_due(config, epoch)
        if not math.isfinite(record["train_loss"]):
            # the paper's scripts stop on NaN too; there is nothing left to evaluate
            record["train_loss"] = None
            record["diverged"] = stopped = True
            record["test"] = None
        elif epoch % config.eval_every == 0 or swa_due or epoch == config.n_epochs_max:
            record["test"] = _evaluate_epoch(model, config, epoch, swa, weighted_swa, Xte, yte)
        else:
            record["test"] = None
        record["eval_s"] = time.perf_counter() - t1
        if config.count_ops:
            record["op_counts"] = _count_ops(model, reset=False)
        primary = None
        if record["test"] is not None:
            primary = record["test"][config.eval_modes[0]]["tile_avg"]["acc"]
            if config.stop_at_accuracy is not None and primary >= config.stop_at_accuracy:
                record["reached_target"] = stopped = True
        records.append(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(acc="nan" if primary is None else f"{primary:.4f}")
        done = stopped or epoch == config.n_epochs_max
        if ckpt_path is not None and not done:
            _save_checkpoint(
                ckpt_path,
                {
                    "key": key,
                    "results_format": RESULTS_FORMAT_VERSION,
                    "config": config.to_dict(),
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "swa": {m: s.state_dict() for m, s in swa.items()},
                    "weighted_swa": None if weighted_swa is None else weighted_swa.state_dict(),
                    "records": records,
                    "init_report": init_report,
                    "started_at": started_at,
                    "resumes": resumes,
                },
            )
        if _stop_after_epoch is not None and epoch >= _stop_after_epoch and not done:
            if bar is not None:
                bar.close()
            raise _StopForTest(f"stopped after epoch {epoch}")
    if bar is not None:
        bar.close()

    result = _assemble_result(config, key, records, init_report, started_at, resumes)
    if result_path is not None:
        atomic_write_json(result_path, result)
        result_path.chmod(0o644)  # readable by the other users of a shared results folder
        ckpt_path.unlink(missing_ok=True)
    return result


def swa_schedule_due(config: RunConfig, epoch: int) -> bool:
    """Whether ``epoch`` enters the SWA mean: ``>= swa_start`` and on the ``swa_freq`` grid."""
    if config.swa_start is None:
        return False
    return epoch >= config.swa_start and (epoch - config.swa_start) % config.swa_freq == 0


def _make_swa(config: RunConfig):
    """``({eval_mode: SWA}, PerformanceWeightedSWA or None)`` of ``config`` (``analog_tt.swa``)."""
    if config.swa_start is None:
        return {}, None
    from .swa import SWA, PerformanceWeightedSWA

    swa = {m: SWA(config.swa_start, config.swa_freq, read_mode=m) for m in config.eval_modes}
    weighted = None
    if config.swa_weighted_T is not None:
        weighted = PerformanceWeightedSWA(
            config.swa_start,
            config.n_tiles,
            config.swa_freq,
            temperature=config.swa_weighted_T,
            read_mode=config.eval_modes[0],
        )
    return swa, weighted


def _evaluate_epoch(model, config: RunConfig, epoch: int, swa, weighted_swa, Xte, yte):
    """Test metrics of one epoch: per eval mode the tile average, SWA and weighted SWA.

    Every analog read uses probes from a generator seeded by ``(seed, epoch, mode)``; the
    tile-average snapshot is also the one that enters the SWA mean (one read per epoch and mode).
    """
    import torch

    test: dict[str, dict[str, dict[str, float]]] = {}
    for mode in config.eval_modes:
        gen = torch.Generator().manual_seed(_derived_seed(config.seed, "read", epoch, mode))
        snap = _snapshot(model, mode, generator=gen)
        acc, nll = _evaluate(_digital_model(model, snap), Xte, yte)
        test[mode] = {"tile_avg": {"acc": acc, "loss": nll}}
        if mode in swa:
            if swa[mode].due(epoch):
                swa[mode].add_snapshot(snap, epoch)
            if swa[mode].n_averaged:
                acc, nll = _evaluate(_digital_model(model, swa[mode].averaged_params()), Xte, yte)
                test[mode]["swa"] = {"acc": acc, "loss": nll, "n_averaged": swa[mode].n_averaged}
        if weighted_swa is not None and mode == config.eval_modes[0]:
            if weighted_swa.due(epoch):
                p = weighted_swa.replica_weights()
                weighted_swa.add_snapshot(
                    _snapshot(model, mode, generator=gen, replica_weighting=p), epoch
                )
            if weighted_swa.n_averaged:
                params = weighted_swa.averaged_params()
                acc, nll = _evaluate(_digital_model(model, params), Xte, yte)
                test[mode]["swa_weighted"] = {
                    "acc": acc,
                    "loss": nll,
                    "n_averaged": weighted_swa.n_averaged,
                }
    return test


#: Modules whose code decides a run's numbers; their hash goes into the provenance (not into the
#: key, so that editing a comment does not invalidate hours of cached runs: compare
#: ``provenance.code_hash`` with :func:`numerics_code_hash` to find stale results).
NUMERICS_MODULES = (
    "config.py",
    "counting.py",
    "data.py",
    "experiments.py",
    "presets.py",
    "programming.py",
    "readout.py",
    "swa.py",
    "tiles.py",
)


@lru_cache(maxsize=1)
def numerics_code_hash() -> str:
    """sha256 (16 hex digits) of the source of :data:`NUMERICS_MODULES`."""
    import hashlib

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for name in NUMERICS_MODULES:
        path = package / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()[:16]


def _assemble_result(config, key, records, init_report, started_at, resumes) -> dict[str, Any]:
    import torch

    primary = config.eval_modes[0]
    epochs_to_target = None
    if config.stop_at_accuracy is not None:
        epochs_to_target = next((r["epoch"] for r in records if r.get("reached_target")), None)
    evaluated = [r for r in records if r["test"] is not None]
    final = evaluated[-1]["test"] if evaluated else None
    diverged_at = next((r["epoch"] for r in records if r.get("diverged")), None)
    op_totals = None
    if config.count_ops and records and records[0].get("op_counts") is not None:
        op_totals = _sum_op_counts([r["op_counts"] for r in records])
    info = machine_info()
    return {
        "status": "finished",
        "results_format": RESULTS_FORMAT_VERSION,
        "key": key,
        "config": config.to_dict(),
        "epochs": records,
        "epochs_run": len(records),
        "final": final,
        "final_acc": None if final is None else final[primary]["tile_avg"]["acc"],
        "diverged_at_epoch": diverged_at,
        "epochs_to_target": epochs_to_target,
        "target_reached": epochs_to_target is not None,
        "init_report": init_report,
        "op_counts_total": op_totals,
        "op_counts_per_epoch_mean": None
        if op_totals is None
        else _scale_op_counts(op_totals, 1.0 / len(records)),
        "wall_s": {
            "train_total": sum(r["train_s"] for r in records),
            "eval_total": sum(r["eval_s"] for r in records),
            "train_per_epoch_mean": sum(r["train_s"] for r in records) / max(len(records), 1),
        },
        "provenance": {
            "seed": config.seed,
            "started_at": started_at,
            "finished_at": utc_now(),
            "resumes": resumes,
            "git_commit": git_commit(),
            "code_hash": numerics_code_hash(),
            "packages": package_versions(),
            "cpu": info["cpu"],
            "cores": info["cores"],
            "torch_threads": torch.get_num_threads(),
            "platform": info["platform"],
            "bitwise_reproducible": _determinism.active(),
        },
    }


def _scale_op_counts(counts: Any, factor: float) -> Any:
    if isinstance(counts, Mapping):
        return {k: _scale_op_counts(v, factor) for k, v in counts.items()}
    if isinstance(counts, (int, float)) and not isinstance(counts, bool):
        return counts * factor
    return counts


def _sum_op_counts(per_epoch: Sequence[Any]) -> Any:
    """Sum nested dicts of numbers (op counts) over epochs; non-numbers are kept from the first."""
    first = per_epoch[0]
    if isinstance(first, Mapping):
        return {
            k: _sum_op_counts([p[k] for p in per_epoch if isinstance(p, Mapping) and k in p])
            for k in first
        }
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return sum(per_epoch)
    return first


# --------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------


def available_profiles(profile_dir: str | os.PathLike | None = None) -> list[str]:
    directory = Path(profile_dir) if profile_dir is not None else PROFILE_DIR
    return sorted(p.stem for p in directory.glob("*.yaml"))


@dataclass
class Sweep:
    """A profile's experiments expanded into run configs.

    Attributes
    ----------
    profile : str
    experiments : dict of str to list of RunConfig
    """

    profile: str
    experiments: dict[str, list[RunConfig]] = field(default_factory=dict)

    def select(self, only: Iterable[str] | None) -> Sweep:
        """A sweep with only the named experiments (unknown names raise, listing the known)."""
        if not only:
            return self
        only = list(only)
        unknown = [e for e in only if e not in self.experiments]
        if unknown:
            raise ValueError(
                f"unknown experiment(s) {unknown} in profile {self.profile!r}; allowed: {sorted(self.experiments)}"
            )
        return Sweep(self.profile, {e: self.experiments[e] for e in only})

    def where(self, **allowed: Iterable[Any]) -> Sweep:
        """A sweep with only the runs whose fields take one of the given values.

        Example: ``sweep.where(n_tiles=[1, 8, 32], seed=[0, 1, 2])``. Unknown fields raise.
        """
        names = {f.name for f in dataclasses.fields(RunConfig)}
        unknown = sorted(set(allowed) - names)
        if unknown:
            raise ValueError(f"unknown RunConfig field(s) {unknown}; allowed: {sorted(names)}")
        keep = {k: list(v) for k, v in allowed.items()}
        return Sweep(
            self.profile,
            {
                e: [c for c in cfgs if all(getattr(c, k) in vals for k, vals in keep.items())]
                for e, cfgs in self.experiments.items()
            },
        )

    def __len__(self) -> int:
        return sum(len(v) for v in self.experiments.values())


def _expand_grid(
    base: Mapping[str, Any], grid: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    grids = [grid] if isinstance(grid, Mapping) or grid is None else list(grid)
    out: list[dict[str, Any]] = []
    for g in grids:
        combos: list[dict[str, Any]] = [dict(base)]
        for name, values in (g or {}).items():
            values = values if isinstance(values, list) else [values]
            combos = [{**c, name: v} for c in combos for v in values]
        out.extend(combos)
    return out


def load_profile(name: str, profile_dir: str | os.PathLike | None = None) -> Sweep:
    """Read ``profiles/<name>.yaml`` (key ``experiments:``) into a :class:`Sweep`.

    The YAML layout::

        experiments:
          defaults: {dataset: mnist, batch_size: 64, seeds: [0, 1]}   # for every experiment
          fig2:
            base: {algorithm: agad, epochs: 40, swa_start: 35}
            grid: {n_tiles: [1, 4, 8]}          # or a list of grids (their union)
            seeds: [0, 1, 2]                     # overrides defaults.seeds

    Raises
    ------
    ValueError
        Unknown profile (listing the available ones), unknown experiment name, bad config field.
    """
    import yaml

    directory = Path(profile_dir) if profile_dir is not None else PROFILE_DIR
    allowed = available_profiles(directory)
    if name not in allowed:
        raise ValueError(f"unknown profile {name!r}; allowed: {allowed}")
    doc = yaml.safe_load((directory / f"{name}.yaml").read_text()) or {}
    spec = doc.get("experiments")
    if not isinstance(spec, Mapping):
        raise ValueError(f"profiles/{name}.yaml has no 'experiments:' mapping")
    defaults = dict(spec.get("defaults") or {})
    default_seeds = defaults.pop("seeds", [0])
    sweep = Sweep(name)
    for exp, body in spec.items():
        if exp == "defaults":
            continue
        if exp not in EXPERIMENTS:
            raise ValueError(
                f"profiles/{name}.yaml: unknown experiment {exp!r}; allowed: {list(EXPERIMENTS)}"
            )
        body = dict(body or {})
        unknown = sorted(set(body) - {"base", "grid", "seeds", "description"})
        if unknown:
            raise ValueError(
                f"profiles/{name}.yaml, {exp}: unknown key(s) {unknown}; allowed: base, grid, seeds, description"
            )
        seeds = body.get("seeds", default_seeds)
        base = {**defaults, **(body.get("base") or {})}
        configs: list[RunConfig] = []
        seen: set[str] = set()
        for combo in _expand_grid(base, body.get("grid")):
            for seed in seeds:
                try:
                    cfg = RunConfig.from_dict({**combo, "seed": seed})
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"profiles/{name}.yaml, experiment {exp}: {exc}") from None
                if cfg.key() not in seen:
                    seen.add(cfg.key())
                    configs.append(cfg)
        sweep.experiments[exp] = configs
    return sweep


# --------------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What :func:`run_sweep` did. Lists hold ``(experiment, key)`` pairs; ``tasks`` maps the
    computed ones to their worker process id and start/end times (``time.time()``)."""

    profile: str
    computed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    copied: list[tuple[str, str]] = field(default_factory=list)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    tasks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        return (
            f"sweep {self.profile}: {len(self.computed)} computed, {len(self.skipped)} already done, "
            f"{len(self.copied)} reused from another experiment, {len(self.failed)} failed, "
            f"{self.wall_s:.1f} s"
        )


def _sweep_task(config_dict: dict[str, Any], cache_dir: str) -> dict[str, Any]:
    """Run one config on a worker (1 torch thread) and write its result file."""
    import torch

    torch.set_num_threads(1)
    config = RunConfig.from_dict(config_dict)
    started = time.time()
    result = run(config, cache_dir=cache_dir, progress=False)
    return {
        "key": result["key"],
        "pid": os.getpid(),
        "started": started,
        "finished": time.time(),
        "final_acc": result["final_acc"],
    }


def _normalize_configs(configs) -> dict[str, list[RunConfig]]:
    if isinstance(configs, Sweep):
        return configs.experiments
    if isinstance(configs, Mapping):
        return {str(k): list(v) for k, v in configs.items()}
    return {"adhoc": list(configs)}


def run_sweep(
    configs: Sweep | Mapping[str, Sequence[RunConfig]] | Sequence[RunConfig],
    *,
    profile: str,
    client: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
    results_root: str | os.PathLike | None = None,
) -> SweepReport:
    """Run every unfinished config, in parallel on dask, writing results as they finish.

    Parameters
    ----------
    configs
        A :class:`Sweep`, a mapping ``experiment -> configs``, or a plain sequence of configs
        (stored under the experiment name ``adhoc``).
    profile
        Results go to ``<results_root>/<profile>/<experiment>/<key>.json``.
    client
        An existing ``dask.distributed.Client``; else one is made for ``scheduler`` (an address,
        e.g. ``tcp://host:8786``) or, by default, a ``LocalCluster`` with ``n_workers``
        single-threaded worker processes (default: the number of cores). With a remote scheduler
        the workers must see the same results folder (a shared file system).
    progress
        tqdm bar of runs done, with the time left.
    results_root
        Default: ``data/results`` of the repository (or ``$ANALOG_TT_RESULTS``).

    Returns
    -------
    SweepReport
    """
    root = (_results_root(results_root) / profile).resolve()  # workers may run elsewhere
    experiments = _normalize_configs(configs)
    report = SweepReport(profile)
    t0 = time.perf_counter()

    # group by key: a config shared by several experiments is computed once
    locations: dict[str, list[str]] = {}
    by_key: dict[str, RunConfig] = {}
    for exp, cfgs in experiments.items():
        for cfg in cfgs:
            if not isinstance(cfg, RunConfig):
                raise TypeError(f"experiment {exp!r}: expected RunConfig, got {type(cfg).__name__}")
            k = cfg.key()
            by_key[k] = cfg
            if exp not in locations.setdefault(k, []):
                locations[k].append(exp)

    pending: dict[str, str] = {}  # key -> experiment that computes it
    for k, exps in locations.items():
        done = [e for e in exps if _is_finished(root / e / f"{k}.json")]
        if done:
            for e in exps:
                if e in done:
                    report.skipped.append((e, k))
                else:
                    _copy_result(root / done[0] / f"{k}.json", root / e / f"{k}.json")
                    report.copied.append((e, k))
        else:
            pending[k] = exps[0]

    if pending:
        _compute(pending, by_key, root, report, client, scheduler, n_workers, progress)
        for k, exp in pending.items():
            if (exp, k) in report.computed:
                for other in locations[k][1:]:
                    _copy_result(root / exp / f"{k}.json", root / other / f"{k}.json")
                    report.copied.append((other, k))
    report.wall_s = time.perf_counter() - t0
    return report


def _copy_result(src: Path, dst: Path) -> None:
    atomic_write_bytes(dst, src.read_bytes())
    dst.chmod(0o644)


def _compute(pending, by_key, root, report, client, scheduler, n_workers, progress) -> None:
    from distributed import Client, LocalCluster, as_completed

    own_client = client is None
    cluster = None
    if own_client:
        if scheduler:
            client = Client(scheduler)
        else:
            n = n_workers or os.cpu_count() or 1
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            )
            client = Client(cluster)
    bar = None
    try:
        futures = {}
        for k, exp in pending.items():
            fut = client.submit(
                _sweep_task, by_key[k].to_dict(), str(root / exp), key=f"run-{exp}-{k}", pure=False
            )
            futures[fut] = (exp, k)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(futures), desc=f"sweep {report.profile}", unit="run")
        for fut in as_completed(futures):
            exp, k = futures[fut]
            try:
                report.tasks[(exp, k)] = fut.result()
                report.computed.append((exp, k))
            except Exception as exc:  # noqa: BLE001 - record, go on with the other runs
                report.failed[(exp, k)] = f"{type(exc).__name__}: {exc}"
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=len(report.failed))
    finally:
        if bar is not None:
            bar.close()
        if own_client:
            client.close()
            if cluster is not None:
                cluster.close()


# --------------------------------------------------------------------------------------------
# Results for notebooks
# --------------------------------------------------------------------------------------------

_METRIC_KINDS = ("tile_avg", "swa", "swa_weighted")


def load_results(
    profile: str,
    experiment: str,
    *,
    per_epoch: bool = False,
    results_root: str | os.PathLike | None = None,
):
    """Finished results of one experiment as a long pandas DataFrame.

    One row per run × eval mode × metric (``tile_avg``, ``swa``, ``swa_weighted``), with every
    config field as a column, plus ``key``, ``profile``, ``experiment``, ``eval_mode``,
    ``metric``, ``acc``, ``loss`` (of the last tested epoch), ``best_acc``, ``epochs_run``,
    ``epochs_to_target``, ``train_s_per_epoch``, ``code_hash`` (see
    :func:`numerics_code_hash`). With ``per_epoch=True``: one row per tested epoch instead
    (column ``epoch``; ``acc``/``loss`` of that epoch, ``train_loss``, ``train_s``).
    An experiment without results gives an empty frame with these columns.
    """
    import pandas as pd

    folder = _results_root(results_root) / profile / experiment
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            res = json.loads(path.read_text())
        except ValueError:
            continue
        if res.get("status") != "finished":
            continue
        cfg = dict(res["config"])
        cfg["eval_modes"] = ",".join(cfg["eval_modes"])
        common = {
            **cfg,
            "key": res["key"],
            "profile": profile,
            "experiment": experiment,
            "epochs_run": res["epochs_run"],
            "epochs_to_target": res["epochs_to_target"],
            "train_s_per_epoch": res["wall_s"]["train_per_epoch_mean"],
            "code_hash": res["provenance"].get("code_hash"),
        }
        for mode in res["config"]["eval_modes"]:
            for kind in _METRIC_KINDS:
                series = [
                    (r["epoch"], r["test"][mode][kind], r)
                    for r in res["epochs"]
                    if r["test"] is not None and kind in r["test"][mode]
                ]
                if not series:
                    continue
                best = max(s[1]["acc"] for s in series)
                if per_epoch:
                    for epoch, m, r in series:
                        rows.append(
                            {
                                **common,
                                "eval_mode": mode,
                                "metric": kind,
                                "epoch": epoch,
                                "acc": m["acc"],
                                "loss": m["loss"],
                                "best_acc": best,
                                "train_loss": r["train_loss"],
                                "train_s": r["train_s"],
                            }
                        )
                else:
                    last = series[-1][1]
                    rows.append(
                        {
                            **common,
                            "eval_mode": mode,
                            "metric": kind,
                            "acc": last["acc"],
                            "loss": last["loss"],
                            "best_acc": best,
                        }
                    )
    columns = (
        [f.name for f in dataclasses.fields(RunConfig)]
        + [
            "key",
            "profile",
            "experiment",
            "epochs_run",
            "epochs_to_target",
            "train_s_per_epoch",
            "code_hash",
            "eval_mode",
            "metric",
        ]
        + (["epoch"] if per_epoch else [])
        + ["acc", "loss", "best_acc"]
        + (["train_loss", "train_s"] if per_epoch else [])
    )
    return pd.DataFrame(rows, columns=columns)


def _mean_ci95(values: Sequence[float]) -> tuple[float, float, int]:
    from .stats import mean_ci95

    if len(values) == 0:  # a group whose runs all lack the value (e.g. all capped)
        return float("nan"), float("nan"), 0
    return mean_ci95(values)


def summarize(df, by: Sequence[str], value: str = "acc"):
    """Mean, 95 % CI half-width and number of seeds of ``value`` per group of ``by``.

    Rows whose ``value`` is missing (e.g. ``epochs_to_target`` of a run that hit its cap) are
    counted in ``n_missing`` and left out of the mean.
    """
    import pandas as pd

    by = list(by)
    missing = [c for c in by + [value] if c not in df.columns]
    if missing:
        raise ValueError(
            f"summarize: column(s) {missing} not in the frame; have {list(df.columns)}"
        )
    rows = []
    for group, sub in df.groupby(by, sort=True, dropna=False):
        group = group if isinstance(group, tuple) else (group,)
        vals = pd.to_numeric(sub[value], errors="coerce")
        mean, ci, n = _mean_ci95(vals.dropna().tolist())
        rows.append(
            {
                **dict(zip(by, group, strict=True)),
                "mean": mean,
                "ci95": ci,
                "n_seeds": n,
                "n_missing": int(vals.isna().sum()),
            }
        )
    return pd.DataFrame(rows, columns=by + ["mean", "ci95", "n_seeds", "n_missing"])


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _parse_where(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["n_tiles=1,8", "variant=shared_A"]`` -> ``{"n_tiles": [1, 8], "variant": ["shared_A"]}``."""
    import yaml

    out: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ValueError(f"--where expects FIELD=V1,V2, got {item!r}")
        out.setdefault(name.strip(), []).extend(yaml.safe_load(v) for v in values.split(","))
    return out


def sweep_main(argv: Sequence[str] | None = None) -> int:
    """``python -m analog_tt sweep <profile> [--scheduler ADDR] [--workers N] [--only EXP ...]
    [--where FIELD=V1,V2 ...] [--results-root DIR] [--dry-run]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m analog_tt sweep",
        description="Run a profile's experiments; finished runs are skipped, killed ones resume.",
    )
    parser.add_argument("profile", help=f"one of {available_profiles()}")
    parser.add_argument(
        "--scheduler", default=None, help="dask scheduler address (default: a local cluster)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="local workers (default: number of cores)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="EXPERIMENT",
        help=f"run only these experiments (of {list(EXPERIMENTS)})",
    )
    parser.add_argument(
        "--results-root", default=None, help="results folder (default: data/results)"
    )
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="keep only runs whose config FIELD is one of the values, e.g. "
        "--where n_tiles=1,8,32 --where seed=0,1,2 (repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would run, run nothing")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    try:
        sweep = load_profile(args.profile).select(args.only)
        if args.where:
            sweep = sweep.where(**_parse_where(args.where))
    except ValueError as exc:
        print(f"analog_tt sweep: {exc}", file=sys.stderr)
        return 2
    root = _results_root(args.results_root) / sweep.profile
    for exp, cfgs in sweep.experiments.items():
        done = sum(_is_finished(root / exp / f"{c.key()}.json") for c in cfgs)
        print(f"  {exp:14s} {len(cfgs):4d} runs, {done:4d} done")
    if args.dry_run:
        return 0
    report = run_sweep(
        sweep,
        profile=sweep.profile,
        scheduler=args.scheduler,
        n_workers=args.workers,
        progress=not args.no_progress,
        results_root=args.results_root,
    )
    print(report)
    for (exp, k), err in report.failed.items():
        print(f"  FAILED {exp}/{k}: {err}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(sweep_main())
