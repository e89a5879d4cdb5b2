"""Weight read-out of analog layers and their floating-point ("digitised") copies.

The paper evaluates every MNIST model digitally (seed analysis §1.10): each replica's weights are
estimated by a noisy least-squares read through the analog forward pass (``10 * in`` Gaussian
probes), averaged over the replicas, multiplied by the learned scalar output scale alpha, and
placed with the digital bias into an ``nn.Linear``. This module does that, per replica, for any
N including N = 1 (the paper's ``read_weights_multi`` fits one square system through the
multi-tile forward and is broken for N = 1, §7.13), with probes on the tiles' device.

Two kinds of layer are supported:

* **multi-tile layers**: a module (an ``AnalogLinear``, its ``analog_module`` or the simulator
  tile) that holds a ``replicas`` sequence of simulator tiles, e.g. an ``AnalogLinear`` with
  :class:`analog_tt.tiles.tile.MultiTileTransferTile` (``layer.analog_module.tile.replicas``), whose
  ``layer.get_weights()`` equals ``digital_weights(layer, "exact")``. ``replica_weights`` returns the
  replicas' conductance-unit weights ``[N, out, in]``; ``digital_weights`` multiplies their mean
  by ``alpha = analog_module.get_scales()`` (learned out scale times mapping scales; 1 if None).
* **ordinary aihwkit** ``AnalogLinear`` (one logical tile, e.g. a TransferCompound or SGD preset,
  possibly split into a ``TileModuleArray``). Here ``replica_weights`` returns ``[1, out, in]``
  *effective* weights: ``"exact"`` is aihwkit's ``get_weights()`` (with the learned out scale and
  mapping scales already applied) and ``"lstsq"`` fits the layer's whole analog forward (periphery
  included). alpha is therefore folded into the weights and counts as 1.

Analog operation counts of reads are appended to an optional ``ops`` list as records
``{"phase": "read", "op": "forward", "tile": "main", "vectors": int, "pfactor": float}``, and,
for ``analog_tt`` layers built with ``count_ops=True``, added to the layer's ``"read"`` phase
(:mod:`analog_tt.tiles.counting`).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..core.validation import check_choice
from ..core.vocabulary import READ_MODES, READ_PROBES
from .layers import find_forward_io, find_replicas, randn, record_layer_ops, sim_tile, tile_device
from .reads import _check_over_sampling, _lstsq_weights, read_replica_weights, read_shared_probes

__all__ = [
    "analog_linear_layers",
    "build_digital_model",
    "digital_weights",
    "digitize",
    "output_scale",
    "read_replica_weights",
    "read_shared_probes",
    "replica_weights",
]


def _check_mode(mode: str) -> None:
    check_choice("mode", mode, READ_MODES)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def _analog_linear_cls() -> type:
    from aihwkit.nn import AnalogLinear

    return AnalogLinear


def _require_analog_linear(layer: nn.Module) -> None:
    """Raise a ValueError unless ``layer`` is an aihwkit AnalogLinear (single-tile layers)."""
    if not isinstance(layer, _analog_linear_cls()):
        raise ValueError(f"{type(layer).__name__} is neither a multi-tile layer nor AnalogLinear")


def _tile_module(layer: nn.Module) -> nn.Module:
    """The tile module (periphery holder) of a layer: ``layer.analog_module`` or the layer."""
    return getattr(layer, "analog_module", layer)


def _is_multi_tile(layer: nn.Module) -> bool:
    return find_replicas(layer) is not None


def analog_linear_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Qualified names of the outermost analog linear layers of ``model``.

    Counted are multi-tile layers (see :func:`analog_tt.tiles.layers.find_multi_tile_layers`)
    and aihwkit ``AnalogLinear`` layers; their sub-modules are not reported again.
    """
    linear_cls = _analog_linear_cls()
    found: dict[str, nn.Module] = {}
    for name, mod in model.named_modules():
        if any(prefix == "" or name.startswith(prefix + ".") for prefix in found):
            continue
        if isinstance(mod, linear_cls) or _is_multi_tile(mod):
            found[name] = mod
    return found


def output_scale(layer: nn.Module) -> Tensor | None:
    """alpha of a multi-tile layer: ``analog_module.get_scales()`` (None when it has none).

    A scalar out scale (the paper's ``learn_out_scaling=True, out_scaling_columnwise=False``)
    comes back as a 1-element tensor; a column-wise one as ``[out]``.
    """
    mod = _tile_module(layer)
    get_scales = getattr(mod, "get_scales", None)
    if get_scales is None:
        return None
    scales = get_scales()
    return None if scales is None else scales.detach().float().cpu().flatten()


def _digital_bias(layer: nn.Module) -> Tensor | None:
    """The bias kept in digital periphery (exact), or None.

    aihwkit keeps a digital bias as a tensor ``bias`` on the tile module (``TileWithPeriphery``
    with ``mapping.digital_bias``, and always on a ``TileModuleArray``); an analog bias lives in
    the tile's extra column and ``bias`` is None there.
    """
    bias = getattr(_tile_module(layer), "bias", None)
    if isinstance(bias, Tensor):
        return bias.detach().float().cpu().clone()
    return None


def _has_analog_bias(layer: nn.Module) -> bool:
    mod = _tile_module(layer)
    return bool(getattr(mod, "analog_bias", False))


def _layer_sizes(layer: nn.Module) -> tuple[int, int]:
    in_f = getattr(layer, "in_features", None)
    out_f = getattr(layer, "out_features", None)
    if in_f is None or out_f is None:
        mod = _tile_module(layer)
        in_f, out_f = getattr(mod, "in_size", None), getattr(mod, "out_size", None)
    if in_f is None or out_f is None:
        reps = find_replicas(layer)
        if reps is None:
            raise ValueError(f"cannot tell the sizes of {type(layer).__name__}")
        sim = sim_tile(reps[0])
        in_f, out_f = sim.get_x_size(), sim.get_d_size()
    return int(in_f), int(out_f)


@torch.no_grad()
def _read_ordinary_layer(
    layer: nn.Module,
    over_sampling: int,
    generator: torch.Generator | None,
    ops: list[dict[str, Any]] | None,
) -> tuple[Tensor, Tensor | None]:
    """lstsq read of an ordinary AnalogLinear through its whole analog forward (eval mode)."""
    in_f, _ = _layer_sizes(layer)
    mod = _tile_module(layer)
    dev = next((t.device for t in layer.analog_tiles()), torch.device("cpu"))
    n_probe = over_sampling * in_f
    x = randn((n_probe, in_f), generator, dev)
    was_training = mod.training
    mod.eval()
    try:
        y = mod(x).detach().float().cpu()
    finally:
        mod.train(was_training)
    if ops is not None:
        ops.append(
            {"phase": "read", "op": "forward", "tile": "main", "vectors": n_probe, "pfactor": 1.0}
        )
    x = x.cpu()
    bias = _digital_bias(layer)
    if bias is not None:
        return _lstsq_weights(x, y - bias), bias
    if _has_analog_bias(layer):
        x1 = torch.cat([x, torch.ones(n_probe, 1)], dim=1)
        wb = _lstsq_weights(x1, y)
        return wb[:, :-1].contiguous(), wb[:, -1].contiguous()
    return _lstsq_weights(x, y), None


def replica_weights(
    layer: nn.Module,
    mode: Literal["lstsq", "exact"] = "lstsq",
    *,
    over_sampling: int = 10,
    generator: torch.Generator | None = None,
    ops: list[dict[str, Any]] | None = None,
    probes: Literal["per_replica", "shared"] = "per_replica",
    engine: Literal["auto", "aihwkit", "torch"] = "auto",
) -> Tensor:
    """Per-replica weights of an analog linear layer.

    Parameters
    ----------
    layer
        Multi-tile layer or ordinary aihwkit ``AnalogLinear`` (see module docstring).
    mode
        ``"lstsq"`` (noisy read, :func:`read_replica_weights`) or ``"exact"`` (the simulator's
        stored weights; not hardware-realistic).
    over_sampling, generator, ops
        As in :func:`read_replica_weights` (lstsq only). For N replicas one record with
        ``vectors = N * over_sampling * in`` and ``pfactor = N`` is appended (replicas are read
        in parallel). For an ``analog_tt`` multi-tile layer with ``count_ops`` on, the same
        counts go to its ``"read"`` phase (``sequential = over_sampling * in``).
    probes
        ``"per_replica"``: fresh probes for every replica (the paper's read); ``"shared"``: one
        probe set for all (:func:`read_shared_probes`). The same with one replica.
    engine
        How a shared-probe read runs the replicas' forward (see :func:`read_shared_probes`):
        ``"auto"`` batches it in torch where the IO parameters allow, ``"aihwkit"`` uses each
        replica's aihwkit forward (the reference).

    Returns
    -------
    Tensor
        ``[N, out, in]``: conductance units for multi-tile layers; effective (scaled) weights with
        N = 1 for ordinary layers.
    """
    _check_mode(mode)
    over_sampling = _check_over_sampling(over_sampling)
    reps = find_replicas(layer)
    if reps is None:
        _require_analog_linear(layer)
        if mode == "exact":
            weight, _ = layer.get_weights()
            return weight.detach().float().cpu()[None]
        weight, _ = _read_ordinary_layer(layer, over_sampling, generator, ops)
        return weight[None]
    if mode == "exact":
        return torch.stack([sim_tile(r).get_weights().detach().float().cpu() for r in reps])
    check_choice("probes", probes, READ_PROBES)
    local: list[dict[str, Any]] = []
    if probes == "shared":
        stack = read_shared_probes(
            reps,
            over_sampling,
            generator,
            ops=local,
            forward_io=find_forward_io(layer),
            engine=engine,
        )
    else:
        stack = torch.stack(
            [read_replica_weights(r, None, over_sampling, generator, ops=local) for r in reps]
        )
    _record_read(layer, local, len(reps), ops)
    return stack


def _record_read(
    layer: nn.Module, local: list[dict[str, Any]], n: int, ops: list[dict[str, Any]] | None
) -> None:
    """One layer-level read record (``n`` replicas read in parallel) and the layer's counts."""
    total = int(sum(rec["vectors"] for rec in local))
    if ops is not None:
        ops.append(
            {
                "phase": "read",
                "op": "forward",
                "tile": "main",
                "vectors": total,
                "pfactor": float(n),
            }
        )
    record_layer_ops(layer, "read", vectors=total, sequential=total // n)


def digital_weights(
    layer: nn.Module,
    mode: Literal["lstsq", "exact"] = "lstsq",
    *,
    replica_weighting: Tensor | None = None,
    over_sampling: int = 10,
    generator: torch.Generator | None = None,
    ops: list[dict[str, Any]] | None = None,
    probes: Literal["per_replica", "shared"] = "per_replica",
    engine: Literal["auto", "aihwkit", "torch"] = "auto",
) -> tuple[Tensor, Tensor | None]:
    """Floating-point weights and bias equivalent to an analog linear layer.

    ``W = alpha * sum_i p_i W_i`` with ``p_i = 1/N`` (tile average) unless ``replica_weighting``
    is given, ``alpha`` from :func:`output_scale` (scalar or per output row), and the exact
    digital bias. For ordinary AnalogLinear layers alpha is already inside the weights.

    Parameters
    ----------
    layer, mode, over_sampling, generator, ops, probes, engine
        As in :func:`replica_weights`. With ``probes="shared"`` a noisy read solves once for the
        (weighted) average instead of once per replica: the same estimate as averaging the
        per-replica estimates of :func:`read_shared_probes`, at one solve's cost.
    replica_weighting
        Optional ``[N]`` non-negative weights summing to 1 (performance-weighted average).

    Returns
    -------
    (Tensor, Tensor or None)
        ``W [out, in]`` and ``bias [out]`` (None when the layer has no bias), float32 CPU.
    """
    _check_mode(mode)
    reps = find_replicas(layer)
    if reps is None:
        _require_analog_linear(layer)
        if mode == "exact":
            weight, bias = layer.get_weights()
            bias = None if bias is None else bias.detach().float().cpu()
            return weight.detach().float().cpu(), bias
        return _read_ordinary_layer(layer, _check_over_sampling(over_sampling), generator, ops)
    check_choice("probes", probes, READ_PROBES)
    n = len(reps)
    p = None
    if replica_weighting is not None:
        p = torch.as_tensor(replica_weighting, dtype=torch.float64).flatten().cpu()
        if p.numel() != n:
            raise ValueError(f"replica_weighting must have {n} entries, got {p.numel()}")
        if (p < 0).any() or not math.isclose(float(p.sum()), 1.0, rel_tol=1e-6, abs_tol=1e-6):
            raise ValueError("replica_weighting must be non-negative and sum to 1")
    if mode == "lstsq" and probes == "shared" and n > 1:
        local: list[dict[str, Any]] = []
        combine = p if p is not None else torch.full((n,), 1.0 / n, dtype=torch.float64)
        avg = read_shared_probes(
            reps,
            over_sampling,
            generator,
            combine=combine,
            ops=local,
            forward_io=find_forward_io(layer),
            engine=engine,
        )[0]
        _record_read(layer, local, n, ops)
    else:
        stack = replica_weights(
            layer,
            mode,
            over_sampling=over_sampling,
            generator=generator,
            ops=ops,
            probes=probes,
            engine=engine,
        )
        if p is None:
            avg = stack.mean(dim=0)
        else:
            avg = torch.einsum("n,noi->oi", p, stack.double()).float()
    alpha = output_scale(layer)
    if alpha is not None:
        avg = avg * (alpha.view(-1, 1) if alpha.numel() > 1 else alpha.item())
    return avg.contiguous(), _digital_bias(layer)


def build_digital_model(
    model: nn.Module, params: dict[str, tuple[Tensor, Tensor | None]]
) -> nn.Module:
    """Copy ``model`` with every listed analog layer replaced by an ``nn.Linear``.

    Parameters
    ----------
    model
        The analog model (not modified).
    params
        ``{layer_name: (W [out, in], bias [out] or None)}`` for exactly the layers that
        :func:`analog_linear_layers` reports.

    Returns
    -------
    nn.Module
        A deep copy in which the analog layers are ``nn.Linear`` (float32, on the device of the
        layers' tiles) and every other module and parameter is copied; same ``training`` flag.
    """
    layers = analog_linear_layers(model)
    missing = set(layers) - set(params)
    extra = set(params) - set(layers)
    if missing or extra:
        raise ValueError(
            f"params must cover the analog layers exactly; missing {sorted(missing)}, "
            f"unknown {sorted(extra)}"
        )
    memo: dict[int, Any] = {}
    for name, layer in layers.items():
        weight, bias = params[name]
        out_f, in_f = weight.shape
        lin = nn.Linear(int(in_f), int(out_f), bias=bias is not None)
        with torch.no_grad():
            lin.weight.copy_(weight)
            if bias is not None:
                lin.bias.copy_(bias)
        lin.train(layer.training)
        memo[id(layer)] = lin.to(_layer_device(layer))
    if "" in layers:  # the model itself is one analog layer
        return memo[id(model)]
    return copy.deepcopy(model, memo)


def _layer_device(layer: nn.Module) -> torch.device:
    reps = find_replicas(layer)
    if reps is not None:
        return tile_device(reps[0])
    tiles = getattr(layer, "analog_tiles", None)
    if tiles is not None:
        for t in tiles():
            return t.device
    return torch.device("cpu")


def digitize(
    model: nn.Module,
    mode: Literal["lstsq", "exact"] = "lstsq",
    *,
    over_sampling: int = 10,
    generator: torch.Generator | None = None,
    ops: list[dict[str, Any]] | None = None,
) -> nn.Module:
    """FP copy of ``model`` where every analog linear layer is an ``nn.Linear``.

    Each layer gets :func:`digital_weights` (tile average times alpha, digital bias). The paper's
    test-time model is ``digitize(model, "lstsq")`` followed by an FP forward.

    Parameters
    ----------
    model
        Module containing multi-tile and/or ordinary ``AnalogLinear`` layers (not modified).
    mode, over_sampling, generator, ops
        As in :func:`digital_weights`.

    Returns
    -------
    nn.Module
    """
    _check_mode(mode)
    layers = analog_linear_layers(model)
    if not layers:
        raise ValueError("model has no analog linear layer to digitise")
    params = {
        name: digital_weights(
            layer, mode, over_sampling=over_sampling, generator=generator, ops=ops
        )
        for name, layer in layers.items()
    }
    return build_digital_model(model, params)
