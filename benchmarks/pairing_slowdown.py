"""How much a paper run slows down beside a second one, from ``benchmarks/results/epoch_cost.json``.

Derived, not measured: the ``pairing_s6`` records of ``benchmarks/epoch_cost.py`` hold the same
settings (real training, N = 1 and 32, both variants, counting on and off) measured alone
(``concurrent`` 1) and beside a second benchmark (``concurrent`` 2, ``label`` "beside N=...").
One row per setting and neighbour:

``alone_s``
    seconds per epoch alone.
``paired_s``
    seconds per epoch beside that neighbour (mean over the paired records of the setting).
``slowdown``
    ``paired_s / alone_s``.

Usage::

    python benchmarks/pairing_slowdown.py   # rewrites benchmarks/results/pairing_slowdown.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

SOURCE = Path("benchmarks/results/epoch_cost.json")
OUT = Path("benchmarks/results/pairing_slowdown.json")
STUDY = "pairing_s6"


def derive(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (n_tiles, variant, count_ops, neighbour) with an alone measurement."""
    records = [r for r in records if r.get("study") == STUDY]

    def setting(r: dict[str, Any]) -> tuple[int, str, bool]:
        return r["n_tiles"], r["variant"], bool(r["count_ops"])

    alone = {setting(r): r["seconds_per_epoch"] for r in records if r["concurrent"] == 1}
    paired: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        if r["concurrent"] > 1:
            paired[(*setting(r), r["label"])].append(r["seconds_per_epoch"])
    rows = []
    for (n_tiles, variant, count_ops, label), seconds in sorted(paired.items()):
        base = alone.get((n_tiles, variant, count_ops))
        if base is None:
            continue
        mean = statistics.fmean(seconds)
        rows.append(
            {
                "n_tiles": n_tiles,
                "variant": variant,
                "count_ops": count_ops,
                "neighbour": label.replace(" (both variants)", ""),
                "paired_records": len(seconds),
                "alone_s": round(base, 2),
                "paired_s": round(mean, 2),
                "slowdown": round(mean / base, 3),
            }
        )
    return rows


def main() -> None:
    from analog_tt.core.files import atomic_write_json

    records = json.loads(SOURCE.read_text())["records"]
    atomic_write_json(OUT, {"source": str(SOURCE), "study": STUDY, "records": derive(records)})
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
