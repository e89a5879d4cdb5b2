"""How long the runs a sweep has not finished will take, from the runs it has finished.

A planning aid for the paper campaign (``python -m analog_tt sweep paper --dry-run``): which runs
fit in one sitting (a 3-hour session leaves about 2.5 hours of one core) and how many core-hours
the rest needs. Every number comes from the finished result files: a run's cost is its measured
setup (model building and pulse programming, from ``provenance.started_at`` to the first epoch)
plus its expected epochs times the measured seconds per epoch (training and tests) of finished
runs with the same dataset, N, variant and test schedule. Expected epochs are the config's own for
a fixed-length run, else the mean of our finished runs of the same cell, else the paper's epochs
to 97 % for that cell, else the cap (an upper bound). The measured runs mostly shared their
machine with one other run, so the estimates are for that pairing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import paper
from .config import RunConfig
from .results import is_finished, read_result

__all__ = [
    "RunCost",
    "SweepCost",
    "estimate_runs",
    "estimate_sweep",
    "long_runs",
    "measured_costs",
    "summarize_estimates",
]

#: One core's share of a 3-hour session, less the time to set up and to commit.
SESSION_CORE_SECONDS = 2.5 * 3600


@dataclass(frozen=True)
class RunCost:
    """The estimate for one run.

    Attributes
    ----------
    seconds : float
        Expected wall seconds (NaN where no comparable run has finished).
    epochs : float
        Expected epochs.
    epochs_from : str
        Where ``epochs`` comes from: ``"config"``, ``"ours"``, ``"paper"`` or ``"cap"``.
    basis : int
        How many finished runs the per-epoch cost was measured on.
    """

    seconds: float
    epochs: float
    epochs_from: str
    basis: int


def _epoch_group(config: RunConfig) -> tuple:
    """Runs whose epochs cost the same: what they simulate, and how often and how they test."""
    tested_every = 1 if config.stop_at_accuracy is not None else config.eval_every
    return (config.dataset, config.network, config.n_tiles, config.variant, config.algorithm,
            tested_every, config.read_probes, config.replica_engine)  # fmt: skip


def _model(config: RunConfig) -> tuple:
    """What a run simulates, however it tests."""
    return (config.dataset, config.network, config.n_tiles, config.variant, config.algorithm)


def _setup_group(config: RunConfig) -> tuple:
    """Runs whose setup costs the same: the model and how its replicas start."""
    return (config.dataset, config.network, config.n_tiles, config.init)


def _cell(config: RunConfig) -> tuple:
    """Runs of one setting over seeds."""
    return (_epoch_group(config), config.bl, config.lr, config.init, config.stop_at_accuracy)


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def measured_costs(result_files: Iterable[Path]) -> list[dict[str, Any]]:
    """Per finished run: its config, epochs run, seconds per epoch and setup seconds.

    Setup (building, programming) is the wall time not spent in training or tests; it is known
    only for runs that were never resumed (``provenance.resumes`` empty), and NaN otherwise, as
    are the costs of result files too old to record their wall times.
    """
    rows = []
    for path in result_files:
        result = read_result(path)
        wall, provenance = result["wall_s"], result["provenance"]
        epochs = result["epochs_run"]
        train, tests = wall.get("train_total"), wall.get("eval_total")
        busy = math.nan if train is None else train + (tests or 0.0)  # older files: None
        setup = math.nan
        resumed = provenance.get("resumes", None)
        if resumed is not None and not resumed and provenance.get("started_at"):
            total = _seconds(provenance["finished_at"]) - _seconds(provenance["started_at"])
            setup = max(total - busy, 0.0)
        rows.append(
            {
                "config": RunConfig.from_dict(result["config"]),
                "epochs": epochs,
                "per_epoch_s": busy / epochs if epochs else math.nan,
                "setup_s": setup,
                "epochs_to_target": result.get("epochs_to_target"),
            }
        )
    return rows


def _median(values: list[float]) -> float:
    values = [v for v in values if math.isfinite(v)]
    return statistics.median(values) if values else math.nan


def estimate_runs(configs: Iterable[RunConfig], measured: list[dict[str, Any]]) -> list[RunCost]:
    """The expected cost of each of ``configs`` from :func:`measured_costs` of finished runs."""
    by_epoch: dict[tuple, list[dict[str, Any]]] = {}
    by_setup: dict[tuple, list[dict[str, Any]]] = {}
    epochs_of_cell: dict[tuple, list[float]] = {}
    for row in measured:
        by_epoch.setdefault(_epoch_group(row["config"]), []).append(row)
        by_setup.setdefault(_setup_group(row["config"]), []).append(row)
        if row["config"].stop_at_accuracy is not None and row["epochs_to_target"] is not None:
            epochs_of_cell.setdefault(_cell(row["config"]), []).append(row["epochs_to_target"])
    paper_epochs = paper.epochs_to_97_by_setting()
    costs = []
    for config in configs:
        if config.epochs is not None:
            epochs, source = float(config.epochs), "config"
        elif _cell(config) in epochs_of_cell:
            epochs, source = statistics.mean(epochs_of_cell[_cell(config)]), "ours"
        elif (key := (config.variant, config.n_tiles, config.bl, config.lr)) in paper_epochs and (
            config.stop_at_accuracy == 0.97 and config.dataset == "mnist"
        ):
            epochs, source = float(min(paper_epochs[key], config.max_epochs)), "paper"
        else:
            epochs, source = float(config.max_epochs), "cap"
        similar = by_epoch.get(_epoch_group(config), [])
        if not similar:  # the nearest: the same model, N and variant, tested differently
            similar = [r for r in measured if _model(r["config"]) == _model(config)]
        per_epoch = _median([r["per_epoch_s"] for r in similar])
        setup = _median([r["setup_s"] for r in by_setup.get(_setup_group(config), [])])
        seconds = (0.0 if math.isnan(setup) else setup) + epochs * per_epoch
        costs.append(RunCost(seconds, epochs, source, len(similar)))
    return costs


def summarize_estimates(costs: list[RunCost]) -> str:
    """One line: core-hours left, runs without an estimate, runs longer than a session's core."""
    known = [c for c in costs if math.isfinite(c.seconds)]
    if not known:
        return f"no estimate for its {len(costs)} runs (no comparable run has finished)"
    text = f"~{sum(c.seconds for c in known) / 3600:.1f} core-h left"
    if len(known) < len(costs):
        text += f" for {len(known)} runs, {len(costs) - len(known)} more with no estimate"
    long = [c for c in known if c.seconds > SESSION_CORE_SECONDS]
    if long:
        text += f"; {len(long)} run(s) over {SESSION_CORE_SECONDS / 3600:g} h"
    capped = sum(c.epochs_from == "cap" for c in known)
    if capped:
        text += f"; {capped} costed at their epoch cap (an upper bound)"
    return text


def long_runs(configs: list[RunConfig], costs: list[RunCost]) -> list[str]:
    """The settings (seeds merged) whose runs are expected to outlast a session's core."""
    cells: dict[str, list[RunCost]] = {}
    for config, cost in zip(configs, costs, strict=True):
        if math.isfinite(cost.seconds) and cost.seconds > SESSION_CORE_SECONDS:
            name = (f"{config.variant} N={config.n_tiles} BL{config.bl} lr {config.lr:g}"
                    + (f" init {config.init}" if config.init not in (None, "program") else ""))  # fmt: skip
            cells.setdefault(name, []).append(cost)
    return [
        f"{name}: {len(c)} run(s), ~{c[0].seconds / 3600:.1f} h each "
        f"({c[0].epochs:.0f} epochs, from {c[0].epochs_from})"
        for name, c in cells.items()
    ]


@dataclass(frozen=True)
class SweepCost:
    """What is left of a sweep: unfinished runs, their estimated core-seconds, and how many of
    them have no estimate (no comparable run has finished)."""

    runs_left: int
    seconds: float
    runs_without_estimate: int


def estimate_sweep(sweep: Any, root: Path) -> SweepCost:
    """The cost of the runs of ``sweep`` (a :class:`~analog_tt.runs.profiles.Sweep`) that have no
    finished result under ``root`` (``<results>/<profile>``), from the finished ones there."""
    measured = measured_costs(sorted(Path(root).glob("*/*.json")))
    left, seconds, unknown = 0, 0.0, 0
    for experiment, configs in sweep.experiments.items():
        todo = [c for c in configs if not is_finished(Path(root) / experiment / f"{c.key()}.json")]
        for cost in estimate_runs(todo, measured):
            left += 1
            if math.isfinite(cost.seconds):
                seconds += cost.seconds
            else:
                unknown += 1
    return SweepCost(left, seconds, unknown)
