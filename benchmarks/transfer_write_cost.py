"""What bounds the transfer at large N: the one-column write to N replicas' device state.

Every mini-batch the transfer writes one column of H's integer steps into every replica C_i, one
aihwkit pulsed ``update`` per replica (``MultiTileTransferSimulatorTile._write_columns``). At
N = 64 this write is the largest part of a shared_A epoch (``benchmarks/epoch_cost.py``'s
``transfer``). This separates its causes on real writes: the column writes that a shared_A
model with the batched engine makes after ``--warmup`` batches of real training (settled
auto-scale maxima, as in ``epoch_cost.py``) are captured for ``--batches`` batches and replayed

``own replicas``
    each write to the N replicas, as training does (N calls on N tiles);
``one replica``
    each write N times to replica 0: the same calls and pulses on one tile's state.

Times are CPU time of this process per call (``time.process_time``), the replicas restored after
every repeat. Beside them, ``nonzero_rows``, the mean fraction of a write's rows with a non-zero
step (the rows that fire a pulse), and the device state one write can touch: weights plus
aihwkit's per-weight hidden parameters, for one replica and for N. Measure on a quiet machine.

Usage::

    python benchmarks/transfer_write_cost.py --n-tiles 64 --concurrent 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import analog_tt  # noqa: F401  (before aihwkit: the clock helper)

# isort: split
import torch
import torch.nn.functional as F

from analog_tt.core.files import atomic_write_json
from analog_tt.core.provenance import run_provenance
from analog_tt.runs.models import build_model, build_optimizer, load_dataset
from analog_tt.tiles.readout import analog_linear_layers
from analog_tt.tiles.tile import MultiTileTransferSimulatorTile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from epoch_cost import _config  # noqa: E402

OUT = Path("benchmarks/results/transfer_write_cost.json")


def capture(n_tiles: int, warmup: int, batches: int, seed: int) -> tuple[list, list[list]]:
    """A trained shared_A model's replica tiles (C++) per layer and its writes ``(k, d, lr)``."""
    config = _config(n_tiles, "shared_A", "xavier_uniform", seed, replica_engine="batched")
    torch.manual_seed(seed)
    model = build_model(config)
    optimizer = build_optimizer(model, config)
    x, y, _, _ = load_dataset(config)
    sims = [next(layer.analog_tiles()).tile for layer in analog_linear_layers(model).values()]
    writes: list[list] = [[] for _ in sims]
    recording = False
    original = MultiTileTransferSimulatorTile._write_columns

    def recorder(self, k, write_values, like, lr, nb):  # noqa: ANN001
        if recording:
            writes[next(i for i, s in enumerate(sims) if s is self)].append(
                (k, write_values.detach().clone(), lr)
            )
        return original(self, k, write_values, like, lr, nb)

    MultiTileTransferSimulatorTile._write_columns = recorder
    try:
        for i in range(warmup + batches):
            recording = i >= warmup
            idx = torch.arange(i * 64, (i + 1) * 64) % x.shape[0]
            optimizer.zero_grad()
            F.nll_loss(model(x[idx]), y[idx]).backward()
            optimizer.step()
    finally:
        MultiTileTransferSimulatorTile._write_columns = original
    return [[r.tile for r in sim.replicas] for sim in sims], writes


def time_writes(tiles: list[Any], writes: list[tuple], repeats: int) -> dict[str, float]:
    """CPU microseconds per call of replaying ``writes`` to N replicas and N times to one."""
    in_size = tiles[0].get_x_size()
    saved = [t.get_weights().clone() for t in tiles]

    def cpu_us(targets: list[Any]) -> float:
        seconds = 0.0
        for _ in range(repeats):
            for k, values, lr in writes:
                e_k = torch.zeros(1, in_size)
                e_k[0, k] = 1.0
                d = values.reshape(1, -1)
                start = time.process_time()
                for cpp in targets:
                    cpp.set_learning_rate(lr)
                    cpp.update(e_k, d, False, False, False, False)
                seconds += time.process_time() - start
            for t, w in zip(tiles, saved, strict=True):
                t.set_weights(w)
        return seconds / (repeats * len(writes) * len(targets)) * 1e6

    return {
        "own_replicas_us_per_call": cpu_us(tiles),
        "one_replica_us_per_call": cpu_us([tiles[0]] * len(tiles)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tiles", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=80)
    parser.add_argument("--batches", type=int, default=20, help="batches whose writes are kept")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrent", type=int, required=True, help="runs sharing the machine")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    provenance = run_provenance()
    layers, writes = capture(args.n_tiles, args.warmup, args.batches, args.seed)
    records = []
    for li, (tiles, layer_writes) in enumerate(zip(layers, writes, strict=True)):
        if not layer_writes:
            raise RuntimeError(f"layer {li} made no transfer write in {args.batches} batches")
        state = tiles[0].get_hidden_parameters().numel() + tiles[0].get_weights().numel()
        rec = {
            "layer": li,
            "shape": list(tiles[0].get_weights().shape),
            "n_tiles": args.n_tiles,
            "writes": len(layer_writes),
            "nonzero_rows": sum(float((v != 0).float().mean()) for _, v, _ in layer_writes)
            / len(layer_writes),
            "device_state_mb_per_replica": state * 4 / 2**20,
            "device_state_mb_all_replicas": state * 4 * len(tiles) / 2**20,
            **time_writes(tiles, layer_writes, args.repeats),
        }
        rec["own_over_one"] = rec["own_replicas_us_per_call"] / rec["one_replica_us_per_call"]
        records.append(rec)
        print(rec, flush=True)
    common = {
        "concurrent": args.concurrent,
        "replica_engine": "batched",
        "variant": "shared_A",
        "warmup_batches": args.warmup,
        "repeats": args.repeats,
        "seed": args.seed,
        **provenance,
    }
    atomic_write_json(Path(args.out), {"records": [dict(common, **r) for r in records]})


if __name__ == "__main__":
    main()
