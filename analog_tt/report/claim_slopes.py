"""The claims about N tested themselves: slopes on log2 N, ours beside the paper's.

Each row fits the least-squares slope of every run's value on ``log2 N`` (per doubling of N, 95 %
CI; :func:`analog_tt.core.stats.slope`) to our runs and to the paper's runs at the same N, and
compares the two (:func:`analog_tt.core.stats.slope_difference`): Figure 2's accuracy, the epochs
to 97 % per variant and BL, and the spiral's training accuracy per variant. Rows in
:data:`analog_tt.report.claims.CLAIMS_COLUMNS`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .. import paper
from ..core.stats import slope, slope_difference
from .ledger_cells import comparison_columns, fmt_slope, two_sample_columns
from .mnist import ett_runs, ett_runs_over_n, fig2_runs

__all__ = ["epochs_slope_rows", "figure2_slope_rows", "spiral_slope_rows"]


def figure2_slope_rows(results_root: Path, profile: str, runs) -> list[dict[str, Any]]:
    """ "Flat in N" tested itself: slope of the 40-epoch tile-average accuracy on log2 N."""
    df = fig2_runs(profile, results_root)
    df = df[(df["metric"] == "tile_avg") & (df["epochs"] == 40) & df["n_tiles"].isin(runs)]
    ns = sorted(int(n) for n in df["n_tiles"].unique())
    if len(ns) < 2 or len(df) < 3:
        return []
    theirs = [(n, a) for n in ns for a in runs[n]["tile_avg"]]
    ours_fit = slope([math.log2(n) for n in df["n_tiles"]], df["acc"])
    paper_fit = slope([math.log2(n) for n, _ in theirs], [a for _, a in theirs])
    diff = slope_difference(ours_fit, paper_fit)
    return [
        {
            "claim": "Figure 2: > 97 % test accuracy after 40 epochs, flat in N",
            "setting": f"slope over N = {', '.join(map(str, ns))}, shared A, BL 31, tile average, "
            "accuracy per doubling of N",
            "paper": fmt_slope(paper_fit, 4),
            "ours": fmt_slope(ours_fit, 4),
            "n_ours": ours_fit["n"],
            "n_paper": paper_fit["n"],
            **comparison_columns(two_sample_columns(diff), 4),
            "verdict": f"ours: {ours_fit['trend']}; paper: {paper_fit['trend']}; "
            f"vs paper: {diff['verdict']}",
            "rests_on": f"data/results/{profile}/fig2",
            "missing": "",
        }
    ]


def epochs_slope_rows(results_root: Path, profile: str) -> list[dict[str, Any]]:
    """The claim itself: how epochs to 97 % change with N, ours against the paper's.

    Per variant and BL with our runs at two or more N: the least-squares slope of the runs'
    epochs on ``log2 N`` (epochs per doubling of N) with its 95 % CI, the paper's slope from its
    runs at the same N, and the two compared (:func:`~analog_tt.core.stats.slope_difference`).
    At N = 1 the two variants are one algorithm, so replicated A's N = 1 runs are shared A's,
    as in the paper's own table.
    """
    import numpy as np

    runs = ett_runs(profile, "epochs_to_97", results_root)
    runs = runs[(runs["target"] == 0.97) & (runs["lr"] == 0.1)]
    rows = []
    for variant, bl, mine in ett_runs_over_n(runs):
        theirs_all = paper.epochs_to_97_runs(variant)
        ns = sorted(mine["n_tiles"].unique())
        unreached = int(mine["epochs_to_target"].isna().sum())
        mine = mine.dropna(subset=["epochs_to_target"])
        theirs = [(n, e) for n in ns for e in theirs_all.get((n, int(bl)), ())]
        all_n = sorted(n for n, b in theirs_all if b == bl)
        ours_fit = slope(np.log2(mine["n_tiles"]), mine["epochs_to_target"])
        paper_fit = slope([math.log2(n) for n, _ in theirs], [e for _, e in theirs])
        diff = slope_difference(ours_fit, paper_fit)
        verdict = (
            f"ours: {ours_fit['trend']}; paper: {paper_fit['trend']}; vs paper: {diff['verdict']}"
        )
        if unreached:
            verdict += f" ({unreached} run(s) did not reach 97 %, left out)"
        lacking = [n for n in all_n if n not in ns]
        rows.append(
            {
                "claim": "shared A: epochs to 97 % flat in N; replicated A: growing with N",
                "setting": f"{variant}, BL {bl}: slope over N = {', '.join(map(str, ns))}, "
                "epochs per doubling of N",
                "paper": fmt_slope(paper_fit),
                "ours": fmt_slope(ours_fit),
                "n_ours": ours_fit["n"],
                "n_paper": paper_fit["n"],
                **comparison_columns(two_sample_columns(diff), 1),
                "verdict": verdict,
                "rests_on": f"data/results/{profile}/epochs_to_97",
                "missing": f"N = {', '.join(map(str, lacking))}" if lacking else "",
            }
        )
    return rows


def spiral_slope_rows(ours, variant: str, theirs_all, profile: str) -> list[dict[str, Any]]:
    """The spiral claim itself: slope of the training accuracy on log2 N over the N >= 4 run."""
    ours = ours[ours["n_tiles"] >= 4].dropna(subset=["train_acc"])
    ns = sorted(int(n) for n in ours["n_tiles"].unique())
    if len(ns) < 2 or len(ours) < 3:
        return []
    theirs = [(n, a) for n in ns for a in theirs_all.get(n, ())]
    ours_fit = slope([math.log2(n) for n in ours["n_tiles"]], ours["train_acc"])
    paper_fit = slope([math.log2(n) for n, _ in theirs], [a for _, a in theirs])
    diff = slope_difference(ours_fit, paper_fit)
    lacking = sorted(n for n in theirs_all if n >= 4 and n not in ns)
    return [
        {
            "claim": "spiral: replicated A degrades with N, shared A does not",
            "setting": f"{variant}: slope over N = {', '.join(map(str, ns))}, out_noise 0.1, "
            "training accuracy per doubling of N",
            "paper": fmt_slope(paper_fit, 3),
            "ours": fmt_slope(ours_fit, 3),
            "n_ours": ours_fit["n"],
            "n_paper": paper_fit["n"],
            **comparison_columns(two_sample_columns(diff), 3),
            "verdict": f"ours: {ours_fit['trend']}; paper: {paper_fit['trend']}; "
            f"vs paper: {diff['verdict']}",
            "rests_on": f"data/results/{profile}/spiral_vs_n",
            "missing": f"N = {', '.join(map(str, lacking))}" if lacking else "",
        }
    ]
