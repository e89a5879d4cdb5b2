"""Figures of the hardware model (notebook 07)."""

from __future__ import annotations

from ..core.vocabulary import VARIANTS

__all__ = ["time_energy_figure"]


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
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
