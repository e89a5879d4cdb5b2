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


def test_plan_fills_seeds_breadth_first_within_the_budget(tmp_path):
    from analog_tt.runs.cli import parse_where
    from analog_tt.runs.plan import plan_runs
    from analog_tt.runs.profiles import Sweep

    bl31 = [RunConfig(**ETT, bl=31, seed=s) for s in range(4)]
    bl2 = [RunConfig(**ETT, bl=2, seed=s) for s in range(3)]
    capped = RunConfig(**ETT, bl=2, lr=0.3, seed=0)  # 700 epochs at the cap: over any budget here
    unmeasured = RunConfig(**{**ETT, "n_tiles": 4}, bl=31, seed=0)
    files = [
        _finished(tmp_path, bl31[0], epochs=36, train_s=720.0, eval_s=72.0, total_s=912.0,
                  epochs_to_target=36),
        _finished(tmp_path, bl31[1], epochs=40, train_s=800.0, eval_s=80.0, total_s=1000.0,
                  epochs_to_target=40),
    ]  # fmt: skip
    sweep = Sweep("paper", {"epochs_to_97": [*bl31, *bl2, capped, unmeasured]})
    states = {bl31[0].key(): "done", bl31[1].key(): "done", bl2[0].key(): "running"}

    def state(experiment, config):
        assert experiment == "epochs_to_97"
        return states.get(config.key(), "left")

    # per run: 120 s setup + epochs x 22 s; BL 31: 38 epochs (ours), 956 s; BL 2: 94 (paper), 2188 s
    plan = plan_runs(sweep, state, measured_costs(files), budget_hours=0.8, cores=2)
    queued = [[(run.config.bl, run.config.seed) for run in queue] for queue in plan.queues]
    # BL 2 has one seed running, so its seed 1 (rank 1) goes first; then rank 2 (BL 31 seed 2,
    # BL 2 seed 2), rank 3 (BL 31 seed 3); BL 2 seed 2 fits neither core's time left
    assert queued == [[(2, 1)], [(31, 2), (31, 3)]]
    assert plan.queue_seconds() == [pytest.approx(2188.0), pytest.approx(2 * 956.0)]
    assert [(r.config.bl, r.config.seed) for r in plan.left_out] == [(2, 2)]
    assert [r.config for r in plan.running] == [bl2[0]]
    assert [r.config for r in plan.too_long] == [capped]
    assert [r.config for r in plan.unknown] == [unmeasured]
    for run in [*plan.queues[0], *plan.queues[1], *plan.left_out]:  # --where selects it alone
        assert sweep.where(**parse_where(run.where)).experiments["epochs_to_97"] == [run.config]
    # a selection of a larger sweep: the filters select each run among the whole sweep's runs
    narrow = sweep.where(bl=[2], seed=[1, 2])
    subset = plan_runs(narrow, state, measured_costs(files), budget_hours=1, cores=1, full=sweep)
    assert [run.where for run in subset.queues[0]] == [("bl=2", "seed=1")]  # lr 0.3: seed 0 only
    assert plan_runs(narrow, state, measured_costs(files), 1, 1).queues[0][0].where == ("seed=1",)
    commands = plan.commands("paper")
    assert len(commands) == 2 and commands[1].count("--only epochs_to_97") == 2
    text = plan.describe("paper")
    assert (
        "core 2: ~0.53 h" in text and "left out: 1 run(s)" in text and "running: 1 run(s)" in text
    )
    with pytest.raises(ValueError, match="positive number of hours"):
        plan_runs(sweep, state, [], budget_hours=0, cores=2)
    with pytest.raises(ValueError, match="at least one core"):
        plan_runs(sweep, state, [], budget_hours=1, cores=0)


def test_sweep_plan_from_the_command_line(tmp_path, capsys):
    from analog_tt.runs.cli import sweep_main

    argv = ["smoke", "--only", "fig2", "--results-root", str(tmp_path)]
    assert sweep_main([*argv, "--plan", "1", "--cores", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan: 2 core(s) x 1 h, 0 run(s)") and "no estimate:" in out
    with pytest.raises(SystemExit):
        sweep_main([*argv, "--plan", "0"])
    assert "--plan takes the hours" in capsys.readouterr().err
