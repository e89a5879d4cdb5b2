"""Small statistics helpers shared by the notebooks: mean ± 95 % CI and a verdict vs the paper."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import numpy as np

__all__ = ["mean_ci95", "slope", "slope_difference", "verdict", "welch", "welch_summary"]

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


def welch(ours: Iterable[float], theirs: Iterable[float], *, alpha: float = 0.05) -> dict:
    """Welch's two-sample t-test of our runs against the paper's runs.

    Parameters
    ----------
    ours, theirs : iterable of float, each with n >= 2
        Independent per-run values (e.g. one accuracy per seed).
    alpha : float
        Level of the test and of the ``1 - alpha`` CI of the difference.

    Returns
    -------
    dict
        ``difference`` (mean ours - mean theirs), ``ci_low`` / ``ci_high`` (Welch-Satterthwaite
        CI of the difference), ``p_value`` (two-sided), ``dof``, ``n_ours``, ``n_paper`` and
        ``verdict``: ``"indistinguishable"`` when ``p >= alpha``, otherwise ``"higher"`` or
        ``"lower"`` (ours relative to the paper's).

    Raises
    ------
    ValueError
        With fewer than 2 values on either side (a single run gets no verdict) or non-finite
        values.
    """
    a = np.asarray(list(ours), dtype=float).ravel()
    b = np.asarray(list(theirs), dtype=float).ravel()
    for name, arr in (("ours", a), ("theirs", b)):
        if arr.size < 2:
            raise ValueError(f"welch needs at least 2 values in {name}, got {arr.size}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"welch got non-finite values in {name}: {arr.tolist()}")
    return _welch_moments(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size, alpha)


def welch_summary(
    ours: Iterable[float], mean: float, sd: float, n: int, *, alpha: float = 0.05
) -> dict:
    """:func:`welch` against a published mean, sample sd and run count instead of per-run values.

    For a paper that reports ``mean ± sd`` over ``n`` runs but not the runs; the same test and
    the same returned dict as :func:`welch` (Welch's t-test depends on the runs only through these
    three numbers).

    Raises
    ------
    ValueError
        With fewer than 2 of our values or ``n < 2``, a negative or non-finite ``sd``, or
        non-finite values.
    """
    a = np.asarray(list(ours), dtype=float).ravel()
    if a.size < 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"welch_summary needs at least 2 finite values of ours, got {a.tolist()}")
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise ValueError(f"n must be an int >= 2 (the paper's runs), got {n!r}")
    if not (math.isfinite(mean) and math.isfinite(sd)) or sd < 0:
        raise ValueError(f"mean and sd must be finite and sd >= 0, got mean={mean!r}, sd={sd!r}")
    return _welch_moments(a.mean(), a.var(ddof=1), a.size, mean, sd**2, int(n), alpha)


def _welch_moments(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int, alpha: float
) -> dict:
    from scipy import stats

    va, vb = var_a / n_a, var_b / n_b
    diff = float(mean_a - mean_b)
    se = math.sqrt(va + vb)
    if se == 0.0:
        dof = float(n_a + n_b - 2)
        p = 1.0 if diff == 0.0 else 0.0
    else:
        dof = float((va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1)))
        p = float(2 * stats.t.sf(abs(diff) / se, dof))
    half = float(stats.t.ppf(1 - alpha / 2, dof) * se)
    if p >= alpha:
        word = "indistinguishable"
    else:
        word = "higher" if diff > 0 else "lower"
    return {
        "difference": diff,
        "ci_low": diff - half,
        "ci_high": diff + half,
        "p_value": p,
        "dof": dof,
        "n_ours": int(n_a),
        "n_paper": int(n_b),
        "verdict": word,
    }


def slope(x: Iterable[float], y: Iterable[float], *, alpha: float = 0.05) -> dict:
    """Least-squares slope of ``y`` on ``x`` with its Student-t CI (one value per run).

    Parameters
    ----------
    x, y : iterable of float, same length n >= 3, with at least two distinct ``x``
        One pair per run, e.g. ``x = log2(N)`` and ``y`` the run's epochs to 97 %.
    alpha : float
        The CI is ``1 - alpha``.

    Returns
    -------
    dict
        ``slope`` (units of y per unit of x), ``se`` (its standard error), ``ci_low`` /
        ``ci_high``, ``dof`` (``n - 2``), ``n`` and ``trend``: ``"grows"`` / ``"falls"`` when the
        CI excludes 0, else ``"no trend detected"`` (which is not evidence of flatness: read
        the CI's width).

    Raises
    ------
    ValueError
        Mismatched lengths, fewer than 3 runs, fewer than 2 distinct ``x``, or non-finite values.
    """
    from scipy import stats

    xs = np.asarray(list(x), dtype=float).ravel()
    ys = np.asarray(list(y), dtype=float).ravel()
    if xs.size != ys.size:
        raise ValueError(f"slope needs one y per x, got {xs.size} x and {ys.size} y")
    if xs.size < 3 or np.unique(xs).size < 2:
        raise ValueError(
            f"slope needs at least 3 runs at 2 or more distinct x, got x={xs.tolist()}"
        )
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError(f"slope got non-finite values: x={xs.tolist()}, y={ys.tolist()}")
    dx = xs - xs.mean()
    b = float((dx * (ys - ys.mean())).sum() / (dx**2).sum())
    residual = ys - ys.mean() - b * dx
    dof = xs.size - 2
    se = float(math.sqrt((residual**2).sum() / dof / (dx**2).sum()))
    half = float(stats.t.ppf(1 - alpha / 2, dof) * se)
    trend = "no trend detected"
    if b - half > 0:
        trend = "grows"
    elif b + half < 0:
        trend = "falls"
    return {
        "slope": b,
        "se": se,
        "ci_low": b - half,
        "ci_high": b + half,
        "dof": float(dof),
        "n": int(xs.size),
        "trend": trend,
    }


def slope_difference(ours: dict, theirs: dict, *, alpha: float = 0.05) -> dict:
    """Welch-style comparison of two independent :func:`slope` fits (ours minus the paper's).

    The difference's standard error is ``sqrt(se_ours**2 + se_theirs**2)`` with
    Welch-Satterthwaite degrees of freedom from the two fits' ``n - 2``.

    Returns
    -------
    dict
        ``difference``, ``ci_low`` / ``ci_high``, ``p_value``, ``dof`` and ``verdict``
        (``"indistinguishable"`` when ``p >= alpha``, else ``"larger"`` or ``"smaller"``: our
        slope relative to the paper's).
    """
    from scipy import stats

    diff = float(ours["slope"] - theirs["slope"])
    va, vb = ours["se"] ** 2, theirs["se"] ** 2
    se = math.sqrt(va + vb)
    if se == 0.0:
        dof = ours["dof"] + theirs["dof"]
        p = 1.0 if diff == 0.0 else 0.0
    else:
        dof = (va + vb) ** 2 / (va**2 / ours["dof"] + vb**2 / theirs["dof"])
        p = float(2 * stats.t.sf(abs(diff) / se, dof))
    half = float(stats.t.ppf(1 - alpha / 2, dof) * se)
    word = "indistinguishable" if p >= alpha else ("larger" if diff > 0 else "smaller")
    return {
        "difference": diff,
        "ci_low": diff - half,
        "ci_high": diff + half,
        "p_value": p,
        "dof": float(dof),
        "verdict": word,
    }
