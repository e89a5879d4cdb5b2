"""The claims ledger's initialisation rows: do perturbed, independent or programmed replicas
train as well as identical ones?

The paper's initialisation study (seed analysis §4.6: shared A, lr 0.05, 50 epochs, exact reads)
is one run per (N, initialisation), so it gets no two-sample test here. What can be tested is the
claim within our runs: at one N, the tile average's final test accuracy of replicas started one
way against replicas started identical (``init_std`` 0), with Welch's test. The paper's single
values stand beside ours.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .. import paper
from ..core.stats import mean_ci95, welch
from ..runs.profiles import load_profile
from ..runs.results import load_results
from .ledger_cells import (
    comparison_columns,
    fmt_mean_ci,
    listed,
    missing_seeds,
    not_run_row,
    two_sample_columns,
)
from .mnist import first_mode

__all__ = ["INIT_CLAIM", "init_rows"]

INIT_CLAIM = "programmed or lightly perturbed replicas train as well as identical ones"
PAPER_RUNS = "single runs per (N, initialisation) (seed analysis §4.6)"
IDENTICAL = ("init_std", 0.0)


def _start(init: str, init_std: float) -> tuple[str, float | None]:
    """The initialisation a run's config names: ``init_std`` matters only for ``init_std``."""
    return (init, float(init_std)) if init == "init_std" else (init, None)


def _label(start: tuple[str, float | None]) -> str:
    init, std = start
    if init == "init_std":
        return "identical replicas" if std == 0.0 else f"replicas perturbed by init_std {std:g}"
    return {"independent": "independent replicas", "program": "programmed replicas"}[init]


def _paper_value(start: tuple[str, float | None], n: int) -> float | None:
    """The paper's 50-epoch accuracy for this start and N, or None where it has none."""
    table = paper.load("mnist")["init_study"]["final_accuracy_50_epochs"]
    key = "independent" if start[0] == "independent" else None
    if start[0] == "init_std":
        key = next((k for k in table["by_init_std"] if k != "independent" and
                    math.isclose(float(k), start[1])), None)  # fmt: skip
    if key is None or n not in table["n_tiles"]:
        return None
    return float(table["by_init_std"][key][table["n_tiles"].index(n)])


def init_rows(results_root: Path, profile: str = "paper") -> list[dict[str, Any]]:
    """One row per (N, initialisation) of the study that has runs, against identical replicas.

    Parameters
    ----------
    results_root : Path
        Folder holding ``<profile>/init_study``.
    profile : str
        The results' profile (the paper's settings: ``"paper"``).

    Returns
    -------
    list of dict
        Ledger rows (:data:`~analog_tt.report.claims.CLAIMS_COLUMNS`); a "not run" row lists the
        cells without runs.
    """
    rests_on = f"data/results/{profile}/init_study"
    df = load_results(profile, "init_study", results_root=results_root)
    if not df.empty:
        df = first_mode(df[df["metric"] == "tile_avg"])
        df = df.assign(
            start=[_start(i, s) for i, s in zip(df["init"], df["init_std"], strict=True)]
        )
    rows = []
    for n in sorted(df["n_tiles"].unique()) if not df.empty else []:
        at_n = df[df["n_tiles"] == n]
        identical = at_n[at_n["start"] == IDENTICAL]["acc"].dropna().tolist()
        paper_identical = _paper_value(IDENTICAL, int(n))
        for start in sorted(set(at_n["start"]) - {IDENTICAL}, key=str):
            ours = at_n[at_n["start"] == start]["acc"].dropna().tolist()
            columns = {"difference": math.nan, "difference_ci": "–", "p_value": math.nan}
            if len(ours) < 2 or len(identical) < 2:
                verdict = f"too few runs (ours with identical replicas: {len(identical)})"
            else:
                test = welch(ours, identical)
                columns = comparison_columns(two_sample_columns(test), 4)
                verdict = (
                    "ours: "
                    + {
                        "indistinguishable": "no difference from identical replicas detected",
                        "lower": "lower accuracy than identical replicas",
                        "higher": "higher accuracy than identical replicas",
                    }[test["verdict"]]
                )
            theirs = _paper_value(start, int(n))
            paper_text = "–" if theirs is None else f"{theirs:.4f} (1 run)"
            if theirs is not None and paper_identical is not None:
                paper_text += f" vs {paper_identical:.4f} identical"
            rows.append(
                {
                    "claim": INIT_CLAIM,
                    "setting": f"shared_A, N = {int(n)}, lr 0.05, 50 epochs: {_label(start)} "
                    "against identical ones",
                    "paper": paper_text,
                    "ours": f"{fmt_mean_ci(*mean_ci95(ours), 4) if ours else '–'} vs "
                    f"{fmt_mean_ci(*mean_ci95(identical), 4) if identical else '–'}",
                    "n_ours": len(ours),
                    "n_paper": 0 if theirs is None else 1,
                    **columns,
                    "verdict": verdict + "; vs paper: one paper run, no test",
                    "rests_on": rests_on,
                    "missing": missing_seeds(len(ours), 3) if len(ours) < 3 else "",
                }
            )
    have = set() if df.empty else {(int(r.n_tiles), r.start) for r in df.itertuples()}
    cells = {
        (c.n_tiles, _start(c.init, c.init_std))
        for c in load_profile(profile).experiments.get("init_study", [])
    }
    unrun = sorted(cells - have, key=str)
    if unrun:
        setting = f"{len(unrun)} (N, initialisation) cells of experiment init_study"
        missing = listed([f"N={n} {_label(s)}" for n, s in unrun])
        if not have:
            missing = f"all runs ({len(unrun)} cells)"
        rows.append(not_run_row(INIT_CLAIM, setting, PAPER_RUNS, rests_on, missing))
    return rows
