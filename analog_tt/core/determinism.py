"""Seedable aihwkit: fix the clock that aihwkit's C++ tiles take their random seeds from.

aihwkit 1.1.0 seeds each simulator tile's C++ random generator (stochastic pulse trains, read
noise, cycle-to-cycle variation) from ``std::chrono::system_clock::now()`` when the tile is built,
and has no Python call to seed it, so ``torch.manual_seed`` alone does not make analog training
repeat. The compiled helper ``analog_tt/_clockshim*.so`` (built by ``pip install -e .``)
interposes that clock function; :func:`fix_clock` makes it count up from a base so that tiles built
afterwards get seeds fixed by the base and their order of construction. aihwkit itself is not
modified. The helper must be loaded before torch (``import analog_tt`` first, or ``LD_PRELOAD``,
which the Makefile sets); :func:`active` checks that it took effect.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

# the compiled helper is built next to the package root: analog_tt/_clockshim*.so
_HERE = Path(__file__).resolve().parent.parent
_SYMBOL = "_ZNSt6chrono3_V212system_clock3nowEv"


def _find_library() -> Path | None:
    candidates = sorted(_HERE.glob("_clockshim*.so"))
    return candidates[0] if candidates else None


def _load() -> ctypes.CDLL | None:
    path = _find_library()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return None
    lib.analog_tt_clock_fix.argtypes = [ctypes.c_longlong]
    lib.analog_tt_clock_next.restype = ctypes.c_longlong
    return lib


# aihwkit's C++ extension binds `system_clock::now` when it is loaded: if it was loaded before the
# helper (and the helper is not preloaded), it keeps the real clock whatever `active` sees below.
_AIHWKIT_LOADED_FIRST = "aihwkit.simulator.rpu_base" in sys.modules
_LIB = _load()
LIBRARY_PATH = _find_library()


def _preloaded() -> bool:
    return "_clockshim" in os.environ.get("LD_PRELOAD", "")


def active() -> bool:
    """Whether aihwkit's C++ code in this process resolves ``system_clock::now`` to the interposer.

    False when the helper is missing, or when aihwkit's extension was imported before
    ``analog_tt`` without ``LD_PRELOAD`` (it then bound the real clock when it was loaded).
    """
    if _LIB is None or (_AIHWKIT_LOADED_FIRST and not _preloaded()):
        return False
    try:
        process_now = ctypes.cast(getattr(ctypes.CDLL(None), _SYMBOL), ctypes.c_void_p).value
        ours = ctypes.cast(getattr(_LIB, _SYMBOL), ctypes.c_void_p).value
    except AttributeError:
        return False
    return process_now is not None and process_now == ours


def fix_clock(seed: int) -> bool:
    """Make tiles built from now on take seeds fixed by ``seed`` (and their construction order).

    Returns whether it took effect (see :func:`active`).
    """
    if not active():
        return False
    _LIB.analog_tt_clock_fix(ctypes.c_longlong(1_000_003 * (int(seed) + 1)))
    return True


def release_clock() -> None:
    """Give C++ code the real wall clock again."""
    if _LIB is not None:
        _LIB.analog_tt_clock_release()


def is_fixed() -> bool:
    return bool(_LIB is not None and _LIB.analog_tt_clock_is_fixed())


def why_inactive() -> str:
    """A message that says why analog results will not repeat bit for bit, and the fix."""
    if LIBRARY_PATH is None:
        return (
            "analog_tt's clock helper is not built (no C++ compiler when the package was "
            "installed): run `make env` or `pip install -e .` with g++ available"
        )
    if _AIHWKIT_LOADED_FIRST and not _preloaded():
        return (
            "aihwkit was imported before analog_tt, so its C++ tiles kept the real clock: "
            f"import analog_tt first, or set LD_PRELOAD={LIBRARY_PATH}"
        )
    if not _preloaded():
        return (
            f"analog_tt was imported after torch/aihwkit, so its clock helper could not take "
            f"effect: import analog_tt first, or set LD_PRELOAD={LIBRARY_PATH}"
        )
    return f"the clock helper {LIBRARY_PATH} is loaded but not in effect"
