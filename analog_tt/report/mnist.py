"""The MNIST results notebooks' tables and figures (notebooks 05 and 06), from the result cache.

Every function reads results through :func:`analog_tt.runs.load_results` and the paper's values
through :func:`analog_tt.paper.load`; none holds a number of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import paper
from ..core.stats import mean_ci95, verdict, welch
from ..core.vocabulary import PROFILES
from ..runs.results import load_results, summarize
from .verdicts import paper_verdict, welch_columns

__all__ = [
    "SWA_GAIN_COLUMNS",
    "ett_runs",
    "ett_runs_over_n",
    "ett_table",
    "fig2_pooled_offset",
    "fig2_table",
    "first_mode",
    "plot_fig2",
    "profiles_with",
    "swa_gain_rows",
]


def profiles_with(results_root: Path, experiment: str, current: str) -> list[str]:
    """Profiles with results of ``experiment`` (smoke only when it is the ``current`` profile)."""
    return [
        p
        for p in PROFILES
        if p == current or ((results_root / p / experiment).is_dir() and p != "smoke")
    ]


def first_mode(df):
    """Keep each run's first read mode (the one its stopping rule and Figure 2 use)."""
    first = df.groupby("key")["eval_mode"].transform("first")
    return df[df["eval_mode"] == first]


# ------------------------------------------------------------------------------------ Figure 2


def _paper_fig2(ref: dict[str, Any], metric: str, n: int) -> float | None:
    fig2 = ref["figure2_accuracy_40_epochs"]
    key = {"tile_avg": "tile_average_mean", "swa": "swa_mean"}[metric]
    return fig2[key][fig2["n_tiles"].index(n)] if n in fig2["n_tiles"] else None


def fig2_runs(profile: str, results_root: Path):
    """Per-run Figure 2 results of one profile (tile average and SWA, first read mode)."""
    df = load_results(profile, "fig2", results_root=results_root)
    return first_mode(df[df["metric"].isin(["tile_avg", "swa"])])


def fig2_table(profile: str, results_root: Path, ref: dict[str, Any]):
    """Figure 2 of one profile: mean ± 95 % CI over seeds per N and metric beside the paper's."""
    df = fig2_runs(profile, results_root)
    t = summarize(df, ["variant", "n_tiles", "metric", "eval_mode", "epochs"])
    t.insert(0, "profile", profile)
    t["paper_mean"] = [
        _paper_fig2(ref, m, n) for m, n in zip(t["metric"], t["n_tiles"], strict=True)
    ]
    t["verdict"] = [paper_verdict(r.mean, r.ci95, r.n_seeds, r.paper_mean) for r in t.itertuples()]
    paper_runs = paper.figure2_runs()
    welch_rows = []
    for r in t.itertuples():
        ours = df[(df["n_tiles"] == r.n_tiles) & (df["metric"] == r.metric)]
        ours = ours[(ours["variant"] == r.variant) & (ours["epochs"] == r.epochs)]["acc"]
        theirs = paper_runs.get(r.n_tiles, {}).get(r.metric) if r.epochs == 40 else None
        welch_rows.append(welch_columns(ours.tolist(), theirs))
    for column in welch_rows[0] if welch_rows else ():
        t[column] = [w[column] for w in welch_rows]
    return t.drop(columns="n_missing")


def fig2_pooled_offset(profile: str, results_root: Path, metric: str = "tile_avg") -> dict | None:
    """Welch test of all our Figure 2 runs against all the paper's, over the N both have.

    The claim is that accuracy is flat in N, so the per-N comparisons share one offset; pooling
    them tests it with every run (``n_tiles`` lists the N used). ``None`` with fewer than 2 runs
    on a side. 40-epoch runs only (the paper's setting).
    """
    df = fig2_runs(profile, results_root)
    df = df[(df["metric"] == metric) & (df["epochs"] == 40)]
    paper_runs = paper.figure2_runs()
    ns = sorted(set(df["n_tiles"]) & set(paper_runs))
    ours = df[df["n_tiles"].isin(ns)]["acc"].tolist()
    theirs = [v for n in ns for v in paper_runs[n][metric]]
    if len(ours) < 2 or len(theirs) < 2:
        return None
    return {"metric": metric, "n_tiles": ns, **welch(ours, theirs)}


def plot_fig2(table, profile: str, runs=None):
    """Our tile average and SWA (mean ± 95 % CI over seeds) beside the paper's means, per N.

    The y axis is zoomed to our results; a paper value below it is drawn as a triangle on the
    axis with its value written beside it (the paper's N = 1 SWA, 0.137, is one). With ``runs``
    (:func:`fig2_runs`), every seed's value is drawn too, as a small point beside its mean.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(8.5, 4))
    ns = sorted(table["n_tiles"].unique()) or [1]
    lows = (table["mean"] - table["ci95"].fillna(0)).dropna()
    bottom = max(0.0, float(lows.min()) - 0.01) if len(lows) else 0.0
    top = (
        min(
            1.0,
            float(pd.concat([table["mean"] + table["ci95"].fillna(0), table["paper_mean"]]).max())
            + 0.01,
        )
        if len(table)
        else 1.0
    )
    series = [
        ("ours, tile average", "tile_avg", None, "o", "C0"),
        ("ours, SWA", "swa", None, "s", "C1"),
        ("paper, tile average", "tile_avg", "paper", "o", "C0"),
        ("paper, SWA", "swa", "paper", "s", "C1"),
    ]
    clipped: list[float] = []
    for i, (label, metric, who, marker, color) in enumerate(series):
        sub = table[table["metric"] == metric].groupby("n_tiles").first().reindex(ns)
        xs = [k + (i - 1.5) * 0.15 for k in range(len(ns))]
        if who:
            ys = sub["paper_mean"].astype(float)
            inside = ys >= bottom
            ax.plot(
                [x for x, ok in zip(xs, inside, strict=True) if ok],
                ys[inside],
                marker,
                color=color,
                mfc="none",
                ms=8,
                ls="none",
                label=label,
            )
            for x, y in zip(xs, ys, strict=True):
                if pd.notna(y) and y < bottom:
                    ax.plot(x, bottom, "v", color=color, mfc="none", ms=8, clip_on=False)
                    ax.annotate(
                        f"{y:.3f}",
                        (x, bottom),
                        xytext=(4, 4),
                        textcoords="offset points",
                        fontsize=7,
                        color=color,
                    )
        else:
            mean, half = sub["mean"], sub["ci95"].fillna(0)
            # an accuracy lies in [0, 1]: a wide CI (2 seeds) is cut there, and the cut is marked
            low, high = (mean - half).clip(lower=0.0), (mean + half).clip(upper=1.0)
            ax.errorbar(
                xs,
                mean,
                yerr=[mean - low, high - mean],
                fmt=marker,
                color=color,
                capsize=3,
                ms=6,
                label=f"{label} (mean ± 95 % CI)",
            )
            for x, cut_high, cut_low in zip(xs, mean + half > 1.0, mean - half < 0.0, strict=True):
                if cut_high:
                    ax.plot(x, 1.0, "^", color=color, ms=6, clip_on=False)
                    clipped.append(x)
                if cut_low:
                    ax.plot(x, 0.0, "v", color=color, ms=6, clip_on=False)
                    clipped.append(x)
            if runs is not None and len(runs):
                position = dict(zip(ns, xs, strict=True))
                seeds = runs[runs["metric"] == metric]
                # beside the mean, so that the error bar does not hide them, spread by seed (a
                # fixed spread: seaborn's random jitter would change the figure's bytes each run)
                rank = seeds.groupby("n_tiles")["seed"].rank(method="first") - 1
                spread = 0.02 * (
                    rank - seeds.groupby("n_tiles")["seed"].transform("count").sub(1) / 2
                )
                seeds = seeds.assign(x=seeds["n_tiles"].map(position) + 0.07 + spread)
                sns.stripplot(
                    data=seeds.dropna(subset=["x"]),
                    x="x",
                    y="acc",
                    native_scale=True,
                    jitter=False,
                    size=3.5,
                    color=color,
                    alpha=0.6,
                    ax=ax,
                    legend=False,
                    zorder=1,
                )
    base = table[(table["n_tiles"] == 1) & (table["metric"] == "tile_avg")]["mean"]
    if len(base):
        ax.axhline(base.iloc[0], color="k", ls="--", lw=1, label="ours, 1 tile (tile average)")
    lo_seeds, hi_seeds = (table["n_seeds"].min(), table["n_seeds"].max()) if len(table) else (0, 0)
    seeds = f"{lo_seeds}" if lo_seeds == hi_seeds else f"{lo_seeds}-{hi_seeds}"
    ax.set_xticks(range(len(ns)), [str(n) for n in ns])
    ax.set(
        xlabel="replicas N"
        + ("; small points: single seeds" if runs is not None else "")
        + ("; ▲/▼: CI cut at accuracy 1 / 0" if clipped else ""),
        ylabel="test accuracy",
        ylim=(bottom, top),
        title=f"Figure 2, {profile} profile ({table['epochs'].max()} epochs, {seeds} seeds) "
        "vs paper (40 epochs, 5 seeds)",
    )
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda k: not labels[k].startswith("ours"))
    ax.legend(
        [handles[k] for k in order],
        [labels[k] for k in order],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- epochs to target


def _ett_verdict(r) -> str:
    """Fewer epochs is better; n/a for another target, no paper value, or < 2 reached seeds."""
    import pandas as pd

    if (
        r.stop_at_accuracy != 0.97
        or pd.isna(r.paper_mean)
        or r.n_reached < 2
        or r.n_reached < r.n_seeds
        or not math.isfinite(r.ci95)
    ):
        return "n/a"
    return verdict(r.mean, r.ci95, r.paper_mean, higher_is_better=False)


def ett_runs(profile: str, experiment: str, results_root: Path):
    """One row per run: ``variant, n_tiles, bl, lr, target, seed, epochs_to_target``.

    ``epochs_to_target`` is NaN for a run that stopped at its cap without reaching the target.
    """
    import pandas as pd

    df = load_results(profile, experiment, results_root=results_root)
    df = first_mode(df[df["metric"] == "tile_avg"]).copy()
    df["epochs_to_target"] = pd.to_numeric(df["epochs_to_target"])
    df = df.rename(columns={"stop_at_accuracy": "target"})
    columns = ["variant", "n_tiles", "bl", "lr", "target", "seed", "epochs_to_target"]
    return df[columns].sort_values(columns[:6]).reset_index(drop=True)


def ett_runs_over_n(runs) -> list[tuple[str, int, Any]]:
    """``(variant, bl, runs)`` for every variant and BL whose runs span two or more N.

    ``runs`` is :func:`ett_runs`'s frame, already narrowed to one target and lr. At N = 1 the two
    variants are one algorithm, so each variant's group takes the N = 1 runs whatever their
    ``variant`` field (ours are stored as ``shared_A``), as the paper's own table does.
    """
    import pandas as pd

    one_tile = runs[runs["n_tiles"] == 1]
    groups = []
    for variant in ("shared_A", "replicated_A"):
        for bl in sorted(runs["bl"].unique()):
            multi = runs[(runs["variant"] == variant) & (runs["bl"] == bl) & (runs["n_tiles"] > 1)]
            group = pd.concat([one_tile[one_tile["bl"] == bl], multi], ignore_index=True)
            if group["n_tiles"].nunique() >= 2:
                groups.append((variant, int(bl), group))
    return groups


def ett_table(profile: str, experiment: str, results_root: Path, ref: dict[str, Any]):
    """Epochs to the target accuracy per (variant, N, BL, lr) over seeds, beside the paper's."""
    import pandas as pd

    paper_values = paper.epochs_to_97_by_setting(ref)
    df = load_results(profile, experiment, results_root=results_root)
    df = first_mode(df[df["metric"] == "tile_avg"]).copy()
    df["epochs_to_target"] = pd.to_numeric(df["epochs_to_target"])
    by = ["variant", "n_tiles", "bl", "lr", "stop_at_accuracy", "max_epochs"]
    t = summarize(df, by, "epochs_to_target")
    t["n_reached"] = t["n_seeds"]
    t["n_seeds"] = t["n_seeds"] + t["n_missing"]
    t.insert(0, "profile", profile)
    t["paper_mean"] = pd.to_numeric(
        [paper_values.get((r.variant, r.n_tiles, r.bl, r.lr)) for r in t.itertuples()]
    )
    t["verdict"] = [_ett_verdict(r) for r in t.itertuples()]
    welch_rows = []
    for r in t.itertuples():
        ours = df[(df["variant"] == r.variant) & (df["n_tiles"] == r.n_tiles)]
        ours = ours[(ours["bl"] == r.bl) & (ours["lr"] == r.lr)]
        ours = ours[ours["stop_at_accuracy"] == r.stop_at_accuracy]["epochs_to_target"]
        theirs = None
        if r.stop_at_accuracy == 0.97 and r.lr == 0.1 and r.n_reached == r.n_seeds:
            theirs = paper.epochs_to_97_runs(r.variant).get((r.n_tiles, r.bl))
        welch_rows.append(welch_columns(ours.dropna().tolist(), theirs))
    for column in welch_rows[0] if welch_rows else ():
        t[column] = [w[column] for w in welch_rows]
    return t.drop(columns="n_missing").rename(columns={"stop_at_accuracy": "target"})


# ------------------------------------------------------------------------------------- SWA gain

SWA_GAIN_COLUMNS = [
    "profile", "experiment", "variant", "n_tiles", "eval_mode", "epochs", "swa_start", "metric",
    "n_seeds", "tile_avg", "averaged", "gain", "gain_ci95", "distinguishable", "paper_gain",
    "verdict",
]  # fmt: skip


def _paper_swa_gain(ref: dict[str, Any], experiment: str, metric: str, n: int) -> float | None:
    fig2, swa002 = ref["figure2_accuracy_40_epochs"], ref["swa_runs"]["mnist_swa_002"]
    if experiment == "fig2" and metric == "swa" and n in fig2["n_tiles"]:
        i = fig2["n_tiles"].index(n)
        return fig2["swa_mean"][i] - fig2["tile_average_mean"][i]
    if experiment == "swa" and n in swa002["n_tiles"]:
        i = swa002["n_tiles"].index(n)
        column = {"swa": "swa", "swa_weighted": "weighted_swa"}[metric]
        return swa002[column][i] - swa002["tile_average"][i]
    return None


def swa_gain_rows(
    profile: str,
    results_root: Path,
    ref: dict[str, Any],
    experiments: Sequence[str] = ("fig2", "swa"),
) -> list[dict[str, Any]]:
    """Paired per-seed gain of SWA (and weighted SWA) over the tile average, per group."""
    group_by = ["variant", "n_tiles", "eval_mode", "epochs", "swa_start"]
    rows = []
    for experiment in experiments:
        df = load_results(profile, experiment, results_root=results_root)
        if df.empty:
            continue
        wide = df.pivot_table(index=[*group_by, "seed"], columns="metric", values="acc")
        wide = wide.reset_index()
        for metric in [m for m in ("swa", "swa_weighted") if m in wide.columns]:
            for group, sub in wide.dropna(subset=[metric]).groupby(group_by):
                gain, ci, n = mean_ci95(sub[metric] - sub["tile_avg"])
                paper_value = _paper_swa_gain(ref, experiment, metric, group[1])
                rows.append(
                    {
                        "profile": profile,
                        "experiment": experiment,
                        **dict(zip(group_by, group, strict=True)),
                        "metric": metric,
                        "n_seeds": n,
                        "tile_avg": sub["tile_avg"].mean(),
                        "averaged": sub[metric].mean(),
                        "gain": gain,
                        "gain_ci95": ci,
                        "distinguishable": "n/a" if n < 2 else ("yes" if abs(gain) > ci else "no"),
                        "paper_gain": paper_value,
                        "verdict": paper_verdict(gain, ci, n, paper_value),
                    }
                )
    return rows
