"""The paper's per-run files, the Welch comparison and the claims ledger."""

from __future__ import annotations

import math
import re

import pytest
from scipy import stats

from analog_tt import paper
from analog_tt.core.paths import RESULTS_ROOT
from analog_tt.core.stats import slope, welch
from analog_tt.report.claims import CLAIMS_COLUMNS, EPOCHS_TO_97_CELLS, claims_ledger
from analog_tt.report.verdicts import welch_columns


def test_per_run_files_agree_with_the_transcribed_tables():
    table = paper.load("mnist")
    fig2 = table["figure2_accuracy_40_epochs"]
    runs = paper.figure2_runs()
    assert sorted(runs) == fig2["n_tiles"]
    for n, mean in zip(fig2["n_tiles"], fig2["tile_average_mean"], strict=True):
        assert len(runs[n]["tile_avg"]) == 5
        assert sum(runs[n]["tile_avg"]) / 5 == pytest.approx(mean, abs=5e-5)
    # the paper's epochs-to-97 % table is round(mean of the 5 run lengths), except (N=1, BL=31),
    # which it took from a single lr-sweep run (seed analysis §4.3)
    for row in table["epochs_time_energy"]["rows"]:
        lengths = paper.epochs_to_97_runs(row["variant"])[(row["n_tiles"], row["bl"])]
        assert len(lengths) == 5
        if (row["n_tiles"], row["bl"]) == (1, 31):
            assert sum(lengths) / 5 == pytest.approx(32.8)
            continue
        assert round(sum(lengths) / 5) == row["epochs_to_97"], row
    for curves in paper.epochs_to_97_curves("shared_A").values():
        assert all(c[-1] >= 0.97 and max(c[:-1], default=0) < 0.97 for c in curves)
    assert len(paper.spiral_runs("replicated_A")[8]) == 10
    with pytest.raises(ValueError, match="variant"):
        paper.epochs_to_97_runs("shared")


def test_welch_matches_scipy_and_names_its_limits():
    ours, theirs = [0.9733, 0.9741, 0.9722, 0.9745, 0.9730], [0.9722, 0.9725, 0.9748, 0.9724, 0.972]
    out = welch(ours, theirs)
    reference = stats.ttest_ind(ours, theirs, equal_var=False)
    assert out["p_value"] == pytest.approx(reference.pvalue)
    assert out["ci_low"] < out["difference"] < out["ci_high"]
    assert out["verdict"] == "indistinguishable"
    far = welch([x + 0.01 for x in ours], theirs)
    assert far["verdict"] == "higher" and far["p_value"] < 0.05 and far["ci_low"] > 0
    with pytest.raises(ValueError, match="at least 2"):
        welch([0.97], theirs)
    assert welch_columns([0.97], theirs)["welch_verdict"] == "n/a"
    assert welch_columns(ours, None)["welch_verdict"] == "n/a"


def test_the_ledger_covers_every_claim_and_says_what_is_missing():
    ledger = claims_ledger(RESULTS_ROOT, "paper")
    assert list(ledger.columns) == CLAIMS_COLUMNS
    fig2 = ledger[ledger["claim"].str.startswith("Figure 2: >")]
    slope_rows = fig2["setting"].str.startswith("slope over N")
    assert slope_rows.sum() == 1  # "flat in N" itself
    per_n = fig2[~slope_rows]["setting"]
    assert sorted(int(s.split()[2].rstrip(",")) for s in per_n) == [1, 4, 8, 16, 32, 64]
    for row in ledger.itertuples():
        if row.n_ours == 0:
            assert (
                row.missing
                and row.verdict in ("too few runs", "not measured yet")
                or (row.verdict == "not run at the paper's settings")
            ), row
        if row.verdict.startswith("> 97 %") or row.verdict.startswith("vs paper"):
            assert math.isfinite(row.p_value) and row.n_ours >= 2, row
    epochs = ledger[ledger["claim"].str.startswith("shared A: epochs to 97")]
    trends = epochs["setting"].str.contains("slope over N")
    assert (~trends).sum() == len(EPOCHS_TO_97_CELLS)
    # the claim itself, per variant: both have runs at N = 1, 8 and 32 with BL 31
    assert {s.split(",")[0] for s in epochs[trends]["setting"]} == {"shared_A", "replicated_A"}
    assert ledger["claim"].str.contains("speed-up").sum() == 2
    assert ledger["claim"].str.contains("pooled").sum() == 1
    one_tile = ledger[ledger["claim"].str.startswith("spiral, one tile")]
    noises = [s.split(", ")[2] for s in one_tile["setting"]]
    assert noises == ["out_noise 0", "out_noise 0.1", "out_noise 0.1"]
    # all runs, then (one of the paper's ten diverged at noise 0.1) the runs that did not diverge
    assert one_tile["n_paper"].tolist() == [10, 10, 9]
    converged = re.search(r"runs that did not diverge \(paper: agad_v1.csv, 9 of 10 runs; "
                          r"ours: (\d+) of (\d+)\)$", one_tile["setting"].iloc[2])  # fmt: skip
    assert converged and converged[1] == converged[2]  # none of ours diverged


def test_the_paper_spiral_runs_without_the_diverged_ones():
    for variant in ("shared_A", "replicated_A"):
        every, converged = paper.spiral_runs(variant), paper.spiral_runs(variant, True)
        assert every.keys() == converged.keys()
        for n in every:  # the one diverged run of each file: N = 1, NaN loss, chance accuracy
            dropped = sorted(set(every[n]) - set(converged[n]))
            assert (len(every[n]) - len(converged[n]), dropped) == (
                (1, [pytest.approx(1 / 3)]) if n == 1 else (0, [])
            ), (variant, n)


def test_spiral_means_agree_with_the_paper_per_run_files():
    table = paper.load("spiral")["agad_vs_n"]
    for variant in ("shared_A", "replicated_A"):
        runs = paper.spiral_runs(variant)
        for n, mean in zip(table["n_tiles"], table["train_acc"][variant], strict=True):
            assert mean == pytest.approx(sum(runs[n]) / len(runs[n]), abs=6e-4), (variant, n)


def test_fig2_brackets_hold_the_first_epoch_at_the_target():
    from analog_tt.report.fig2_epochs import fig2_epochs_to_97_brackets, run_bracket

    tested = [(40, 0.975), (5, 0.5), (35, 0.968), (36, 0.971), (37, 0.969)]
    assert run_bracket(tested) == (35, 36.0)  # the first pass, not a later dip and pass
    assert run_bracket([(5, 0.98)]) == (0, 5.0)
    assert run_bracket([(5, 0.5), (10, 0.9)]) == (10, math.inf)
    with pytest.raises(ValueError, match="at least one"):
        run_bracket([])
    table = fig2_epochs_to_97_brackets("paper", RESULTS_ROOT)
    for row in table.itertuples():
        assert row.low_mean < row.high_mean and row.n_reached <= row.n_seeds
        if row.verdict != "n/a":  # the union CI holds both one-sided Welch differences
            theirs = paper.epochs_to_97_runs(row.variant)[(row.n_tiles, row.bl)]
            mid = (row.low_mean + row.high_mean) / 2 - sum(theirs) / len(theirs)
            assert row.difference_ci_low < mid < row.difference_ci_high


def test_the_readme_reading_of_the_spiral_rows_holds(repo_root):
    """The README says replicated A at N = 64 is "higher" than the paper's: the ledger agrees."""
    ledger = _ledger_if_the_readme_says(
        repo_root, 'at N = 64 its Welch verdict against the paper\'s 10 runs is "higher"'
    )
    row = ledger[ledger["setting"].str.startswith("replicated_A, N = 64, out_noise 0.1")].iloc[0]
    assert row.verdict == "vs paper: higher" and row.n_paper == 10, row


def test_the_readme_reading_of_the_spiral_gap_holds(repo_root):
    """The README says the spiral gap is already there on one tile, once the diverged runs are set
    aside, by as much as shared_A's at N >= 4: the ledger agrees."""
    ledger = _ledger_if_the_readme_says(
        repo_root, "So the gap is in one-tile AGAD at this noise level, not in the replicas"
    ).set_index("setting")
    shared = {n: f"shared_A, N = {n}, out_noise 0.1, 1000 epochs, training set"
              for n in (4, 8, 16, 32, 64)}  # fmt: skip
    for n in (4, 16, 64):
        assert ledger.loc[shared[n], "verdict"] == "vs paper: lower"
    assert ledger.loc["replicated_A, N = 4, out_noise 0.1, 1000 epochs, training set",
                      "verdict"] == "vs paper: lower"  # fmt: skip
    one_tile = ledger[ledger["claim"].str.startswith("spiral, one tile")]
    every_run, converged = one_tile.iloc[1], one_tile.iloc[2]
    assert "runs that did not diverge" in converged.name and "0.1" in every_run.name
    assert every_run.verdict == "vs paper: indistinguishable"
    assert converged.verdict == "vs paper: lower"
    low, high = (float(v) for v in converged.difference_ci.strip("[]").split(", "))
    for setting in shared.values():  # "its CI holds every shared_A difference at N >= 4"
        assert low <= ledger.loc[setting, "difference"] <= high, setting
    assert one_tile.iloc[0].verdict == "vs paper: indistinguishable"  # "at noise 0 ... agrees"


def test_the_readme_reading_of_the_spiral_slope_holds(repo_root):
    """The README says the paper's replicated A spiral accuracy falls with N and ours does not."""
    ledger = _ledger_if_the_readme_says(
        repo_root, "the paper's accuracy falls by about 0.05 per doubling"
    )
    row = ledger[ledger["setting"].str.startswith("replicated_A: slope over N")].iloc[0]
    assert row.verdict == "ours: no trend detected; paper: falls; vs paper: larger", row
    assert row.paper.startswith("-0.05"), row.paper
    # the paper's slope is the fit to its own runs at our N
    ns = [int(n) for n in row.setting.split("N = ")[1].split(", out_noise")[0].split(", ")]
    runs = paper.spiral_runs("replicated_A")
    theirs = [(n, a) for n in ns for a in runs[n]]
    fit = slope([math.log2(n) for n, _ in theirs], [a for _, a in theirs])
    assert row.paper.startswith(f"{fit['slope']:+.3f} [")


def test_figure2_above_97_says_yes_no_or_not_shown_from_the_ci():
    ledger = claims_ledger(RESULTS_ROOT, "paper")
    rows = ledger[ledger["verdict"].str.startswith("> 97 %")]
    assert len(rows)
    for row in rows.itertuples():
        mean, ci = (float(v) for v in row.ours.split(" ± "))
        said = row.verdict.split(";")[0].removeprefix("> 97 %: ")
        expected = "yes" if mean - ci > 0.97 else ("no" if mean + ci < 0.97 else "not shown")
        assert said == expected, row


def _ledger_if_the_readme_says(repo_root, phrase: str):
    """The ledger, where the README states ``phrase`` (else the test skips: nothing to hold)."""
    if phrase not in (repo_root / "README.md").read_text():
        pytest.skip("the README no longer states it")
    return claims_ledger(RESULTS_ROOT, "paper")


def _write_run(root, experiment: str, cfg, acc: float, epochs_to_target=None) -> None:
    """A finished paper-profile result of ``cfg`` whose last test gave the tile average ``acc``."""
    from analog_tt.core.files import atomic_write_json

    last = epochs_to_target or cfg.epochs or cfg.max_epochs
    test = {cfg.eval_modes[0]: {"tile_avg": {"acc": acc, "loss": 0.1}}}
    result = {
        "status": "finished", "key": cfg.key(), "config": cfg.to_dict(),
        "epochs": [{"epoch": last, "train_loss": 0.1, "test": test}],
        "epochs_run": last, "final": test, "epochs_to_target": epochs_to_target,
        "target_reached": epochs_to_target is not None,
        "wall_s": {"train_per_epoch_mean": 1.0}, "provenance": {},
    }  # fmt: skip
    atomic_write_json(root / "paper" / experiment / f"{cfg.key()}.json", result)


def _write_ett_run(root, experiment: str, lr: float, seed: int, epochs: int | None) -> None:
    """A stop-at-97 % run (shared_A, N = 1, BL 31) that reached 97 % at ``epochs`` (None: it
    stopped at its cap without reaching it)."""
    from analog_tt.runs import RunConfig

    cap = 600 if experiment == "lr_sweep" else 700
    cfg = RunConfig(n_tiles=1, bl=31, lr=lr, seed=seed, epochs=None, stop_at_accuracy=0.97,
                    max_epochs=cap)  # fmt: skip
    _write_run(root, experiment, cfg, 0.97 if epochs is not None else 0.96, epochs)


def test_the_learning_rate_rows_test_the_claim_within_our_runs(tmp_path):
    from analog_tt.report.claim_lr import LR_CLAIM, lr_rows

    (not_run,) = lr_rows(tmp_path, "paper")
    assert not_run["verdict"] == "not run at the paper's settings" and not_run["missing"]
    for seed, epochs in enumerate((33, 35, 34)):
        _write_ett_run(tmp_path, "epochs_to_97", 0.1, seed, epochs)
    for seed, epochs in enumerate((20, 22, 21)):
        _write_ett_run(tmp_path, "lr_sweep", 0.5, seed, epochs)
    for seed, epochs in enumerate((33, 36)):
        _write_ett_run(tmp_path, "lr_sweep", 0.05, seed, epochs)
    rows = {r["setting"]: r for r in lr_rows(tmp_path, "paper")}
    fast = rows["shared_A, N = 1, BL 31: lr 0.5 against lr 0.1"]
    assert fast["claim"] == LR_CLAIM and fast["verdict"].startswith("ours: fewer epochs at lr 0.5")
    assert fast["difference"] == pytest.approx(-13.0) and fast["p_value"] < 0.01
    assert fast["paper"].startswith("20 (1 run) vs 32.8 ± ")  # the paper's single run, its lr 0.1
    assert fast["ours"].startswith("21.0 ± ") and fast["missing"] == ""
    slow = rows["shared_A, N = 1, BL 31: lr 0.05 against lr 0.1"]
    assert slow["verdict"].startswith("ours: no difference detected") and slow["missing"]
    (rest,) = [r for s, r in rows.items() if s.startswith("the rest of the sweep")]
    assert "N=1" not in rest["missing"] and "replicated_A N=8 BL2 lr 0.5" in rest["missing"]
    assert rest["missing"].endswith("; and 16 more")  # 22 cells in the sweep, 2 run
    _write_ett_run(tmp_path, "lr_sweep", 0.5, 3, None)  # one run stopped at its cap
    rows = {r["setting"]: r for r in lr_rows(tmp_path, "paper")}
    assert rows["shared_A, N = 1, BL 31: lr 0.5 against lr 0.1"]["verdict"].startswith(
        "some runs did not reach 97 %"
    )


def test_the_initialisation_rows_test_the_claim_within_our_runs(tmp_path):
    from analog_tt.report.claim_init import INIT_CLAIM, init_rows
    from analog_tt.runs import RunConfig

    (not_run,) = init_rows(tmp_path, "paper")
    assert not_run["verdict"] == "not run at the paper's settings"
    assert not_run["missing"] == "all runs (36 cells)"  # 6 N x 6 starts
    base = {"n_tiles": 8, "lr": 0.05, "epochs": 50, "eval_modes": ("exact",)}
    starts = {
        ("init_std", 0.0): (0.9712, 0.9725, 0.9718),
        ("init_std", 0.06): (0.9470, 0.9490, 0.9480),
        ("independent", 0.0): (0.9700, 0.9730),
    }
    for (init, std), accs in starts.items():
        for seed, acc in enumerate(accs):
            cfg = RunConfig(**base, init=init, init_std=std, seed=seed)
            _write_run(tmp_path, "init_study", cfg, acc)
    rows = {r["setting"]: r for r in init_rows(tmp_path, "paper")}
    head = "shared_A, N = 8, lr 0.05, 50 epochs: "
    perturbed = rows[head + "replicas perturbed by init_std 0.06 against identical ones"]
    assert perturbed["claim"] == INIT_CLAIM
    assert perturbed["verdict"].startswith("ours: lower accuracy than identical replicas")
    assert perturbed["difference"] == pytest.approx(0.9480 - (0.9712 + 0.9725 + 0.9718) / 3)
    assert perturbed["paper"] == "0.9477 (1 run) vs 0.9711 identical"  # its N = 8 values
    independent = rows[head + "independent replicas against identical ones"]
    assert independent["verdict"].startswith("ours: no difference from identical replicas")
    assert independent["missing"] == "1 more seed(s)"
    (rest,) = [r for s, r in rows.items() if "cells of experiment" in s]
    assert rest["setting"].startswith("33 ") and "N=8 identical" not in rest["missing"]


def _epochs_cells(ledger):
    """The ledger's per-cell epochs-to-97 % rows (not the slopes), one per asked N x BL cell."""
    cells = ledger[ledger["claim"].str.startswith("shared A: epochs to 97")]
    cells = cells[~cells["setting"].str.contains("slope over N")]
    assert len(cells) == len(EPOCHS_TO_97_CELLS)
    return cells


@pytest.mark.parametrize(
    ("phrase", "not_run"), [("all but one of the N x BL cells", 1), ("every N x BL cell", 0)]
)
def test_the_readme_status_counts_the_epochs_cells_not_run(repo_root, phrase, not_run):
    """The README's status says how many of the asked N x BL cells have runs: the ledger agrees."""
    cells = _epochs_cells(_ledger_if_the_readme_says(repo_root, phrase))
    assert (cells["n_ours"] == 0).sum() == not_run, cells[cells["n_ours"] == 0]["setting"].tolist()


def test_the_readme_status_says_how_many_seeds_every_epochs_cell_has(repo_root):
    """Where the README says every asked N x BL cell has at least three seeds, the ledger agrees."""
    cells = _epochs_cells(_ledger_if_the_readme_says(repo_root, "each with at least three seeds"))
    short = cells[cells["n_ours"].astype(int) < 3]
    assert short.empty, short["setting"].tolist()
