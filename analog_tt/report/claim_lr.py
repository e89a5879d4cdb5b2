"""The claims ledger's learning-rate rows: does a larger learning rate cut the epochs to 97 %?

The paper (seed analysis §4.4) ran each learning rate other than 0.1 once, so its own claim rests
on single runs and gets no two-sample test here. What can be tested is the claim itself, within
our runs: at one setting (variant, N, BL), our epochs to 97 % at lr 0.5 or 0.05 against our
epochs at lr 0.1 (the ``epochs_to_97`` experiment), with Welch's test. The paper's single run and
its lr 0.1 runs stand beside ours, as its direction of the effect.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .. import paper
from ..core.stats import mean_ci95, welch
from ..core.vocabulary import PAPER_TARGET_ACCURACY
from ..runs.profiles import load_profile
from .ledger_cells import (
    comparison_columns,
    fmt_mean_ci,
    listed,
    missing_seeds,
    not_run_row,
    two_sample_columns,
)
from .mnist import ett_runs

__all__ = ["LR_CLAIM", "lr_rows"]

LR_CLAIM = "a larger learning rate cuts the epochs to 97 % (lr 0.5 vs 0.1 vs 0.05)"
#: The learning rate of the paper's N x BL table (and of our ``epochs_to_97`` runs).
BASE_LR = 0.1
PAPER_RUNS = "single runs per lr (seed analysis §4.4)"


def _effect(test: dict[str, Any], lr: float) -> str:
    if test["verdict"] == "indistinguishable":
        return f"no difference detected at lr {lr:g}"
    return f"{'fewer' if test['verdict'] == 'lower' else 'more'} epochs at lr {lr:g}"


def lr_rows(results_root: Path, profile: str = "paper") -> list[dict[str, Any]]:
    """One row per (variant, N, BL, lr) of the learning-rate sweep that has runs.

    Parameters
    ----------
    results_root : Path
        Folder holding ``<profile>/lr_sweep`` and ``<profile>/epochs_to_97``.
    profile : str
        The results' profile (the paper's settings: ``"paper"``).

    Returns
    -------
    list of dict
        Ledger rows (:data:`~analog_tt.report.claims.CLAIMS_COLUMNS`); a single "not run" row
        when the sweep has no runs yet.
    """
    sweep = ett_runs(profile, "lr_sweep", results_root)
    sweep = sweep[sweep["target"] == PAPER_TARGET_ACCURACY]
    rests_on = f"data/results/{profile}/lr_sweep"
    if sweep.empty:
        return [
            not_run_row(
                LR_CLAIM, "paper profile, experiment lr_sweep", PAPER_RUNS, rests_on, "all runs"
            )
        ]
    base = ett_runs(profile, "epochs_to_97", results_root)
    base = base[(base["target"] == PAPER_TARGET_ACCURACY) & (base["lr"] == BASE_LR)]
    paper_single = paper.epochs_to_97_by_setting()
    rows = []
    for (variant, n, bl, lr), cell in sweep.groupby(["variant", "n_tiles", "bl", "lr"]):
        n, bl, lr = int(n), int(bl), float(lr)
        ours = cell["epochs_to_target"]
        at_base = base[(base["variant"] == variant) & (base["n_tiles"] == n) & (base["bl"] == bl)]
        at_base = at_base["epochs_to_target"]
        theirs_base = paper.epochs_to_97_runs(variant).get((n, bl), ())
        theirs = paper_single.get((variant, n, bl, lr))
        reached, base_reached = ours.dropna().tolist(), at_base.dropna().tolist()
        columns = {"difference": math.nan, "difference_ci": "–", "p_value": math.nan}
        if len(reached) < len(ours) or len(base_reached) < len(at_base):
            verdict = "some runs did not reach 97 % by the cap"
        elif len(reached) < 2 or len(base_reached) < 2:
            verdict = f"too few runs (ours at lr {BASE_LR:g}: {len(base_reached)})"
        else:
            test = welch(reached, base_reached)
            columns = comparison_columns(two_sample_columns(test), 1)
            verdict = f"ours: {_effect(test, lr)}"
        paper_text = "–" if theirs is None else f"{theirs:g} (1 run)"
        if theirs is not None and theirs_base:
            paper_text += f" vs {fmt_mean_ci(*mean_ci95(theirs_base), 1)} at lr {BASE_LR:g}"
        rows.append(
            {
                "claim": LR_CLAIM,
                "setting": f"{variant}, N = {n}, BL {bl}: lr {lr:g} against lr {BASE_LR:g}",
                "paper": paper_text,
                "ours": f"{fmt_mean_ci(*mean_ci95(reached), 1) if reached else '–'} vs "
                f"{fmt_mean_ci(*mean_ci95(base_reached), 1) if base_reached else '–'}",
                "n_ours": len(ours),
                "n_paper": 1 if theirs is not None else 0,
                **columns,
                "verdict": verdict + "; vs paper: one paper run, no test",
                "rests_on": f"{rests_on}, data/results/{profile}/epochs_to_97",
                "missing": missing_seeds(len(ours), 3) if len(ours) < 3 else "",
            }
        )
    unrun = _cells_not_run(profile, sweep)
    if unrun:
        missing = listed([f"{v} N={n} BL{b} lr {lr:g}" for v, n, b, lr in unrun])
        setting = f"the rest of the sweep: {len(unrun)} (variant, N, BL, lr) cells"
        rows.append(not_run_row(LR_CLAIM, setting, PAPER_RUNS, rests_on, missing))
    return rows


def _cells_not_run(profile: str, runs) -> list[tuple[str, int, int, float]]:
    """The (variant, N, BL, lr) cells of the profile's ``lr_sweep`` that have no run."""
    have = {(r.variant, int(r.n_tiles), int(r.bl), float(r.lr)) for r in runs.itertuples()}
    configs = load_profile(profile).experiments.get("lr_sweep", [])
    cells = {(c.variant, c.n_tiles, c.bl, c.lr) for c in configs}
    return sorted(cells - have)
