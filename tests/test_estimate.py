"""Run-cost estimates for the campaign (``sweep --dry-run``), from made-up finished runs."""

from __future__ import annotations

import math

import pytest

from analog_tt.core.files import atomic_write_json
from analog_tt.runs import RunConfig
from analog_tt.runs.estimate import (
    SESSION_CORE_SECONDS,
    estimate_runs,
    long_runs,
    measured_costs,
    summarize_estimates,
)


def _finished(root, config: RunConfig, *, epochs: int, train_s: float, eval_s: float,
              total_s: float, resumes=(), epochs_to_target=None):  # fmt: skip
    """A finished result file with the given wall times (started at 0, finished at total_s)."""
    result = {
        "status": "finished", "key": config.key(), "config": config.to_dict(), "epochs": [],
        "epochs_run": epochs, "final": {}, "epochs_to_target": epochs_to_target,
        "wall_s": {"train_total": train_s, "eval_total": eval_s,
                   "train_per_epoch_mean": train_s / epochs},
        "provenance": {"started_at": "2026-12-01T00:00:00+00:00",
                       "finished_at": f"2026-12-01T{_clock(total_s)}+00:00",
                       "resumes": list(resumes)},
    }  # fmt: skip
    path = root / f"{config.key()}.json"
    atomic_write_json(path, result)
    return path


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


FIG2 = {"n_tiles": 8, "epochs": 40, "swa_start": 35, "eval_every": 5}
ETT = {"n_tiles": 8, "epochs": None, "stop_at_accuracy": 0.97, "max_epochs": 700}


def test_measured_costs_split_setup_from_epochs(tmp_path):
    fresh = _finished(tmp_path, RunConfig(**FIG2, seed=0), epochs=40, train_s=800.0,
                      eval_s=40.0, total_s=960.0)  # fmt: skip
    resumed = _finished(tmp_path, RunConfig(**FIG2, seed=1), epochs=40, train_s=800.0,
                        eval_s=40.0, total_s=500.0, resumes=["2026-12-01T00:05:00+00:00"])  # fmt: skip
    rows = {r["config"].seed: r for r in measured_costs([fresh, resumed])}
    assert rows[0]["per_epoch_s"] == pytest.approx(21.0)
    assert rows[0]["setup_s"] == pytest.approx(120.0)  # 960 s less 840 s of training and tests
    assert math.isnan(rows[1]["setup_s"])  # a resumed run's wall clock says nothing about setup


def test_estimates_take_epochs_from_the_config_our_runs_the_paper_or_the_cap(tmp_path):
    files = [
        _finished(tmp_path, RunConfig(**FIG2, seed=0), epochs=40, train_s=800.0, eval_s=40.0,
                  total_s=960.0),
        _finished(tmp_path, RunConfig(**ETT, bl=31, seed=0), epochs=36, train_s=720.0,
                  eval_s=72.0, total_s=912.0, epochs_to_target=36),
        _finished(tmp_path, RunConfig(**ETT, bl=31, seed=1), epochs=40, train_s=800.0,
                  eval_s=80.0, total_s=1000.0, epochs_to_target=40),
    ]  # fmt: skip
    measured = measured_costs(files)
    fixed, ours, theirs, capped, unknown = estimate_runs(
        [
            RunConfig(**FIG2, seed=3),
            RunConfig(**ETT, bl=31, seed=2),
            RunConfig(**ETT, bl=2, seed=0),  # the paper's shared_A N = 8 BL 2: 94 epochs
            RunConfig(**ETT, bl=2, lr=0.3, seed=0),  # no paper value at lr 0.3
            RunConfig(**{**ETT, "n_tiles": 4}, bl=31, seed=0),  # nothing finished at N = 4
        ],
        measured,
    )
    assert (fixed.epochs_from, fixed.seconds) == ("config", pytest.approx(120.0 + 40 * 21.0))
    assert (ours.epochs_from, ours.epochs) == ("ours", 38.0)
    assert ours.seconds == pytest.approx(120.0 + 38 * 22.0)  # per epoch: 22 s (every epoch tested)
    assert (theirs.epochs_from, theirs.epochs) == ("paper", 94.0)
    assert (capped.epochs_from, capped.epochs) == ("cap", 700.0)
    assert math.isnan(unknown.seconds) and unknown.basis == 0
    text = summarize_estimates([fixed, ours, theirs, capped, unknown])
    assert "core-h left for 4 runs, 1 more with no estimate" in text
    assert "1 run(s) over 2.5 h" in text and "1 costed at their epoch cap" in text
    assert capped.seconds > SESSION_CORE_SECONDS > theirs.seconds
    (line,) = long_runs([RunConfig(**ETT, bl=2, lr=0.3, seed=0)], [capped])
    assert line.startswith("shared_A N=8 BL2 lr 0.3: 1 run(s), ~4.3 h each (700 epochs, from cap)")
    assert summarize_estimates([unknown]).startswith("no estimate for its 1 runs")
