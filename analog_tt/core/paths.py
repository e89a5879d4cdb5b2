"""Where the artifact reads and writes: the repository, results, profiles."""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout this package was imported from (``analog_tt/..``).
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
#: Run profiles (``smoke.yaml``, ``quick.yaml``, ``paper.yaml``).
PROFILE_DIR = REPO_ROOT / "profiles"
#: Default folder of result files; ``$ANALOG_TT_RESULTS`` overrides it.
RESULTS_ROOT = REPO_ROOT / "data" / "results"


def results_root(override: str | os.PathLike | None = None) -> Path:
    """``override``, else ``$ANALOG_TT_RESULTS``, else ``data/results`` of the repository."""
    if override is not None:
        return Path(override)
    return Path(os.environ.get("ANALOG_TT_RESULTS", RESULTS_ROOT))
