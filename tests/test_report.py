"""The notebooks' helpers in analog_tt.report and analog_tt.hardware.analysis, on made-up results."""

from __future__ import annotations

import json
import math

import matplotlib
import pandas as pd
import pytest

from analog_tt import paper
from analog_tt.core.files import atomic_write_json
from analog_tt.hardware import model_costs, pareto_front, speedups, speedups_at
from analog_tt.report import epochs_figures, mnist
from analog_tt.report.tables import final_metrics_table
from analog_tt.runs import RunConfig, load_results

matplotlib.use("Agg")


def _fake_result(config: RunConfig, accs: dict[str, float], epochs_to_target=None, **extra):
    """A finished result file's content with one tested epoch holding ``accs`` per metric."""
    mode = config.eval_modes[0]
    test = {mode: {m: {"acc": a, "loss": 1.0 - a} for m, a in accs.items()}}
    return {
        "status": "finished",
        "key": config.key(),
        "config": config.to_dict(),
        "epochs": [{"epoch": 1, "train_loss": 0.5, "train_s": 1.0, "eval_s": 0.1, "test": test}],
        "epochs_run": 1,
        "final": test,
        "epochs_to_target": epochs_to_target,
        "wall_s": {"train_per_epoch_mean": 1.0},
        "provenance": {},
        **extra,
    }


def _write(root, profile, experiment, result):
    atomic_write_json(root / profile / experiment / f"{result['key']}.json", result)


@pytest.fixture()
def fig2_root(tmp_path):
    for n, accs in ((1, [0.970, 0.972, 0.974]), (8, [0.971, 0.973, 0.975])):
        for seed, acc in enumerate(accs):
            cfg = RunConfig(n_tiles=n, seed=seed, swa_start=35)
            _write(
                tmp_path, "paper", "fig2", _fake_result(cfg, {"tile_avg": acc, "swa": acc - 0.001})
            )
    return tmp_path


def test_fig2_table_means_cis_and_paper_values(fig2_root):
    ref = paper.load("mnist")
    t = mnist.fig2_table("paper", fig2_root, ref).set_index(["n_tiles", "metric"])
    assert t.loc[(1, "tile_avg"), "mean"] == pytest.approx(0.972)
    assert t.loc[(1, "tile_avg"), "ci95"] == pytest.approx(4.303 * 0.002 / math.sqrt(3), rel=1e-3)
    fig2 = ref["figure2_accuracy_40_epochs"]
    assert (
        t.loc[(8, "tile_avg"), "paper_mean"] == fig2["tile_average_mean"][fig2["n_tiles"].index(8)]
    )
    assert set(t["verdict"]) <= {"indistinguishable", "better", "worse"}
    fig = mnist.plot_fig2(t.reset_index(), "paper", mnist.fig2_runs("paper", fig2_root))
    assert "single seeds" in fig.axes[0].get_xlabel()


def test_profiles_with_lists_profiles_that_have_results(fig2_root):
    assert mnist.profiles_with(fig2_root, "fig2", "quick") == ["quick", "paper"]
    assert mnist.profiles_with(fig2_root, "swa", "smoke") == ["smoke"]


def test_ett_table_counts_reached_runs_and_compares_with_the_paper(tmp_path):
    base = dict(epochs=None, stop_at_accuracy=0.97, max_epochs=700, n_tiles=1, bl=31)
    for seed, reached in enumerate([33, 31, None]):
        cfg = RunConfig(**base, seed=seed)
        _write(tmp_path, "paper", "epochs_to_97", _fake_result(cfg, {"tile_avg": 0.97}, reached))
    t = mnist.ett_table("paper", "epochs_to_97", tmp_path, paper.load("mnist")).iloc[0]
    assert (t.n_seeds, t.n_reached, t["mean"]) == (3, 2, 32.0)
    assert t.paper_mean == 34 and t.verdict == "n/a"  # a run that did not reach: no verdict


def test_swa_gain_rows_pair_seeds(fig2_root):
    rows = mnist.swa_gain_rows("paper", fig2_root, paper.load("mnist"), ["fig2"])
    assert {r["n_tiles"] for r in rows} == {1, 8}
    for r in rows:
        assert r["gain"] == pytest.approx(-0.001) and r["distinguishable"] == "yes"


def test_final_metrics_table_leaves_diverged_runs_out(tmp_path):
    spiral = dict(dataset="spiral", network="2-64-3-relu-x25", algorithm="agad")
    for seed, (acc, diverged) in enumerate([(0.8, None), (0.6, None), (0.1, 5)]):
        cfg = RunConfig(**spiral, seed=seed)
        result = _fake_result(cfg, {"tile_avg": acc}, diverged_at_epoch=diverged)
        result["epochs"][0]["test"]["exact"]["tile_avg"]["train_acc"] = acc + 0.05
        _write(tmp_path, "quick", "spiral_vs_n", result)
    df = load_results("quick", "spiral_vs_n", results_root=tmp_path)
    t = final_metrics_table(df[df["metric"] == "tile_avg"], by=["n_tiles"]).iloc[0]
    assert (t.n, t.diverged) == (2, 1)
    assert t.train == pytest.approx(0.75) and t.heldout == pytest.approx(0.7)


def test_speedups_and_pareto_front_of_the_papers_epochs():
    rows = pd.DataFrame(paper.load("mnist")["epochs_time_energy"]["rows"])
    costs = [model_costs(r.n_tiles, r.bl, r.variant, r.epochs_to_97) for r in rows.itertuples()]
    data = rows.assign(time_s=[c["time_s"] for c in costs], energy_j=[c["energy_j"] for c in costs])
    sp = speedups(data).set_index(["variant", "n_tiles"])
    assert sp.loc[("shared_A", 1), "speedup"] == pytest.approx(1.0, rel=1e-4)
    assert (
        sp.loc[("shared_A", 32), "best_bl"] == 2 and sp.loc[("replicated_A", 32), "best_bl"] == 31
    )
    assert 6.5 < sp.loc[("shared_A", 32), "speedup"] < 7.5  # the paper's 6.9x, from its own epochs
    front = pareto_front(data)
    assert front["time_s"].is_monotonic_increasing and front["energy_j"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="1-tile rows"):
        speedups(data[data["n_tiles"] > 1])
    # the same table read at given settings: its own best settings give its own speed-ups back
    assert speedups_at(sp.reset_index(), data) == pytest.approx(sp["speedup"].tolist())
    other = pd.DataFrame({"variant": ["shared_A", "shared_A"], "n_tiles": [32, 32],
                          "best_bl": [31, 7]})  # fmt: skip
    t1 = data[data["n_tiles"] == 1]["time_s"].min()
    t32 = data.set_index(["variant", "n_tiles", "bl"]).loc[("shared_A", 32, 31), "time_s"]
    at_31, at_7 = speedups_at(other, data)
    assert at_31 == pytest.approx(t1 / t32) and math.isnan(at_7)  # BL 7: not in the table


def test_fake_results_are_valid_result_files(fig2_root):
    from analog_tt.runs import read_result

    for path in (fig2_root / "paper" / "fig2").glob("*.json"):
        assert read_result(path)["key"] == path.stem
        assert json.loads(path.read_text())["status"] == "finished"


def _benchmark(repo_root, name: str):
    """``benchmarks/<name>.py`` as a module (the benchmarks are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, repo_root / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replica_loop_table_is_derived_from_the_epoch_cost_records(repo_root):
    """The derived file is current, and the README's reading of it (over 1.3x at N >= 32) holds."""
    module = _benchmark(repo_root, "replica_loop_vs_floor")
    source = json.loads((repo_root / module.SOURCE).read_text())["records"]
    committed = json.loads((repo_root / module.OUT).read_text())["records"]
    assert committed == module.derive(source), "run `python benchmarks/replica_loop_vs_floor.py`"
    after = [r for r in committed if r["label"] == "after" and r["n_tiles"] >= 32]
    assert after and all(r["loop_over_floor"] > 1.3 for r in after), after
    assert all(r["loop_over_floor"] == 1.0 for r in committed if r["n_tiles"] == 1)
    # the README's reading of the engine comparison (study replica_engine_s8)
    engines = {
        (r["label"], r["variant"], r["n_tiles"]): r
        for r in committed
        if r["study"] == "replica_engine_s8"
    }
    for (label, variant, n), batched in engines.items():
        if label != "batched":
            continue
        loop = engines[("aihwkit", variant, n)]
        assert batched["epoch_s"] < loop["epoch_s"], (variant, n)
        if n >= 32:
            assert 1.3 < batched["loop_over_floor"] < loop["loop_over_floor"], (variant, n)
            assert batched["epoch_over_target"] > 1, (variant, n)


def test_pairing_slowdown_is_derived_from_the_epoch_cost_records(repo_root):
    """The derived file is current, and the README's reading of it holds: an N = 32 run is
    slowed less by its neighbour than an N = 1 run beside an N = 32 one."""
    module = _benchmark(repo_root, "pairing_slowdown")
    source = json.loads((repo_root / module.SOURCE).read_text())["records"]
    committed = json.loads((repo_root / module.OUT).read_text())["records"]
    assert committed == module.derive(source), "run `python benchmarks/pairing_slowdown.py`"
    large = [r["slowdown"] for r in committed if r["n_tiles"] == 32]
    small = [r["slowdown"] for r in committed if r["n_tiles"] == 1]
    assert large and small and max(large) < min(small), committed


def test_the_batched_column_reads_cut_replicated_as_transfer(repo_root):
    """The README's reading of study column_reads_s12 holds: at N = 32 and 64 the batched column
    reads make the transfer and the whole epoch cheaper than aihwkit's reads, and the gradient-tile
    updates stay the largest part."""
    records = json.loads((repo_root / "benchmarks/results/epoch_cost.json").read_text())["records"]
    study = [r for r in records if r.get("study") == "column_reads_s12" and r["count_ops"]]
    by = {(r["column_reads"], r["n_tiles"], r["concurrent"]): r for r in study}
    assert {c for _, _, c in by} == {1, 2}  # quiet, and beside a training run
    for n, concurrent in ((32, 1), (64, 1), (32, 2), (64, 2)):
        old, new = by[("aihwkit", n, concurrent)], by[("engine", n, concurrent)]
        assert new["seconds_per_epoch"] < old["seconds_per_epoch"], (n, concurrent)
        parts_old, parts_new = old["parts_seconds_per_epoch"], new["parts_seconds_per_epoch"]
        assert parts_new["transfer"] < parts_old["transfer"], (n, concurrent)
        assert max(parts_new, key=parts_new.get) == "update_A", parts_new


def test_ledger_trend_rows_fit_epochs_on_log2_n_and_compare_with_the_paper(tmp_path):
    """replicated A borrows shared A's N = 1 runs (one algorithm at N = 1), as the paper's table."""
    from analog_tt.core.stats import slope
    from analog_tt.report.claims import claims_ledger

    base = dict(epochs=None, stop_at_accuracy=0.97, max_epochs=700, bl=31)
    made_up = {("shared_A", 1): [33, 31, 35], ("replicated_A", 8): [50, 54, None]}
    made_up[("replicated_A", 32)] = [70, 66, 74]
    for (variant, n), epochs in made_up.items():
        for seed, reached in enumerate(epochs):
            cfg = RunConfig(**base, variant=variant, n_tiles=n, seed=seed)
            _write(
                tmp_path, "paper", "epochs_to_97", _fake_result(cfg, {"tile_avg": 0.97}, reached)
            )
    ledger = claims_ledger(tmp_path, "paper")
    trends = ledger[ledger["setting"].str.contains("slope over N")]
    rows = {r["setting"].split(":")[0]: r for r in trends.to_dict("records")}
    assert set(rows) == {"replicated_A, BL 31"}  # shared A has runs at one N only: no slope
    row = rows["replicated_A, BL 31"]
    x = [0, 0, 0, 3, 3, 5, 5, 5]  # log2 N of the reached runs
    ours = slope(x, [33, 31, 35, 50, 54, 70, 66, 74])
    theirs_runs = paper.epochs_to_97_runs("replicated_A")
    theirs = [(n, e) for n in (1, 8, 32) for e in theirs_runs[(n, 31)]]
    paper_fit = slope([math.log2(n) for n, _ in theirs], [e for _, e in theirs])
    assert row["n_ours"] == 8 and row["n_paper"] == 15
    assert row["ours"].startswith(f"{ours['slope']:+.1f} [")
    assert row["paper"].startswith(f"{paper_fit['slope']:+.1f} [")
    assert row["difference"] == pytest.approx(ours["slope"] - paper_fit["slope"])
    assert "ours: grows" in row["verdict"] and "1 run(s) did not reach 97 %" in row["verdict"]
    assert row["missing"] == "N = 4, 16"
    fig = epochs_figures.plot_epochs_vs_n("paper", tmp_path)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["replicated_A, BL 31 (1 run(s) not at 97 %)"]
    assert epochs_figures.plot_epochs_vs_n("paper", tmp_path / "empty") is None


def test_the_engine_check_tests_batched_runs_against_aihwkit_runs(tmp_path):
    from analog_tt.report.engine_check import ENGINE_CHECK_COLUMNS, engine_check_table

    assert engine_check_table("paper", tmp_path).empty
    accs = {"aihwkit": (0.972, 0.973, 0.974, 0.973), "batched": (0.971, 0.972, 0.973)}
    for engine, values in accs.items():
        for seed, acc in enumerate(values):
            cfg = RunConfig(n_tiles=32, seed=seed, epochs=40, replica_engine=engine)
            result = _fake_result(cfg, {"tile_avg": acc, "swa": acc + 0.001})
            if engine == "aihwkit" and seed == 0:  # written before the field existed
                del result["config"]["replica_engine"]
            _write(tmp_path, "paper", "engine_check", result)
    table = engine_check_table("paper", tmp_path)
    assert list(table.columns) == list(ENGINE_CHECK_COLUMNS) and len(table) == 2
    row = table[table["quantity"] == "tile_avg accuracy"].iloc[0]
    assert (row["aihwkit_n"], row["batched_n"]) == (4, 3)
    assert row["aihwkit_mean"] == pytest.approx(0.973)
    assert row["batched_mean"] == pytest.approx(0.972)
    assert row["difference"] == pytest.approx(-0.001)  # batched minus aihwkit
    assert row["difference_ci_low"] < -0.001 < row["difference_ci_high"]
    assert row["welch_verdict"] == "indistinguishable" and row["p_value"] > 0.05
    assert row["aihwkit_train_min_per_epoch"] == pytest.approx(1 / 60)
    # a batched engine that loses a point of accuracy is caught
    for seed in range(6):
        cfg = RunConfig(n_tiles=32, seed=seed, epochs=40, replica_engine="batched")
        result = _fake_result(cfg, {"tile_avg": 0.962 + seed / 1e4})
        _write(tmp_path, "paper", "engine_check", result)
    row = engine_check_table("paper", tmp_path).query("quantity == 'tile_avg accuracy'").iloc[0]
    assert row["batched_n"] == 6 and row["welch_verdict"] == "lower" and row["p_value"] < 0.001
    # one run of an engine gets no verdict
    for path in (tmp_path / "paper" / "engine_check").glob("*.json"):
        if json.loads(path.read_text())["config"].get("replica_engine", "aihwkit") == "aihwkit":
            path.unlink()
    cfg = RunConfig(n_tiles=32, seed=0, epochs=40, replica_engine="aihwkit")
    _write(tmp_path, "paper", "engine_check", _fake_result(cfg, {"tile_avg": 0.97}))
    row = engine_check_table("paper", tmp_path).query("quantity == 'tile_avg accuracy'").iloc[0]
    assert row["welch_verdict"] == "n/a" and math.isnan(row["p_value"])
    # a cell that stops at a target compares its epochs to it (runs that reached it)
    ett = {"aihwkit": (37, 36, 38), "batched": (36, 39, None, 37)}
    for engine, values in ett.items():
        for seed, epochs in enumerate(values):
            cfg = RunConfig(variant="replicated_A", n_tiles=8, bl=100, epochs=None, seed=seed,
                            stop_at_accuracy=0.97, max_epochs=700, replica_engine=engine)  # fmt: skip
            result = _fake_result(cfg, {"tile_avg": 0.97}, epochs_to_target=epochs)
            _write(tmp_path, "paper", "engine_check", result)
    table = engine_check_table("paper", tmp_path)
    (row,) = table[table["quantity"] == "epochs to target"].itertuples()
    assert (row.variant, row.n_tiles, row.bl, row.stop_at_accuracy) == (
        "replicated_A",
        8,
        100,
        0.97,
    )
    assert (row.aihwkit_n, row.batched_n) == (3, 3) and row.batched_mean == pytest.approx(
        37.333, 1e-4
    )
    assert row.difference == pytest.approx(1 / 3) and row.welch_verdict == "indistinguishable"
    assert len(table) == 2  # and the Figure 2 cell (its runs now hold no SWA)


def test_whole_run_records_derive_from_the_measured_runs(repo_root):
    """``benchmarks/results/whole_run.json`` is current (its records are derived from its measured
    runs) and the README's reading of it holds."""
    module = _benchmark(repo_root, "whole_run")
    committed = json.loads((repo_root / module.OUT).read_text())
    assert committed["records"] == module.derive(committed["runs"]), (
        "run `python benchmarks/whole_run.py --derive-only`"
    )
    assert committed["concurrent"] == 1
    readme = (repo_root / "README.md").read_text()
    words = {True: "meets", False: "misses"}
    names = {"fig2": "the Figure 2 run", "epochs_to_97": "the epochs-to-97 % run"}
    for schedule in {r["schedule"] for r in committed["records"]}:
        before, after = (r for r in committed["records"] if r["schedule"] == schedule)
        assert (before["label"], after["label"]) == ("before", "after")
        assert (after["replica_engine"], after["read_probes"]) == ("batched", "shared")
        met = after["wall_ratio_to_before"] <= after["target_ratio"]
        target = f"{after['target_ratio'] * 100:.0f} %"
        assert f"{names[schedule]} {words[met]} the {target} target" in readme, schedule
        # "Pulse programming was not cut, and in the `after` runs it is second only to training"
        assert after["program_min"] > 0.9 * before["program_min"]
        parts = ("train_min", "test_min", "program_min", "other_min")
        assert sorted(parts, key=after.get, reverse=True)[:2] == ["train_min", "program_min"]
        if schedule == "epochs_to_97":  # "halving it ... would bring [it] under 50 %"
            halved = after["wall_min"] - after["program_min"] / 2
            assert halved / before["wall_min"] <= after["target_ratio"]
    # the Figure 2 before run repeats the committed run of its key (another processor)
    before = next(
        r for r in committed["records"] if (r["schedule"], r["label"]) == ("fig2", "before")
    )
    kept = json.loads((repo_root / "data/results/paper/fig2" / f"{before['key']}.json").read_text())
    for kind in ("tile_avg", "swa"):
        assert before["final"]["lstsq"][kind]["acc"] == kept["final"]["lstsq"][kind]["acc"]


def test_a_torch_programming_update_would_cost_more_than_aihwkits(repo_root):
    """The README's reading of ``programming_cost.json``: aihwkit's update is more than half of
    the programming (so no cut outside it can halve it), and dense and sparse torch lockstep
    updates cost more per replica than aihwkit's."""

    (record,) = json.loads((repo_root / "benchmarks/results/programming_cost.json").read_text())[
        "records"
    ]
    assert record["update_share"] > 0.5
    ratio = (
        record["dense_torch_update_ms_per_replica_256x784"]
        / record["aihwkit_update_ms_256x784_copy_error"]
    )
    assert record["dense_torch_over_aihwkit"] == ratio > 1
    sparse = (
        record["sparse_torch_update_ms_per_replica_256x784"]
        / record["aihwkit_update_ms_256x784_copy_error"]
    )
    assert record["sparse_torch_over_aihwkit"] == sparse > 1
    fired = record["fired_fraction_256x784_copy_error"]
    assert 0 < fired < 1
    assert record["aihwkit_ns_per_fired_weight"] == pytest.approx(
        record["aihwkit_update_ms_256x784_copy_error"] * 1e6 / (fired * 256 * 784)
    )


def test_transfer_writes_cost_more_on_n_replicas_than_on_one(repo_root):
    """The README's reading of ``transfer_write_cost.json``: the same column writes cost more
    on N replicas' device state than N times on one replica, most for the largest layer."""

    records = json.loads((repo_root / "benchmarks/results/transfer_write_cost.json").read_text())[
        "records"
    ]
    assert [r["layer"] for r in records] == [0, 1, 2]
    for r in records:
        assert r["own_over_one"] == r["own_replicas_us_per_call"] / r["one_replica_us_per_call"]
        assert r["device_state_mb_all_replicas"] == pytest.approx(
            r["device_state_mb_per_replica"] * r["n_tiles"]
        )
        assert 0 < r["nonzero_rows"] <= 1
    by_layer = [r["own_over_one"] for r in records]
    assert by_layer[0] > 2 and by_layer[0] == max(by_layer)


def test_run_provenance_records_what_a_benchmark_record_needs():
    """``run_provenance`` gives the four provenance fields, with the thread count set now."""
    import torch

    from analog_tt.core.provenance import run_provenance

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        record = run_provenance()
    finally:
        torch.set_num_threads(threads)
    assert set(record) == {"started_utc", "git_commit", "machine", "versions"}
    assert record["machine"]["torch_threads"] == 1
    assert record["started_utc"].endswith("+00:00")
    assert "aihwkit" in record["versions"]
