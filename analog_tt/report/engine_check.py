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

from ..core.stats import mean_ci95, welch
from ..runs.config import RunConfig
from ..runs.results import load_results
from .mnist import first_mode

__all__ = ["ENGINE_CHECK_COLUMNS", "ENGINES", "engine_check_table"]

#: The reference engine first; differences are ``batched - aihwkit``.
ENGINES = ("aihwkit", "batched")

ENGINE_CHECK_COLUMNS = (
    "profile",
    "variant",
    "n_tiles",
    "bl",
    "epochs",
    "eval_mode",
    "metric",
    *(f"{engine}_{part}" for engine in ENGINES for part in ("n", "mean", "ci95")),
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "p_value",
    "welch_verdict",
    *(f"{engine}_train_min_per_epoch" for engine in ENGINES),
)


def engine_check_table(profile: str, results_root: str | Path) -> pd.DataFrame:
    """Each engine's final test accuracy over seeds, and Welch's test of the difference.

    Parameters
    ----------
    profile : str
        The results profile (``smoke``, ``quick``, ``paper``).
    results_root : path
        The folder holding one folder per profile.

    Returns
    -------
    pandas.DataFrame
        One row per cell (variant, N, BL, epochs), read mode and metric (``tile_avg``, ``swa``),
        with :data:`ENGINE_CHECK_COLUMNS`: each engine's number of finished runs, mean and 95 %
        CI half-width of the accuracy (fraction); ``difference`` (batched minus aihwkit) with its
        95 % CI and p-value; ``welch_verdict`` ``"indistinguishable"``, ``"higher"`` or
        ``"lower"`` (the batched engine's, at p < 0.05), or ``"n/a"`` while an engine has fewer
        than 2 runs; and each engine's mean training wall time per epoch (minutes; runs that
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
    cell = ["variant", "n_tiles", "bl", "epochs", "eval_mode", "metric"]
    for values, sub in df.groupby(cell, sort=True):
        row: dict[str, object] = {"profile": profile, **dict(zip(cell, values, strict=True))}
        accs = {}
        for engine in ENGINES:
            runs = sub[sub["replica_engine"] == engine]
            accs[engine] = runs["acc"].tolist()
            mean, ci, n = mean_ci95(accs[engine]) if accs[engine] else (math.nan, math.nan, 0)
            row.update({f"{engine}_n": n, f"{engine}_mean": mean, f"{engine}_ci95": ci})
            row[f"{engine}_train_min_per_epoch"] = runs["train_s_per_epoch"].mean() / 60
        if min(len(a) for a in accs.values()) >= 2:
            test = welch(accs["batched"], accs["aihwkit"])
            row.update(
                difference=test["difference"],
                difference_ci_low=test["ci_low"],
                difference_ci_high=test["ci_high"],
                p_value=test["p_value"],
                welch_verdict=test["verdict"],
            )
        else:
            row.update(dict.fromkeys(("difference", "difference_ci_low", "difference_ci_high",
                                      "p_value"), math.nan), welch_verdict="n/a")  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows, columns=list(ENGINE_CHECK_COLUMNS))
