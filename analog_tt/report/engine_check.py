"""The batched replica engine against aihwkit's, at run level (experiment ``engine_check``).

``replica_engine="batched"`` reads all N replicas' weights in one ``torch.bmm`` per pass; its
passes are tested against aihwkit's layer by layer (``tests/test_replica_engine.py``). Its pulse
streams cannot equal aihwkit's bit for bit (aihwkit's C++ forward advances the generator its
pulsed update draws from), so whole runs are compared statistically: the same cell, one set of
seeds per engine, Welch's t-test on the final test accuracies. No run of the batched engine is
reported as a result of the paper's claims before this test has been run at the paper's settings.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..core.stats import mean_ci95
from ..runs.config import RunConfig
from ..runs.results import load_results
from .mnist import first_mode
from .verdicts import welch_columns

__all__ = ["ENGINE_CHECK_COLUMNS", "ENGINES", "engine_check_table"]

#: The reference engine first; differences are ``batched - aihwkit``.
ENGINES = ("aihwkit", "batched")

ENGINE_CHECK_COLUMNS = (
    "profile",
    "variant",
    "n_tiles",
    "bl",
    "epochs",
    "stop_at_accuracy",
    "eval_mode",
    "quantity",
    *(f"{engine}_{part}" for engine in ENGINES for part in ("n", "mean", "ci95")),
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "p_value",
    "welch_verdict",
    *(f"{engine}_train_min_per_epoch" for engine in ENGINES),
)

_CELL = ["variant", "n_tiles", "bl", "epochs", "stop_at_accuracy", "eval_mode"]


def engine_check_table(profile: str, results_root: str | Path) -> pd.DataFrame:
    """Each engine's result over seeds, per cell, and Welch's test of the difference.

    A cell trained for a fixed number of epochs compares its final test accuracy (tile average
    and SWA, quantities ``"tile_avg accuracy"`` and ``"swa accuracy"``); a cell that stops at a
    target accuracy compares its epochs to the target (``"epochs to target"``, runs that reached
    it).

    Parameters
    ----------
    profile : str
        The results profile (``smoke``, ``quick``, ``paper``).
    results_root : path
        The folder holding one folder per profile.

    Returns
    -------
    pandas.DataFrame
        One row per cell (variant, N, BL, epochs or target), read mode and quantity, with
        :data:`ENGINE_CHECK_COLUMNS`: each engine's number of values, their mean and 95 % CI
        half-width (accuracy as a fraction, or epochs); ``difference`` (batched minus aihwkit)
        with its 95 % CI and p-value; ``welch_verdict`` ``"indistinguishable"``, ``"higher"`` or
        ``"lower"`` (the batched engine's, at p < 0.05), or ``"n/a"`` while an engine has fewer
        than 2 values; and each engine's mean training wall time per epoch (minutes; runs that
        shared the machine differently are not a timing benchmark). Empty without results.
    """
    df = load_results(profile, "engine_check", results_root=results_root)
    df = first_mode(df[df["metric"].isin(["tile_avg", "swa"])]) if len(df) else df
    # results written before the field existed ran the default engine (their keys omit it)
    df = df.assign(replica_engine=df["replica_engine"].fillna(RunConfig.replica_engine))
    unknown = set(df["replica_engine"]) - set(ENGINES)
    if unknown:
        raise ValueError(f"engine_check results of {profile!r} name unknown engines {unknown}")
    rows = []
    for values, runs in df.groupby(_CELL, sort=True, dropna=False):
        cell = dict(zip(_CELL, values, strict=True))
        stops = not pd.isna(cell["stop_at_accuracy"])
        for quantity, column, metric in _quantities(stops, set(runs["metric"])):
            chosen = runs[runs["metric"] == metric]
            row: dict[str, object] = {"profile": profile, **cell, "quantity": quantity}
            samples = {}
            for engine in ENGINES:
                mine = chosen[chosen["replica_engine"] == engine]
                samples[engine] = mine[column].dropna().astype(float).tolist()
                stats = mean_ci95(samples[engine]) if samples[engine] else (math.nan, math.nan, 0)
                row.update(dict(zip((f"{engine}_mean", f"{engine}_ci95", f"{engine}_n"), stats,
                                    strict=True)))  # fmt: skip
                row[f"{engine}_train_min_per_epoch"] = mine["train_s_per_epoch"].mean() / 60
            # the shared Welch columns, aihwkit's runs in the place of the paper's
            welch = welch_columns(samples["batched"], samples["aihwkit"])
            row.update({k: v for k, v in welch.items() if k != "paper_n_runs"})
            rows.append(row)
    return pd.DataFrame(rows, columns=list(ENGINE_CHECK_COLUMNS))


def _quantities(stops: bool, metrics: set[str]) -> list[tuple[str, str, str]]:
    """``(quantity, column, metric)`` compared in a cell."""
    if stops:
        return [("epochs to target", "epochs_to_target", "tile_avg")]
    return [(f"{m} accuracy", "acc", m) for m in ("tile_avg", "swa") if m in metrics]
