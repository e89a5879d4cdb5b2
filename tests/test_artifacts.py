"""Output conventions: profiles, directories, provenance, manifest."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analog_tt.report import artifacts, pipeline  # noqa: E402


def test_unknown_profile_names_allowed_values():
    with pytest.raises(
        ValueError, match=r"profile must be one of \('smoke', 'quick', 'paper'\), got 'fast'"
    ):
        artifacts.check_profile("fast")


def test_default_dirs_never_point_into_committed_figures(repo_root):
    figures, results = artifacts.resolve_dirs("smoke")
    assert figures == repo_root / "build" / "smoke" / "figures"
    assert results == repo_root / "data" / "results" / "smoke"


def test_figure_and_table_record_profile_and_sources(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    source = tmp_path / "run.json"
    source.write_text("{}")
    paths = artifacts.save_figure(fig, tmp_path, "demo", profile="smoke", sources=[source])
    plt.close(fig)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(
        p.stat().st_size > 0 for p in paths
    )
    table = pd.DataFrame({"n_tiles": [1, 4], "mean": [0.97, 0.96]})
    csv, md = artifacts.save_table(table, tmp_path, "demo_table", profile="smoke", sources=[source])
    assert pd.read_csv(csv).equals(table)
    assert "profile: smoke" in md.read_text() and "run.json" in md.read_text()
    records = {r["name"]: r for r in artifacts.read_provenance(tmp_path)}
    assert set(records) == {"demo", "demo_table"}
    assert records["demo"]["profile"] == "smoke" and records["demo"]["sources"] == ["run.json"]


def test_stamp_names_the_profile_that_made_the_results(tmp_path):
    """A quick-profile notebook run that tables paper-profile results says so in its stamp."""
    paper_run = tmp_path / "data" / "results" / "paper" / "epochs_to_97" / "abc.json"
    quick_run = tmp_path / "data" / "results" / "quick" / "fig2" / "def.json"
    for source in (paper_run, quick_run):
        source.parent.mkdir(parents=True)
        source.write_text("{}")
    table = pd.DataFrame({"n_tiles": [1]})
    _, md = artifacts.save_table(
        table, tmp_path, "only_paper", profile="quick", sources=[paper_run]
    )
    assert "profile: paper (results), drawn in a quick run" in md.read_text()
    _, md = artifacts.save_table(
        table, tmp_path, "mixed", profile="quick", sources=[paper_run, quick_run]
    )
    assert "profile: quick + paper (results), drawn in a quick run" in md.read_text()
    _, md = artifacts.save_table(table, tmp_path, "own", profile="quick", sources=[quick_run])
    assert "<sub>profile: quick · data:" in md.read_text()
    records = {r["name"]: r for r in artifacts.read_provenance(tmp_path)}
    assert records["only_paper"]["results_profiles"] == ["paper"]
    assert records["own"]["results_profiles"] == ["quick"]


def test_manifest_attributes_outputs_to_notebooks(tmp_path):
    import time

    start = time.time()
    fig, _ = plt.subplots()
    artifacts.save_figure(fig, tmp_path, "fig_a", profile="quick", sources=[])
    plt.close(fig)
    runs = [{"notebook": "notebooks/01_x.ipynb", "start": start, "wall_s": 1.0}]
    path = pipeline.write_manifest("quick", runs, output_dir=tmp_path)
    manifest = json.loads(path.read_text())
    (entry,) = manifest["outputs"]
    assert entry["notebook"] == "notebooks/01_x.ipynb" and entry["profile"] == "quick"
    assert entry["versions"]["aihwkit"] == "1.1.0" and entry["git_commit"]


def test_reproduce_rejects_unknown_profile(capsys):
    with pytest.raises(SystemExit):
        pipeline.main(["--profile", "nope"])
    assert (
        "profile must be one of ('smoke', 'quick', 'paper'), got 'nope'" in capsys.readouterr().err
    )


def test_each_profile_writes_only_its_own_figures():
    from analog_tt.core.paths import REPO_ROOT

    assert pipeline.figures_dir("quick") == REPO_ROOT / "figures"
    assert pipeline.figures_dir("paper") == REPO_ROOT / "figures" / "paper"
    assert pipeline.figures_dir("smoke") == REPO_ROOT / "build" / "smoke" / "figures"


def test_reproduce_rejects_bad_arguments_before_any_work(capsys):
    import pytest as _pytest

    for argv, words in (
        (["--profile", "quick", "--param", "bad"], "--param needs KEY=VALUE"),
        (["--profile", "quick", "--skip-sweeps", "--only", "99"], "matches no notebook"),
    ):
        with _pytest.raises(SystemExit):
            pipeline.main(argv)
        assert words in capsys.readouterr().err


def test_reproduce_paper_stops_before_days_of_sweeps(tmp_path, monkeypatch, capsys):
    """The paper profile's sweep does not start by accident: the command says what it would cost
    and how to draw from the results at hand (SWEEP=0) or run them anyway (SWEEP=1)."""
    from analog_tt.runs import cli

    def must_not_run(*args, **kwargs):
        raise AssertionError("reproduce started work it should have refused")

    monkeypatch.setattr(cli, "sweep_main", must_not_run)
    monkeypatch.setattr(pipeline, "run_notebooks", must_not_run)
    assert pipeline.main(["--profile", "paper"]) == 2  # the committed results: hundreds left
    err = capsys.readouterr().err
    assert "unfinished run(s): ~" in err and "core-hours" in err
    assert "make reproduce PROFILE=paper SWEEP=0" in err and "SWEEP=1" in err
    monkeypatch.setenv("ANALOG_TT_RESULTS", str(tmp_path))  # nothing finished: no estimates
    assert not pipeline._sweep_is_affordable("paper")  # still hundreds of runs of hours each
    assert pipeline._sweep_is_affordable("smoke")  # not the paper profile, no estimate over 2 h


def test_reproduce_runs_a_notebook_without_kernel_noise(repo_root):
    """One notebook through ``reproduce`` (smoke profile, from cache): progress, no warnings."""
    import os
    import subprocess
    import sys

    preload = next((repo_root / "analog_tt").glob("_clockshim*.so"))
    env = {**os.environ, "LD_PRELOAD": str(preload.relative_to(repo_root))}  # relative, as typed
    proc = subprocess.run(
        [sys.executable, "-m", "analog_tt", "reproduce", "--profile", "smoke", "--skip-sweeps",
         "--only", "06"],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "06_swa.ipynb done in" in out and "cell/s" in out  # notebook progress: cells of m
    assert "without encryption" not in out, out[-3000:]
    assert "cannot be preloaded" not in out, out[-3000:]


@pytest.mark.parametrize(
    ("notebook", "parameters", "words"),
    [
        ("01_tiki_taka_from_scratch", {"epochs": "ten"}, "epochs"),
        ("05_mnist_multi_tile", {"n_workers": 0}, "n_workers"),
        ("07_runtime_energy", {"sensitivity_factors": [-1.0]}, "sensitivity_factors"),
    ],
)
def test_a_notebook_refuses_a_bad_parameter_in_its_first_cell(
    notebook, parameters, words, tmp_path
):
    """``-p epochs ten``: the first code cell names the parameter; nothing is run or written."""
    import papermill

    from analog_tt.core.paths import REPO_ROOT

    out = tmp_path / "out"
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(REPO_ROOT / "notebooks" / f"{notebook}.ipynb"), str(tmp_path / "run.ipynb"),
            parameters={**parameters, "output_dir": str(out), "profile": "smoke"},
            cwd=str(REPO_ROOT / "notebooks"), kernel_name="python3", progress_bar=False,
            config=pipeline.kernel_config(),
        )  # fmt: skip
    assert words in str(err.value.evalue), err.value.evalue
    assert err.value.exec_count <= 3, err.value.exec_count  # the parameters' own check, first
    assert not out.exists() or not any(out.rglob("*.png"))
