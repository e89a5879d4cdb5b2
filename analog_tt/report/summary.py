"""The key results beside the paper's values, read from the tables in ``figures/tables/``."""

from __future__ import annotations

from pathlib import Path

from ..core.paths import REPO_ROOT

TABLES = REPO_ROOT / "figures" / "tables"
KEY_TABLES = (
    "claims",
    "fig2_accuracy",
    "epochs_to_97",
    "epochs_to_target",
    "hw_speedup",
    "swa_gain",
)


def print_summary(tables: Path = TABLES) -> None:
    """Print each key table that exists (Markdown), and name the ones that do not yet."""
    missing = []
    for name in KEY_TABLES:
        path = tables / f"{name}.md"
        if path.is_file():
            print(f"\n## {name}\n")
            print(path.read_text().strip())
        else:
            missing.append(name)
    if missing:
        print(f"\n(not produced yet: {', '.join(missing)})")
