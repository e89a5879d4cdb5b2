"""The replica loop against its float floor, from ``benchmarks/results/epoch_cost.json``.

Derived, not measured: every number comes from the epoch-cost records (same machine, same run).
Per record with counting on:

``loop_s``
    the replica MVMs of one epoch: ``forward + backward`` (the per-replica loop through aihwkit).
``loop_floor_s``
    what the loop would cost at its floor: the N = 1 loop plus the float floor's extra for N
    replicas, ``loop(1) + floor(N) - floor(1)`` (``floor``: noise-free batched ``bmm`` forward and
    backward of N replicas, measured in the same run).
``loop_over_floor``
    ``loop_s / loop_floor_s``; the issue's rule: batch the loop if this exceeds 1.3 at N >= 32.
``loop_excess_share``
    ``(loop_s - loop_floor_s) / epoch``: the most a batched loop at its floor could take off an
    epoch.
``epoch_over_target``
    the whole epoch over the issue's target ``1.3 x (epoch(1) + floor(N) - floor(1))`` (> 1:
    target missed). replicated_A also runs N gradient-tile updates and N column reads per
    transfer, which the float floor does not hold, so its epoch target is stricter than its floor.

Usage::

    python benchmarks/replica_loop_vs_floor.py   # rewrites benchmarks/results/replica_loop_vs_floor.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SOURCE = Path("benchmarks/results/epoch_cost.json")
OUT = Path("benchmarks/results/replica_loop_vs_floor.json")
#: the studies with N = 1 peers: before / after the session-5 cuts, and the two replica engines
#: (each label's loop against its own N = 1 loop plus the float floor's extra), and the
#: batched engine again in session 15, this code beside the session-9 code in a slower session
STUDIES = ("run_cost_s5", "replica_engine_s8", "column_reads_s12", "replica_engine_s15")


def derive(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The loop and epoch against their floors, one row per counting-on record with an N = 1 peer."""
    records = [r for r in records if r.get("study") in STUDIES]
    one = {
        (r["study"], r["label"], r["variant"], r["concurrent"]): r
        for r in records
        if r["n_tiles"] == 1 and r["count_ops"]
    }
    rows = []
    for r in records:
        base = one.get((r["study"], r["label"], r["variant"], r["concurrent"]))
        if not r["count_ops"] or base is None:
            continue
        parts, base_parts = r["parts_seconds_per_epoch"], base["parts_seconds_per_epoch"]
        extra = r["floor_seconds_per_epoch"] - base["floor_seconds_per_epoch"]
        loop = parts["forward"] + parts["backward"]
        loop_floor = base_parts["forward"] + base_parts["backward"] + extra
        target = 1.3 * (base["seconds_per_epoch"] + extra)
        rows.append(
            {
                "study": r["study"],
                "label": r["label"],
                "variant": r["variant"],
                "n_tiles": r["n_tiles"],
                "concurrent": r["concurrent"],
                "loop_s": round(loop, 3),
                "loop_floor_s": round(loop_floor, 3),
                "loop_over_floor": round(loop / loop_floor, 3),
                "loop_excess_share": round((loop - loop_floor) / r["seconds_per_epoch"], 3),
                "epoch_s": round(r["seconds_per_epoch"], 3),
                "epoch_target_s": round(target, 3),
                "epoch_over_target": round(r["seconds_per_epoch"] / target, 3),
            }
        )
    return rows


def main() -> None:
    from analog_tt.core.files import atomic_write_json

    records = json.loads(SOURCE.read_text())["records"]
    atomic_write_json(OUT, {"source": str(SOURCE), "records": derive(records)})
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
