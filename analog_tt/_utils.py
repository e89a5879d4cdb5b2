"""Small shared helpers: seeding, atomic file writes, hashing, provenance."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import random
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent


def seed_everything(seed: int, *, strict: bool = False) -> np.random.Generator:
    """Seed python, numpy, torch and aihwkit's C++ tiles; return a ``numpy.random.Generator``.

    aihwkit seeds each C++ simulator tile from the wall clock when the tile is built;
    :mod:`analog_tt._determinism` fixes that clock so tiles built after this call get seeds set
    by ``seed`` and their order of construction. Build models *after* seeding.

    Parameters
    ----------
    seed : int
        Non-negative seed.
    strict : bool
        Raise instead of warning when aihwkit's tiles cannot be seeded (see
        :func:`analog_tt._determinism.why_inactive`).
    """
    import torch

    from . import _determinism

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if not _determinism.fix_clock(seed):
        message = "aihwkit tiles cannot be seeded, analog results will not repeat: " + (
            _determinism.why_inactive()
        )
        if strict:
            raise RuntimeError(message)
        import warnings

        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return np.random.default_rng(seed)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(
        path, json.dumps(obj, indent=1, sort_keys=True, default=_json_default) + "\n"
    )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def config_to_dict(config: Any, tuple_fields: Sequence[str] = ()) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass; the ``tuple_fields`` become lists."""
    out = dataclasses.asdict(config)
    for name in tuple_fields:
        out[name] = list(getattr(config, name))
    return out


def config_from_dict(cls: type, data: Mapping[str, Any], tuple_fields: Sequence[str] = ()) -> Any:
    """Inverse of :func:`config_to_dict`; unknown fields raise a ValueError naming them."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; allowed: {sorted(names)}")
    data = dict(data)
    for name in tuple_fields:
        if isinstance(data.get(name), list):
            data[name] = tuple(data[name])
    return cls(**data)


def stable_hash(obj: Mapping[str, Any] | Any, length: int = 16) -> str:
    """Hash of a JSON-serialisable object, independent of key order and python version."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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


def reseed_analog_tiles(model, seed: int) -> int:
    """Give every aihwkit C++ tile in ``model`` a fresh random generator seeded by ``seed``.

    aihwkit keeps no random-generator state in its checkpoints, so a run resumed from a
    checkpoint would draw different pulse noise than the uninterrupted run. Calling this at the
    same points of both (e.g. the start of every epoch, with a seed derived from the run's seed
    and the epoch) makes them bit-identical: each tile is rebuilt through aihwkit's own
    ``__getstate__``/``__setstate__`` (weights, hidden parameters, learning rate and extra state
    carried over) while the clock its generator is seeded from is fixed.

    Returns
    -------
    int
        How many C++ tiles were rebuilt.
    """
    import torch
    from aihwkit.simulator.tiles.base import SimulatorTileWrapper

    from . import _determinism

    if not _determinism.fix_clock(seed):
        return 0
    rebuilt = 0
    for module in model.modules():
        if isinstance(module, SimulatorTileWrapper) and not isinstance(
            getattr(module, "tile", None), torch.nn.Module
        ):
            module.__setstate__(module.__getstate__())
            rebuilt += 1
    return rebuilt
