"""The result cache: reading result files (validated), collecting them into tables, summaries.

A result file ``<results>/<profile>/<experiment>/<key>.json`` is *finished* when it parses, says
``"status": "finished"``, holds the fields below, and its ``key`` is its file name and the key of
its stored config. Anything else is reported, by file name, with what is wrong: a damaged file is
never silently skipped nor counted.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.paths import results_root
from ..core.vocabulary import METRICS
from .config import RunConfig

__all__ = ["ResultFileError", "is_finished", "load_results", "read_result", "summarize"]

_REQUIRED = ("status", "key", "config", "epochs", "epochs_run", "final", "wall_s", "provenance")


class ResultFileError(ValueError):
    """A result file that cannot be trusted (unreadable, incomplete, or another run's)."""


def read_result(path: str | os.PathLike, expected_key: str | None = None) -> dict[str, Any]:
    """The finished result stored at ``path``, validated.

    Parameters
    ----------
    path
        A ``<key>.json`` result file.
    expected_key
        The key of the run the caller wants (default: the file's stem).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ResultFileError
        It does not parse, is not finished, lacks a required field, or is another run's result
        (its ``key``, the key of its stored config and the file name disagree). The message names
        the file and says to delete it so that the run is recomputed.
    """
    path = Path(path)
    expected = expected_key or path.stem
    fix = f"delete {path} to have the run recomputed"
    try:
        result = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise ResultFileError(f"{path}: unreadable result file ({exc}); {fix}") from None
    if not isinstance(result, dict):
        raise ResultFileError(f"{path}: not a JSON object; {fix}")
    missing = [k for k in _REQUIRED if k not in result]
    if missing:
        raise ResultFileError(f"{path}: lacks {', '.join(missing)}; {fix}")
    if result["status"] != "finished":
        raise ResultFileError(f"{path}: status {result['status']!r}, not 'finished'; {fix}")
    try:
        config_key = RunConfig.from_dict(result["config"]).key()
    except (TypeError, ValueError) as exc:
        raise ResultFileError(
            f"{path}: its config is not a valid RunConfig ({exc}); {fix}"
        ) from None
    if not (result["key"] == config_key == expected):
        raise ResultFileError(
            f"{path}: holds the run {result['key']!r} (its config's key {config_key!r}), "
            f"not {expected!r}; {fix}"
        )
    return result


def is_finished(path: str | os.PathLike, expected_key: str | None = None) -> bool:
    """Whether ``path`` holds a finished, valid result; a damaged file raises
    :class:`ResultFileError` (it is neither done nor safe to overwrite silently)."""
    try:
        read_result(path, expected_key)
    except FileNotFoundError:
        return False
    return True


def load_results(
    profile: str,
    experiment: str,
    *,
    per_epoch: bool = False,
    results_root: str | os.PathLike | None = None,
):
    """Finished results of one experiment as a long pandas DataFrame.

    One row per run × read mode × metric (``tile_avg``, ``swa``, ``swa_weighted``), with every
    config field as a column, plus ``key``, ``profile``, ``experiment``, ``eval_mode``,
    ``metric``, ``acc``, ``loss`` (of the last tested epoch), ``best_acc``, ``train_acc`` (spiral
    runs: training-set accuracy, the paper's spiral metric; else NaN), ``epochs_run``,
    ``epochs_to_target``, ``diverged_at_epoch``, ``train_s_per_epoch``, ``code_hash``, and for
    runs with ``analog_eval_repeats`` ``analog_train_acc``/``analog_test_acc``. With
    ``per_epoch=True``: one row per tested epoch instead (column ``epoch``; ``acc``/``loss`` of
    that epoch, ``train_loss``, ``train_s``). An experiment without results gives an empty frame
    with these columns; a damaged result file raises :class:`ResultFileError`.
    """
    import pandas as pd

    folder = _root(results_root) / profile / experiment
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        res = read_result(path)
        cfg = dict(res["config"])
        cfg["eval_modes"] = ",".join(cfg["eval_modes"])
        if cfg.get("transfer_every") is not None:
            cfg["transfer_every"] = ",".join(str(t) for t in cfg["transfer_every"])
        analog = res.get("final_analog") or {}
        common = {
            **{f.name: None for f in dataclasses.fields(RunConfig)},
            **cfg,
            "key": res["key"],
            "profile": profile,
            "experiment": experiment,
            "epochs_run": res["epochs_run"],
            "epochs_to_target": res["epochs_to_target"],
            "diverged_at_epoch": res.get("diverged_at_epoch"),
            "train_s_per_epoch": res["wall_s"]["train_per_epoch_mean"],
            "code_hash": res["provenance"].get("code_hash"),
            "analog_train_acc": analog.get("train"),
            "analog_test_acc": analog.get("test"),
        }
        for mode in res["config"]["eval_modes"]:
            for kind in METRICS:
                series = [
                    (r["epoch"], r["test"][mode][kind], r)
                    for r in res["epochs"]
                    if r["test"] is not None and kind in r["test"][mode]
                ]
                if not series:
                    continue
                best = max(s[1]["acc"] for s in series)
                picked = series if per_epoch else series[-1:]
                for epoch, m, r in picked:
                    row = {
                        **common,
                        "eval_mode": mode,
                        "metric": kind,
                        "acc": m["acc"],
                        "loss": m["loss"],
                        "best_acc": best,
                        "train_acc": m.get("train_acc"),
                    }
                    if per_epoch:
                        row.update(epoch=epoch, train_loss=r["train_loss"], train_s=r["train_s"])
                    rows.append(row)
    columns = (
        [f.name for f in dataclasses.fields(RunConfig)]
        + [
            "key",
            "profile",
            "experiment",
            "epochs_run",
            "epochs_to_target",
            "diverged_at_epoch",
            "train_s_per_epoch",
            "code_hash",
            "eval_mode",
            "metric",
        ]
        + (["epoch"] if per_epoch else [])
        + ["acc", "loss", "best_acc", "train_acc", "analog_train_acc", "analog_test_acc"]
        + (["train_loss", "train_s"] if per_epoch else [])
    )
    return pd.DataFrame(rows, columns=columns)


def _root(override: str | os.PathLike | None) -> Path:
    return results_root(override)


def summarize(df, by: Sequence[str], value: str = "acc"):
    """Mean, 95 % CI half-width and number of seeds of ``value`` per group of ``by``.

    Rows whose ``value`` is missing (e.g. ``epochs_to_target`` of a run that hit its cap) are
    counted in ``n_missing`` and left out of the mean.
    """
    import pandas as pd

    from ..core.stats import mean_ci95

    by = list(by)
    missing = [c for c in by + [value] if c not in df.columns]
    if missing:
        raise ValueError(
            f"summarize: column(s) {missing} not in the frame; have {list(df.columns)}"
        )
    rows = []
    for group, sub in df.groupby(by, sort=True, dropna=False):
        group = group if isinstance(group, tuple) else (group,)
        vals = pd.to_numeric(sub[value], errors="coerce").dropna().tolist()
        mean, ci, n = mean_ci95(vals) if vals else (float("nan"), float("nan"), 0)
        rows.append(
            {
                **dict(zip(by, group, strict=True)),
                "mean": mean,
                "ci95": ci,
                "n_seeds": n,
                "n_missing": int(len(sub) - len(vals)),
            }
        )
    return pd.DataFrame(rows, columns=by + ["mean", "ci95", "n_seeds", "n_missing"])
