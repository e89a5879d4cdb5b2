"""Per-epoch cost of paper-settings training, split into its parts, beside its float floor.

What it measures, for every ``n_tiles`` x ``variant`` asked for (the paper's MNIST network and
preset through the runner's own :func:`analog_tt.runs.models.build_model`, AGAD, BL 31, batch 64,
``AnalogSGD`` lr 0.1, one torch thread):

training
    ``--warmup`` untimed batches, then ``--batches`` timed ones, in chunks that alternate op
    counting off and on (the same model: ``count_ops`` is switched on the simulator tiles, so
    both see the same weights and pulse densities). Inside the timed batches the multi-tile
    simulator tiles are timed per part: ``forward`` and ``backward`` (the replica MVMs),
    ``counting`` (the bound-management count, :meth:`_count_bound_management`), ``update_A``
    (the gradient-tile update, ``update`` minus the transfer) and ``transfer`` (read of one
    column of A, the digital H update and the write to every replica); ``digital`` is the rest
    of the batch (loss, activations, autograd, the optimizer). ``seconds_per_epoch`` is the
    median batch time x 938 batches.
real training, not the first batches
    The runs' auto-scale maxima start at 1.0 (``auto_scale_start="paper"``) and decay towards the
    batch maxima over tens of epochs (``tau = 0.01 / 64`` per batch); while they are large few
    pulses fire and an update costs little. Here the models start from the batch maxima
    (``auto_scale_start="first"``), the state the runs approach late in training (most pulses),
    so the numbers are an upper end of a run's per-epoch cost, not its first batches.
test read
    One test read of the kind the runs make (``evaluate_epoch``'s tile-average read: every layer
    read by noisy least squares), timed with the read mode given by ``--read-probes``; beside
    it ``read_floor_s``, the float work such a read cannot skip (:func:`time_read_floor`).
programming
    The paper's pulse programming of all layers (``init="program"``) for the ``--program-n-tiles``.
float floor
    ``benchmarks/replica_memory_floor.py``'s noise-free ``bmm`` forward + backward of N replicas,
    measured in the same run (``floor_seconds_per_epoch``).

Every record says how many runs shared the machine (``--concurrent``, as the user states it;
the 1-minute load average is sampled beside it), the machine and the commit. Records are
appended to ``--out`` (atomically), tagged with ``--label`` (e.g. ``before`` / ``after``).

Usage::

    python benchmarks/epoch_cost.py --study run_cost_s5 --label before --concurrent 1
    python benchmarks/epoch_cost.py --study read_engine_s6 --label aihwkit --read-engine aihwkit \
        --read-probes shared --no-training --program-n-tiles --concurrent 1
    python benchmarks/epoch_cost.py --study replica_engine_s8 --label batched \
        --replica-engine batched --no-read --program-n-tiles --n-tiles 1 32 64 --concurrent 1
    python benchmarks/epoch_cost.py --study column_reads_s12 --label "batched, aihwkit reads" \
        --replica-engine batched --column-reads aihwkit --variants replicated_A --no-read \
        --program-n-tiles --n-tiles 1 32 64 --concurrent 1

Pairing (two runs beside each other, as the campaign runs them): start two of these at once,
each with ``--concurrent 2`` and a label naming its neighbour, e.g.
``--study pairing_s6 --n-tiles 32 --no-read --program-n-tiles --label "beside N=1"``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import analog_tt  # noqa: F401  (before aihwkit: the clock helper)

# isort: split
import torch
import torch.nn.functional as F

from analog_tt.core.files import atomic_write_json
from analog_tt.core.provenance import git_commit, machine_info, package_versions, utc_now
from analog_tt.runs.config import RunConfig
from analog_tt.runs.evaluation import accuracy_and_loss
from analog_tt.runs.models import build_model, build_optimizer, initialize, load_dataset
from analog_tt.tiles.readout import analog_linear_layers, build_digital_model, digital_weights
from analog_tt.tiles.tile import MultiTileTransferSimulatorTile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replica_memory_floor import matmul_seconds_per_batch  # noqa: E402

BATCHES_PER_EPOCH = 938
PARTS = ("forward", "backward", "counting", "update_A", "transfer")


class PartTimer:
    """Wraps the simulator tiles' methods of one model with wall-clock accumulators."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.tiles = [m for m in model.modules() if isinstance(m, MultiTileTransferSimulatorTile)]
        for tile in self.tiles:
            self._wrap(tile, "forward", "forward")
            self._wrap(tile, "backward", "backward")
            self._wrap(tile, "update", "update_A")
            self._wrap(tile, "_count_bound_management", "counting")
            for name in ("_transfer_chopped", "_transfer_tt_v1"):
                self._wrap(tile, name, "transfer")

    def _wrap(self, tile: Any, method: str, part: str) -> None:
        inner = getattr(tile, method)
        seconds = self.seconds

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[part] += time.perf_counter() - start

        setattr(tile, method, timed)

    def set_counting(self, on: bool) -> None:
        for tile in self.tiles:
            tile.count_ops = on

    def parts(self) -> dict[str, float]:
        """Exclusive seconds per part (counting out of forward, transfer out of update_A)."""
        s = dict(self.seconds)
        out = {p: s.get(p, 0.0) for p in PARTS}
        out["forward"] -= out["counting"]
        out["update_A"] -= out["transfer"]
        return out

    def reset(self) -> None:
        self.seconds.clear()


def _config(
    n_tiles: int, variant: str, init: str, seed: int, replica_engine: str = "aihwkit"
) -> RunConfig:
    return RunConfig(
        replica_engine=replica_engine,
        dataset="mnist",
        algorithm="agad",
        n_tiles=n_tiles,
        variant=variant,
        bl=31,
        init=init,
        auto_scale_start="first",
        count_ops=False,
        epochs=1,
        seed=seed,
    )


def _loadavg() -> float:
    return os.getloadavg()[0]


def time_training(n_tiles: int, variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Per-batch times with counting off and on, and the part split of each."""
    config = _config(n_tiles, variant, "xavier_uniform", args.seed, args.replica_engine)
    torch.manual_seed(args.seed)
    model = build_model(config)
    optimizer = build_optimizer(model, config)
    x, y, _, _ = load_dataset(config)
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(args.seed))
    cursor = 0

    def step() -> float:
        nonlocal cursor
        if cursor + 64 > order.numel():
            cursor = 0
        idx = order[cursor : cursor + 64]
        cursor += 64
        start = time.perf_counter()
        optimizer.zero_grad()
        F.nll_loss(model(x[idx]), y[idx]).backward()
        optimizer.step()
        return time.perf_counter() - start

    timer = PartTimer(model)
    if args.column_reads == "aihwkit":
        for tile in timer.tiles:
            tile.batched_column_reads = False
    for _ in range(args.warmup):
        step()
    batch_times: dict[bool, list[float]] = {False: [], True: []}
    parts: dict[bool, dict[str, float]] = {False: defaultdict(float), True: defaultdict(float)}
    loads = []
    chunk = max(1, args.batches // 8)
    done = 0
    while done < args.batches:
        for counting in (False, True):
            timer.set_counting(counting)
            timer.reset()
            loads.append(_loadavg())
            batch_times[counting].extend(step() for _ in range(chunk))
            for part, sec in timer.parts().items():
                parts[counting][part] += sec
        done += chunk
    records = []
    for counting in (False, True):
        times = batch_times[counting]
        per_batch = {p: s / len(times) for p, s in parts[counting].items()}
        median = statistics.median(times)
        per_batch["digital"] = max(0.0, statistics.mean(times) - sum(per_batch.values()))
        records.append(
            {
                "n_tiles": n_tiles,
                "variant": variant,
                "count_ops": counting,
                "batches_timed": len(times),
                "warmup_batches": args.warmup,
                "seconds_per_batch_median": median,
                "seconds_per_batch_mean": statistics.mean(times),
                "seconds_per_epoch": median * BATCHES_PER_EPOCH,
                "parts_seconds_per_epoch": {
                    p: s * BATCHES_PER_EPOCH for p, s in sorted(per_batch.items())
                },
                "loadavg_1min_during": statistics.mean(loads),
            }
        )
    return records


def time_test_read(n_tiles: int, args: argparse.Namespace) -> float:
    """Seconds of one test evaluation (tile-average noisy read of every layer + the test set).

    What ``evaluate_epoch`` does for the tile average, with the read engine of
    ``--read-engine`` (``auto``: the batched torch forward for shared probes at N > 1;
    ``aihwkit``: every replica's aihwkit forward, the code before it).
    """
    config = _config(n_tiles, "shared_A", "xavier_uniform", args.seed)
    if args.read_probes != "per_replica":
        config = config.replace(read_probes=args.read_probes)
    torch.manual_seed(args.seed)
    model = build_model(config)
    _, _, x_test, y_test = load_dataset(config)
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(args.seed)
    snapshot = {
        name: digital_weights(
            layer, "lstsq", generator=generator, probes=config.read_probes, engine=args.read_engine
        )
        for name, layer in analog_linear_layers(model).items()
    }
    accuracy_and_loss(build_digital_model(model, snapshot), x_test, y_test)
    return time.perf_counter() - start


def time_read_floor(n_tiles: int, args: argparse.Namespace) -> float:
    """Seconds of the float work no noisy read of N replicas can skip on a CPU.

    Per layer: the probes ``X [10 in, in]`` through every replica (one noise-free float32
    mat-mul each, ``N * 10 in * in * out`` multiply-adds), one standard normal per output (the
    output noise), and one float64 normal-equations solve; then the test set through the
    digital network. What the batched read adds on top is its DAC/ADC rounding, clipping and
    bound-management rounds.
    """
    generator = torch.Generator().manual_seed(args.seed)
    shapes = ((256, 784), (128, 256), (10, 128))
    weights = [torch.randn(n_tiles, out, inp, generator=generator) * 0.1 for out, inp in shapes]
    x_test = torch.randn(10_000, 784, generator=generator)
    start = time.perf_counter()
    for w in weights:
        x = torch.randn(10 * w.shape[2], w.shape[2], generator=generator)
        total = torch.zeros(x.shape[0], w.shape[1], dtype=torch.float64)
        for replica in w:
            y = x @ replica.T
            y.add_(torch.randn(y.shape, generator=generator), alpha=0.1)
            total += y
        xd = x.double()
        torch.cholesky_solve(xd.T @ total, torch.linalg.cholesky(xd.T @ xd))
    hidden = x_test
    for w in weights:
        hidden = torch.sigmoid(hidden @ w[0].T)
    return time.perf_counter() - start


def time_programming(n_tiles: int, args: argparse.Namespace) -> float:
    """Seconds of the paper's pulse programming of all three layers."""
    config = _config(n_tiles, "shared_A", "program", args.seed)
    torch.manual_seed(args.seed)
    model = build_model(config)
    start = time.perf_counter()
    initialize(model, config)
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    started = utc_now()
    common = {
        "label": args.label,
        "study": args.study,
        "concurrent": args.concurrent,
        "git_commit": git_commit(),
        "machine": machine_info(),
        "versions": package_versions(),
        "started_utc": started,
        "preset": "paper_mnist_config AGAD BL 31, batch 64, AnalogSGD lr 0.1, 784-256-128-10",
        "auto_scale_state": "first (settled batch maxima; see the module docstring)",
        "read_probes": args.read_probes,
        "read_engine": args.read_engine,
        "replica_engine": args.replica_engine,
        "column_reads": args.column_reads,
    }
    floors = {n: matmul_seconds_per_batch(n, args.floor_repeats) for n in args.n_tiles}
    reads = {n: time_test_read(n, args) for n in args.n_tiles} if not args.no_read else {}
    read_floors = {n: time_read_floor(n, args) for n in args.n_tiles} if not args.no_read else {}
    programs = {n: time_programming(n, args) for n in args.program_n_tiles}
    records = []
    if args.no_training:
        for n in args.n_tiles:
            rec = dict(common, n_tiles=n, variant=None, count_ops=None, seconds_per_epoch=None)
            rec.update(floor_seconds_per_epoch=floors[n] * BATCHES_PER_EPOCH)
            rec.update(test_read_s=reads.get(n), program_s=programs.get(n))
            rec.update(read_floor_s=read_floors.get(n))
            records.append(rec)
            print(
                f"N={n:3d} read {rec['test_read_s'] or 0:5.2f} s, floor "
                f"{rec['read_floor_s'] or 0:5.2f} s",
                flush=True,
            )
        return records
    for n in args.n_tiles:
        for variant in args.variants:
            for rec in time_training(n, variant, args):
                rec.update(common)
                rec["floor_seconds_per_epoch"] = floors[n] * BATCHES_PER_EPOCH
                rec["test_read_s"] = reads.get(n)
                rec["read_floor_s"] = read_floors.get(n)
                rec["program_s"] = programs.get(n)
                records.append(rec)
                print(
                    f"N={n:3d} {variant:12s} count={rec['count_ops']!s:5s} "
                    f"{rec['seconds_per_epoch']:6.1f} s/epoch  floor "
                    f"{rec['floor_seconds_per_epoch']:5.2f}  read {rec['test_read_s'] or 0:5.1f} s  "
                    f"parts {json.dumps({k: round(v, 2) for k, v in rec['parts_seconds_per_epoch'].items()})}",
                    flush=True,
                )
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tiles", type=int, nargs="+", default=[1, 4, 8, 16, 32, 64])
    parser.add_argument("--variants", nargs="+", default=["shared_A", "replicated_A"])
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--batches", type=int, default=64, help="timed batches per setting")
    parser.add_argument("--program-n-tiles", type=int, nargs="*", default=[1, 4])
    parser.add_argument("--read-probes", default="per_replica")
    parser.add_argument("--read-engine", default="auto", choices=["auto", "aihwkit"])
    parser.add_argument(
        "--replica-engine",
        default="aihwkit",
        choices=["aihwkit", "batched"],
        help="training forward / backward of the replicas (RunConfig.replica_engine)",
    )
    parser.add_argument(
        "--column-reads",
        default="engine",
        choices=["engine", "aihwkit"],
        help="replicated_A's transfer reads: the replica engine's (batched: one pass) or one "
        "aihwkit forward per gradient tile whatever the engine (the A/B of session 12)",
    )
    parser.add_argument("--no-read", action="store_true")
    parser.add_argument("--no-training", action="store_true", help="reads / programming only")
    parser.add_argument("--floor-repeats", type=int, default=100)
    parser.add_argument("--concurrent", type=int, required=True, help="runs sharing the machine")
    parser.add_argument("--label", required=True, help="e.g. before / after")
    parser.add_argument("--study", required=True, help="which comparison the records belong to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/epoch_cost.json")
    parser.add_argument("--dry", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)
    records = run(args)
    if args.dry:
        return
    out = Path(args.out)
    old = json.loads(out.read_text())["records"] if out.exists() else []
    atomic_write_json(out, {"records": old + records})
    print(f"wrote {len(records)} records to {out}")


if __name__ == "__main__":
    main()
