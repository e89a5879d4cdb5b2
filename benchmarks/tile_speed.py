"""Training speed of the multi-tile Tiki-Taka tile next to aihwkit's own transfer tiles.

Times training mini-batches (forward, loss, backward, ``AnalogSGD.step``) of the paper's
784-256-128-10 sigmoid network (LogSoftmax + NLL, batch 64, ``AnalogSGD`` lr 0.1 with
``regroup_param_groups``) on MNIST with the paper preset
(:func:`analog_tt.presets.paper_mnist_config`, AGAD, BL 31) for

``analog_tt``
    :class:`analog_tt.tiles.tile.MultiTileTransferTile`, every ``n_tiles`` x ``variant`` x
    ``auto_scale_start`` asked for (the ``"zero"`` start only for the ``--zero-n-tiles``, as it
    costs seconds per batch), plus ``count_ops=True`` twins of the ``shared_A`` / ``"paper"``
    configs (``--count-ops-n-tiles``) to price the operation counting;
``aihwkit_torch``
    aihwkit 1.1.0's python ``TorchTransferTile`` (``rpu_config.tile_class``) on the same
    ``DynamicTransferCompound``, N = 1. Its running maxima start at 0 (``"zero"``); a
    ``"paper"`` twin sets them to 1.0 right after construction (no code is patched);
``aihwkit_cpp``
    the same device config in a plain ``UnitCellRPUConfig`` (aihwkit's default C++ tile), N = 1.
    Its running maxima start at the first observed batch maximum (``"first"``): aihwkit's
    ``ChoppedTransferRPUDeviceMetaParameter::updateAutoScale`` sets ``m = new_val`` while
    ``m <= 0`` and ``populate`` initialises ``m_x_ = m_d_ = 0``.

All models are built first; then the timing runs in ``--rounds`` rounds, each round visiting the
configs in a fresh random order and timing ``batches / rounds`` consecutive batches of each, so
that the load of the (shared) machine affects all configs alike. The first round is preceded by
``--warmup`` untimed batches per config. Per config the record holds the mean, std and median of
the per-batch times and the extrapolation to a 60000-image epoch (938 batches of 64) from the
median (``seconds_per_epoch``) and from the mean. ``torch.set_num_threads(1)`` unless
``--threads`` says otherwise. The 1-minute load average (``os.getloadavg``) is sampled around
every timed chunk.

Example::

    python benchmarks/tile_speed.py --quick
    python benchmarks/tile_speed.py --n-tiles 1 4 16 64 --batches 20 --rounds 4
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import analog_tt  # noqa: F401  (before torch: makes aihwkit's C++ RNG seedable)

# isort: split
import torch
from aihwkit.nn import AnalogLinear
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.configs.configs import UnitCellRPUConfig
from aihwkit.simulator.tiles.transfer import TorchTransferTile
from torch import nn

from analog_tt.core.files import atomic_write_json
from analog_tt.core.provenance import git_commit, machine_info, package_versions, utc_now
from analog_tt.core.seeding import seed_everything
from analog_tt.data import load_mnist
from analog_tt.presets import paper_mnist_config

SIZES = (784, 256, 128, 10)
BATCH_SIZE = 64
LR = 0.1
EPOCH_SAMPLES = 60000
BATCHES_PER_EPOCH = math.ceil(EPOCH_SAMPLES / BATCH_SIZE)  # 938


@dataclass
class BenchConfig:
    """One timed configuration."""

    impl: str
    variant: str
    n_tiles: int
    auto_scale_start: str
    count_ops: bool = False
    batches: int = 20
    times: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        ops = "+count_ops" if self.count_ops else ""
        return f"{self.impl}/{self.variant}/N={self.n_tiles}/{self.auto_scale_start}{ops}"


def _reference_parts() -> dict[str, Any]:
    cfg = paper_mnist_config(1, "shared_A", bl=31, lr=LR)
    return {
        "device": cfg.device,
        "forward": cfg.forward,
        "backward": cfg.backward,
        "update": cfg.update,
        "mapping": cfg.mapping,
    }


def rpu_config(bench: BenchConfig) -> Any:
    """The rpu config of a benchmark configuration (fresh objects every call)."""
    if bench.impl == "analog_tt":
        return paper_mnist_config(
            bench.n_tiles,
            bench.variant,
            bl=31,
            lr=LR,
            auto_scale_start=bench.auto_scale_start,
            count_ops=bench.count_ops,
        )
    if bench.impl == "aihwkit_torch":
        return UnitCellRPUConfig(**_reference_parts(), tile_class=TorchTransferTile)
    if bench.impl == "aihwkit_cpp":
        return UnitCellRPUConfig(**_reference_parts())
    raise ValueError(f"unknown impl {bench.impl!r}")


def build_model(bench: BenchConfig) -> nn.Sequential:
    """784-256-128-10 sigmoid network with LogSoftmax output on the config's tiles."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        layer = AnalogLinear(n_in, n_out, bias=True, rpu_config=rpu_config(bench))
        if bench.impl == "aihwkit_torch" and bench.auto_scale_start == "paper":
            sim = layer.analog_module.tile
            sim.m_x = 1.0
            sim.m_d = 1.0
        layers.append(layer)
        layers.append(nn.Sigmoid() if i < len(SIZES) - 2 else nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


class Runner:
    """Model, optimiser and data cursor of one configuration."""

    def __init__(self, bench: BenchConfig, x: torch.Tensor, y: torch.Tensor, seed: int) -> None:
        self.bench = bench
        self.model = build_model(bench)
        self.optimizer = AnalogSGD(self.model.parameters(), lr=LR)
        self.optimizer.regroup_param_groups(self.model)
        self.loss = nn.NLLLoss()
        gen = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(x.shape[0], generator=gen)
        self.x = x
        self.y = y
        self.cursor = 0

    def step(self) -> float:
        """Train on the next mini-batch; return its wall time in seconds."""
        if self.cursor + BATCH_SIZE > self.order.numel():
            self.cursor = 0
        idx = self.order[self.cursor : self.cursor + BATCH_SIZE]
        self.cursor += BATCH_SIZE
        xb, yb = self.x[idx], self.y[idx]
        start = time.perf_counter()
        self.optimizer.zero_grad()
        loss = self.loss(self.model(xb), yb)
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - start


def make_configs(args: argparse.Namespace) -> list[BenchConfig]:
    """All configurations of the run, in a fixed order."""
    configs = []
    for variant in args.variants:
        for n_tiles in args.n_tiles:
            for start in args.starts:
                if start == "zero" and n_tiles not in args.zero_n_tiles:
                    continue
                if start == "zero" and variant != "shared_A":
                    continue
                configs.append(BenchConfig("analog_tt", variant, n_tiles, start))
    for n_tiles in args.count_ops_n_tiles:
        if "shared_A" in args.variants:
            configs.append(BenchConfig("analog_tt", "shared_A", n_tiles, "paper", count_ops=True))
    for start in ("zero", "paper"):
        if start in args.starts:
            configs.append(BenchConfig("aihwkit_torch", "shared_A", 1, start))
    configs.append(BenchConfig("aihwkit_cpp", "shared_A", 1, "first"))
    for bench in configs:
        zero = bench.auto_scale_start == "zero"
        bench.batches = args.zero_batches if zero else args.batches
    return configs


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Build every configuration, time them interleaved and return the records."""
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    x, y = load_mnist(args.data_root, train=True)
    configs = make_configs(args)
    print(f"{len(configs)} configs, {args.rounds} rounds, torch threads {args.threads}")
    runners = []
    for bench in configs:
        seed_everything(args.seed)
        runners.append(Runner(bench, x, y, args.seed))
    load_start = os.getloadavg()
    started = utc_now()
    wall = time.perf_counter()
    for runner in runners:  # warm-up
        for _ in range(args.warmup):
            runner.step()
    shuffle = random.Random(args.seed)
    chunks = {id(r): _split(r.bench.batches, args.rounds) for r in runners}
    for round_idx in range(args.rounds):
        order = list(runners)
        shuffle.shuffle(order)
        for runner in order:
            n = chunks[id(runner)][round_idx]
            if n == 0:
                continue
            load_before = os.getloadavg()[0]
            times = [runner.step() for _ in range(n)]
            runner.bench.times += times
            runner.bench.loads += [load_before, os.getloadavg()[0]]
        print(f"round {round_idx + 1}/{args.rounds} done ({time.perf_counter() - wall:.0f} s)")
    load_end = os.getloadavg()

    common = {
        "batch_size": BATCH_SIZE,
        "batches_per_epoch": BATCHES_PER_EPOCH,
        "network": "784-256-128-10 sigmoid, LogSoftmax + NLL",
        "optimizer": f"AnalogSGD lr {LR}, regroup_param_groups",
        "preset": "paper_mnist_config(n_tiles, variant, bl=31, lr=0.1)",
        "torch_threads": args.threads,
        "warmup_batches": args.warmup,
        "rounds": args.rounds,
        "started_utc": started,
        "finished_utc": utc_now(),
        "loadavg_start": list(load_start),
        "loadavg_end": list(load_end),
        "machine": machine_info(),
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    records = []
    for bench in configs:
        times = bench.times
        mean = statistics.fmean(times)
        median = statistics.median(times)
        records.append(
            {
                "impl": bench.impl,
                "variant": bench.variant,
                "n_tiles": bench.n_tiles,
                "auto_scale_start": bench.auto_scale_start,
                "count_ops": bench.count_ops,
                "seconds_per_epoch": median * BATCHES_PER_EPOCH,
                "seconds_per_epoch_from_mean": mean * BATCHES_PER_EPOCH,
                "seconds_per_batch": {
                    "mean": mean,
                    "std": statistics.stdev(times) if len(times) > 1 else 0.0,
                    "median": median,
                    "min": min(times),
                    "max": max(times),
                },
                "n_batches_timed": len(times),
                "loadavg_1min_during": {
                    "mean": statistics.fmean(bench.loads),
                    "min": min(bench.loads),
                    "max": max(bench.loads),
                },
                **common,
            }
        )
    return records


def print_table(records: list[dict[str, Any]]) -> None:
    """Seconds per epoch per configuration, as a plain-text table."""
    print(
        f"{'impl':14s} {'variant':13s} {'N':>3s} {'start':6s} {'ops':4s} "
        f"{'s/batch':>8s} {'std':>7s} {'s/epoch':>9s} {'n':>3s} {'load':>5s}"
    )
    for r in records:
        spb = r["seconds_per_batch"]
        print(
            f"{r['impl']:14s} {r['variant']:13s} {r['n_tiles']:3d} {r['auto_scale_start']:6s} "
            f"{'on' if r['count_ops'] else 'off':4s} {spb['median']:8.4f} {spb['std']:7.4f} "
            f"{r['seconds_per_epoch']:9.1f} {r['n_batches_timed']:3d} "
            f"{r['loadavg_1min_during']['mean']:5.2f}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tiles", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["shared_A", "replicated_A"],
        choices=["shared_A", "replicated_A"],
    )
    parser.add_argument(
        "--starts",
        nargs="+",
        default=["paper", "first", "zero"],
        choices=["paper", "first", "zero"],
        help="auto_scale_start options of analog_tt (and of the aihwkit_torch twins)",
    )
    parser.add_argument(
        "--zero-n-tiles",
        type=int,
        nargs="*",
        default=[1, 64],
        help="n_tiles timed with the slow 'zero' start (shared_A only)",
    )
    parser.add_argument(
        "--count-ops-n-tiles",
        type=int,
        nargs="*",
        default=[1, 64],
        help="n_tiles of the shared_A/'paper' configs also timed with count_ops=True",
    )
    parser.add_argument("--batches", type=int, default=20, help="timed batches per config")
    parser.add_argument(
        "--zero-batches", type=int, default=20, help="timed batches of the 'zero' start configs"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches per config")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved timing rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--out", default="benchmarks/results/tile_speed.json")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="N in {1, 64}, shared_A, 'paper' start (+ aihwkit twins), 8 batches, 2 rounds",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n_tiles = [1, 64]
        args.variants = ["shared_A"]
        args.starts = ["paper"]
        args.zero_n_tiles = []
        args.count_ops_n_tiles = []
        args.batches = args.zero_batches = 8
        args.warmup = 2
        args.rounds = 2
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    records = run(args)
    print_table(records)
    if args.out:
        atomic_write_json(args.out, records)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
