"""What bounds the paper's pulse programming: its time split by aihwkit call, and one update's cost.

Programs the paper's 784-256-128-10 network (``init="program"``, the runner's own
:func:`analog_tt.runs.models.initialize`) for ``--n-tiles`` replicas under ``cProfile`` and
records the seconds spent in aihwkit's pulsed ``update`` and analog ``forward`` (the C++ calls)
and in everything else (the probe draws, the stopping rule's EW variance, Python). Beside it, the
cost of one rank-1 pulsed update (BL 1, the programming's learning rate) of a C tile per layer
shape and, for the first layer, per size of the error it writes: the update costs what the pulses
it fires cost (coincidences of x and d pulses), and the fraction of weights one update of a
copy's error changes. Last, the floors of two torch lockstep updates of 31 replicas, per replica,
beside aihwkit's update at a copy's error size: a dense one (:func:`dense_torch_update_ms`) and
a sparse one that touches only aihwkit's fraction of fired weights
(:func:`sparse_torch_update_ms`): whether batching the programming in torch could beat
aihwkit's C++ on a CPU.
Measure on a quiet machine.

Usage::

    python benchmarks/programming_cost.py --n-tiles 2 --concurrent 1
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from copy import deepcopy
from pathlib import Path

import analog_tt  # noqa: F401  (before aihwkit: the clock helper)

# isort: split
import torch
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.tiles.analog import AnalogTileWithoutPeriphery

from analog_tt.core.files import atomic_write_json
from analog_tt.core.provenance import run_provenance
from analog_tt.runs.models import build_model, initialize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from epoch_cost import _config  # noqa: E402

OUT = Path("benchmarks/results/programming_cost.json")
SHAPES = ((256, 784), (128, 256), (10, 128))


def profile_programming(n_tiles: int, seed: int) -> dict[str, float]:
    """Seconds of programming all layers, and the part spent in aihwkit's update / forward."""
    config = _config(n_tiles, "shared_A", "program", seed)
    torch.manual_seed(seed)
    model = build_model(config)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    initialize(model, config)
    profiler.disable()
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats
    seconds = {"update": 0.0, "forward": 0.0}
    calls = {"update": 0, "forward": 0}
    for (_, _, name), (_, ncalls, tottime, _, _) in stats.items():
        for key in seconds:
            if name == f"<built-in method aihwkit.simulator.rpu_base.tiles.{key}>":
                seconds[key] += tottime
                calls[key] += ncalls
    return {
        "program_s": total,
        "aihwkit_update_s": seconds["update"],
        "aihwkit_forward_s": seconds["forward"],
        "other_s": total - seconds["update"] - seconds["forward"],
        "update_calls": calls["update"],
        "forward_calls": calls["forward"],
    }


def _c_tile(out_size: int, in_size: int) -> object:
    """A paper C tile (the replicas' config, as MultiTileTransferTile builds it) at lr 0.25."""
    from analog_tt.presets import paper_mnist_config

    config = paper_mnist_config(n_tiles=1)
    c_config = SingleRPUConfig(
        device=deepcopy(config.device.unit_cell_devices[1]),
        forward=deepcopy(config.forward),
        backward=deepcopy(config.backward),
        update=deepcopy(config.device.transfer_update),
    )
    tile = AnalogTileWithoutPeriphery(out_size, in_size, c_config).tile
    tile.set_learning_rate(0.25)
    return tile


def _probe_and_error(
    out_size: int, in_size: int, error_std: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(1, in_size, generator=gen) / in_size**0.5
    return x, error_std * torch.randn(1, out_size, generator=gen)


def update_cost(out_size: int, in_size: int, error_std: float = 0.1, repeats: int = 400) -> float:
    """Milliseconds of one rank-1 pulsed update of a C tile (programming's lr 0.25, BL 1).

    ``x ~ N(0, 1) / sqrt(in)`` as the programming's probes, ``d ~ N(0, error_std^2)``: a copy's
    error is about two reads' output noise (0.1 each).
    """
    tile = _c_tile(out_size, in_size)
    x, d = _probe_and_error(out_size, in_size, error_std, torch.Generator().manual_seed(0))
    for _ in range(20):
        tile.update(x, d, False)
    start = time.perf_counter()
    for _ in range(repeats):
        tile.update(x, d, False)
    return (time.perf_counter() - start) / repeats * 1e3


def fired_fraction(out_size: int, in_size: int, error_std: float, updates: int = 50) -> float:
    """Mean fraction of a C tile's weights that one programming update changes.

    Fresh probes and errors each update (as :func:`update_cost` draws them); a weight changes
    when a pulse of its input and one of its output coincide, so this is the coincidence density
    aihwkit's update works through.
    """
    tile = _c_tile(out_size, in_size)
    gen = torch.Generator().manual_seed(1)
    fractions = []
    for _ in range(updates):
        x, d = _probe_and_error(out_size, in_size, error_std, gen)
        before = tile.get_weights()
        tile.update(x, d, False)
        fractions.append(float((tile.get_weights() != before).float().mean()))
    return sum(fractions) / len(fractions)


def dense_torch_update_ms(
    n_replicas: int = 31, out_size: int = 256, in_size: int = 784, repeats: int = 20
) -> float:
    """Milliseconds per replica of the least a dense torch lockstep pulsed update must do.

    One programming step of ``n_replicas`` copies at once, on ``[n, out, in]`` float32 weights:
    a random pulse mask per input and per output, their coincidences, one normal draw per
    weight (cycle-to-cycle noise), a soft-bounds factor and a masked write. It is not aihwkit's
    device model (no per-device parameters, no pulse counts): it is a floor for any dense torch
    re-implementation of the programming's update, to set beside aihwkit's C++ update
    (:func:`update_cost`). One torch thread.
    """
    gen = torch.Generator().manual_seed(0)
    weights = 0.3 * torch.randn(n_replicas, out_size, in_size, generator=gen)

    def step(weights: torch.Tensor) -> torch.Tensor:
        x_pulse = torch.rand(n_replicas, 1, in_size, generator=gen) < 0.5
        d_pulse = torch.rand(n_replicas, out_size, 1, generator=gen) < 0.5
        noise = torch.randn(n_replicas, out_size, in_size, generator=gen)
        delta = 0.001 * (1 + 0.3 * noise) * (1 - weights.abs())
        return torch.where(x_pulse & d_pulse, weights + delta, weights)

    for _ in range(2):
        weights = step(weights)
    start = time.perf_counter()
    for _ in range(repeats):
        weights = step(weights)
    return (time.perf_counter() - start) / repeats / n_replicas * 1e3


def sparse_torch_update_ms(
    fired: float,
    n_replicas: int = 31,
    out_size: int = 256,
    in_size: int = 784,
    repeats: int = 20,
) -> float:
    """Milliseconds per replica of the least a sparse torch lockstep pulsed update must do.

    One programming step of ``n_replicas`` copies at once, touching only the coincidences:
    random input and output pulse masks with a coincidence density of ``fired`` (aihwkit's,
    :func:`fired_fraction`), their flat indices (one outer sum per replica), a gather of each
    fired weight and of three of its device parameters (step up, step down, bound), one normal
    draw per fired weight, a soft-bounds step and a scatter back. Like
    :func:`dense_torch_update_ms` it is not aihwkit's device model, only a floor for a
    re-implementation with torch's indexing operations. One torch thread.
    """
    gen = torch.Generator().manual_seed(0)
    shape = (n_replicas, out_size, in_size)
    weights = 0.3 * torch.randn(*shape, generator=gen).view(-1)
    step_up = (0.001 * (1 + 0.3 * torch.randn(*shape, generator=gen))).view(-1)
    step_down = (0.001 * (1 + 0.3 * torch.randn(*shape, generator=gen))).view(-1)
    bound = (1 + 0.3 * torch.randn(*shape, generator=gen).abs()).view(-1)
    offsets = torch.arange(n_replicas) * out_size * in_size
    pulse_p = fired**0.5  # input and output pulse probability: their product is ``fired``

    def step() -> None:
        x_pulse = torch.rand(n_replicas, in_size, generator=gen) < pulse_p
        d_pulse = torch.rand(n_replicas, out_size, generator=gen) < pulse_p
        upwards = torch.rand(n_replicas * out_size, generator=gen) < 0.5
        index = torch.cat(
            [
                (
                    offsets[r] + d_pulse[r].nonzero()[:, :1] * in_size + x_pulse[r].nonzero().T
                ).reshape(-1)
                for r in range(n_replicas)
            ]
        )
        w = weights[index]
        dw = torch.where(upwards[index // in_size], step_up[index], -step_down[index])
        noise = torch.randn(index.shape[0], generator=gen)
        weights[index] = w + dw * (1 + 0.3 * noise) * (1 - w.abs() / bound[index])

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats / n_replicas * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tiles", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrent", type=int, required=True, help="runs sharing the machine")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    provenance = run_provenance()
    record = {
        "n_tiles": args.n_tiles,
        "seed": args.seed,
        "concurrent": args.concurrent,
        **provenance,
        **profile_programming(args.n_tiles, args.seed),
        "update_ms_by_shape": {f"{o}x{i}": update_cost(o, i) for o, i in SHAPES},
        # pulses fired follow |d|: the cost of one update of the first layer by error size
        "update_ms_256x784_by_error_std": {
            str(std): update_cost(256, 784, std) for std in (0.001, 0.01, 0.03, 0.1, 0.3)
        },
    }
    # a copy's error is two reads' output noise (0.1 each): std 0.1 * sqrt(2)
    record["aihwkit_update_ms_256x784_copy_error"] = update_cost(256, 784, 0.1 * 2**0.5)
    aihwkit_ms = record["aihwkit_update_ms_256x784_copy_error"]
    record["dense_torch_update_ms_per_replica_256x784"] = dense_torch_update_ms()
    record["dense_torch_over_aihwkit"] = (
        record["dense_torch_update_ms_per_replica_256x784"] / aihwkit_ms
    )
    fired = fired_fraction(256, 784, 0.1 * 2**0.5)
    record["fired_fraction_256x784_copy_error"] = fired
    record["aihwkit_ns_per_fired_weight"] = aihwkit_ms * 1e6 / (fired * 256 * 784)
    record["sparse_torch_update_ms_per_replica_256x784"] = sparse_torch_update_ms(fired)
    record["sparse_torch_over_aihwkit"] = (
        record["sparse_torch_update_ms_per_replica_256x784"] / aihwkit_ms
    )
    record["update_share"] = record["aihwkit_update_s"] / record["program_s"]
    atomic_write_json(Path(args.out), {"records": [record]})
    print(record)


if __name__ == "__main__":
    main()
