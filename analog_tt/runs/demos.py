"""The paper's two-replica, one-weight regression (§2.3, ``SHD_batched_analog.ipynb``'s GIFs).

A demo of notebook 03, not an experiment of the runner: it records every replica's weight after
every epoch, which no run result holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..core.seeding import seed_everything
from ..core.validation import check_int
from ..tiles import presets

__all__ = ["one_weight_regression"]


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

    n_tiles = check_int("n_tiles", n_tiles, 1)
    slow = [float(v) for v in slow_init]
    if len(slow) != n_tiles:
        raise ValueError(
            f"slow_init must give one start weight per replica ({n_tiles}), got {slow}"
        )
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    n_points = check_int("n_points", n_points, 1)
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
