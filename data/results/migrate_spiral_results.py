"""One-off migration (2026-12-01) of the paper profile's spiral runs into the one runner's format.

Before the runner merge the spiral runs had their own runner (``analog_tt.spiral.run_spiral``,
config ``SpiralRun``, files under ``data/results/<profile>/0{2,3}_runs/``). The quick and smoke
runs were recomputed with the one runner; the paper profile's seven 1000-epoch runs (hours of CPU
each) are converted here instead: the same numbers, the one runner's file layout, their config as
a ``RunConfig`` (so their file name is that config's key), and a provenance that says what they
are. That runner drew its random numbers differently (one shuffling generator for the whole run,
no per-epoch reseeding), so rerunning one of these configs with today's runner gives
statistically equivalent, not bit-identical, numbers: ``provenance.bitwise_reproducible`` is
False and ``provenance.runner`` names the old runner. Per-epoch wall times were not recorded.

Run from the repository root: ``python data/results/migrate_spiral_results.py`` (idempotent).
"""

from __future__ import annotations

import json
from pathlib import Path

import analog_tt  # noqa: F401
from analog_tt.core.files import atomic_write_json
from analog_tt.runs.config import RESULTS_FORMAT_VERSION, RunConfig

ROOT = Path("data/results/paper")
MOVES = {"02_runs": "spiral_one_tile", "03_runs": "spiral_vs_n"}
ALGORITHM = {("aihwkit", "tt_v1"): "tt_v1", ("multi", "agad"): "agad", ("multi", "tt_v1"): "tt_v1_multi"}


def convert(old: dict) -> dict:
    c = old["config"]
    config = RunConfig(
        dataset="spiral",
        network="2-64-3-relu-x25",
        algorithm=ALGORITHM[(c["tile"], c["algorithm"])],
        variant=c["variant"],
        n_tiles=c["n_tiles"],
        bl=c["bl"],
        lr=c["lr"],
        batch_size=c["batch_size"],
        epochs=c["epochs"],
        seed=c["seed"],
        eval_every=c["eval_every"],
        n_per_class=c["n_per_class"],
        out_noise=c["out_noise"],
        transfer_out_noise=c["transfer_out_noise"],
        fast_lr=c["fast_lr"],
        transfer_every=tuple(c["transfer_every"]),
        analog_eval_repeats=c["analog_eval_repeats"],
    )
    tested = dict(zip(old["epochs"], zip(old["train_acc"], old["heldout_acc"], strict=True), strict=True))
    records = []
    for epoch, loss in enumerate(old["loss"], start=1):
        test = None
        if epoch in tested:
            train_acc, heldout_acc = tested[epoch]
            test = {"exact": {"tile_avg": {"acc": heldout_acc, "loss": None, "train_acc": train_acc}}}
        records.append({"epoch": epoch, "train_loss": loss, "train_s": None, "test": test, "eval_s": None})
    if old["diverged"]:
        records[-1]["diverged"] = True
    final = next((r["test"] for r in reversed(records) if r["test"] is not None), None)
    f = old["final"]
    analog = None
    if "analog_train" in f:
        analog = {"train": f["analog_train"], "train_std": f["analog_train_std"],
                  "test": f["analog_heldout"], "test_std": f["analog_heldout_std"]}
    return {
        "status": "finished",
        "results_format": RESULTS_FORMAT_VERSION,
        "key": config.key(),
        "config": config.to_dict(),
        "epochs": records,
        "epochs_run": len(records),
        "final": final,
        "final_acc": None if final is None else final["exact"]["tile_avg"]["acc"],
        "diverged_at_epoch": len(records) if old["diverged"] else None,
        "epochs_to_target": None,
        "target_reached": False,
        "init_report": None,
        "op_counts_total": None,
        "op_counts_per_epoch_mean": None,
        "wall_s": {"train_total": None, "eval_total": None, "train_per_epoch_mean": None},
        "final_analog": analog,
        "replica_spread": old["replica_spread"],
        "provenance": {
            "seed": config.seed,
            "runner": "analog_tt.spiral.run_spiral (before the one-runner merge)",
            "migrated_from": old["key"],
            "migrated_by": "data/results/migrate_spiral_results.py",
            "bitwise_reproducible": False,
            "note": "numbers of the old runner, which drew its random numbers differently; "
            "rerunning this config gives statistically equivalent, not identical, results",
        },
    }


def main() -> None:
    for old_dir, new_exp in MOVES.items():
        folder = ROOT / old_dir
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            new = convert(json.loads(path.read_text()))
            target = ROOT / new_exp / f"{new['key']}.json"
            atomic_write_json(target, new)
            print(f"{path} -> {target}")
            path.unlink()
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


if __name__ == "__main__":
    main()
