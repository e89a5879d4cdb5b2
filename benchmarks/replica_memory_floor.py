"""Lower bound on the CPU cost of simulating N weight replicas: the floating-point mat-muls alone.

Why this exists: issue #3 asks for a per-epoch time at N = 64 within 1.25x of N = 1. On analog
hardware the N replicas compute in parallel; a CPU simulation has to stream N different weight
matrices through the memory hierarchy for every mini-batch, where N = 1 streams one matrix and
reuses it for all 64 samples (a cache-friendly GEMM). This script times *only* the noise-free
floating-point forward and backward mat-muls of the paper's 784-256-128-10 network, written in
the cheapest form torch offers (one ``bmm`` over all replicas, no Python loop, no analog noise,
no IO quantisation, no pulsed update), for a batch of 64 split into N slices. Any simulator,
aihwkit's or ours, does at least this work, so ``floor_ratio`` (N vs 1) bounds from below how
close a CPU simulation can get to "N replicas cost as much as one".

With ``--tile-speed FILE`` (a ``benchmarks/tile_speed.py`` result measured on the same quiet
machine) each record also gets a lower bound on a whole training epoch with N replicas,
``bound_seconds_per_epoch = T_1 - F_1 + F_N`` (``T_1``: our measured N = 1 epoch, shared_A,
paper start; ``F_N``: the mat-mul floor above): the rest of an epoch's work (noise, IO
quantisation, the A update, transfers) does not shrink when the batch is split, so at best the
replicas add their extra mat-mul time. ``bound_ratio = bound / T_1`` is then compared with the
1.25x target of issue #3.

Usage: ``python benchmarks/replica_memory_floor.py [--n-tiles 1 4 16 64] [--repeats 200]
[--tile-speed benchmarks/results/tile_speed_quiet.json]``; writes
``benchmarks/results/replica_memory_floor.json`` (atomically) with the machine, the package
versions and the 1-minute load average. Run it on a quiet machine: other processes inflate the
large-N mat-muls much more than the small ones.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from analog_tt.core.files import atomic_write_json
from analog_tt.core.provenance import machine_info, package_versions

SIZES = (784, 256, 128, 10)
BATCH_SIZE = 64
BATCHES_PER_EPOCH = 938  # ceil(60000 / 64)


def _time(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def matmul_seconds_per_batch(n_tiles: int, repeats: int, seed: int = 0) -> float:
    """Seconds per mini-batch of forward + backward mat-muls with ``n_tiles`` replicas.

    The batch of 64 is split into ``n_tiles`` equal slices (``n_tiles`` must divide 64); replica
    ``i`` multiplies its own ``[out, in]`` matrix with its slice ``[64 / n_tiles, in]`` (forward)
    and its transpose with the slice's output gradient ``[64 / n_tiles, out]`` (backward).
    """
    if BATCH_SIZE % n_tiles:
        raise ValueError(f"n_tiles must divide {BATCH_SIZE}, got {n_tiles}")
    gen = torch.Generator().manual_seed(seed)
    rows = BATCH_SIZE // n_tiles
    total = 0.0
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        weights = torch.randn(n_tiles, n_out, n_in, generator=gen)
        x = torch.randn(n_tiles, rows, n_in, generator=gen)
        d = torch.randn(n_tiles, rows, n_out, generator=gen)
        total += _time(lambda w=weights, x=x: torch.bmm(x, w.transpose(1, 2)), repeats)
        total += _time(lambda w=weights, d=d: torch.bmm(d, w), repeats)
    return total


def _measured_epoch_n1(path: Path) -> float:
    """Seconds per epoch of analog_tt, shared_A, N = 1, paper start, no op counting."""
    data = json.loads(path.read_text())
    records = data["records"] if isinstance(data, dict) else data
    for rec in records:
        if (rec["impl"], rec["variant"], rec["n_tiles"], rec["auto_scale_start"]) == (
            "analog_tt",
            "shared_A",
            1,
            "paper",
        ) and not rec.get("count_ops"):
            return float(rec["seconds_per_epoch"])
    raise ValueError(f"{path} has no analog_tt/shared_A/N=1/paper record; run tile_speed.py")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tiles", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "results" / "replica_memory_floor.json",
    )
    parser.add_argument(
        "--tile-speed",
        type=Path,
        default=None,
        help="tile_speed.py result (same machine, quiet) for the whole-epoch lower bound",
    )
    args = parser.parse_args(argv)
    for n in args.n_tiles:
        if n < 1 or BATCH_SIZE % n:
            parser.error(f"--n-tiles values must divide {BATCH_SIZE}, got {n}")
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    per_batch = {n: matmul_seconds_per_batch(n, args.repeats) for n in args.n_tiles}
    base = per_batch.get(1)
    full_epoch_1 = _measured_epoch_n1(args.tile_speed) if args.tile_speed else None
    if full_epoch_1 is not None and base is None:
        parser.error("--tile-speed needs n_tiles 1 among --n-tiles")
    records = []
    for n, seconds in per_batch.items():
        record = {
            "n_tiles": n,
            "seconds_per_batch": seconds,
            "ms_per_batch": seconds * 1e3,
            "seconds_per_epoch": seconds * BATCHES_PER_EPOCH,
            "floor_ratio": None if base is None else seconds / base,
        }
        if full_epoch_1 is not None:
            bound = full_epoch_1 - base * BATCHES_PER_EPOCH + record["seconds_per_epoch"]
            record["measured_epoch_n1_s"] = full_epoch_1
            record["bound_seconds_per_epoch"] = bound
            record["bound_ratio"] = bound / full_epoch_1
        records.append(record)
        ratio = "" if base is None else f", {record['floor_ratio']:.2f}x N = 1"
        print(
            f"N = {n:3d}: forward+backward mat-muls {seconds * 1e3:.3f} ms/batch, "
            f"{record['seconds_per_epoch']:.2f} s/epoch{ratio}",
            flush=True,
        )
    atomic_write_json(
        args.out,
        {
            "benchmark": "replica_memory_floor",
            "what": "noise-free float forward+backward bmm of 784-256-128-10, batch 64 split "
            "into n_tiles slices, median over repeats; a lower bound for any CPU simulation",
            "batch_size": BATCH_SIZE,
            "batches_per_epoch": BATCHES_PER_EPOCH,
            "threads": args.threads,
            "repeats": args.repeats,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg()[0],
            "tile_speed_file": None if args.tile_speed is None else str(args.tile_speed),
            "records": records,
            "machine": machine_info(),
            "packages": package_versions(),
        },
    )


if __name__ == "__main__":
    main()
