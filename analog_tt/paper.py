"""The paper's published numbers, as data with their source (a bottom layer: no imports).

Values are transcribed from the paper's original repository (see
``../shared/reference/seed-analysis.md`` for where each table comes from) into JSON files under
``analog_tt/paper_data/``, with the source of every value. They are *reference values to compare against*, never results of ours:
every table that shows them labels them ``paper_*``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PAPER_DATA = Path(__file__).resolve().parent / "paper_data"


@cache
def load(name: str) -> dict[str, Any]:
    """Load ``analog_tt/paper_data/<name>.json`` (e.g. ``"mnist"``, ``"spiral"``)."""
    path = PAPER_DATA / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in PAPER_DATA.glob("*.json"))
        raise FileNotFoundError(f"no paper reference table {name!r}; known: {known}")
    return json.loads(path.read_text())
