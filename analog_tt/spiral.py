"""The paper's spiral runs on aihwkit devices (notebooks 02 and 03; seed analysis §2.3-2.4).

The 2-64-3 ReLU network with its output multiplied by 25, trained with ``AnalogSGD`` on one of

``tile="aihwkit"``
    aihwkit's own one-tile Tiki-Taka: ``AnalogLinear`` with a ``UnitCellRPUConfig`` holding a
    ``TransferCompound`` of two default ``EcRamPresetDevice`` (the paper's
    ``TikiTakaEcRamPreset``; ``SHD_analog.ipynb`` and ``train_trad.py``), run by aihwkit's C++
    simulator. Only ``algorithm="tt_v1"``.
``tile="multi"``
    our :class:`analog_tt.tiles.MultiTileTransferTile` with ``N`` replicas, configured by
    :func:`analog_tt.presets.spiral_config` (``algorithm="agad"`` as ``train_combined.py``,
    ``"tt_v1"`` as the batched TT-v1 of ``train_ttbatch.py`` / ``SHD_batched_analog.ipynb``).

Every replica starts from the same Xavier-uniform matrix (as the paper's ``Analog_Network_spiral``);
the digital biases start at 0. The training set is the paper's spiral (``make_spiral(1000,
rng=RandomState(0))``, what ``nnfs.init()`` gives) and the held-out set a second draw
(``RandomState(1)``), which the paper never used (seed analysis §7, item 22).

Evaluation:

* **digital**: the replica-averaged exact weights times the learned output scale, with the
  digital bias, in a floating-point copy of the network (:func:`analog_tt.readout.digital_weights`,
  mode ``"exact"``; the paper's ``evaluate_model_digital``);
* **analog**: the ``AnalogLinear`` forward itself, with its output noise and DAC/ADC, repeated
  ``analog_eval_repeats`` times (the paper's ``evaluate_model_analog``: 100 repeats); the mean
  accuracy over repeats is reported.

Reproducibility: python, numpy and torch are seeded from ``seed``, so the initial weights, the
shuffling order and the data are fixed; aihwkit 1.1.0's C++ simulator seeds its own random number
generators (output noise, stochastic pulses, cycle-to-cycle noise) from the clock and offers no
API to seed them, so two runs of one config agree in distribution, not bit for bit.

:func:`one_weight_regression` is the two-replica linear-regression demo behind the paper's GIFs
(§2.3): one weight ``y = w x`` learned by ``N`` replicas of a batched TT-v1 tile; the trajectory of
every replica's weight, the gradient tile ``A`` and the replica average is recorded.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from analog_tt._utils import (
    atomic_write_json,
    config_from_dict,
    config_to_dict,
    seed_everything,
    stable_hash,
)

__all__ = [
    "TILES",
    "SpiralNet",
    "SpiralRun",
    "analog_accuracy",
    "check_list",
    "compare_to_paper",
    "draw_replica_frame",
    "build_model",
    "digital_accuracy",
    "one_weight_regression",
    "run_many",
    "run_spiral",
    "spiral_data",
    "summarize_runs",
]

TILES = ("aihwkit", "multi")
ALGORITHMS = ("tt_v1", "agad")
VARIANTS = ("shared_A", "replicated_A")
#: Bumped when a change here changes what a cached run result holds or means.
RESULTS_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_number(name: str, value: Any, minimum: float, *, open_low: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > minimum if open_low else value >= minimum)
    if not ok:
        op = ">" if open_low else ">="
        raise ValueError(f"{name} must be a finite number {op} {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class SpiralRun:
    """One spiral training run; frozen and JSON-serialisable, :meth:`key` names its result.

    Attributes
    ----------
    tile : {"aihwkit", "multi"}
        aihwkit's own one-tile ``TransferCompound`` or our multi-tile tile (module docstring).
    algorithm : {"tt_v1", "agad"}
        ``"agad"`` needs ``tile="multi"``.
    n_tiles : int
        Number of weight replicas ``N`` (1 for ``tile="aihwkit"``).
    variant : {"shared_A", "replicated_A"}
        Multi-tile variant (the paper's "v1" / "v2"); with ``N = 1`` both are the same algorithm.
    out_noise : float
        Output noise of the forward/backward pass (``PresetIOParameters.out_noise``).
    transfer_out_noise : float or None
        Output noise of the transfer read of ``A``; ``None`` = ``out_noise`` (as the paper's
        ``train_combined.py``).
    lr : float
        SGD learning rate (also the replica learning rate).
    fast_lr : float or None
        Learning rate of the gradient tile ``A``; ``None``: ``16 * lr`` for AGAD, ``lr`` for TT-v1
        (the paper's spiral settings).
    transfer_every : tuple of int
        Transfer period per layer in mini-batches (the paper's ``t = [t1, t2]``).
    batch_size, epochs, seed : int
    n_per_class : int
        Points per spiral arm (paper: 1000, i.e. 3000 points).
    eval_every : int
        Digital evaluation every ``eval_every`` epochs (and after the last one).
    analog_eval_repeats : int
        Repeats of the analog evaluation after the last epoch (0 = none; paper: 100).
    bl : int
        Pulse-train length of the gradient update.
    """

    tile: str = "multi"
    algorithm: str = "agad"
    n_tiles: int = 1
    variant: str = "shared_A"
    out_noise: float = 0.1
    transfer_out_noise: float | None = None
    lr: float = 0.0064
    fast_lr: float | None = None
    transfer_every: tuple[int, ...] = (1, 1)
    batch_size: int = 64
    epochs: int = 1000
    seed: int = 0
    n_per_class: int = 1000
    eval_every: int = 1
    analog_eval_repeats: int = 0
    bl: int = 31

    def __post_init__(self) -> None:
        if self.tile not in TILES:
            raise ValueError(f"tile must be one of {TILES}, got {self.tile!r}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        _check_int("n_tiles", self.n_tiles, 1)
        if self.tile == "aihwkit":
            if self.algorithm != "tt_v1":
                raise ValueError(
                    "tile='aihwkit' runs aihwkit's own TransferCompound (algorithm='tt_v1'); "
                    "AGAD is run on our tile (tile='multi'): aihwkit 1.1.0's python AGAD tile "
                    "starts its auto-scale maxima at 0 and saturates A on this task"
                )
            if self.n_tiles != 1:
                raise ValueError(f"n_tiles must be 1 with tile='aihwkit', got {self.n_tiles}")
        _check_number("out_noise", self.out_noise, 0.0)
        if self.transfer_out_noise is not None:
            _check_number("transfer_out_noise", self.transfer_out_noise, 0.0)
        _check_number("lr", self.lr, 0.0, open_low=True)
        if self.fast_lr is not None:
            _check_number("fast_lr", self.fast_lr, 0.0, open_low=True)
        te = tuple(self.transfer_every)
        if len(te) != 2:
            raise ValueError(f"transfer_every must give one period per layer (2), got {te!r}")
        for i, t in enumerate(te):
            _check_int(f"transfer_every[{i}]", t, 1)
        object.__setattr__(self, "transfer_every", tuple(int(t) for t in te))
        for name, minimum in (
            ("batch_size", 1),
            ("epochs", 1),
            ("seed", 0),
            ("n_per_class", 1),
            ("eval_every", 1),
            ("analog_eval_repeats", 0),
            ("bl", 1),
        ):
            object.__setattr__(self, name, _check_int(name, getattr(self, name), minimum))
        if self.n_tiles > self.batch_size:
            raise ValueError(
                f"n_tiles ({self.n_tiles}) must be <= batch_size ({self.batch_size}): "
                "every replica needs at least one sample of each mini-batch"
            )
        for name in ("out_noise", "lr"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return config_to_dict(self, ("transfer_every",))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpiralRun:
        """Inverse of :meth:`to_dict`; unknown fields raise a ValueError naming them."""
        return config_from_dict(cls, data, ("transfer_every",))

    def replace(self, **changes: Any) -> SpiralRun:
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """Stable 16-hex-digit hash of every field and the result format version."""
        return stable_hash({"spiral_format": RESULTS_FORMAT_VERSION, **self.to_dict()})


# --------------------------------------------------------------------------------------------
# Data and model
# --------------------------------------------------------------------------------------------


def spiral_data(n_per_class: int = 1000) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(X_train, y_train, X_heldout, y_heldout)``: the paper's spiral and a second draw.

    Training set ``make_spiral(n, rng=RandomState(0))`` (the nnfs data after ``nnfs.init()``);
    held-out set ``make_spiral(n, rng=RandomState(1))``.
    """
    from analog_tt.data import make_spiral

    n_per_class = _check_int("n_per_class", n_per_class, 1)
    xtr, ytr = make_spiral(n_per_class, rng=np.random.RandomState(0))
    xho, yho = make_spiral(n_per_class, rng=np.random.RandomState(1))
    return (
        torch.from_numpy(xtr),
        torch.from_numpy(ytr),
        torch.from_numpy(xho),
        torch.from_numpy(yho),
    )


class SpiralNet(nn.Module):
    """2 -> 64 (ReLU) -> 3 with the output multiplied by ``scale`` (the paper's x25).

    Parameters
    ----------
    l1, l2 : nn.Module
        The two (analog) linear layers.
    scale : float
    """

    def __init__(self, l1: nn.Module, l2: nn.Module, scale: float = 25.0) -> None:
        super().__init__()
        self.l1 = l1
        self.l2 = l2
        self.scale = float(scale)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``[B, 2]`` -> logits ``[B, 3]``."""
        return self.l2(torch.relu(self.l1(x))) * self.scale


def _aihwkit_tt_v1_config(run: SpiralRun, layer: int) -> Any:
    """The paper's ``TikiTakaEcRamPreset`` with its spiral settings (aihwkit's C++ compound)."""
    from aihwkit.simulator.presets import TikiTakaEcRamPreset

    rpu = TikiTakaEcRamPreset()
    rpu.device.fast_lr = run.lr if run.fast_lr is None else run.fast_lr
    rpu.device.transfer_every = float(run.transfer_every[layer])
    rpu.device.units_in_mbatch = True
    rpu.forward.out_noise = run.out_noise
    rpu.backward.out_noise = run.out_noise
    tn = run.out_noise if run.transfer_out_noise is None else run.transfer_out_noise
    rpu.device.transfer_forward.out_noise = tn
    rpu.update.desired_bl = run.bl
    return rpu


def _multi_config(run: SpiralRun, layer: int) -> Any:
    """:func:`analog_tt.presets.spiral_config` with the run's settings and layer's period."""
    from analog_tt import presets

    rpu = presets.spiral_config(
        n_tiles=run.n_tiles,
        variant=run.variant,
        algorithm=run.algorithm,
        lr=run.lr,
        fast_lr=run.fast_lr,
        out_noise=run.out_noise,
        transfer_out_noise=run.transfer_out_noise,
        bl=run.bl,
    )
    # units_in_mbatch=True: one column transfer every `transfer_every` mini-batches
    rpu.device.transfer_every = float(run.transfer_every[layer])
    return rpu


def _set_initial_weights(layer: nn.Module, weight: Tensor) -> None:
    """Set every replica (or aihwkit's one tile) to ``weight`` and the digital bias to 0."""
    tile_module = layer.analog_module
    sim = tile_module.tile
    if hasattr(sim, "set_replica_weights"):
        sim.set_replica_weights(weight)
    else:
        tile_module.set_weights(weight, torch.zeros(weight.shape[0]))
    # aihwkit keeps the digital bias on the tile module (``AnalogLinear.bias`` is a bool)
    bias = getattr(tile_module, "bias", None)
    if isinstance(bias, Tensor):
        with torch.no_grad():
            bias.zero_()


def build_model(run: SpiralRun) -> SpiralNet:
    """The spiral network of ``run`` with identical Xavier-uniform weights in every replica.

    Uses torch's global RNG for the Xavier draw (seed it first, :func:`run_spiral` does).
    """
    from aihwkit.nn import AnalogLinear

    layers = []
    for i, (n_in, n_out) in enumerate(((2, 64), (64, 3))):
        rpu = _aihwkit_tt_v1_config(run, i) if run.tile == "aihwkit" else _multi_config(run, i)
        layer = AnalogLinear(n_in, n_out, bias=True, rpu_config=rpu)
        weight = torch.empty(n_out, n_in)
        nn.init.xavier_uniform_(weight)
        _set_initial_weights(layer, weight)
        layers.append(layer)
    return SpiralNet(*layers)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def _digital_params(model: SpiralNet) -> list[tuple[Tensor, Tensor]]:
    from analog_tt.readout import digital_weights

    params = []
    for layer in (model.l1, model.l2):
        weight, bias = digital_weights(layer, "exact")
        params.append((weight, torch.zeros(weight.shape[0]) if bias is None else bias))
    return params


@torch.no_grad()
def digital_accuracy(model: SpiralNet, x: Tensor, y: Tensor) -> float:
    """Accuracy of the floating-point network with the replica-averaged exact weights.

    ``W = alpha * mean_i C_i`` and the digital bias per layer (the paper's
    ``evaluate_model_digital``; for aihwkit's own tile, aihwkit's ``get_weights()``).
    """
    (w1, b1), (w2, b2) = _digital_params(model)
    logits = (torch.relu(x @ w1.T + b1) @ w2.T + b2) * model.scale
    return float((logits.argmax(1) == y).float().mean())


@torch.no_grad()
def analog_accuracy(model: SpiralNet, x: Tensor, y: Tensor, repeats: int = 100) -> list[float]:
    """Accuracies of ``repeats`` analog forward passes (output noise, DAC/ADC) of ``model``.

    The whole set goes through ``model`` in eval mode, as one batch; with ``N`` replicas the
    batch is split between them as in training (the paper's ``evaluate_model_analog``).
    """
    repeats = _check_int("repeats", repeats, 1)
    was_training = model.training
    model.eval()
    try:
        accs = [float((model(x).argmax(1) == y).float().mean()) for _ in range(repeats)]
    finally:
        model.train(was_training)
    return accs


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _result_path(cache_dir: str | Path | None, run: SpiralRun) -> Path | None:
    return None if cache_dir is None else Path(cache_dir) / f"{run.key()}.json"


def run_spiral(run: SpiralRun, *, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Train one spiral run and evaluate it; with ``cache_dir``, reuse or store its result.

    Parameters
    ----------
    run : SpiralRun
    cache_dir : path, optional
        Folder of ``<run.key()>.json`` result files (a finished run is read, not trained again).

    Returns
    -------
    dict
        JSON-ready: ``config``, ``key``, ``epochs`` (evaluated epochs), ``loss`` (mean training
        loss per trained epoch; ``None`` for the epoch whose loss was not finite, after which
        training stops), ``train_acc`` / ``heldout_acc`` (digital, per evaluated epoch),
        ``final`` (digital ``train``/``heldout`` after the last epoch, and with
        ``analog_eval_repeats`` the analog means ``analog_train``/``analog_heldout`` and their
        per-repeat stds; empty when the run diverged), ``diverged`` and ``replica_spread`` (per
        layer, the std over replicas of the exact weights, averaged over the matrix; ``None``
        for one replica).
    """
    if not isinstance(run, SpiralRun):
        raise TypeError(f"run must be a SpiralRun, got {type(run).__name__}")
    path = _result_path(cache_dir, run)
    if path is not None and path.is_file():
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == run.key():
                return cached
        except ValueError:
            pass
    from aihwkit.optim import AnalogSGD

    xtr, ytr, xho, yho = spiral_data(run.n_per_class)
    seed_everything(run.seed)
    model = build_model(run)
    optimizer = AnalogSGD(model.parameters(), lr=run.lr)
    optimizer.regroup_param_groups(model)
    shuffle = torch.Generator().manual_seed(run.seed)
    loss_fn = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    hist: dict[str, list[Any]] = {"epochs": [], "loss": [], "train_acc": [], "heldout_acc": []}
    diverged = False
    for epoch in range(1, run.epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=shuffle)
        total = 0.0
        for start in range(0, n, run.batch_size):
            idx = perm[start : start + run.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        mean_loss = total / n
        hist["loss"].append(round(mean_loss, 6) if math.isfinite(mean_loss) else None)
        if not math.isfinite(mean_loss):
            diverged = True
            break
        if epoch % run.eval_every == 0 or epoch == run.epochs:
            hist["epochs"].append(epoch)
            hist["train_acc"].append(round(digital_accuracy(model, xtr, ytr), 6))
            hist["heldout_acc"].append(round(digital_accuracy(model, xho, yho), 6))
    final: dict[str, Any] = {}
    if not diverged:
        final = {"train": hist["train_acc"][-1], "heldout": hist["heldout_acc"][-1]}
        if run.analog_eval_repeats:
            for name, (x, y) in (("train", (xtr, ytr)), ("heldout", (xho, yho))):
                accs = analog_accuracy(model, x, y, run.analog_eval_repeats)
                final[f"analog_{name}"] = float(np.mean(accs))
                final[f"analog_{name}_std"] = float(np.std(accs))
    result = {
        "key": run.key(),
        "config": run.to_dict(),
        **hist,
        "final": final,
        "diverged": diverged,
        "replica_spread": _replica_spread(model),
    }
    if path is not None:
        atomic_write_json(path, result)
    return result


def _replica_spread(model: SpiralNet) -> list[float] | None:
    """Per layer: std over replicas of the exact weights, averaged over the matrix (N > 1)."""
    out = []
    for layer in (model.l1, model.l2):
        sim = layer.analog_module.tile
        if not hasattr(sim, "get_replica_weights") or sim.n_tiles < 2:
            return None
        out.append(round(float(sim.get_replica_weights().std(dim=0).mean()), 6))
    return out


def run_many(
    runs: Sequence[SpiralRun],
    *,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int, SpiralRun], None] | None = None,
) -> list[dict[str, Any]]:
    """:func:`run_spiral` for every run, in order (cached runs are read back)."""
    results = []
    for i, run in enumerate(runs):
        if progress is not None:
            progress(i, len(runs), run)
        results.append(run_spiral(run, cache_dir=cache_dir))
    return results


def summarize_runs(
    results: Sequence[dict[str, Any]],
    by: Sequence[str],
    metrics: Sequence[str] = ("train", "heldout"),
) -> list[dict[str, Any]]:
    """Group run results by config fields and give mean ± 95 % CI of final metrics per group.

    Parameters
    ----------
    results : sequence of dict
        Outputs of :func:`run_spiral`.
    by : sequence of str
        ``SpiralRun`` field names to group by (groups keep first-seen order).
    metrics : sequence of str
        Keys of ``result["final"]``.

    Returns
    -------
    list of dict
        One row per group: the ``by`` values, ``n`` (runs that did not diverge), ``diverged``,
        and per metric ``<metric>_mean`` and ``<metric>_ci`` (nan when fewer than 2 runs).
    """
    from analog_tt.stats import mean_ci95

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault(tuple(_hashable(r["config"][b]) for b in by), []).append(r)
    rows = []
    for values, members in groups.items():
        ok = [m for m in members if not m["diverged"]]
        row: dict[str, Any] = dict(zip(by, values, strict=True))
        row["n"] = len(ok)
        row["diverged"] = len(members) - len(ok)
        for metric in metrics:
            vals = [m["final"][metric] for m in ok if metric in m["final"]]
            mean, ci = (mean_ci95(vals)[:2]) if vals else (math.nan, math.nan)
            row[f"{metric}_mean"] = mean
            row[f"{metric}_ci"] = ci
        rows.append(row)
    return rows


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------------------------
# One weight, two replicas: the paper's GIF setup
# --------------------------------------------------------------------------------------------


def one_weight_regression(
    *,
    n_tiles: int = 2,
    slow_init: Sequence[float] = (-0.5, 0.25),
    slope: float = 0.5,
    label_noise: float = 0.025,
    n_points: int = 100,
    lr: float = 0.003,
    fast_lr: float = 0.0035,
    out_noise: float = 0.02,
    transfer_every: int = 2,
    batch_size: int = 2,
    epochs: int = 600,
    variant: str = "shared_A",
    seed: int = 0,
) -> dict[str, Any]:
    """Learn ``y = slope * x`` with one analog weight held on ``n_tiles`` TT-v1 replicas.

    The paper's GIF setup (seed analysis §2.3, ``SHD_batched_analog.ipynb``): ``x ~ U(-1, 1)``,
    ``y = 0.5 x + N(0, 0.025^2)``, 100 points, two replicas of the batched TT-v1 tile started at
    slow weights -0.5 and 0.25, ``fast_lr`` 0.0035, ``lr`` 0.003, output noise 0.02, a transfer
    every 2 mini-batches, batch 2, 600 epochs, MSE loss. The layer has no bias and no learned
    output scale, so the replica average *is* the model's weight.

    Returns
    -------
    dict
        JSON-ready: the settings, ``replicas`` (``[epochs + 1, N]``: every replica's weight
        after each epoch, row 0 the start), ``fast`` (``[epochs + 1, n_A]``: the gradient
        tile(s) ``A``), ``average`` and ``loss`` (MSE of the averaged weight on the data, per
        epoch).
    """
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.parameters.mapping import MappingParameter

    from analog_tt import presets

    n_tiles = _check_int("n_tiles", n_tiles, 1)
    slow = [float(v) for v in slow_init]
    if len(slow) != n_tiles:
        raise ValueError(
            f"slow_init must give one start weight per replica ({n_tiles}), got {slow}"
        )
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    n_points = _check_int("n_points", n_points, 1)
    if n_tiles > batch_size:
        raise ValueError(f"n_tiles ({n_tiles}) must be <= batch_size ({batch_size})")
    rng = seed_everything(seed)
    x = torch.from_numpy(rng.uniform(-1.0, 1.0, (n_points, 1)).astype(np.float32))
    y = slope * x + label_noise * torch.from_numpy(
        rng.standard_normal((n_points, 1)).astype(np.float32)
    )
    rpu = presets.spiral_config(
        n_tiles=n_tiles,
        variant=variant,
        algorithm="tt_v1",
        lr=lr,
        fast_lr=fast_lr,
        out_noise=out_noise,
        mapping=MappingParameter(
            digital_bias=True,
            learn_out_scaling=False,
            weight_scaling_omega=0.0,
            max_input_size=0,
            max_output_size=0,
        ),
    )
    rpu.device.transfer_every = float(transfer_every)
    layer = AnalogLinear(1, 1, bias=False, rpu_config=rpu)
    sim = layer.analog_module.tile
    sim.set_replica_weights(torch.tensor(slow, dtype=torch.float32).view(n_tiles, 1, 1))
    optimizer = AnalogSGD(layer.parameters(), lr=lr)
    optimizer.regroup_param_groups(layer)
    shuffle = torch.Generator().manual_seed(seed)

    def snapshot() -> tuple[list[float], list[float]]:
        reps = sim.get_replica_weights().view(-1).tolist()
        fast = [float(t.tile.get_weights().view(-1)[0]) for t in sim.grad_tiles]
        return reps, fast

    reps, fast = snapshot()
    replicas, fasts = [reps], [fast]
    for _ in range(epochs):
        perm = torch.randperm(n_points, generator=shuffle)
        for start in range(0, n_points, batch_size):
            idx = perm[start : start + batch_size]
            optimizer.zero_grad()
            loss = ((layer(x[idx]) - y[idx]) ** 2).mean()
            loss.backward()
            optimizer.step()
        reps, fast = snapshot()
        replicas.append(reps)
        fasts.append(fast)
    rep = np.asarray(replicas)
    average = rep.mean(axis=1)
    xs, ys = x.numpy().ravel(), y.numpy().ravel()
    loss = [float(np.mean((w * xs - ys) ** 2)) for w in average]
    return {
        "settings": {
            "n_tiles": n_tiles,
            "slow_init": slow,
            "slope": slope,
            "label_noise": label_noise,
            "n_points": n_points,
            "lr": lr,
            "fast_lr": fast_lr,
            "out_noise": out_noise,
            "transfer_every": transfer_every,
            "batch_size": batch_size,
            "epochs": epochs,
            "variant": variant,
            "seed": seed,
            "algorithm": "tt_v1",
        },
        "replicas": np.round(rep, 6).tolist(),
        "fast": np.round(np.asarray(fasts), 6).tolist(),
        "average": np.round(average, 6).tolist(),
        "loss": np.round(loss, 8).tolist(),
    }


# --------------------------------------------------------------------------------------------
# Notebook helpers: parameter checks and the two-replica figure
# --------------------------------------------------------------------------------------------


def check_list(
    name: str,
    values: Any,
    *,
    kind: type = int,
    minimum: float | None = None,
    allowed: Sequence[Any] | None = None,
) -> list[Any]:
    """Validate a notebook parameter that must be a non-empty list; return it as a list.

    Parameters
    ----------
    name : str
        Parameter name, used in the error message.
    values : list
    kind : type
        ``int`` (bools rejected) or ``float`` (ints accepted).
    minimum : float, optional
        Smallest allowed value.
    allowed : sequence, optional
        The allowed values (then ``kind``/``minimum`` are not checked).

    Raises
    ------
    ValueError
        Naming ``name``, the offending value and what is allowed.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"{name} must be a non-empty list, got {values!r}")
    out = []
    for v in values:
        if allowed is not None:
            if v not in allowed:
                raise ValueError(f"{name} values must be in {list(allowed)}, got {v!r}")
            out.append(v)
            continue
        if kind is int:
            ok = isinstance(v, (int, np.integer)) and not isinstance(v, bool)
        else:
            ok = isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            ok = ok and math.isfinite(float(v))
        if not ok or (minimum is not None and v < minimum):
            bound = "" if minimum is None else f" >= {minimum}"
            raise ValueError(
                f"{name} values must be {kind.__name__}s{bound}, got {v!r} in {values!r}"
            )
        out.append(kind(v))
    return out


def draw_replica_frame(
    ax_phase: Any | None, traj: dict[str, Any], upto: int, ax_loss: Any | None = None
) -> None:
    """Draw the two-replica demo up to epoch ``upto``: phase plane and (optionally) loss.

    ``ax_phase``: every replica's trajectory in the (A, C_i) plane (with ``shared_A`` all
    replicas share A), the replica average (the model) and the target weight. ``ax_loss``: the
    loss of the averaged weight up to ``upto``.

    Parameters
    ----------
    ax_phase : matplotlib Axes or None
        ``None`` draws the loss only.
    traj : dict
        Output of :func:`one_weight_regression`.
    upto : int
        Last epoch drawn (clipped to ``0 .. epochs``).
    ax_loss : matplotlib Axes, optional
    """
    reps = np.asarray(traj["replicas"])
    fast = np.asarray(traj["fast"])
    avg = np.asarray(traj["average"])
    loss = np.asarray(traj["loss"])
    s = traj["settings"]
    upto = int(min(max(upto, 0), len(avg) - 1))
    sl = slice(0, upto + 1)
    if ax_phase is not None:
        _draw_phase(ax_phase, reps, fast, avg, s, sl, upto)
    if ax_loss is not None:
        epochs_axis = np.arange(len(loss))
        ax_loss.plot(epochs_axis[sl], loss[sl], color="C3")
        ax_loss.set(
            xlim=(0, len(loss) - 1),
            ylim=(0, float(loss.max()) * 1.05),
            xlabel="epoch",
            ylabel="MSE of the averaged weight",
            title="loss",
        )


def _draw_phase(
    ax_phase: Any, reps: Any, fast: Any, avg: Any, s: dict, sl: slice, upto: int
) -> None:
    for i in range(reps.shape[1]):
        a = fast[:, 0] if fast.shape[1] == 1 else fast[:, i]
        (line,) = ax_phase.plot(a[sl], reps[sl, i], lw=1.2, label=f"replica C{i + 1}")
        ax_phase.plot(a[upto], reps[upto, i], "o", color=line.get_color(), ms=6)
    a_mean = fast.mean(axis=1)
    ax_phase.plot(a_mean[sl], avg[sl], "k--", lw=1.0, label="average (the model)")
    ax_phase.plot(a_mean[upto], avg[upto], "k*", ms=10)
    ax_phase.axhline(s["slope"], color="0.5", ls=":", lw=1, label=f"target w = {s['slope']}")
    lim_a = max(0.05, float(np.abs(fast).max()) * 1.1)
    lo = min(float(reps.min()), s["slope"]) - 0.05
    hi = max(float(reps.max()), s["slope"]) + 0.05
    ax_phase.set(
        xlim=(-lim_a, lim_a),
        ylim=(lo, hi),
        xlabel="gradient tile A (fast weight)",
        ylabel="replica weight C_i (slow)",
        title=f"epoch {upto}",
    )
    ax_phase.legend(fontsize=7, loc="upper left")


def compare_to_paper(mean: float, ci: float, n: int, paper_value: float | None) -> str:
    """Verdict of our mean ± CI against one paper value, for the results tables.

    ``""`` when the paper has no value, ``"n/a (n < 2)"`` when fewer than two runs give no CI
    (one run can neither confirm nor exclude the paper's value), else :func:`analog_tt.stats.verdict`.
    """
    from analog_tt.stats import verdict

    if paper_value is None or (isinstance(paper_value, float) and math.isnan(paper_value)):
        return ""
    if n < 2 or not math.isfinite(mean):
        return "n/a (n < 2)"
    return verdict(mean, ci, float(paper_value))
