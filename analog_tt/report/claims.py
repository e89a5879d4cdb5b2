"""The claims ledger: one row per claim of the paper, ours beside it, from the result files.

Each row holds the paper's statement and number, ours (mean ± 95 % CI over seeds, ``n``), the
comparison (Welch's t-test against the paper's per-run values where the paper has them), the runs
it rests on and what is still missing. Nothing here holds a number: the paper's values come from
:mod:`analog_tt.paper`, ours from the paper-profile results, and a claim without enough runs says
so instead of getting a verdict.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .. import paper
from ..core.stats import mean_ci95, welch_summary
from ..runs.results import load_results
from .claim_init import init_rows
from .claim_lr import lr_rows
from .claim_slopes import epochs_slope_rows, figure2_slope_rows, spiral_slope_rows
from .fig2_epochs import fig2_epochs_to_97_brackets
from .ledger_cells import (
    PAPER_SEEDS,
    comparison_columns,
    fmt_mean_ci,
    missing_seeds,
    two_sample_columns,
)
from .mnist import (
    ett_table,
    fig2_pooled_offset,
    fig2_table,
    swa_gain_rows,
)
from .verdicts import welch_columns

__all__ = ["CLAIMS_COLUMNS", "EPOCHS_TO_97_CELLS", "claims_ledger"]

CLAIMS_COLUMNS = [
    "claim", "setting", "paper", "ours", "n_ours", "n_paper", "difference",
    "difference_ci", "p_value", "verdict", "rests_on", "missing",
]  # fmt: skip

#: The epochs-to-97 % cells the ledger asks for (issue: the paper-claims campaign).
EPOCHS_TO_97_CELLS = tuple(
    [("shared_A", n, bl) for n in (1, 8, 32) for bl in (2, 5, 31)]
    + [("replicated_A", n, bl) for n in (8, 32) for bl in (10, 31, 100)]
)


def _figure2_rows(results_root: Path, profile: str) -> list[dict[str, Any]]:
    ref = paper.load("mnist")
    table = fig2_table(profile, results_root, ref)
    table = table[(table["metric"] == "tile_avg") & (table["epochs"] == 40)]
    runs = paper.figure2_runs()
    rows = []
    for n in sorted(runs):
        theirs = runs[n]["tile_avg"]
        mine = table[table["n_tiles"] == n]
        ours_n = int(mine["n_seeds"].iloc[0]) if len(mine) else 0
        mean = float(mine["mean"].iloc[0]) if len(mine) else math.nan
        ci = float(mine["ci95"].iloc[0]) if len(mine) else math.nan
        welch = mine.iloc[0].to_dict() if len(mine) else welch_columns([], theirs)
        above = "n/a"
        if ours_n >= 2:  # the CI above 97 %, below it, or across it (not shown either way)
            above = "yes" if mean - ci > 0.97 else ("no" if mean + ci < 0.97 else "not shown")
        verdict = (
            "too few runs"
            if welch["welch_verdict"] == "n/a"
            else f"> 97 %: {above}; vs paper: {welch['welch_verdict']}"
        )
        rows.append(
            {
                "claim": "Figure 2: > 97 % test accuracy after 40 epochs, flat in N",
                "setting": f"N = {n}, shared A, BL 31, tile average",
                "paper": fmt_mean_ci(*mean_ci95(theirs), 4),
                "ours": fmt_mean_ci(mean, ci, ours_n, 4),
                "n_ours": ours_n,
                "n_paper": len(theirs),
                **comparison_columns(welch, 4),
                "verdict": verdict,
                "rests_on": f"data/results/{profile}/fig2",
                "missing": missing_seeds(ours_n),
            }
        )
    pooled = fig2_pooled_offset(profile, results_root)
    if pooled is not None:
        welch = two_sample_columns(pooled)
        rows.append(
            {
                "claim": "Figure 2: one accuracy offset from the paper's, pooled over N",
                "setting": "N = " + ", ".join(str(n) for n in pooled["n_tiles"]),
                "paper": "per-run values, mnist_swa_16.csv",
                "ours": "per-run values",
                "n_ours": pooled["n_ours"],
                "n_paper": pooled["n_paper"],
                **comparison_columns(welch, 4),
                "verdict": f"vs paper: {pooled['verdict']}",
                "rests_on": f"data/results/{profile}/fig2",
                "missing": "",
            }
        )
    return rows + figure2_slope_rows(results_root, profile, runs)


def _epochs_rows(results_root: Path, profile: str) -> list[dict[str, Any]]:
    table = ett_table(profile, "epochs_to_97", results_root, paper.load("mnist"))
    table = table[(table["target"] == 0.97) & (table["lr"] == 0.1)]
    rows = []
    for variant, n, bl in EPOCHS_TO_97_CELLS:
        theirs = paper.epochs_to_97_runs(variant)[(n, bl)]
        mine = table[(table["variant"] == variant) & (table["n_tiles"] == n) & (table["bl"] == bl)]
        mine = mine.iloc[0].to_dict() if len(mine) else None
        n_runs = int(mine["n_seeds"]) if mine else 0
        n_reached = int(mine["n_reached"]) if mine else 0
        welch = mine if mine else welch_columns([], theirs)
        if n_runs and n_reached < n_runs:
            verdict = f"{n_runs - n_reached} run(s) did not reach 97 % by the cap"
        elif welch["welch_verdict"] == "n/a":
            verdict = "too few runs"
        else:
            verdict = f"vs paper: {welch['welch_verdict']} (fewer epochs is better)"
        rows.append(
            {
                "claim": "shared A: epochs to 97 % flat in N; replicated A: growing with N",
                "setting": f"{variant}, N = {n}, BL {bl}, lr 0.1",
                "paper": fmt_mean_ci(*mean_ci95(theirs), 1),
                "ours": fmt_mean_ci(mine["mean"], mine["ci95"], n_reached, 1) if mine else "–",
                "n_ours": n_runs,
                "n_paper": len(theirs),
                **comparison_columns(welch, 1),
                "verdict": verdict,
                "rests_on": f"data/results/{profile}/epochs_to_97",
                "missing": missing_seeds(n_runs, 3) if n_runs < 3 else "",
            }
        )
    return rows


def _bracket_rows(results_root: Path, profile: str) -> list[dict[str, Any]]:
    table = fig2_epochs_to_97_brackets(profile, results_root)
    rows = []
    for r in table.itertuples():
        rows.append(
            {
                "claim": "epochs to 97 % bracketed by the Figure 2 runs (tests at epochs 5, 10, "
                "..., 35 and every epoch from 35)",
                "setting": f"{r.variant}, N = {r.n_tiles}, BL {r.bl}, lr 0.1",
                "paper": fmt_mean_ci(r.paper_mean, r.paper_ci95, r.paper_n_runs, 1),
                "ours": f"in [{r.low_mean:.1f}, {r.high_mean:.1f}] (mean of the brackets)",
                "n_ours": r.n_seeds,
                "n_paper": r.paper_n_runs,
                "difference": math.nan,
                "difference_ci": "–"
                if r.verdict == "n/a"
                else f"[{r.difference_ci_low:+.1f}, {r.difference_ci_high:+.1f}]",
                "p_value": math.nan,
                "verdict": "too few runs" if r.verdict == "n/a" else r.verdict,
                "rests_on": f"data/results/{profile}/fig2",
                "missing": missing_seeds(r.n_seeds),
            }
        )
    return rows


def _model_time(variant: str, n: int, bl: int, epochs: float, ci: float) -> tuple[float, float]:
    """Modelled training time (s) of ``epochs`` and its CI half-width (time is affine in epochs)."""
    from ..hardware.analysis import model_costs

    time = model_costs(n, bl, variant, epochs, paper_accounting=False)["time_s"]
    per_epoch = model_costs(n, bl, variant, epochs + 1, paper_accounting=False)["time_s"] - time
    return time, per_epoch * (ci if math.isfinite(ci) else math.nan)


def _speedup_rows(results_root: Path, profile: str) -> list[dict[str, Any]]:
    ref = paper.load("mnist")["epochs_time_energy"]["rows"]
    paper_time = {(r["variant"], r["n_tiles"], r["bl"]): r["time_s"] for r in ref}
    table = ett_table(profile, "epochs_to_97", results_root, paper.load("mnist"))
    have = {
        (r.variant, r.n_tiles, r.bl): (r.mean, r.ci95, r.n_reached)
        for r in table.itertuples()
        if r.target == 0.97 and r.lr == 0.1 and r.n_reached >= 1 and r.n_reached == r.n_seeds
    }
    rows = []
    for variant, bl, quoted in (("shared_A", 2, 6.9), ("replicated_A", 31, 12.4)):
        t1_paper = min(t for (v, n, _), t in paper_time.items() if n == 1 and v == variant)
        cell = (variant, 32, bl)
        ones = [c for c in have if c[0] == "shared_A" and c[1] == 1]
        row = {
            "claim": f"speed-up over the fastest 1-tile setting, {variant}, N = 32",
            "setting": f"{variant}, N = 32, BL {bl}; §4.3 time model, our epochs to 97 %",
            "paper": f"{quoted}x (its table: {t1_paper / paper_time[cell]:.1f}x)",
            "n_paper": PAPER_SEEDS,
            "difference": math.nan,
            "difference_ci": "–",
            "p_value": math.nan,
            "rests_on": f"data/results/{profile}/epochs_to_97",
        }
        if cell not in have or not ones:
            lacking = ([] if cell in have else [cell]) + ([] if ones else [("shared_A", 1, 31)])
            rows.append(
                {
                    **row,
                    "ours": "–",
                    "n_ours": 0,
                    "verdict": "not measured yet",
                    "missing": "epochs to 97 % of "
                    + "; ".join(f"{v} N={n} BL{b}" for v, n, b in lacking),
                }
            )
            continue
        times = {c: _model_time(c[0], c[1], c[2], have[c][0], have[c][1]) for c in [*ones, cell]}
        base = min(ones, key=lambda c: times[c][0])
        (t1, c1), (tn, cn) = times[base], times[cell]
        speedup = t1 / tn
        half = speedup * math.sqrt((c1 / t1) ** 2 + (cn / tn) ** 2)
        n_ours = min(have[base][2], have[cell][2])
        if n_ours < 2 or not math.isfinite(half):
            verdict = "too few runs"
        else:
            verdict = (
                "indistinguishable"
                if abs(speedup - quoted) <= half
                else ("higher" if speedup > quoted else "lower")
            )
        rows.append(
            {
                **row,
                "ours": (
                    f"{speedup:.1f}x (1 run"
                    if n_ours < 2 or not math.isfinite(half)
                    else f"{speedup:.1f}x ± {half:.1f} ({n_ours} seeds"
                )
                + f"; 1 tile: BL {base[2]})",
                "n_ours": n_ours,
                "verdict": verdict,
                "missing": missing_seeds(n_ours, 3) if n_ours < 3 else "",
            }
        )
    return rows


def _spiral_rows(results_root: Path, profile: str) -> list[dict[str, Any]]:
    df = load_results(profile, "spiral_vs_n", results_root=results_root)
    df = df[(df["metric"] == "tile_avg") & (df["out_noise"] == 0.1)]
    rows = []
    for variant in ("shared_A", "replicated_A"):
        theirs_all = paper.spiral_runs(variant)
        for n in (4, 8, 16, 32, 64):
            theirs = theirs_all.get(n, ())
            ours = df[(df["variant"] == variant) & (df["n_tiles"] == n)]["train_acc"].dropna()
            if n in (8, 32) and ours.empty:
                continue  # the issue asks for N = 4, 16, 64; 8 and 32 show once run
            welch = welch_columns(ours.tolist(), theirs)
            rows.append(
                _spiral_row(
                    "spiral: replicated A degrades with N, shared A does not",
                    f"{variant}, N = {n}, out_noise 0.1, 1000 epochs, training set",
                    fmt_mean_ci(*mean_ci95(theirs), 3) if len(theirs) > 1 else "–",
                    ours.tolist(),
                    len(theirs),
                    welch,
                    f"data/results/{profile}/spiral_vs_n",
                )
            )
        rows += spiral_slope_rows(df[df["variant"] == variant], variant, theirs_all, profile)
    return rows


def _spiral_row(
    claim: str,
    setting: str,
    paper_text: str,
    ours: list[float],
    n_paper: int,
    welch: dict[str, Any],
    rests_on: str,
) -> dict[str, Any]:
    """One ledger row of a spiral claim: ours (training-set accuracy) beside the paper's."""
    mean, ci, k = mean_ci95(ours) if len(ours) else (math.nan, math.nan, 0)
    return {
        "claim": claim,
        "setting": setting,
        "paper": paper_text,
        "ours": fmt_mean_ci(mean, ci, k, 3),
        "n_ours": k,
        "n_paper": n_paper,
        **comparison_columns(welch, 3),
        "verdict": "too few runs"
        if welch["welch_verdict"] == "n/a"
        else f"vs paper: {welch['welch_verdict']}",
        "rests_on": rests_on,
        "missing": missing_seeds(k),
    }


def _spiral_one_tile_rows(results_root: Path, profile: str) -> list[dict[str, Any]]:
    """AGAD on one tile (N = 1): noise 0 against the paper's mean and sd over its 10 runs
    (``training_results_combined.csv``), noise 0.1 against its 10 runs (``agad_v1.csv``)."""
    df = load_results(profile, "spiral_one_tile", results_root=results_root)
    df = df[(df["metric"] == "tile_avg") & (df["algorithm"] == "agad")]
    combined = paper.load("spiral")["multi_tile_combined"]
    n_paper = int(combined["settings"]["runs"])
    one = combined["n_tiles"].index(1)
    rows = []
    for noise in (0.0, 0.1):
        ours = df[df["out_noise"] == noise]["train_acc"].dropna().tolist()
        if noise == 0.0:
            p_mean = float(combined["train_acc"]["0.0"][one])
            p_sd = float(combined["train_acc_std_n1"]["0.0"])
            paper_text = f"{p_mean:.3f} (sd {p_sd:.3f}, {n_paper} runs)"
            source = "training_results_combined.csv"
            welch = (
                {"welch_verdict": "n/a"}
                if len(ours) < 2
                else two_sample_columns(welch_summary(ours, p_mean, p_sd, n_paper))
            )
        else:
            theirs = paper.spiral_runs("shared_A")[1]
            paper_text = fmt_mean_ci(*mean_ci95(theirs), 3)
            source = "agad_v1.csv"
            welch = welch_columns(ours, theirs)
            n_paper = len(theirs)
        rows.append(
            _spiral_row(
                "spiral, one tile: AGAD at N = 1 (the multi-tile runs' baseline)",
                f"AGAD, N = 1, out_noise {noise:g}, 1000 epochs, training set (paper: {source})",
                paper_text,
                ours,
                n_paper,
                welch,
                f"data/results/{profile}/spiral_one_tile",
            )
        )
        if noise == 0.1:
            rows += _spiral_one_tile_converged_rows(df[df["out_noise"] == noise], profile)
    return rows


def _spiral_one_tile_converged_rows(ours_df, profile: str) -> list[dict[str, Any]]:
    """AGAD at N = 1, out_noise 0.1, both sides without their diverged runs (NaN loss), where
    either side has one: a chance-level run widens the spread enough to hide a difference."""
    theirs_all = paper.spiral_runs("shared_A")[1]
    theirs = paper.spiral_runs("shared_A", drop_diverged=True)[1]
    converged = ours_df["diverged_at_epoch"].isna()
    if len(theirs) == len(theirs_all) and converged.all():
        return []
    ours = ours_df[converged]["train_acc"].dropna().tolist()
    return [
        _spiral_row(
            "spiral, one tile: AGAD at N = 1 (the multi-tile runs' baseline)",
            "AGAD, N = 1, out_noise 0.1, 1000 epochs, training set, runs that did not diverge "
            f"(paper: agad_v1.csv, {len(theirs)} of {len(theirs_all)} runs; ours: "
            f"{len(ours)} of {len(ours_df)})",
            fmt_mean_ci(*mean_ci95(theirs), 3),
            ours,
            len(theirs),
            welch_columns(ours, theirs),
            f"data/results/{profile}/spiral_one_tile",
        )
    ]


def _swa_rows(results_root: Path, profile: str) -> list[dict[str, Any]]:
    rows = []
    for r in swa_gain_rows(profile, results_root, paper.load("mnist"), experiments=("fig2",)):
        if r["metric"] != "swa" or r["epochs"] != 40:
            continue
        rows.append(
            {
                "claim": "SWA over the last epochs adds little to the tile average (N = 1: broken)",
                "setting": f"N = {r['n_tiles']}, SWA from epoch {r['swa_start']}",
                "paper": "–" if r["paper_gain"] is None else f"gain {r['paper_gain']:+.4f}",
                "ours": f"gain {fmt_mean_ci(r['gain'], r['gain_ci95'], r['n_seeds'], 4)}",
                "n_ours": r["n_seeds"],
                "n_paper": PAPER_SEEDS,
                "difference": math.nan,
                "difference_ci": "–",
                "p_value": math.nan,
                "verdict": f"gain distinguishable from 0: {r['distinguishable']}",
                "rests_on": f"data/results/{profile}/fig2",
                "missing": missing_seeds(r["n_seeds"]),
            }
        )
    return rows


def claims_ledger(results_root: Path, profile: str = "paper"):
    """The ledger as a DataFrame (columns :data:`CLAIMS_COLUMNS`), from ``profile``'s results."""
    import pandas as pd

    rows = (
        _figure2_rows(results_root, profile)
        + _epochs_rows(results_root, profile)
        + epochs_slope_rows(results_root, profile)
        + _bracket_rows(results_root, profile)
        + _speedup_rows(results_root, profile)
        + _spiral_rows(results_root, profile)
        + _spiral_one_tile_rows(results_root, profile)
        + _swa_rows(results_root, profile)
        + init_rows(results_root, profile)
        + lr_rows(results_root, profile)
    )
    return pd.DataFrame(rows, columns=CLAIMS_COLUMNS)
