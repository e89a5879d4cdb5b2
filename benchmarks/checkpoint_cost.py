"""What a run's per-epoch checkpoint costs, and what the runner's checkpoint cadence leaves of it.

For the paper's MNIST network at each ``--n-tiles`` x variant: the checkpoint's size and the
seconds of ``state_dict()`` + writing it the way the runner does
(:func:`analog_tt.runs.training._save_checkpoint`: ``torch.save`` streamed into an fsync'ed
temporary file, then renamed) and of loading it back. Beside it, with the per-epoch training
time of ``benchmarks/results/epoch_cost.json`` (study ``run_cost_s5``, label ``after``, counting
on, alone): the share of a run a checkpoint after every epoch costs (the runner until commit
880c658) and the share under :data:`analog_tt.runs.training.CHECKPOINT_OVERHEAD` (a checkpoint
once the time since the last one is ``1 / CHECKPOINT_OVERHEAD`` times its cost), with the
number of epochs between checkpoints and the work a kill can lose. Measure on a quiet machine.

Usage::

    python benchmarks/checkpoint_cost.py --concurrent 1
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import analog_tt  # noqa: F401  (before aihwkit: the clock helper)

# isort: split
import torch

from analog_tt.core.files import atomic_write_json
from analog_tt.core.provenance import git_commit, machine_info, package_versions, utc_now
from analog_tt.runs.models import build_model, build_optimizer
from analog_tt.runs.training import CHECKPOINT_OVERHEAD, _save_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from epoch_cost import _config  # noqa: E402

OUT = Path("benchmarks/results/checkpoint_cost.json")
EPOCH_COST = Path("benchmarks/results/epoch_cost.json")


def epoch_seconds(n_tiles: int, variant: str) -> float | None:
    """The measured training epoch (counting on, alone) of ``epoch_cost.json``, if there."""
    for rec in json.loads(EPOCH_COST.read_text())["records"]:
        if (rec.get("study"), rec.get("label"), rec.get("concurrent")) != (
            "run_cost_s5",
            "after",
            1,
        ):
            continue
        if rec["n_tiles"] == n_tiles and rec["variant"] == variant and rec["count_ops"]:
            return float(rec["seconds_per_epoch"])
    return None


def measure(n_tiles: int, variant: str, seed: int) -> dict[str, Any]:
    config = _config(n_tiles, variant, "xavier_uniform", seed)
    torch.manual_seed(seed)
    model = build_model(config)
    optimizer = build_optimizer(model, config)
    with tempfile.TemporaryDirectory(dir=".") as folder:
        path = Path(folder) / "run.ckpt"
        start = time.perf_counter()
        payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        _save_checkpoint(path, payload)
        save_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 2**20
        start = time.perf_counter()
        torch.load(path, map_location="cpu", weights_only=False)
        load_s = time.perf_counter() - start
    rec: dict[str, Any] = {
        "n_tiles": n_tiles,
        "variant": variant,
        "size_mb": size_mb,
        "save_s": save_s,
        "load_s": load_s,
    }
    epoch_s = epoch_seconds(n_tiles, variant)
    if epoch_s is not None:
        every = max(1, math.ceil(save_s / (CHECKPOINT_OVERHEAD * epoch_s)))
        rec.update(
            epoch_s=epoch_s,
            share_every_epoch=save_s / (epoch_s + save_s),
            epochs_between_checkpoints=every,
            share_with_cadence=save_s / (every * epoch_s + save_s),
            work_a_kill_can_lose_s=every * epoch_s,
        )
    return rec


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tiles", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--variants", nargs="+", default=["shared_A", "replicated_A"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrent", type=int, required=True, help="runs sharing the machine")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    common = {
        "concurrent": args.concurrent,
        "checkpoint_overhead": CHECKPOINT_OVERHEAD,
        "started_utc": utc_now(),
        "git_commit": git_commit(),
        "machine": machine_info(),
        "versions": package_versions(),
    }
    records = []
    for n in args.n_tiles:
        for variant in args.variants:
            rec = dict(common, **measure(n, variant, args.seed))
            records.append(rec)
            print({k: v for k, v in rec.items() if k not in common}, flush=True)
    atomic_write_json(Path(args.out), {"records": records})


if __name__ == "__main__":
    main()
