"""How the claims ledger writes its cells: ours and the paper's, a comparison, what is missing.

Shared by :mod:`analog_tt.report.claims` (one row per claim) and
:mod:`analog_tt.report.claim_slopes` (the claims about N, as slopes).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "PAPER_SEEDS",
    "comparison_columns",
    "fmt_mean_ci",
    "fmt_slope",
    "listed",
    "missing_seeds",
    "not_run_row",
    "two_sample_columns",
]

#: The paper's runs per MNIST setting (and the seeds we aim for).
PAPER_SEEDS = 5


def fmt_mean_ci(mean: float, ci: float, n: int, digits: int) -> str:
    if n == 0 or not math.isfinite(mean):
        return "–"
    if n == 1 or not math.isfinite(ci):
        return f"{mean:.{digits}f} (1 run)"
    return f"{mean:.{digits}f} ± {ci:.{digits}f}"


def comparison_columns(welch: dict[str, Any], digits: int) -> dict[str, Any]:
    if welch["welch_verdict"] == "n/a":
        return {"difference": math.nan, "difference_ci": "–", "p_value": math.nan}
    lo, hi = welch["difference_ci_low"], welch["difference_ci_high"]
    return {
        "difference": welch["difference"],
        "difference_ci": f"[{lo:+.{digits}f}, {hi:+.{digits}f}]",
        "p_value": welch["p_value"],
    }


def missing_seeds(n: int, wanted: int = PAPER_SEEDS) -> str:
    if n == 0:
        return f"not run ({wanted} seeds)"
    return f"{wanted - n} more seed(s)" if n < wanted else ""


def fmt_slope(fit: dict[str, Any], digits: int = 1) -> str:
    low, high = fit["ci_low"], fit["ci_high"]
    return f"{fit['slope']:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}] per doubling"


def two_sample_columns(test: dict[str, Any]) -> dict[str, Any]:
    """A two-sample test's result (:func:`~analog_tt.core.stats.welch`, ``welch_summary``,
    ``slope_difference``: ``difference``, ``ci_low``, ``ci_high``, ``p_value``, ``verdict``) in
    :func:`~analog_tt.report.verdicts.welch_columns`' names, which :func:`comparison_columns`
    reads."""
    return {
        "welch_verdict": test["verdict"],
        "difference": test["difference"],
        "difference_ci_low": test["ci_low"],
        "difference_ci_high": test["ci_high"],
        "p_value": test["p_value"],
    }


def not_run_row(claim: str, setting: str, paper: str, rests_on: str, missing: str) -> dict:
    """A ledger row for runs that do not exist yet: no value, no comparison, what is missing."""
    return {
        "claim": claim,
        "setting": setting,
        "paper": paper,
        "ours": "–",
        "n_ours": 0,
        "n_paper": math.nan,
        "difference": math.nan,
        "difference_ci": "–",
        "p_value": math.nan,
        "verdict": "not run at the paper's settings",
        "rests_on": rests_on,
        "missing": missing,
    }


def listed(cells: list[str], limit: int = 4) -> str:
    """``cells`` joined by "; ", the first ``limit`` of them and a count of the rest."""
    if len(cells) <= limit:
        return "; ".join(cells)
    return "; ".join(cells[:limit]) + f"; and {len(cells) - limit} more"
