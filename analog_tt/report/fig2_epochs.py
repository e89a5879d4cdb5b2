"""Epochs to 97 % bracketed by the Figure 2 runs, beside the paper's epochs-to-97 % runs.

A Figure 2 run tests the tile average only at some epochs (every ``eval_every``-th, and every
epoch from ``swa_start`` on), so it does not give the first epoch at 97 %; it brackets it. For one
run, with ``hi`` the first tested epoch at or above the target and ``lo`` the tested epoch before
it, the first epoch the run would have passed a test lies in ``(lo, hi]``. A run that never
reached the target brackets it as ``(last tested epoch, inf)``.

Two caveats are stated with the table: a test is one noisy read, so a run tested every epoch
could pass (or miss) a little earlier or later than these brackets say; and the Figure 2 runs
count ops and start SWA, which the epochs-to-97 % runs do not (neither changes training).
"""

from __future__ import annotations

import math
from pathlib import Path

from .. import paper
from ..core.stats import mean_ci95, welch
from ..runs.results import load_results

__all__ = ["FIG2_BRACKET_COLUMNS", "fig2_epochs_to_97_brackets", "run_bracket"]

FIG2_BRACKET_COLUMNS = [
    "profile", "variant", "bl", "n_tiles", "n_seeds", "n_reached", "brackets", "low_mean",
    "high_mean", "paper_mean", "paper_ci95", "paper_n_runs", "difference_ci_low",
    "difference_ci_high", "verdict",
]  # fmt: skip


def run_bracket(tested: list[tuple[int, float]], target: float = 0.97) -> tuple[int, float]:
    """The bracket ``(lo, hi]`` of the first epoch at ``target`` from one run's tested epochs.

    Parameters
    ----------
    tested : list of (epoch, accuracy)
        The run's tested epochs (any order), accuracy as a fraction.
    target : float
        Accuracy to reach, as a fraction.

    Returns
    -------
    (lo, hi) : (int, float)
        ``lo`` is the last tested epoch before the first one at ``target`` (0 when the first test
        passed), ``hi`` that epoch; ``(last tested epoch, inf)`` when no test reached it.
    """
    if not tested:
        raise ValueError("run_bracket needs at least one tested epoch")
    lo = 0
    for epoch, acc in sorted(tested):
        if acc >= target:
            return lo, float(epoch)
        lo = epoch
    return lo, math.inf


def _verdict(
    lows: list[float], highs: list[float], theirs: list[float]
) -> tuple[float, float, str]:
    """Welch on the lower and on the upper ends: the union of the two CIs of the difference."""
    if len(lows) < 2 or len(theirs) < 2 or not all(math.isfinite(h) for h in highs):
        return math.nan, math.nan, "n/a"
    ci_low = welch(lows, theirs)["ci_low"]
    ci_high = welch(highs, theirs)["ci_high"]
    if ci_low > 0:
        return ci_low, ci_high, "more epochs than the paper's"
    if ci_high < 0:
        return ci_low, ci_high, "fewer epochs than the paper's"
    return ci_low, ci_high, "consistent with the paper's"


def fig2_epochs_to_97_brackets(profile: str, results_root: Path, target: float = 0.97):
    """Per N, the Figure 2 runs' brackets of the epoch at ``target``, beside the paper's runs.

    The comparison runs Welch's t-test twice, once on the brackets' lower ends and once on their
    upper ends, against the paper's epochs-to-97 % runs of the same cell (shared A, BL 31); the
    true difference lies between the two, so its CI is taken as the union ``[low end of the first
    CI, high end of the second]``. ``verdict`` is "fewer"/"more epochs than the paper's" when that
    union excludes 0, "consistent with the paper's" when it contains it, and "n/a" with fewer
    than 2 runs, a run that never reached the target, or no paper runs for the cell.

    Returns
    -------
    pandas.DataFrame
        One row per (variant, BL, N), columns :data:`FIG2_BRACKET_COLUMNS`; empty without runs.
    """
    import pandas as pd

    df = load_results(profile, "fig2", per_epoch=True, results_root=results_root)
    if df.empty:
        return pd.DataFrame(columns=FIG2_BRACKET_COLUMNS)
    df = df[(df["metric"] == "tile_avg") & df["acc"].notna()]
    df = df[df["eval_mode"] == sorted(df["eval_mode"].unique())[0]]
    rows = []
    for (variant, bl, n), cell in df.groupby(["variant", "bl", "n_tiles"]):
        brackets = [
            run_bracket(list(zip(g["epoch"], g["acc"], strict=True)), target)
            for _, g in cell.groupby("seed")
        ]
        lows = [float(lo) for lo, _ in brackets]
        highs = [hi for _, hi in brackets]
        theirs = list(paper.epochs_to_97_runs(str(variant)).get((int(n), int(bl)), ()))
        ci_low, ci_high, verdict = _verdict(lows, highs, theirs)
        paper_mean, paper_ci, _ = mean_ci95(theirs) if theirs else (math.nan, math.nan, 0)
        rows.append(
            {
                "profile": profile,
                "variant": variant,
                "bl": int(bl),
                "n_tiles": int(n),
                "n_seeds": len(brackets),
                "n_reached": sum(math.isfinite(h) for h in highs),
                "brackets": " ".join(f"({lo}, {hi:g}]" for lo, hi in brackets),
                "low_mean": sum(lows) / len(lows),
                "high_mean": sum(highs) / len(highs),
                "paper_mean": paper_mean,
                "paper_ci95": paper_ci,
                "paper_n_runs": len(theirs),
                "difference_ci_low": ci_low,
                "difference_ci_high": ci_high,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows, columns=FIG2_BRACKET_COLUMNS)
