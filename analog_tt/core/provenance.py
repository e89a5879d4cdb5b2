"""Provenance of results and figures: commit, packages, machine, time."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT

__all__ = ["git_commit", "machine_info", "package_versions", "run_provenance", "utc_now"]


def git_commit(short: bool = False) -> str:
    """The repository's HEAD commit (with ``-dirty`` when the tree has changes), or ``"unknown"``."""
    try:
        args = (
            ["git", "-C", str(REPO_ROOT), "rev-parse"] + (["--short"] if short else []) + ["HEAD"]
        )
        commit = subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide numerical results."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("torch", "torchvision", "aihwkit", "numpy", "analog-tt"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_info() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_provenance() -> dict[str, Any]:
    """``started_utc``, ``git_commit``, ``machine`` and ``versions`` of a measurement.

    Call it when the measurement starts (after setting torch's thread count, which ``machine``
    records).
    """
    return {
        "started_utc": utc_now(),
        "git_commit": git_commit(),
        "machine": machine_info(),
        "versions": package_versions(),
    }
