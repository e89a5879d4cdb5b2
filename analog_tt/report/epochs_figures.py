"""Figures of the paper profile's epochs-to-97 % runs over the paper's own runs.

Per-epoch learning curves per cell (:func:`plot_learning_curves`) and the runs' epochs against N
per variant and BL (:func:`plot_epochs_vs_n`, the picture of the ledger's "slope over N" rows).
Both read the result files and the paper's per-run CSVs (:mod:`analog_tt.paper`); nothing here
holds a number.
"""

from __future__ import annotations

import math
from pathlib import Path

from .. import paper
from ..core.stats import mean_ci95
from ..runs.results import load_results
from .mnist import ett_runs, ett_runs_over_n, first_mode

__all__ = ["plot_epochs_vs_n", "plot_learning_curves"]


def plot_learning_curves(profile: str, results_root: Path, experiment: str = "epochs_to_97"):
    """Per-epoch test accuracy of our epochs-to-97 % runs over the paper's, one panel per cell.

    The paper's runs (``mnist_bl_v{1,2}.csv``) as thin grey lines; ours as a band, the lowest to
    the highest of our seeds at each epoch; thick lines: each side's mean over the runs still
    running at that epoch (a run stops once it reaches 97 %). Cells: those we have run at the
    paper's target (0.97) and lr (0.1).

    Returns
    -------
    matplotlib.figure.Figure or None
        ``None`` when there is no such run.
    """
    import numpy as np

    df = load_results(profile, experiment, per_epoch=True, results_root=results_root)
    df = first_mode(df[(df["metric"] == "tile_avg") & (df["stop_at_accuracy"] == 0.97)])
    df = df[df["lr"] == 0.1]
    cells = sorted({(r.variant, r.n_tiles, r.bl) for r in df.itertuples()})
    if not cells:
        return None
    fig, axes = _panel_grid(len(cells), (4.2, 3.2))

    def padded(curves):
        """``[runs, longest]`` accuracies, NaN after a run has stopped."""
        out = np.full((len(curves), max(len(c) for c in curves)), np.nan)
        for i, c in enumerate(curves):
            out[i, : len(c)] = c
        return out

    def mean_curve(curves):
        table = padded(curves)
        return np.arange(1, table.shape[1] + 1), np.nanmean(table, axis=0)

    for ax, (variant, n, bl) in zip(axes.flat, cells, strict=False):
        theirs = paper.epochs_to_97_curves(variant).get((n, bl), ())
        for curve in theirs:
            ax.plot(range(1, len(curve) + 1), curve, color="0.6", lw=0.7)
        sub = df[(df["variant"] == variant) & (df["n_tiles"] == n) & (df["bl"] == bl)]
        ours = [g.sort_values("epoch")["acc"].to_numpy() for _, g in sub.groupby("seed")]
        table = padded(ours)
        ax.fill_between(
            np.arange(1, table.shape[1] + 1),
            np.nanmin(table, axis=0),
            np.nanmax(table, axis=0),
            color="C0",
            alpha=0.25,
            lw=0,
            label="ours, lowest to highest seed",
        )
        if theirs:
            ax.plot(*mean_curve(theirs), color="0.3", lw=2, label=f"paper ({len(theirs)} runs)")
        seeds = f"{len(ours)} seed" + ("s" if len(ours) != 1 else "")
        ax.plot(*mean_curve(ours), color="C0", lw=2, label=f"ours ({seeds})")
        ax.axhline(0.97, color="k", ls=":", lw=1)
        ax.set(title=f"{variant}, N = {n}, BL {bl}", xlabel="epoch", ylabel="test accuracy")
        ax.set_ylim(0.9, 0.975)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    return _finish(
        fig,
        axes,
        len(cells),
        f"Epochs to 97 %: test accuracy of the tile average per epoch ({profile} profile, "
        "lr 0.1) over the paper's runs",
        fontsize=10,
    )


def plot_epochs_vs_n(profile: str, results_root: Path, experiment: str = "epochs_to_97"):
    """Epochs to 97 % against N, ours over the paper's, one panel per (variant, BL) we have run.

    The paper's runs (``mnist_bl_v{1,2}.csv``) at every N of its table as grey points and their
    mean; ours per seed and mean ± 95 % CI. At N = 1 the variants are one algorithm, so a
    replicated A panel shows shared A's N = 1 runs (as the paper's own table does). Panels: the
    (variant, BL) with our runs at the paper's target (0.97) and lr (0.1) at two or more N.

    Returns
    -------
    matplotlib.figure.Figure or None
        ``None`` when no (variant, BL) has runs at two N.
    """
    import numpy as np

    runs = ett_runs(profile, experiment, results_root)
    panels = ett_runs_over_n(runs[(runs["target"] == 0.97) & (runs["lr"] == 0.1)])
    if not panels:
        return None
    fig, axes = _panel_grid(len(panels), (4.0, 3.2))
    for ax, (variant, bl, mine) in zip(axes.flat, panels, strict=False):
        theirs = {n: e for (n, b), e in paper.epochs_to_97_runs(variant).items() if b == bl}
        ns = sorted(theirs)
        for n in ns:
            ax.plot([n] * len(theirs[n]), theirs[n], "o", color="0.7", ms=3, zorder=1)
        ax.plot(ns, [np.mean(theirs[n]) for n in ns], "-", color="0.4", lw=1.5,
                label="paper (5 runs per N)", zorder=2)  # fmt: skip
        reached = mine.dropna(subset=["epochs_to_target"])
        jitter = 1.06
        ax.plot(reached["n_tiles"] * jitter, reached["epochs_to_target"], "o", color="C0",
                ms=3, alpha=0.6, zorder=3)  # fmt: skip
        stats = [(n, *mean_ci95(g["epochs_to_target"])) for n, g in reached.groupby("n_tiles")]
        n_seeds = sorted({int(s[3]) for s in stats})
        ax.errorbar(
            [s[0] * jitter for s in stats],
            [s[1] for s in stats],
            yerr=[0 if not math.isfinite(s[2]) else s[2] for s in stats],
            fmt="s-",
            color="C0",
            capsize=3,
            label=f"ours (mean ± 95 % CI, {'-'.join(map(str, n_seeds))} seeds)",
            zorder=4,
        )
        unreached = int(mine["epochs_to_target"].isna().sum())
        title = f"{variant}, BL {bl}" + (f" ({unreached} run(s) not at 97 %)" if unreached else "")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set(title=title, xlabel="replicas N", ylabel="epochs to 97 %")
        ax.grid(alpha=0.3)
        low, high = ax.get_ylim()  # headroom: the legend sits above every run and error bar
        ax.set_ylim(low, high + 0.35 * (high - low))
        ax.legend(fontsize=7, loc="upper left")
    return _finish(
        fig,
        axes,
        len(panels),
        f"Epochs to 97 % against N ({profile} profile, lr 0.1): ours over the paper's runs; "
        "replicated A at N = 1 is shared A's (one algorithm)",
        fontsize=9,
    )


def _panel_grid(n_panels: int, panel_size: tuple[float, float]):
    """A figure of up to 3 panels a row: ``(fig, axes)`` with ``axes`` 2-D."""
    import matplotlib.pyplot as plt

    cols = min(3, n_panels)
    rows = math.ceil(n_panels / cols)
    width, height = panel_size
    return plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)


def _finish(fig, axes, n_used: int, title: str, fontsize: float):
    """Blank the unused panels, title the figure and lay it out."""
    for ax in list(axes.flat)[n_used:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=fontsize)
    # keep a band of about 0.4 inch for the title: tight_layout alone lets the first row's panel
    # titles run into it on tall grids
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    return fig
