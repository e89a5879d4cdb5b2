"""One way to validate arguments at the boundary; every error names the field and what is allowed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_bool", "check_choice", "check_int", "check_list", "check_number"]


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` if it is one of ``allowed``, else a ValueError listing them."""
    if value not in tuple(allowed):
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def check_int(
    name: str, value: Any, minimum: int | None = None, *, allow_none: bool = False
) -> int | None:
    """``int(value)`` for an integer (numpy ones too, not bool) ``>= minimum``; else ValueError."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an int{bound}{extra}, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """``float(value)`` for a finite real number in ``[low, high]`` (``(low, high]`` with
    ``low_open``); else a ValueError stating the interval."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    ok = ok and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and v <= high
    if not ok:
        if high == math.inf:
            allowed = f"> {low:g}" if low_open else f">= {low:g}"
            allowed = "" if low == -math.inf else " " + allowed
        else:
            bracket = "(" if low_open or low == -math.inf else "["
            allowed = f" in {bracket}{low:g}, {high:g}]"
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be a finite number{allowed}{extra}, got {value!r}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool, else a ValueError."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool (True or False), got {value!r}")
    return value


def check_list(
    name: str,
    values: Any,
    *,
    kind: type = int,
    minimum: float | None = None,
    allowed: Sequence[Any] | None = None,
) -> list[Any]:
    """Validate a notebook parameter that must be a non-empty list; return it as a list.

    Parameters
    ----------
    name : str
        Parameter name, used in the error message.
    values : list
    kind : type
        ``int`` (bools rejected) or ``float`` (ints accepted).
    minimum : float, optional
        Smallest allowed value.
    allowed : sequence, optional
        The allowed values (then ``kind``/``minimum`` are not checked).

    Raises
    ------
    ValueError
        Naming ``name``, the offending value and what is allowed.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"{name} must be a non-empty list, got {values!r}")
    out = []
    for v in values:
        if allowed is not None:
            if v not in allowed:
                raise ValueError(f"{name} values must be in {list(allowed)}, got {v!r}")
            out.append(v)
            continue
        if kind is int:
            ok = isinstance(v, (int, np.integer)) and not isinstance(v, bool)
        else:
            ok = isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            ok = ok and math.isfinite(float(v))
        if not ok or (minimum is not None and v < minimum):
            bound = "" if minimum is None else f" >= {minimum}"
            raise ValueError(
                f"{name} values must be {kind.__name__}s{bound}, got {v!r} in {values!r}"
            )
        out.append(kind(v))
    return out
