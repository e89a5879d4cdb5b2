"""Why replicated_A's gradient-tile update costs more per sample than shared_A's.

``replicated_A`` sends each replica's slice of the mini-batch (64 / N samples) to its own
gradient tile A_i; ``shared_A`` sends the whole batch to one A. The same samples cost aihwkit's
pulsed update about twice as much in the first case (``benchmarks/epoch_cost.py``'s
``update_A``). This separates the candidate causes on one real batch: the (x, d) that the N
gradient tiles of an N-replica ``replicated_A`` model receive after ``--warmup`` batches of real
training (settled auto-scale maxima, as in ``epoch_cost.py``) are applied

``own tiles``
    each slice to its own A_i, as training does (N calls on N tiles);
``k distinct tiles``
    slice j to A_(j mod k), k = 1, 2, 4, ...: the same data and calls over fewer tiles;
``one tile, one call``
    all slices to A_0 in one call (what ``shared_A`` does).

Times are CPU time of the process, the tiles restored after every repeat. Beside it, the device state one tile's update can
touch: its weights plus aihwkit's per-weight hidden parameters (``get_hidden_parameters``:
bounds, ``dw_min`` up/down, slopes, ...), in MB, for one tile and for N. Measure on a quiet
machine.

Usage::

    python benchmarks/update_locality.py --n-tiles 32 --concurrent 1
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from epoch_cost import _config  # noqa: E402

OUT = Path("benchmarks/results/update_locality.json")


class _Recorder:
    """Stands in for a gradient tile's C++ tile and keeps the last (x, d) it was updated with."""

    def __init__(self, inner: Any, store: dict, key: tuple[int, int]) -> None:
        self.__dict__.update(_inner=inner, _store=store, _key=key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def update(self, x: torch.Tensor, d: torch.Tensor, *args: Any) -> Any:
        self._store[self._key] = (x.clone(), d.clone())
        return self._inner.update(x, d, *args)


def capture(n_tiles: int, warmup: int, seed: int) -> tuple[list[list[Any]], dict]:
    """A trained replicated_A model's gradient tiles (C++) and their last batch's (x, d)."""
    config = _config(n_tiles, "replicated_A", "xavier_uniform", seed)
    torch.manual_seed(seed)
    model = build_model(config)
    optimizer = build_optimizer(model, config)
    x, y, _, _ = load_dataset(config)
    store: dict = {}
    layers = []
    for li, layer in enumerate(analog_linear_layers(model).values()):
        tile = next(layer.analog_tiles()).tile
        layers.append([g.tile for g in tile.grad_tiles])
        for k, grad in enumerate(tile.grad_tiles):
            grad.tile = _Recorder(grad.tile, store, (li, k))
    for i in range(warmup):
        idx = torch.arange(i * 64, (i + 1) * 64) % x.shape[0]
        optimizer.zero_grad()
        F.nll_loss(model(x[idx]), y[idx]).backward()
        optimizer.step()
    return layers, store


def time_modes(tiles: list[Any], batch: list[tuple], repeats: int) -> dict[str, Any]:
    """CPU milliseconds of applying one batch's slices to 1, 2, 4, ... N distinct tiles.

    Slice ``j`` goes to tile ``j % k``: the same data and the same N calls, spread over ``k``
    tiles (``k = N``: what training does; ``k = 1``: one tile). ``one_call_ms``: every slice in
    one call on one tile (what ``shared_A`` does). CPU time of this process
    (``time.process_time``), the tiles restored after every repeat.
    """
    xs = torch.cat([x for x, _ in batch])
    ds = torch.cat([d for _, d in batch])
    saved = [t.get_weights().clone() for t in tiles]

    def cpu_ms(apply) -> float:
        seconds = 0.0
        for _ in range(repeats):
            start = time.process_time()
            apply()
            seconds += time.process_time() - start
            for t, w in zip(tiles, saved, strict=True):
                t.set_weights(w)
        return seconds / repeats * 1e3

    spreads = sorted({k for k in (1, 2, 4, 8, 16, len(tiles)) if k <= len(tiles)})
    by_tiles = {
        str(k): cpu_ms(
            lambda k=k: [
                tiles[j % k].update(x, d, False, False, False) for j, (x, d) in enumerate(batch)
            ]
        )
        for k in spreads
    }
    return {
        "cpu_ms_by_distinct_tiles": by_tiles,
        "own_tiles_ms": by_tiles[str(len(tiles))],
        "one_tile_n_calls_ms": by_tiles["1"],
        "one_tile_one_call_ms": cpu_ms(lambda: tiles[0].update(xs, ds, False, False, False)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tiles", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrent", type=int, required=True, help="runs sharing the machine")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    provenance = run_provenance()
    layers, store = capture(args.n_tiles, args.warmup, args.seed)
    records = []
    for li, tiles in enumerate(layers):
        batch = [store[(li, k)] for k in range(len(tiles))]
        state = tiles[0].get_hidden_parameters().numel() + tiles[0].get_weights().numel()
        rec = {
            "layer": li,
            "shape": list(tiles[0].get_weights().shape),
            "n_tiles": args.n_tiles,
            "samples": sum(x.shape[0] for x, _ in batch),
            "device_state_mb_per_tile": state * 4 / 2**20,
            "device_state_mb_all_tiles": state * 4 * len(tiles) / 2**20,
            **time_modes(tiles, batch, args.repeats),
        }
        rec["own_over_one_call"] = rec["own_tiles_ms"] / rec["one_tile_one_call_ms"]
        rec["n_calls_over_one_call"] = rec["one_tile_n_calls_ms"] / rec["one_tile_one_call_ms"]
        records.append(rec)
        print(rec, flush=True)
    common = {
        "concurrent": args.concurrent,
        "warmup_batches": args.warmup,
        "repeats": args.repeats,
        "seed": args.seed,
        **provenance,
    }
    atomic_write_json(Path(args.out), {"records": [dict(common, **r) for r in records]})


if __name__ == "__main__":
    main()
