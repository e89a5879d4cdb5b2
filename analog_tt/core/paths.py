"""Where the artifact reads and writes: the project root, results, profiles.

Two ways to use the package:

* **in a checkout** (``make ...``, an editable install): the project root is the repository, so
  data, results and figures land in ``data/``, ``data/results/`` and ``figures/`` beside the code;
* **installed** (``pip install <repo>`` into any environment): the project root is the working
  directory, so ``analog-tt data`` / ``analog-tt sweep`` write into ``./data/`` of wherever they
  run, never into ``site-packages``.

``$ANALOG_TT_ROOT`` overrides both; ``$ANALOG_TT_RESULTS`` overrides the results folder alone.
The run profiles ship inside the package (``analog_tt/profiles/*.yaml``).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent
#: The checkout this package was imported from (``analog_tt/..``); for an installed package this
#: is ``site-packages``, which is why outputs go to :data:`PROJECT_ROOT` instead.
REPO_ROOT = _PACKAGE.parent


def _is_checkout(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / "analog_tt").is_dir()


def project_root() -> Path:
    """``$ANALOG_TT_ROOT``, else the repository of a checkout, else the working directory."""
    if os.environ.get("ANALOG_TT_ROOT"):
        return Path(os.environ["ANALOG_TT_ROOT"])
    return REPO_ROOT if _is_checkout(REPO_ROOT) else Path.cwd()


#: Where data, results and figures go (see the module docstring), fixed at import.
PROJECT_ROOT = project_root()
#: Run profiles (``smoke.yaml``, ``quick.yaml``, ``paper.yaml``), package data.
PROFILE_DIR = _PACKAGE / "profiles"
#: Default folder of result files; ``$ANALOG_TT_RESULTS`` overrides it.
RESULTS_ROOT = PROJECT_ROOT / "data" / "results"


def results_root(override: str | os.PathLike | None = None) -> Path:
    """``override``, else ``$ANALOG_TT_RESULTS``, else ``data/results`` of the project root."""
    if override is not None:
        return Path(override)
    return Path(os.environ.get("ANALOG_TT_RESULTS", RESULTS_ROOT))
