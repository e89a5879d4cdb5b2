"""Speed-ups and Pareto fronts of the hardware model over (variant, N, BL) settings."""

from __future__ import annotations

from typing import Any

from .model import Timing, paper_costs, pareto_mask

__all__ = ["model_costs", "pareto_front", "speedups", "speedups_at"]


def model_costs(
    n_tiles: int,
    bl: int,
    variant: str,
    epochs: float,
    timing: Timing | None = None,
    paper_accounting: bool = True,
) -> dict[str, Any]:
    """Time (s) and energy (J) to train ``epochs`` epochs of the paper's MNIST network.

    ``paper_accounting=True`` includes what the paper's tables charge besides training (its
    logging reads and fixed programming costs); ``False`` charges training alone (for our
    measured epochs, which have no paper log run).
    """
    c = paper_costs(
        int(n_tiles),
        bl,
        variant,
        epochs,
        timing=timing,
        log_reads=paper_accounting,
        include_fixed=paper_accounting,
    )
    return {"time_s": c["time_s"], "energy_j": c["energy_j"], "paper_accounting": paper_accounting}


def speedups(data, quantity: str = "time_s"):
    """Per (variant, N): the setting (BL) with the least ``quantity``, and its speed-up.

    Parameters
    ----------
    data : pandas.DataFrame
        Rows with ``variant``, ``n_tiles``, ``bl``, ``epochs_to_97``, ``time_s``, ``energy_j``;
        must contain ``n_tiles == 1`` rows (the baseline: the fastest 1-tile setting).

    Returns
    -------
    pandas.DataFrame
        ``variant, n_tiles, best_bl, epochs_to_97, time_s, speedup`` (baseline time over this
        time), ``energy_j``, ``energy_overhead`` (over the least 1-tile energy), ``baseline``.
    """
    import pandas as pd

    one = data[data["n_tiles"] == 1]
    if one.empty:
        raise ValueError("speedups needs 1-tile rows (n_tiles == 1) as the baseline")
    t1 = one.loc[one[quantity].idxmin()]
    e1 = one["energy_j"].min()
    out = []
    for (variant, n), g in data.groupby(["variant", "n_tiles"]):
        best = g.loc[g[quantity].idxmin()]
        out.append(
            {
                "variant": variant,
                "n_tiles": n,
                "best_bl": int(best["bl"]),
                "epochs_to_97": best["epochs_to_97"],
                "time_s": best["time_s"],
                "speedup": t1["time_s"] / best["time_s"],
                "energy_j": best["energy_j"],
                "energy_overhead": best["energy_j"] / e1,
                "baseline": f"N=1 BL {int(t1['bl'])}: {t1['time_s']:.3g} s",
            }
        )
    return pd.DataFrame(out)


def speedups_at(settings, data, quantity: str = "time_s"):
    """Speed-ups of ``data`` at given settings, over ``data``'s fastest 1-tile setting.

    For comparing two sources at the same setting, e.g. the paper's own table at the BL our
    measured runs found fastest (our runs cover fewer BL than the paper's, so the two "best"
    settings need not agree).

    Parameters
    ----------
    settings : pandas.DataFrame
        Rows with ``variant``, ``n_tiles`` and ``best_bl`` (e.g. :func:`speedups`' output).
    data : pandas.DataFrame
        Rows with ``variant``, ``n_tiles``, ``bl`` and ``quantity``, including 1-tile rows.

    Returns
    -------
    list of float
        Per row of ``settings``, the 1-tile minimum of ``quantity`` over ``data``'s value at that
        (variant, N, BL); NaN where ``data`` has no such setting.
    """
    one = data[data["n_tiles"] == 1]
    if one.empty:
        raise ValueError("speedups_at needs 1-tile rows (n_tiles == 1) in data as the baseline")
    baseline = float(one[quantity].min())
    at = data.set_index(["variant", "n_tiles", "bl"])[quantity].to_dict()
    return [
        baseline / at[key] if (key := (r.variant, r.n_tiles, r.best_bl)) in at else float("nan")
        for r in settings.itertuples()
    ]


def pareto_front(data):
    """The rows of ``data`` (``time_s``, ``energy_j``) that no other row beats in both, fastest first."""
    d = data.reset_index(drop=True)
    return d[pareto_mask(d["time_s"], d["energy_j"])].sort_values("time_s")
