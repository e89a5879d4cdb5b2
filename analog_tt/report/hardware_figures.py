"""Figures of the hardware model (notebook 07)."""

from __future__ import annotations

from ..core.vocabulary import VARIANTS

__all__ = ["pareto_figure", "time_energy_figure"]


def time_energy_figure(data, label: str, with_paper: bool):
    """Time and energy to 97 % against N, one line per BL, per variant (2 x 2 panels).

    Parameters
    ----------
    data : pandas.DataFrame
        Rows with ``variant``, ``n_tiles``, ``bl``, ``time_s``, ``energy_j`` (and, with
        ``with_paper``, ``paper_time_s``, ``paper_energy_j``, drawn as crosses).
    label : str
        Where the epochs came from (in the title).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5), sharex=True)
    bls = sorted(data["bl"].unique())
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(bls)))
    for j, variant in enumerate(VARIANTS):
        d = data[data["variant"] == variant]
        for k, (quantity, unit) in enumerate((("time_s", "s"), ("energy_j", "J"))):
            ax = axes[k, j]
            for bl, colour in zip(bls, colours, strict=True):
                s = d[d["bl"] == bl].sort_values("n_tiles")
                ax.plot(s["n_tiles"], s[quantity], "o-", color=colour, ms=3, label=f"BL {bl}")
                if with_paper:
                    ax.plot(s["n_tiles"], s["paper_" + quantity], "x", color=colour, ms=7)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_ylabel(f"{quantity.split('_')[0]} to 97 % [{unit}]")
            ax.grid(alpha=0.3, which="both")
            if k == 0:
                ax.set_title(variant)
            else:
                ax.set_xlabel("tiles N")
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.suptitle(
        f"Training time and energy to 97 % (epochs: {label}; x = paper's table)"
        if with_paper
        else f"Training time and energy to 97 % (epochs: {label})"
    )
    fig.tight_layout()
    return fig


def _log_ticks(axis) -> None:
    """Labels at 1, 2, 5 x 10^k in plain numbers, none on minor ticks (they collide on log axes)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def pareto_figure(points, front, label: str):
    """Time and energy to 97 % of every setting, with the Pareto front labelled.

    Parameters
    ----------
    points : pandas.DataFrame
        Rows with ``variant``, ``n_tiles``, ``bl``, ``lr``, ``time_s``, ``energy_j``.
    front : pandas.DataFrame
        The Pareto-optimal rows of ``points`` (:func:`analog_tt.hardware.pareto_front`).
    label : str
        Where the epochs came from (in the title).

    Returns
    -------
    matplotlib.figure.Figure
        Marker shape: learning rate; colour: variant. N = 1 is one setting for both variants
        (they coincide), drawn once in grey.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    markers = {0.05: "v", 0.1: "o", 0.5: "^"}
    colours = {"shared_A": "C0", "replicated_A": "C3", "N = 1": "0.35"}
    one = points["n_tiles"] == 1
    groups = points[~one].assign(group=points["variant"])
    groups = [groups, points[one & (points["variant"] == "shared_A")].assign(group="N = 1")]
    for data in groups:
        for (group, lr), g in data.groupby(["group", "lr"]):
            ax.scatter(g["time_s"], g["energy_j"], marker=markers.get(lr, "o"), s=22, alpha=0.6,
                       color=colours[group], label=f"{group}, lr {lr}")  # fmt: skip
    ax.plot(front["time_s"], front["energy_j"], "k-", lw=1, label="Pareto front")
    for r in front.to_dict("records"):
        ax.annotate(
            f"{'S' if r['variant'] == 'shared_A' else 'R'} N{r['n_tiles']} BL{r['bl']} lr{r['lr']}",
            (r["time_s"], r["energy_j"]),
            fontsize=6.5,
            xytext=(4, 3),
            textcoords="offset points",
        )
    ax.set(xscale="log", yscale="log", xlabel="time to 97 % [s]", ylabel="energy to 97 % [J]")
    _log_ticks(ax.xaxis)
    _log_ticks(ax.yaxis)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2, title="marker: learning rate", title_fontsize=7)
    ax.set_title(
        f"Time-energy trade-off (epochs: {label}; labels: S = shared_A, R = replicated_A)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
