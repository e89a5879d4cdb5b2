"""Small statistics helpers shared by the notebooks: mean ± 95 % CI and a verdict vs the paper."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import numpy as np

__all__ = ["mean_ci95", "verdict"]

Verdict = Literal["indistinguishable", "better", "worse"]


def mean_ci95(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean and half-width of the two-sided 95 % Student-t confidence interval.

    Parameters
    ----------
    values : iterable of float, length n >= 1
        Independent measurements (e.g. one accuracy per seed). NaNs are not allowed.

    Returns
    -------
    mean : float
    half_width : float
        ``t_{0.975, n-1} * s / sqrt(n)`` with ``s`` the sample standard deviation (ddof=1);
        ``nan`` when ``n == 1`` (no spread can be estimated).
    n : int

    Raises
    ------
    ValueError
        If ``values`` is empty or contains non-finite numbers.
    """
    arr = np.asarray(list(values), dtype=float).ravel()
    if arr.size == 0:
        raise ValueError("mean_ci95 needs at least one value")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"mean_ci95 got non-finite values: {arr.tolist()}")
    n = int(arr.size)
    mean = float(arr.mean())
    if n == 1:
        return mean, math.nan, 1
    from scipy import stats

    half = float(stats.t.ppf(0.975, n - 1) * arr.std(ddof=1) / math.sqrt(n))
    return mean, half, n


def verdict(
    ours_mean: float, ours_ci: float, paper_value: float, *, higher_is_better: bool = True
) -> Verdict:
    """Compare our mean ± CI half-width with a single published value.

    Parameters
    ----------
    ours_mean : float
        Our mean over seeds.
    ours_ci : float
        Half-width of our 95 % CI (``>= 0``; ``nan`` when only one seed was run).
    paper_value : float
        The paper's number.
    higher_is_better : bool, default True
        ``False`` for losses/errors.

    Returns
    -------
    {"indistinguishable", "better", "worse"}
        ``"indistinguishable"`` when ``paper_value`` lies inside ``[mean - ci, mean + ci]``, or
        when the CI is ``nan`` (one run cannot exclude the paper's value); otherwise
        ``"better"``/``"worse"`` by the side on which our mean lies.
    """
    for name, v in (("ours_mean", ours_mean), ("paper_value", paper_value)):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if math.isnan(ours_ci):
        return "indistinguishable"
    if ours_ci < 0 or math.isinf(ours_ci):
        raise ValueError(f"ours_ci must be a finite half-width >= 0 (or nan), got {ours_ci!r}")
    if ours_mean - ours_ci <= paper_value <= ours_mean + ours_ci:
        return "indistinguishable"
    above = ours_mean > paper_value
    return "better" if above == higher_is_better else "worse"
