"""Where a paper-profile run's wall time went, from its own result file (derived, no timing here).

For every finished, never-resumed run of ``data/results/paper/{fig2,epochs_to_97,engine_check}/``
(a run kept in two folders counted once, under the first): the wall time from
``provenance.started_at`` to ``finished_at``, split into training (``wall_s.train_total``), tests
(``wall_s.eval_total``), pulse programming (the layers' ``init_report[...].wall_s``) and the rest
(``other``: building the model, loading the data, writing checkpoints), with the replica engine
(``aihwkit`` or ``batched``), the runner's commit, the processor and the mean 1-minute load
average over the run's epochs (2: it shared the machine with another run). The runs were not
timed as a benchmark: they are the campaign's own runs, on whatever machine and beside whatever
ran there.

Usage::

    python benchmarks/run_wall.py
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from analog_tt.core.files import atomic_write_json

ROOT = Path("data/results/paper")
OUT = Path("benchmarks/results/run_wall.json")
BY_ENGINE = Path("benchmarks/results/run_wall_by_engine.json")
GROUP = ("schedule", "variant", "n_tiles", "bl", "replica_engine", "cpu", "git_commit")
MEANS = ("epochs_run", "wall_min", "train_min", "test_min", "program_min", "other_min")
EXPERIMENTS = ("fig2", "epochs_to_97", "engine_check")


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _cpu_name(provenance: dict[str, Any]) -> str:
    """The processor's brand, short ("AMD EPYC", "Intel Xeon"), or "" where not recorded."""
    cpu = str(provenance.get("cpu") or "")
    for brand, short in (("EPYC", "AMD EPYC"), ("Xeon", "Intel Xeon")):
        if brand in cpu:
            return short
    return cpu


def record(experiment: str, result: dict[str, Any]) -> dict[str, Any] | None:
    """The wall-time split of one result, or None (unfinished, resumed or without times)."""
    prov = result.get("provenance", {})
    wall = result.get("wall_s") or {}
    if result.get("status") != "finished" or prov.get("resumes"):
        return None
    if not (prov.get("started_at") and prov.get("finished_at") and wall.get("train_total")):
        return None
    total = _seconds(prov["started_at"], prov["finished_at"])
    program = sum(
        float(layer.get("wall_s") or 0.0) for layer in (result.get("init_report") or {}).values()
    )
    train, test = float(wall["train_total"]), float(wall.get("eval_total") or 0.0)
    other = total - train - test - program
    cfg = result["config"]
    loads = [e["loadavg_1min"] for e in result["epochs"] if e.get("loadavg_1min") is not None]
    return {
        "experiment": experiment,
        "schedule": "40 epochs" if cfg.get("stop_at_accuracy") is None else "to 97 %",
        "variant": cfg["variant"],
        "n_tiles": cfg["n_tiles"],
        "bl": cfg["bl"],
        "seed": cfg["seed"],
        "replica_engine": cfg.get("replica_engine") or "aihwkit",
        "git_commit": (prov.get("git_commit") or "")[:7],
        "cpu": _cpu_name(prov),
        "epochs_run": result["epochs_run"],
        "wall_min": total / 60,
        "wall_min_per_epoch": total / 60 / max(1, result["epochs_run"]),
        "train_min": train / 60,
        "test_min": test / 60,
        "program_min": program / 60,
        "other_min": other / 60,
        "test_share": test / total,
        "other_share": other / total,
        "test_s_per_test": test / max(1, sum(e.get("test") is not None for e in result["epochs"])),
        "loadavg_mean": statistics.mean(loads) if loads else None,
    }


def by_engine(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean wall-time split per cell, replica engine, processor and runner commit.

    Rows of one cell and processor differ in the engine (and the runner's commit); the seeds
    differ, so an epochs-to-97 % row's wall time also follows its epochs (``epochs_run``).
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(tuple(rec[k] for k in GROUP), []).append(rec)
    rows = []
    order = ("schedule", "variant", "n_tiles", "bl", "cpu", "git_commit", "replica_engine")
    for key, members in sorted(
        groups.items(), key=lambda kv: [kv[0][GROUP.index(k)] for k in order]
    ):
        row = dict(zip(GROUP, key, strict=True))
        row["n_runs"] = len(members)
        row["seeds"] = " ".join(str(m["seed"]) for m in sorted(members, key=lambda m: m["seed"]))
        for name in MEANS:
            row[name] = statistics.mean(m[name] for m in members)
        loads = [m["loadavg_mean"] for m in members if m["loadavg_mean"] is not None]
        row["loadavg_mean"] = statistics.mean(loads) if len(loads) == len(members) else None
        rows.append(row)
    return rows


def main() -> None:
    records, seen = [], set()
    for experiment in EXPERIMENTS:
        for path in sorted((ROOT / experiment).glob("*.json")):
            result = json.loads(path.read_text())
            rec = record(experiment, result)
            if rec is not None and result.get("key") not in seen:
                seen.add(result.get("key"))
                records.append(rec)
    records.sort(key=lambda r: (r["experiment"], r["variant"], r["n_tiles"], r["bl"], r["seed"]))
    atomic_write_json(OUT, {"source": str(ROOT), "records": records})
    atomic_write_json(BY_ENGINE, {"source": str(OUT), "records": by_engine(records)})
    for rec in records:
        print({k: round(v, 2) if isinstance(v, float) else v for k, v in rec.items()})


if __name__ == "__main__":
    main()
