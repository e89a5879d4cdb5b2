"""Our results against the paper's: the verdict of a mean ± CI over seeds beside a paper value."""

from __future__ import annotations

import math

from ..core.stats import verdict

__all__ = ["paper_verdict"]


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
