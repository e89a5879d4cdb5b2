"""Files written so that readers never see half of one; stable hashes; config dicts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_write_with",
    "config_from_dict",
    "config_to_dict",
    "sha256_file",
    "stable_hash",
]


def atomic_write_with(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it into place.

    Readers see either the old file or the whole new one (flushed and fsync'ed before the
    rename); on any error the temporary file is removed and the old file stays. Streaming into
    the file (e.g. ``torch.save``) avoids holding a second copy of a large payload in memory.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    return atomic_write_with(path, lambda fh: fh.write(data))


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
