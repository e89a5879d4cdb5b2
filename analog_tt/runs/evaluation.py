"""Testing a run: digitise the analog layers (the library's own read-out), test, SWA."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..core.seeding import derived_seed
from ..tiles.readout import analog_linear_layers, build_digital_model, digital_weights
from ..tiles.swa import SWA, PerformanceWeightedSWA
from .config import RunConfig

__all__ = ["accuracy_and_loss", "analog_accuracies", "evaluate_epoch", "make_swa", "swa_due"]


@torch.no_grad()
def accuracy_and_loss(
    model: nn.Module, x: Tensor, y: Tensor, batch: int = 2000
) -> tuple[float, float]:
    """Accuracy and mean NLL of a log-probability model on ``x`` ``[n, in]``, ``y`` ``[n]``."""
    was_training = model.training
    model.eval()
    correct, loss_sum = 0, 0.0
    for i in range(0, len(x), batch):
        logp = model(x[i : i + batch])
        loss_sum += float(torch.nn.functional.nll_loss(logp, y[i : i + batch], reduction="sum"))
        correct += int((logp.argmax(1) == y[i : i + batch]).sum())
    model.train(was_training)
    return correct / len(x), loss_sum / len(x)


@torch.no_grad()
def analog_accuracies(model: nn.Module, x: Tensor, y: Tensor, repeats: int) -> list[float]:
    """Accuracies of ``repeats`` analog forward passes (output noise, DAC/ADC) of ``model``.

    The whole set goes through the model in eval mode as one batch; with ``N`` replicas it is
    split between them as in training (the paper's ``evaluate_model_analog``).
    """
    was_training = model.training
    model.eval()
    try:
        return [float((model(x).argmax(1) == y).float().mean()) for _ in range(repeats)]
    finally:
        model.train(was_training)


def swa_due(config: RunConfig, epoch: int) -> bool:
    """Whether ``epoch`` enters the SWA mean: ``>= swa_start`` and on the ``swa_freq`` grid."""
    if config.swa_start is None:
        return False
    return epoch >= config.swa_start and (epoch - config.swa_start) % config.swa_freq == 0


def make_swa(config: RunConfig) -> tuple[dict[str, SWA], PerformanceWeightedSWA | None]:
    """``({read mode: SWA}, PerformanceWeightedSWA or None)`` of ``config``."""
    if config.swa_start is None:
        return {}, None
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


def _read(
    model: nn.Module, mode: str, generator, replica_weighting=None, probes: str = "per_replica"
) -> dict[str, Any]:
    """``{layer: (W, bias)}`` of every analog layer, read as ``mode`` (one probe stream)."""
    return {
        name: digital_weights(
            layer, mode, replica_weighting=replica_weighting, generator=generator, probes=probes
        )
        for name, layer in analog_linear_layers(model).items()
    }


def _linear_params(model: nn.Module) -> dict[str, Any]:
    """``{name: (W, bias)}`` of the ``nn.Linear`` layers of a floating-point model (copies)."""
    return {
        name: (m.weight.detach().clone(), None if m.bias is None else m.bias.detach().clone())
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear)
    }


def _with_linear_params(model: nn.Module, params: dict[str, Any]) -> nn.Module:
    """A copy of a floating-point model with its ``nn.Linear`` weights set to ``params``."""
    import copy

    out = copy.deepcopy(model)
    modules = dict(out.named_modules())
    with torch.no_grad():
        for name, (weight, bias) in params.items():
            modules[name].weight.copy_(weight)
            if bias is not None:
                modules[name].bias.copy_(bias)
    return out


def _metrics(model: nn.Module, x_test, y_test, x_train=None, y_train=None) -> dict[str, float]:
    acc, nll = accuracy_and_loss(model, x_test, y_test)
    out = {"acc": acc, "loss": nll}
    if x_train is not None:
        out["train_acc"], out["train_loss"] = accuracy_and_loss(model, x_train, y_train)
    return out


def evaluate_epoch(
    model: nn.Module,
    config: RunConfig,
    epoch: int,
    swa: dict[str, SWA],
    weighted_swa: PerformanceWeightedSWA | None,
    data: tuple[Tensor, Tensor, Tensor, Tensor],
) -> dict[str, dict[str, dict[str, float]]]:
    """Test metrics of one epoch: per read mode the tile average, SWA and weighted SWA.

    Every analog read uses probes from a generator seeded by ``(seed, epoch, mode)``; the
    tile-average read is also the one that enters the SWA mean (one read per epoch and mode).
    Spiral runs also report the training-set accuracy (the paper's spiral metric).
    """
    x_train, y_train, x_test, y_test = data
    train = (x_train, y_train) if config.dataset == "spiral" else (None, None)
    test: dict[str, dict[str, dict[str, float]]] = {}
    for mode in config.eval_modes:
        gen = torch.Generator().manual_seed(derived_seed(config.seed, "read", epoch, mode))
        snap = (
            _read(model, mode, gen, probes=config.read_probes)
            if config.is_analog
            else _linear_params(model)
        )
        current = build_digital_model(model, snap) if config.is_analog else model
        test[mode] = {"tile_avg": _metrics(current, x_test, y_test, *train)}
        if mode in swa:
            if swa[mode].due(epoch):
                swa[mode].add_snapshot(snap, epoch)
            if swa[mode].n_averaged:
                params = swa[mode].averaged_params()
                averaged = (
                    build_digital_model(model, params)
                    if config.is_analog
                    else _with_linear_params(model, params)
                )
                test[mode]["swa"] = {
                    **_metrics(averaged, x_test, y_test, *train),
                    "n_averaged": swa[mode].n_averaged,
                }
        if weighted_swa is not None and mode == config.eval_modes[0]:
            if weighted_swa.due(epoch):
                p = weighted_swa.replica_weights()
                weighted_swa.add_snapshot(
                    _read(model, mode, gen, replica_weighting=p, probes=config.read_probes), epoch
                )
            if weighted_swa.n_averaged:
                averaged = weighted_swa.averaged_model(model)
                test[mode]["swa_weighted"] = {
                    **_metrics(averaged, x_test, y_test, *train),
                    "n_averaged": weighted_swa.n_averaged,
                }
    return test
