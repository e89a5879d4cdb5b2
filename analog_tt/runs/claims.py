"""Claims on runs: one process computes a run at a time, and a killed one's claim is taken over.

A claim is the file ``<cache_dir>/<key>.claim``, created atomically (``O_CREAT | O_EXCL``) by the
process that computes the run and removed when it finishes or fails. It holds the owner's host
and process id; its modification time is the owner's heartbeat (touched after every epoch). A
claim is *stale*, and is taken over, when its owner is a process of this host that no longer
exists, or its heartbeat is older than ``stale_after_s`` (for owners on other hosts sharing the
results folder).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

__all__ = ["RunClaim", "RunClaimedError", "live_claim", "remove_stale_temporaries"]

#: A claim whose heartbeat is older than this (seconds) is stale; an epoch of the longest paper
#: run and its pulse programming take well under it.
STALE_AFTER_S = 3 * 3600.0


class RunClaimedError(RuntimeError):
    """The run is being computed by another live process."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunClaim:
    """Context manager holding the claim on one run (see the module docstring).

    Parameters
    ----------
    path : Path
        ``<cache_dir>/<key>.claim``.
    stale_after_s : float
        Heartbeat age after which another host's claim counts as abandoned.
    """

    def __init__(self, path: Path, stale_after_s: float = STALE_AFTER_S) -> None:
        self.path = Path(path)
        self.stale_after_s = float(stale_after_s)
        self.took_over: dict | None = None

    def _owner(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _stale(self, owner: dict) -> bool:
        if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
            return not _alive(owner["pid"])
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return True
        return age > self.stale_after_s

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if not self._stale(owner):
                    raise RunClaimedError(
                        f"{self.path.stem} is being computed by process {owner.get('pid')} on "
                        f"{owner.get('host')} (claim {self.path}); wait for it, or delete the "
                        "claim if that process is gone"
                    ) from None
                self.took_over = owner
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            return
        raise RunClaimedError(f"could not claim {self.path} (another process keeps claiming it)")

    def heartbeat(self) -> None:
        """Tell other processes that the owner is alive (touch the claim)."""
        try:
            os.utime(self.path)
        except FileNotFoundError:
            pass

    def release(self) -> None:
        if self._owner().get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunClaim:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def live_claim(path: Path) -> dict | None:
    """The owner (host, pid) of the claim at ``path`` if a live process holds it, else None."""
    claim = RunClaim(path)
    if not claim.path.exists():
        return None
    owner = claim._owner()
    return None if claim._stale(owner) else owner


def remove_stale_temporaries(cache_dir: Path, key: str) -> list[Path]:
    """Delete the half-written ``.<key>.json.*.tmp`` / ``.<key>.ckpt.*.tmp`` files of killed
    writes (call while holding the run's claim: no live writer of this key exists then)."""
    removed = []
    for pattern in (f".{key}.json.*.tmp", f".{key}.ckpt.*.tmp"):
        for path in Path(cache_dir).glob(pattern):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
