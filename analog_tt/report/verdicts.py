"""Our results against the paper's: the verdict of a mean ± CI over seeds beside a paper value."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..core.stats import verdict, welch

__all__ = ["WELCH_COLUMNS", "paper_verdict", "welch_columns"]

#: Columns of :func:`welch_columns`, in table order.
WELCH_COLUMNS = (
    "paper_n_runs",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "p_value",
    "welch_verdict",
)


def paper_verdict(
    mean: float,
    ci: float,
    n_seeds: int,
    paper_value: float | None,
    *,
    no_paper: str = "n/a",
    too_few: str = "n/a",
) -> str:
    """:func:`analog_tt.core.stats.verdict` of our ``mean ± ci`` (``n_seeds`` runs) against the paper.

    One run can neither confirm nor exclude the paper's value, so fewer than two seeds (or a
    non-finite CI) give ``too_few``; a missing paper value (``None`` or NaN) gives ``no_paper``.
    """
    if paper_value is None or (isinstance(paper_value, float) and math.isnan(paper_value)):
        return no_paper
    if n_seeds < 2 or not math.isfinite(mean) or not math.isfinite(ci):
        return too_few
    return verdict(mean, ci, float(paper_value))


def welch_columns(ours: Sequence[float], paper_runs: Sequence[float] | None) -> dict[str, object]:
    """Our runs against the paper's runs (Welch t-test), as table columns (:data:`WELCH_COLUMNS`).

    ``difference`` is ours minus the paper's mean with its 95 % CI; ``welch_verdict`` is
    ``"indistinguishable"``, ``"higher"`` or ``"lower"`` (ours, at p < 0.05), or ``"n/a"`` when
    either side has fewer than 2 finite runs (a single run gets no verdict) or the paper has none.
    """
    ours = [float(v) for v in ours if v == v]
    paper = [float(v) for v in (paper_runs or ()) if v == v]
    empty = dict.fromkeys(WELCH_COLUMNS, math.nan)
    empty.update(paper_n_runs=len(paper), welch_verdict="n/a")
    if len(ours) < 2 or len(paper) < 2:
        return empty
    test = welch(ours, paper)
    return {
        "paper_n_runs": len(paper),
        "difference": test["difference"],
        "difference_ci_low": test["ci_low"],
        "difference_ci_high": test["ci_high"],
        "p_value": test["p_value"],
        "welch_verdict": test["verdict"],
    }
