"""Tiki-Taka from scratch, in plain PyTorch (no aihwkit).

This is the *Stochastic Hamiltonian Descent* (SHD) form of Tiki-Taka used by the paper's
``Research_1`` notebooks (seed analysis §2.1; Onen et al., 2022). Every trainable ``nn.Linear``
weight ``C`` (the network that runs the forward pass, the "slow" matrix) has a companion "fast"
matrix ``A`` of the same shape, initialised to zero. Both live on an idealised *soft-bounds*
device: a requested change ``delta`` of a weight ``w`` is applied as

.. math::  w \\leftarrow w + \\delta - \\mathrm{wd}\\, w\\, |\\delta|,

so an increase shrinks as ``w`` approaches ``+1/wd`` and a decrease shrinks as ``w`` approaches
``-1/wd`` (``wd = 1/|bound|``; symmetry point 0). The device response is analytic: no pulse
noise, no quantisation.

Update rules (``k = 1, 2, ...`` counts optimizer steps, ``g = dL/dC`` from autograd)::

    A  <- A - lr_A * (g + wd_A * A * |g|)                          every step
    if k % t == 0:  j = (k // t) % n_in                             column transfer
        C[:, j] <- C[:, j] + lr_C * (A[:, j] - wd_C * C[:, j] * |A[:, j]|)
    if k % (t * n_in) == 0:                                         bias: whole vector,
        b <- b + lr_C * (A_b - wd_C * b * |A_b|)                    once per column sweep

``A`` is never reset. The counter convention (first transfer at ``k = t``, first column
``j = 1 % n_in``) and the bias period ``t * n_in`` follow the paper's ``SHD`` optimiser.

With a symmetric device (``wd_A = wd_C = 0``) and a transfer of every element at every step
(``t = 1`` and ``n_in = 1``, or ``transfer_columns=False``), the two updates collapse to
``C_{k+1} = C_k - lr_A * lr_C * sum_{i<=k} g_i``: exactly ``torch.optim.SGD(lr=lr_A * lr_C,
momentum=1, dampening=0)``, i.e. SGD with *undamped* heavy-ball momentum, not plain SGD. The
friction that makes Tiki-Taka converge comes from the device asymmetry ``wd > 0``.

Public API
----------
soft_bounds_update, device_response
    One-weight device model (used by notebook 01 for the up/down-step curves).
TikiTaka
    ``torch.optim.Optimizer`` for any network of ``nn.Linear`` layers.
SoftBoundsSGD
    "Analog-style" SGD: plain SGD whose updates go through the same device response.
BatchedTikiTaka
    N replicas of ``C``, one shared ``A``; averaged gradient, same transfer into every replica,
    evaluation on the replica average (seed analysis §2.2).
one_weight_tiki_taka, one_weight_sgd
    Single-weight trajectories (phase portraits, pulse tests) through the optimisers above.
SpiralNet, train_classifier
    The paper's 2-64-3 ReLU spiral network (output x25) and a small seeded training loop.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..core.validation import check_int, check_number

__all__ = [
    "BatchedTikiTaka",
    "SoftBoundsSGD",
    "SpiralNet",
    "TikiTaka",
    "device_response",
    "one_weight_sgd",
    "one_weight_tiki_taka",
    "soft_bounds_update",
    "spiral_summary",
    "train_classifier",
]


# --------------------------------------------------------------------------------------------
# Device model
# --------------------------------------------------------------------------------------------


def _check_nonneg(name: str, value: float) -> float:
    return check_number(name, value, 0.0)


def _check_pos(name: str, value: float) -> float:
    return check_number(name, value, 0.0, low_open=True)


def soft_bounds_update(w: Tensor | np.ndarray | float, delta: Any, wd: float) -> Any:
    """Apply a requested change ``delta`` to weights ``w`` on a soft-bounds device.

    Parameters
    ----------
    w : Tensor, ndarray or float, shape (...)
        Current weights.
    delta : same type as ``w``, broadcastable to its shape
        Requested (ideal) change, e.g. ``-lr * grad``.
    wd : float
        Asymmetry ``1/|bound|`` (>= 0). ``wd = 0`` is an ideal symmetric device.

    Returns
    -------
    same type as ``w``, shape (...)
        ``w + delta - wd * w * |delta|`` (a new object; inputs are not modified).

    Examples
    --------
    >>> soft_bounds_update(0.5, 0.1, 0.2)   # an up-step near +bound is smaller than 0.1
    0.59
    """
    wd = _check_nonneg("wd", wd)
    return w + delta - wd * w * abs(delta)


def device_response(
    w: np.ndarray | Sequence[float], step: float, wd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Size of one up-step and one down-step as a function of the current weight.

    Parameters
    ----------
    w : array_like, shape (n,)
        Weights at which to evaluate the response.
    step : float
        Nominal step size ``|delta|`` (> 0), e.g. ``lr * |g|``.
    wd : float
        Asymmetry ``1/|bound|`` (>= 0).

    Returns
    -------
    up, down : ndarray, shape (n,)
        ``up = step * (1 - wd*w)`` (change for ``delta = +step``) and
        ``down = step * (1 + wd*w)`` (magnitude of the change for ``delta = -step``). They are
        equal only at the symmetry point ``w = 0``; ``up`` vanishes at ``w = +1/wd``.
    """
    step = _check_pos("step", step)
    w = np.asarray(w, dtype=float)
    up = soft_bounds_update(w, step, wd) - w
    down = w - soft_bounds_update(w, -step, wd)
    return up, down


# --------------------------------------------------------------------------------------------
# Shared update kernels
# --------------------------------------------------------------------------------------------


def _update_fast(a: Tensor, g: Tensor, lr_a: float, wd_a: float) -> None:
    """A <- A - lr_A * (g + wd_A * A * |g|), in place."""
    a.add_(g + wd_a * a * g.abs(), alpha=-lr_a)


def _transfer(c: Tensor, a: Tensor, lr_c: float, wd_c: float) -> None:
    """C <- C + lr_C * (A - wd_C * C * |A|), in place (``c``, ``a`` may be column views)."""
    c.add_(a - wd_c * c * a.abs(), alpha=lr_c)


def _linear_layers(layers: nn.Module | Iterable[nn.Linear]) -> list[nn.Linear]:
    """The ``nn.Linear`` layers to train; refuse trainable parameters outside them."""
    if isinstance(layers, nn.Linear):
        found = [layers]
    elif isinstance(layers, nn.Module):
        found = [m for m in layers.modules() if isinstance(m, nn.Linear)]
        covered = {id(p) for m in found for p in m.parameters()}
        stray = [
            name
            for name, p in layers.named_parameters()
            if p.requires_grad and id(p) not in covered
        ]
        if stray:
            raise ValueError(
                f"Tiki-Taka handles nn.Linear layers only; trainable parameters outside them: "
                f"{stray} (freeze them or train them with another optimizer)"
            )
    else:
        found = list(layers)
        bad = [type(m).__name__ for m in found if not isinstance(m, nn.Linear)]
        if bad:
            raise ValueError(f"expected nn.Linear layers, got {bad}")
    if not found:
        raise ValueError("no nn.Linear layer to train")
    return found


def _per_layer_t(transfer_every: int | Sequence[int], n_layers: int) -> list[int]:
    if isinstance(transfer_every, (int, np.integer)):
        ts = [transfer_every] * n_layers
    elif isinstance(transfer_every, Sequence) and not isinstance(transfer_every, str):
        ts = list(transfer_every)
    else:
        raise ValueError(
            f"transfer_every must be an int or a sequence of ints, got {transfer_every!r}"
        )
    if len(ts) != n_layers:
        raise ValueError(
            f"transfer_every has {len(ts)} entries for {n_layers} nn.Linear layers "
            f"(give one int, or one per layer, e.g. [5, 1] for the 2-64-3 spiral net)"
        )
    for t in ts:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
            raise ValueError(f"transfer_every entries must be ints >= 1, got {transfer_every!r}")
    return [int(t) for t in ts]


def _shd_layer_step(
    cs_w: list[Tensor],
    cs_b: list[Tensor] | None,
    a_w: Tensor,
    a_b: Tensor | None,
    g_w: Tensor | None,
    g_b: Tensor | None,
    k: int,
    t: int,
    *,
    lr_a: float,
    lr_c: float,
    wd_a: float,
    wd_c: float,
    transfer_columns: bool,
) -> None:
    """One SHD step of one layer, on one or several replicas of ``C`` sharing ``A``.

    ``cs_w``: replicas of the weight, each (out, in); ``a_w``: (out, in); ``g_w``: (out, in)
    gradient (already averaged over replicas). ``cs_b``/``a_b``/``g_b``: same for the bias
    (out,). ``k`` is the 1-based step counter of this layer.
    """
    n_in = a_w.shape[1]
    if g_w is not None:
        _update_fast(a_w, g_w, lr_a, wd_a)
        if k % t == 0:
            if transfer_columns:
                j = (k // t) % n_in
                for c in cs_w:
                    _transfer(c[:, j], a_w[:, j], lr_c, wd_c)
            else:
                for c in cs_w:
                    _transfer(c, a_w, lr_c, wd_c)
    if cs_b is not None and a_b is not None and g_b is not None:
        _update_fast(a_b, g_b, lr_a, wd_a)
        period = t * n_in if transfer_columns else t
        if k % period == 0:
            for c in cs_b:
                _transfer(c, a_b, lr_c, wd_c)


# --------------------------------------------------------------------------------------------
# Single-network optimisers
# --------------------------------------------------------------------------------------------


class TikiTaka(torch.optim.Optimizer):
    """Tiki-Taka (SHD form) for a network of ``nn.Linear`` layers.

    The layers' own parameters play the role of ``C``; the optimizer keeps one ``A`` per
    parameter (``state[p]["A"]``, same shape as ``p``, zero-initialised).

    Parameters
    ----------
    layers : nn.Module or iterable of nn.Linear
        The network (every ``nn.Linear`` in ``modules()`` order is trained; any other
        trainable parameter raises ``ValueError``) or an explicit list of layers.
    lr_a : float
        Learning rate of the fast matrix ``A`` (> 0).
    lr_c : float
        Transfer learning rate into ``C`` (> 0).
    transfer_every : int or sequence of int, default 1
        Transfer period ``t`` in steps, one for all layers or one per layer (the paper's
        ``t=[5, 1]`` for the 2-64-3 net). Weight column ``j`` is transferred every ``t`` steps;
        the bias every ``t * in_features`` steps.
    wd_a, wd_c : float, default 0.2
        Device asymmetry ``1/|bound|`` of ``A`` and ``C`` (>= 0; 0 = symmetric device).
    transfer_columns : bool, default True
        ``True``: one column per transfer, cycling (the paper). ``False``: the whole matrix
        and bias every ``t`` steps (the element-wise SHD of Onen et al.).

    Notes
    -----
    Call ``loss.backward()`` then ``step()`` as with any optimizer. ``A`` is a digital stand-in
    for the analog fast tile; the device response is deterministic.
    """

    def __init__(
        self,
        layers: nn.Module | Iterable[nn.Linear],
        lr_a: float,
        lr_c: float,
        transfer_every: int | Sequence[int] = 1,
        wd_a: float = 0.2,
        wd_c: float = 0.2,
        transfer_columns: bool = True,
    ) -> None:
        linears = _linear_layers(layers)
        ts = _per_layer_t(transfer_every, len(linears))
        defaults = {
            "lr_a": _check_pos("lr_a", lr_a),
            "lr_c": _check_pos("lr_c", lr_c),
            "wd_a": _check_nonneg("wd_a", wd_a),
            "wd_c": _check_nonneg("wd_c", wd_c),
            "transfer_every": 1,
        }
        self.transfer_columns = bool(transfer_columns)
        groups = []
        for lin, t in zip(linears, ts, strict=True):
            params = [lin.weight] + ([lin.bias] if lin.bias is not None else [])
            groups.append({"params": params, "transfer_every": t})
        super().__init__(groups, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["A"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            self.state[group["params"][0]]["step"] = 0

    def fast_weights(self) -> list[Tensor]:
        """The ``A`` matrices, in parameter order (weight, bias, weight, bias, ...)."""
        return [self.state[p]["A"] for g in self.param_groups for p in g["params"]]

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:  # type: ignore[override]
        """Update every ``A`` with the current gradients, then transfer where due."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            w = group["params"][0]
            b = group["params"][1] if len(group["params"]) > 1 else None
            state = self.state[w]
            state["step"] += 1
            _shd_layer_step(
                [w],
                [b] if b is not None else None,
                state["A"],
                self.state[b]["A"] if b is not None else None,
                w.grad,
                b.grad if b is not None else None,
                state["step"],
                group["transfer_every"],
                lr_a=group["lr_a"],
                lr_c=group["lr_c"],
                wd_a=group["wd_a"],
                wd_c=group["wd_c"],
                transfer_columns=self.transfer_columns,
            )
        return loss


class SoftBoundsSGD(torch.optim.Optimizer):
    """Analog-style SGD: ``p <- p + d - wd * p * |d|`` with ``d = -lr * grad``.

    Plain SGD whose every update goes through the soft-bounds device response of
    :func:`soft_bounds_update`. With ``wd = 0`` it is exactly ``torch.optim.SGD(lr=lr)``. With
    ``wd > 0`` each noisy update drags ``p`` towards the symmetry point 0, so its fixed point
    is biased; this is the failure Tiki-Taka corrects.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimise (any shape).
    lr : float
        Learning rate (> 0).
    wd : float, default 0.2
        Device asymmetry ``1/|bound|`` (>= 0).
    """

    def __init__(self, params: Iterable[Any], lr: float, wd: float = 0.2) -> None:
        super().__init__(params, {"lr": _check_pos("lr", lr), "wd": _check_nonneg("wd", wd)})

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    _transfer(p, -p.grad, group["lr"], group["wd"])
        return loss


# --------------------------------------------------------------------------------------------
# Batched form
# --------------------------------------------------------------------------------------------


class BatchedTikiTaka(nn.Module):
    """N replicas of ``C``, one shared ``A`` (seed analysis §2.2).

    Each training mini-batch is split into ``n_replicas`` contiguous chunks (``torch.
    tensor_split``: sizes differ by at most one); chunk ``i`` runs through replica ``C_i`` and
    its mean loss gives ``grad_i``. ``A`` is updated once with ``g = mean_i grad_i`` (which is
    the mini-batch-mean gradient when the chunks are equal), and every transfer writes the same
    ``A`` column into every replica, each with its own soft-bound term ``-wd_C * C_i * |A|``.
    ``forward`` (evaluation) uses the parameter average of the replicas.

    Parameters
    ----------
    model : nn.Module
        Template network of ``nn.Linear`` layers (plus parameter-free modules). It is
        deep-copied ``n_replicas`` times, so all replicas start identical; the template itself
        is not trained.
    n_replicas : int
        Number of ``C`` replicas ``N`` (>= 1).
    lr_a, lr_c, transfer_every, wd_a, wd_c, transfer_columns
        As in :class:`TikiTaka`.

    Attributes
    ----------
    replicas : nn.ModuleList
        The ``N`` copies of the network (``C_i``).
    fast : list of Tensor
        ``A`` per parameter of one replica, in ``named_parameters`` order.
    steps : int
        Optimizer steps taken.
    """

    def __init__(
        self,
        model: nn.Module,
        n_replicas: int,
        lr_a: float,
        lr_c: float,
        transfer_every: int | Sequence[int] = 1,
        wd_a: float = 0.2,
        wd_c: float = 0.2,
        transfer_columns: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(n_replicas, bool) or not isinstance(n_replicas, (int, np.integer)):
            raise ValueError(f"n_replicas must be an int >= 1, got {n_replicas!r}")
        if n_replicas < 1:
            raise ValueError(f"n_replicas must be >= 1, got {n_replicas}")
        linears = _linear_layers(model)
        self.transfer_every = _per_layer_t(transfer_every, len(linears))
        self.lr_a = _check_pos("lr_a", lr_a)
        self.lr_c = _check_pos("lr_c", lr_c)
        self.wd_a = _check_nonneg("wd_a", wd_a)
        self.wd_c = _check_nonneg("wd_c", wd_c)
        self.transfer_columns = bool(transfer_columns)
        self.replicas = nn.ModuleList(copy.deepcopy(model) for _ in range(int(n_replicas)))
        # layer structure by module name, resolved identically in every replica
        names = {id(m): n for n, m in model.named_modules()}
        self._layer_names = [names[id(lin)] for lin in linears]
        for i, name in enumerate(self._layer_names):
            lin = model.get_submodule(name)
            self.register_buffer(f"A_w_{i}", torch.zeros_like(lin.weight))
            self.register_buffer(
                f"A_b_{i}", torch.zeros_like(lin.bias) if lin.bias is not None else None
            )
        self.steps = 0

    @property
    def n_replicas(self) -> int:
        return len(self.replicas)

    @property
    def fast(self) -> list[Tensor]:
        out = []
        for i in range(len(self._layer_names)):
            out.append(getattr(self, f"A_w_{i}"))
            if getattr(self, f"A_b_{i}") is not None:
                out.append(getattr(self, f"A_b_{i}"))
        return out

    def averaged_state(self) -> dict[str, Tensor]:
        """Parameter average over replicas, keyed like ``replicas[0].named_parameters()``."""
        per_rep = [dict(r.named_parameters()) for r in self.replicas]
        return {
            name: torch.stack([p[name].detach() for p in per_rep]).mean(0) for name in per_rep[0]
        }

    def averaged_model(self) -> nn.Module:
        """A stand-alone copy of the network holding the replica-average weights."""
        model = copy.deepcopy(self.replicas[0])
        model.load_state_dict(self.averaged_state(), strict=False)
        return model

    def forward(self, x: Tensor) -> Tensor:
        """Evaluate the replica-average network. ``x``: (B, in) -> (B, out)."""
        return functional_call(self.replicas[0], self.averaged_state(), (x,))

    def train_step(
        self, x: Tensor, y: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor]
    ) -> float:
        """One mini-batch: chunked forward/backward, averaged gradient, A update, transfers.

        Parameters
        ----------
        x : Tensor, shape (B, in)
        y : Tensor, shape (B, ...)
            Targets, split like ``x``.
        loss_fn : callable
            ``loss_fn(output_chunk, target_chunk) -> scalar`` with mean reduction.

        Returns
        -------
        float
            Mean over replicas of the chunk losses.
        """
        if x.shape[0] < 1:
            raise ValueError("empty mini-batch")
        n_active = min(self.n_replicas, x.shape[0])  # with N > B some replicas idle
        chunks = zip(torch.tensor_split(x, n_active), torch.tensor_split(y, n_active), strict=True)
        total = 0.0
        for rep in self.replicas:
            rep.zero_grad(set_to_none=True)
        active = list(self.replicas)[:n_active]
        for rep, (xc, yc) in zip(active, chunks, strict=True):
            loss = loss_fn(rep(xc), yc)
            loss.backward()
            total += float(loss.detach())
        self.steps += 1
        with torch.no_grad():
            for i, (name, t) in enumerate(zip(self._layer_names, self.transfer_every, strict=True)):
                lins = [r.get_submodule(name) for r in self.replicas]
                g_w = torch.stack([lin.weight.grad for lin in lins[:n_active]]).mean(0)
                has_b = lins[0].bias is not None
                g_b = (
                    torch.stack([lin.bias.grad for lin in lins[:n_active]]).mean(0)
                    if has_b
                    else None
                )
                _shd_layer_step(
                    [lin.weight for lin in lins],
                    [lin.bias for lin in lins] if has_b else None,
                    getattr(self, f"A_w_{i}"),
                    getattr(self, f"A_b_{i}"),
                    g_w,
                    g_b,
                    self.steps,
                    t,
                    lr_a=self.lr_a,
                    lr_c=self.lr_c,
                    wd_a=self.wd_a,
                    wd_c=self.wd_c,
                    transfer_columns=self.transfer_columns,
                )
        return total / n_active


# --------------------------------------------------------------------------------------------
# Spiral network and a small training loop
# --------------------------------------------------------------------------------------------


class SpiralNet(nn.Module):
    """The paper's spiral classifier: 2 -> hidden (ReLU) -> 3, output multiplied by ``scale``.

    Weights are initialised ``N(0, init_std^2)``, biases 0 (seed analysis §2.1:
    ``randn * 0.01``).

    Parameters
    ----------
    n_in, n_hidden, n_out : int, default 2, 64, 3
    scale : float, default 25.0
        Fixed output gain (the paper's ``x25``).
    init_std : float, default 0.01
    """

    def __init__(
        self,
        n_in: int = 2,
        n_hidden: int = 64,
        n_out: int = 3,
        scale: float = 25.0,
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        self.l1 = nn.Linear(n_in, n_hidden)
        self.l2 = nn.Linear(n_hidden, n_out)
        self.scale = float(scale)
        with torch.no_grad():
            for lin in (self.l1, self.l2):
                lin.weight.normal_(0.0, _check_nonneg("init_std", init_std))
                lin.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        """``x``: (B, n_in) -> logits (B, n_out)."""
        return self.l2(torch.relu(self.l1(x))) * self.scale


@torch.no_grad()
def _accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return float((model(x).argmax(1) == y).float().mean())


def train_classifier(
    model: nn.Module,
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer] | None,
    x_train: Tensor,
    y_train: Tensor,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    x_test: Tensor | None = None,
    y_test: Tensor | None = None,
    batched: BatchedTikiTaka | None = None,
) -> dict[str, list[float]]:
    """Train a classifier with cross-entropy; reshuffle every epoch; log accuracies per epoch.

    Parameters
    ----------
    model : nn.Module
        The network (ignored for training when ``batched`` is given; pass the template).
    make_optimizer : callable or None
        ``make_optimizer(model) -> Optimizer``; ``None`` when ``batched`` is given.
    x_train : Tensor, shape (n, d); y_train : Tensor, shape (n,), int64
    epochs, batch_size : int (>= 1)
    seed : int
        Seeds the shuffling generator (the model's init is the caller's business).
    x_test, y_test : Tensor, optional
        Held-out set, evaluated after every epoch.
    batched : BatchedTikiTaka, optional
        Train this instead (its ``train_step``); evaluation uses the replica average.

    Returns
    -------
    dict
        ``loss`` (mean training mini-batch loss per epoch), ``train_acc`` (accuracy on the
        whole training set after each epoch, the paper's metric) and, with a test set,
        ``test_acc``; each a list of length ``epochs``.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    if (batched is None) == (make_optimizer is None):
        raise ValueError("give exactly one of make_optimizer or batched")
    gen = torch.Generator().manual_seed(int(seed))
    loss_fn = nn.CrossEntropyLoss()
    opt = make_optimizer(model) if make_optimizer is not None else None
    evaluator: nn.Module = batched if batched is not None else model
    hist: dict[str, list[float]] = {"loss": [], "train_acc": []}
    if x_test is not None:
        hist["test_acc"] = []
    n = x_train.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if batched is not None:
                loss_val = batched.train_step(xb, yb, loss_fn)
            else:
                assert opt is not None
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                loss_val = float(loss.detach())
            total += loss_val * len(idx)
            count += len(idx)
        hist["loss"].append(total / count)
        hist["train_acc"].append(_accuracy(evaluator, x_train, y_train))
        if x_test is not None and y_test is not None:
            hist["test_acc"].append(_accuracy(evaluator, x_test, y_test))
    return hist


# --------------------------------------------------------------------------------------------
# One-weight trajectories
# --------------------------------------------------------------------------------------------

GradFn = Callable[[float, int], float]


def _check_steps(steps: int) -> int:
    return check_int("steps", steps, 1)


def one_weight_tiki_taka(
    grad_fn: GradFn,
    steps: int,
    *,
    lr_a: float,
    lr_c: float,
    transfer_every: int = 1,
    wd_a: float = 0.2,
    wd_c: float = 0.2,
    c0: float = 0.0,
    a0: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Run :class:`TikiTaka` on one weight (float64) with gradients from ``grad_fn``.

    Parameters
    ----------
    grad_fn : callable
        ``grad_fn(c, k) -> float``: the gradient at slow weight ``c`` on step ``k`` (0-based);
        close over a ``numpy.random.Generator`` for noisy gradients.
    steps : int
        Number of optimizer steps (>= 1).
    lr_a, lr_c, transfer_every, wd_a, wd_c
        As in :class:`TikiTaka`.
    c0, a0 : float
        Initial slow and fast weights.

    Returns
    -------
    a, c : ndarray, shape (steps + 1,)
        Fast and slow weight before the first and after every step.
    """
    steps = _check_steps(steps)
    lin = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        lin.weight.fill_(float(c0))
    opt = TikiTaka(lin, lr_a, lr_c, transfer_every, wd_a, wd_c)
    fast = opt.fast_weights()[0]
    fast.fill_(float(a0))
    a = np.empty(steps + 1)
    c = np.empty(steps + 1)
    a[0], c[0] = fast.item(), lin.weight.item()
    for k in range(steps):
        lin.weight.grad = torch.full_like(lin.weight, float(grad_fn(c[k], k)))
        opt.step()
        a[k + 1], c[k + 1] = fast.item(), lin.weight.item()
    return a, c


def one_weight_sgd(
    grad_fn: GradFn, steps: int, *, lr: float, wd: float = 0.0, w0: float = 0.0
) -> np.ndarray:
    """Run :class:`SoftBoundsSGD` (``wd = 0``: plain SGD) on one weight (float64).

    Parameters
    ----------
    grad_fn : callable
        ``grad_fn(w, k) -> float``.
    steps : int
    lr, wd : float
        As in :class:`SoftBoundsSGD`.
    w0 : float
        Initial weight.

    Returns
    -------
    ndarray, shape (steps + 1,)
        The weight before the first and after every step.
    """
    steps = _check_steps(steps)
    w = nn.Parameter(torch.tensor([float(w0)], dtype=torch.float64))
    opt = SoftBoundsSGD([w], lr=lr, wd=wd)
    out = np.empty(steps + 1)
    out[0] = w.item()
    for k in range(steps):
        w.grad = torch.tensor([float(grad_fn(out[k], k))], dtype=torch.float64)
        opt.step()
        out[k + 1] = w.item()
    return out


def spiral_summary(
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer],
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    tail: int,
) -> dict[str, Any]:
    """Train a fresh :class:`SpiralNet` (seeded by ``seed``) and summarise its last epochs.

    Parameters
    ----------
    make_optimizer : callable
        ``make_optimizer(model) -> Optimizer``.
    data : (x_train, y_train, x_heldout, y_heldout)
        Tensors ``[n, 2]``, ``[n]``.
    seed, epochs, batch_size : int
    tail : int
        Number of final epochs averaged (the paper: the last 100 of 1000).

    Returns
    -------
    dict
        ``seed``, ``dead_relu_frac`` (hidden ReLUs off for every training point),
        ``train_acc``/``heldout_acc``/``loss`` (means over the last ``tail`` epochs), and the
        per-epoch ``curve_train``/``curve_heldout``.
    """
    from ..core.seeding import seed_everything

    x, y, x_heldout, y_heldout = data
    seed_everything(seed)
    model = SpiralNet()
    h = train_classifier(
        model,
        make_optimizer,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        x_test=x_heldout,
        y_test=y_heldout,
    )
    with torch.no_grad():
        dead = float((torch.relu(model.l1(x)).amax(0) == 0).float().mean())
    return {
        "seed": seed,
        "dead_relu_frac": dead,
        "train_acc": float(np.mean(h["train_acc"][-tail:])),
        "heldout_acc": float(np.mean(h["test_acc"][-tail:])),
        "loss": float(np.mean(h["loss"][-tail:])),
        "curve_train": h["train_acc"],
        "curve_heldout": h["test_acc"],
    }
