"""Tables that several notebooks build from :func:`analog_tt.runs.load_results` frames."""

from __future__ import annotations

from collections.abc import Sequence

from ..runs.results import summarize

__all__ = ["SPIRAL_METRICS", "final_metrics_table"]

#: Spiral metrics of a run and the ``load_results`` column each comes from: the digital copy on
#: the training set (the paper's metric) and on the held-out set, and the analog forward on both.
SPIRAL_METRICS = {
    "train": "train_acc",
    "heldout": "acc",
    "analog_train": "analog_train_acc",
    "analog_heldout": "analog_test_acc",
}


def final_metrics_table(df, by: Sequence[str], metrics: Sequence[str] = ("train", "heldout")):
    """Mean and 95 % CI over seeds of final spiral metrics per group of ``by``.

    Parameters
    ----------
    df : pandas.DataFrame
        ``load_results(...)`` rows of one read mode and the ``tile_avg`` metric.
    by : sequence of str
        Config columns to group by.
    metrics : sequence of str
        Keys of :data:`SPIRAL_METRICS`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``n`` (runs that did not diverge), ``diverged``, and per metric
        ``<metric>`` (mean) and ``<metric>_ci`` (95 % half-width; NaN with one run).
    """
    by = list(by)
    data = df.copy()
    diverged = data["diverged_at_epoch"].notna()
    for column in SPIRAL_METRICS.values():  # a diverged run has no final accuracy
        data[column] = data[column].astype(float).where(~diverged)
    first = summarize(data, by, value=SPIRAL_METRICS[metrics[0]])
    out = first[by].copy()
    out["n"] = first["n_seeds"].to_numpy()
    grouped = data.assign(_diverged=diverged).groupby(by, sort=True, dropna=False)
    out["diverged"] = grouped["_diverged"].sum().astype(int).to_numpy()
    for metric in metrics:
        s = summarize(data, by, value=SPIRAL_METRICS[metric])
        out[metric] = s["mean"].to_numpy()
        out[f"{metric}_ci"] = s["ci95"].to_numpy()
    return out.reset_index(drop=True)
