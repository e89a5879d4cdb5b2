"""Experiment runner: config validation, determinism, checkpoint resume, killed sweeps, profiles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from replica_helpers import train_batches

import analog_tt.runs as ex
import analog_tt.runs.training as training
from analog_tt.core.vocabulary import EPOCHS_TO_TARGET, EXPERIMENTS, PAPER_TARGET_ACCURACY
from analog_tt.runs import RunConfig
from analog_tt.runs.cli import sweep_main
from analog_tt.runs.models import build_model, build_optimizer, load_dataset
from analog_tt.runs.training import _save_checkpoint


class _StopForTest(Exception):
    """Raised from ``on_epoch_end`` to simulate a kill after an epoch's checkpoint."""


def _stop_after(k: int):
    def hook(epoch: int) -> None:
        if epoch >= k:
            raise _StopForTest(f"stopped after epoch {epoch}")

    return hook


# A run of ~0.3 s: floating-point SGD on the spiral (bit-reproducible).
TINY = {
    "dataset": "spiral",
    "network": "2-16-3-relu-x25",
    "algorithm": "sgd",
    "lr": 0.01,
    "batch_size": 64,
    "epochs": 4,
    "train_subset": 600,
    "test_subset": 300,
}


def tiny(**changes) -> RunConfig:
    return RunConfig(**{**TINY, **changes})


def _strip_volatile(result: dict) -> dict:
    """The result without wall times and provenance (what may differ between identical runs)."""
    out = {k: v for k, v in result.items() if k not in ("provenance", "wall_s")}
    out["epochs"] = [
        {k: v for k, v in rec.items() if k not in ("train_s", "eval_s", "loadavg_1min")}
        for rec in result["epochs"]
    ]
    return out


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"algorithm": "rmsprop"}, ["algorithm", "sgd", "agad"]),
        ({"dataset": "cifar"}, ["dataset", "mnist", "spiral"]),
        ({"variant": "v3"}, ["variant", "shared_A", "replicated_A"]),
        ({"n_tiles": 0}, ["n_tiles", ">= 1"]),
        ({"n_tiles": 4}, ["n_tiles", "agad"]),
        ({"lr": -1.0}, ["lr"]),
        ({"eval_modes": ("lstsq",)}, ["eval_modes", "exact"]),
        ({"init": "program"}, ["init", "default"]),
        ({"stop_at_accuracy": 0.9}, ["epochs", "stop_at_accuracy"]),
        ({"epochs": None, "stop_at_accuracy": 0.9}, ["max_epochs"]),
        ({"network": "2-16-4-relu"}, ["network", "3 outputs"]),
        ({"network": "2-16-3-tanh"}, ["network", "sigmoid"]),
        ({"train_subset": 10**6}, ["train_subset"]),
        ({"swa_weighted_T": 0.2, "swa_start": 1}, ["swa_weighted_T", "agad"]),
        ({"auto_scale_start": "one"}, ["auto_scale_start", "paper"]),
    ],
)
def test_bad_config_field_names_field_and_allowed_values(changes, words):
    with pytest.raises(ValueError) as err:
        tiny(**changes)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown RunConfig field"):
        RunConfig.from_dict({**TINY, "learning_rate": 0.1})


def test_key_is_stable_and_covers_every_field():
    cfg = tiny()
    assert cfg.key() == tiny().key() == RunConfig.from_dict(cfg.to_dict()).key()
    # normalised defaults hash like their explicit values
    assert cfg.key() == tiny(init="default", eval_modes=("exact",)).key()
    assert len({cfg.key(), tiny(seed=1).key(), tiny(lr=0.02).key(), tiny(epochs=5).key()}) == 4


def test_defaults_are_the_paper_setting():
    cfg = RunConfig()
    assert (cfg.network, cfg.batch_size, cfg.algorithm, cfg.lr, cfg.bl) == (
        "784-256-128-10-sigmoid",
        64,
        "agad",
        0.1,
        31,
    )
    assert cfg.init == "program" and cfg.eval_modes == ("lstsq",)


# ------------------------------------------------------------------------------------------
# run: determinism, caching, resume
# ------------------------------------------------------------------------------------------


def test_same_config_and_seed_give_identical_results():
    first = ex.run(tiny(swa_start=2), progress=False)
    second = ex.run(tiny(swa_start=2), progress=False)
    assert _strip_volatile(first) == _strip_volatile(second)
    other_seed = ex.run(tiny(swa_start=2, seed=1), progress=False)
    assert _strip_volatile(first)["epochs"] != _strip_volatile(other_seed)["epochs"]
    assert first["provenance"]["bitwise_reproducible"] is True
    assert first["epochs_run"] == 4 and "swa" in first["final"]["exact"]
    assert all(rec["loadavg_1min"] >= 0 for rec in first["epochs"])  # the machine's load, per epoch


def test_resume_from_checkpoint_gives_the_identical_result(tmp_path):
    cfg = tiny(swa_start=2)
    uninterrupted = ex.run(cfg, progress=False)
    cache = tmp_path / "cache"
    with pytest.raises(_StopForTest):
        ex.run(cfg, cache_dir=cache, progress=False, on_epoch_end=_stop_after(2))
    assert (cache / f"{cfg.key()}.ckpt").is_file()
    assert not (cache / f"{cfg.key()}.json").exists()
    resumed = ex.run(cfg, cache_dir=cache, progress=False)
    assert resumed["provenance"]["resumes"][0]["at_epoch"] == 2
    assert _strip_volatile(resumed) == _strip_volatile(uninterrupted)
    assert not (cache / f"{cfg.key()}.ckpt").exists()  # removed once finished
    # a finished file is returned as is
    assert ex.run(cfg, cache_dir=cache, progress=False) == json.loads(
        (cache / f"{cfg.key()}.json").read_text()
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"status": "finished", "epo', ["unreadable"]),  # truncated
        ('{"status": "finished"}', ["lacks", "config"]),
        ("[1, 2]", ["not a JSON object"]),
    ],
)
def test_damaged_result_file_is_reported_by_name(tmp_path, content, words):
    cfg = tiny(epochs=1)
    path = tmp_path / f"{cfg.key()}.json"
    path.write_text(content)
    with pytest.raises(ex.ResultFileError) as err:
        ex.run(cfg, cache_dir=tmp_path, progress=False)
    for word in [str(path), "delete", *words]:
        assert word in str(err.value)
    with pytest.raises(ex.ResultFileError):
        ex.read_result(path)


def test_another_runs_result_under_this_key_is_refused(tmp_path):
    a, b = tiny(epochs=1), tiny(epochs=1, seed=1)
    result = ex.run(a, progress=False)
    (tmp_path / f"{b.key()}.json").write_text(json.dumps(result))
    with pytest.raises(ex.ResultFileError, match="holds the run"):
        ex.run(b, cache_dir=tmp_path, progress=False)


def test_stop_at_accuracy_records_epochs_to_target():
    result = ex.run(tiny(epochs=None, stop_at_accuracy=0.34, max_epochs=6, lr=0.05), progress=False)
    reached = result["epochs_to_target"]
    assert reached is not None and result["epochs_run"] == reached
    accs = [r["test"]["exact"]["tile_avg"]["acc"] for r in result["epochs"]]
    assert accs[-1] >= 0.34 and all(a < 0.34 for a in accs[:-1])
    capped = ex.run(tiny(epochs=None, stop_at_accuracy=1.0, max_epochs=2), progress=False)
    assert capped["epochs_to_target"] is None and capped["epochs_run"] == 2


@pytest.mark.parametrize("algorithm", ["analog_sgd", "tt_v1"])
def test_analog_runs_are_reproducible(algorithm):
    cfg = tiny(algorithm=algorithm, lr=0.01, epochs=2, eval_modes=("lstsq",))
    first, second = ex.run(cfg, progress=False), ex.run(cfg, progress=False)
    assert _strip_volatile(first) == _strip_volatile(second)
    assert first["provenance"]["bitwise_reproducible"] is True


def test_checkpoints_are_written_as_often_as_their_cost_allows(tmp_path, monkeypatch):
    """After the first epoch, a checkpoint is due once the time since the last one is
    1 / CHECKPOINT_OVERHEAD times its cost; none after the last epoch; same result either way."""
    saved_after: list[int] = []

    def counting_save(path, payload):
        saved_after.append(len(payload["records"]))
        _save_checkpoint(path, payload)

    monkeypatch.setattr(training, "_save_checkpoint", counting_save)
    cfg = tiny(epochs=4)
    monkeypatch.setattr(training, "CHECKPOINT_OVERHEAD", 1e-12)  # a checkpoint costs "forever"
    rare = ex.run(cfg, cache_dir=tmp_path / "rare", progress=False)
    assert saved_after == [1]
    saved_after.clear()
    monkeypatch.setattr(training, "CHECKPOINT_OVERHEAD", 1e12)  # a checkpoint costs nothing
    often = ex.run(cfg, cache_dir=tmp_path / "often", progress=False)
    assert saved_after == [1, 2, 3]
    assert _strip_volatile(rare) == _strip_volatile(often)


def test_a_stop_between_checkpoints_still_keeps_its_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "CHECKPOINT_OVERHEAD", 1e-12)
    cfg = tiny(epochs=4)
    with pytest.raises(_StopForTest):
        ex.run(cfg, cache_dir=tmp_path, progress=False, on_epoch_end=_stop_after(3))
    resumed = ex.run(cfg, cache_dir=tmp_path, progress=False)
    assert resumed["provenance"]["resumes"][0]["at_epoch"] == 3
    assert _strip_volatile(resumed) == _strip_volatile(ex.run(cfg, progress=False))


def test_a_damaged_checkpoint_is_reported_and_the_run_starts_over(tmp_path):
    cfg = tiny(epochs=2)
    (tmp_path / f"{cfg.key()}.ckpt").write_bytes(b"not a checkpoint")
    with pytest.warns(RuntimeWarning, match="cannot be read.*starts over"):
        result = ex.run(cfg, cache_dir=tmp_path, progress=False)
    assert "resumes" not in result["provenance"] or not result["provenance"]["resumes"]
    assert _strip_volatile(result) == _strip_volatile(ex.run(cfg, progress=False))


@pytest.mark.parametrize(
    "overrides",
    [
        {"algorithm": "analog_sgd", "lr": 0.005},
        {"algorithm": "tt_v1", "lr": 0.005},
        {
            "algorithm": "agad",
            "n_tiles": 3,
            "variant": "replicated_A",
            "lr": 0.05,
            "init": "init_std",
        },
        {
            "algorithm": "agad",
            "n_tiles": 3,
            "variant": "replicated_A",
            "lr": 0.05,
            "init": "init_std",
            "replica_engine": "batched",
        },
    ],
    ids=["analog_sgd", "tt_v1", "agad_multi_tile", "agad_batched_replicas"],
)
def test_analog_run_resumed_from_checkpoint_is_bit_identical(tmp_path, overrides):
    """aihwkit tiles get generators seeded from (seed, epoch) at every epoch start, so a run
    killed after epoch 1 and resumed gives the same bits as an uninterrupted one."""
    cfg = tiny(epochs=3, eval_modes=("lstsq", "exact"), **overrides)
    uninterrupted = ex.run(cfg, progress=False)
    with pytest.raises(_StopForTest):
        ex.run(cfg, cache_dir=tmp_path, progress=False, on_epoch_end=_stop_after(1))
    resumed = ex.run(cfg, cache_dir=tmp_path, progress=False)
    assert resumed["epochs_run"] == 3 and [r["epoch"] for r in resumed["epochs"]] == [1, 2, 3]
    assert resumed["provenance"]["resumes"][0]["at_epoch"] == 1
    assert resumed["provenance"]["bitwise_reproducible"] is True
    assert _strip_volatile(resumed) == _strip_volatile(uninterrupted)


def test_agad_multi_tile_run_with_swa_and_op_counts():
    pytest.importorskip("analog_tt.presets")
    cfg = tiny(
        algorithm="agad",
        n_tiles=2,
        init="init_std",
        lr=0.01,
        epochs=2,
        swa_start=1,
        swa_weighted_T=0.2,
        count_ops=True,
        train_subset=300,
        eval_modes=("lstsq",),
    )
    result = ex.run(cfg, progress=False)
    assert _strip_volatile(result) == _strip_volatile(ex.run(cfg, progress=False))
    assert set(result["final"]["lstsq"]) == {"tile_avg", "swa", "swa_weighted"}
    assert result["epochs"][0]["op_counts"] and result["op_counts_total"]
    assert result["init_report"]["layers.0"]["mode"] == "init_std"


def test_agad_checkpoint_restores_the_multi_tile_state(tmp_path):
    """Model + optimiser state saved by run's checkpoint restore weights and transfer state."""
    pytest.importorskip("analog_tt.presets")
    import torch

    from analog_tt.tiles.readout import replica_weights

    cfg = tiny(algorithm="agad", n_tiles=2, init="init_std", lr=0.01, train_subset=300)
    torch.manual_seed(0)
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    train_batches(model, optimizer, *load_dataset(cfg)[:2], n=300, batch=64)
    path = tmp_path / "state.ckpt"
    _save_checkpoint(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict()})
    payload = torch.load(path, weights_only=False)
    torch.manual_seed(1)
    restored = build_model(cfg)
    restored.load_state_dict(payload["model"])
    build_optimizer(restored, cfg).load_state_dict(payload["optimizer"])

    def tensors(state: dict) -> dict:
        """Every tensor of a state dict, one level into the tiles' state dicts (weights of A)."""
        out = {}
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                out[k] = v
            elif isinstance(v, dict):
                out.update({f"{k}.{j}": w for j, w in v.items() if isinstance(w, torch.Tensor)})
        return out

    for a, b in zip(model.layers, restored.layers, strict=True):
        assert torch.equal(replica_weights(a, "exact"), replica_weights(b, "exact"))
        sa, sb = tensors(a.state_dict()), tensors(b.state_dict())
        assert sa.keys() == sb.keys()
        assert any("grad_tiles" in k for k in sa) and any("hidden_weight" in k for k in sa)
        assert all(torch.equal(sa[k], sb[k]) for k in sa), [
            k for k in sa if not torch.equal(sa[k], sb[k])
        ]


# ------------------------------------------------------------------------------------------
# profiles
# ------------------------------------------------------------------------------------------


def test_unknown_profile_lists_the_allowed_ones(capsys):
    with pytest.raises(ValueError) as err:
        ex.load_profile("fast")
    for name in ("smoke", "quick", "paper"):
        assert name in str(err.value)
    assert sweep_main(["fast", "--dry-run"]) == 2
    assert (
        "profile must be one of ('smoke', 'quick', 'paper'), got 'fast'" in capsys.readouterr().err
    )


def test_unknown_experiment_is_rejected():
    with pytest.raises(ValueError, match="allowed"):
        ex.load_profile("smoke").select(["fig3"])


@pytest.mark.parametrize("name", ["smoke", "quick", "paper"])
def test_profiles_expand_into_valid_configs(name):
    sweep = ex.load_profile(name)
    # every experiment, §4.3's under the name of the profile's target
    expected = set(EXPERIMENTS) - set(EPOCHS_TO_TARGET.values()) | {EPOCHS_TO_TARGET[name]}
    assert set(sweep.experiments) == expected
    assert all(sweep.experiments[e] for e in expected)


def test_only_runs_to_97_percent_are_called_epochs_to_97(tmp_path):
    """The shortened profiles' epochs to 80 % are never stored or tabled as epochs to 97 %."""
    targets = {
        c.stop_at_accuracy
        for name in ("smoke", "quick")
        for c in ex.load_profile(name).experiments["epochs_to_target"]
    }
    assert PAPER_TARGET_ACCURACY not in targets
    assert {c.stop_at_accuracy for c in ex.load_profile("paper").experiments["epochs_to_97"]} == {
        PAPER_TARGET_ACCURACY
    }
    (tmp_path / "mislabelled.yaml").write_text(
        "experiments:\n  epochs_to_97:\n    base: {epochs: null, stop_at_accuracy: 0.8, max_epochs: 3}\n"
    )
    with pytest.raises(ValueError, match="stops at .0.8.*name the experiment epochs_to_target"):
        ex.load_profile("mislabelled", profile_dir=tmp_path)


def test_paper_profile_has_the_paper_grid():
    sweep = ex.load_profile("paper")
    fig2 = sweep.experiments["fig2"]
    assert {c.n_tiles for c in fig2} == {1, 4, 8, 16, 32, 64}
    assert {c.seed for c in fig2} == set(range(5))
    assert all(c.train_subset is None and c.epochs == 40 and c.lr == 0.1 for c in fig2)
    e97 = sweep.experiments["epochs_to_97"]
    assert {c.bl for c in e97} == {2, 5, 10, 31, 100}
    assert {c.variant for c in e97} == {"shared_A", "replicated_A"}
    assert all(c.stop_at_accuracy == 0.97 and c.max_epochs for c in e97)


def test_where_selects_runs_and_cli_dry_run(capsys):
    sweep = ex.load_profile("paper").select(["fig2"]).where(n_tiles=[1, 8, 32], seed=[0, 1, 2])
    assert len(sweep) == 9
    argv = ["paper", "--only", "fig2", "--where", "n_tiles=1,8,32", "--where", "seed=0,1,2"]
    assert sweep_main([*argv, "--dry-run"]) == 0
    assert "9 runs" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown RunConfig field"):
        sweep.where(tiles=[1])


def test_profile_yaml_errors_name_the_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("experiments:\n  fig2:\n    base: {n_tiles: 0}\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*fig2.*n_tiles"):
        ex.load_profile("bad", profile_dir=tmp_path)


# ------------------------------------------------------------------------------------------
# sweeps
# ------------------------------------------------------------------------------------------

_SWEEP_SCRIPT = textwrap.dedent(
    """
    import sys
    import analog_tt.runs as ex
    configs = [ex.RunConfig(**{**TINY, "seed": s, "epochs": 25, "train_subset": 1500})
               for s in range(N_RUNS)]
    ex.run_sweep({"adhoc": configs}, profile="t", n_workers=1, progress=False,
                 results_root=sys.argv[1])
    """
)


def _sweep_configs(n_runs: int) -> list[RunConfig]:
    return [tiny(seed=s, epochs=25, train_subset=1500) for s in range(n_runs)]


def test_killed_sweep_recomputes_only_unfinished_runs(tmp_path):
    n_runs = 6
    script = f"TINY = {TINY!r}\nN_RUNS = {n_runs}\n" + _SWEEP_SCRIPT
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        start_new_session=True,  # its own process group: the kill takes the dask workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    folder = tmp_path / "t" / "adhoc"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if len(list(folder.glob("*.json"))) >= 2:
                break
            assert proc.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no result after 120 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.5)
    finished = {p.stem for p in folder.glob("*.json") if ex.is_finished(p)}
    assert 2 <= len(finished) < n_runs
    assert all(ex.is_finished(p) for p in folder.glob("*.json"))  # no partial file counts
    configs = _sweep_configs(n_runs)
    report = ex.run_sweep(
        {"adhoc": configs}, profile="t", n_workers=1, progress=False, results_root=tmp_path
    )
    assert report.ok, report.failed
    assert {k for _, k in report.skipped} == finished
    assert {k for _, k in report.computed} == {c.key() for c in configs} - finished
    again = ex.run_sweep(
        {"adhoc": configs}, profile="t", n_workers=1, progress=False, results_root=tmp_path
    )
    assert not again.computed and len(again.skipped) == n_runs


def test_sweep_shares_runs_between_experiments_and_loads_results(tmp_path):
    a, b = tiny(seed=0, epochs=2), tiny(seed=1, epochs=2)
    report = ex.run_sweep(
        {"fig2": [a, b], "swa": [a]},
        profile="t",
        n_workers=1,
        progress=False,
        results_root=tmp_path,
    )
    assert report.ok and len(report.computed) == 2 and report.copied == [("swa", a.key())]
    df = ex.load_results("t", "fig2", results_root=tmp_path)
    assert len(df) == 2 and set(df["metric"]) == {"tile_avg"}
    summary = ex.summarize(df, by=["algorithm", "metric"], value="acc")
    assert summary.loc[0, "n_seeds"] == 2 and summary.loc[0, "ci95"] > 0
    per_epoch = ex.load_results("t", "fig2", per_epoch=True, results_root=tmp_path)
    assert sorted(per_epoch["epoch"].unique()) == [1, 2]
    assert ex.load_results("t", "lr_sweep", results_root=tmp_path).empty
    assert (tmp_path / "t" / "swa" / f"{a.key()}.json").is_file()

    # a sweep of one experiment reuses a run another experiment folder already finished
    again = ex.run_sweep(
        {"init_study": [a]}, profile="t", n_workers=1, progress=False, results_root=tmp_path
    )
    assert not again.computed and again.copied == [("init_study", a.key())]
    copied = tmp_path / "t" / "init_study" / f"{a.key()}.json"
    assert copied.read_bytes() == (tmp_path / "t" / "fig2" / f"{a.key()}.json").read_bytes()
    # ... but never a damaged one: it is reported and nothing runs
    (tmp_path / "t" / "fig2" / f"{b.key()}.json").write_text("{not json")
    (tmp_path / "t" / "swa" / f"{b.key()}.json").unlink(missing_ok=True)
    with pytest.raises(ex.ResultFileError, match=b.key()):
        ex.run_sweep(
            {"baselines": [b]}, profile="t", n_workers=1, progress=False, results_root=tmp_path
        )
    assert not (tmp_path / "t" / "baselines").exists()


# ------------------------------------------------------------------------------------------
# claims and leftovers
# ------------------------------------------------------------------------------------------


def test_a_run_claimed_by_a_live_process_is_refused(tmp_path):
    import socket

    cfg = tiny(epochs=1)
    claim = tmp_path / f"{cfg.key()}.claim"
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid()}))
    with pytest.raises(ex.RunClaimedError, match=f"process {os.getppid()}"):
        ex.run(cfg, cache_dir=tmp_path, progress=False)
    assert claim.exists() and not (tmp_path / f"{cfg.key()}.json").exists()


def test_a_dead_processes_claim_and_leftover_temporaries_are_taken_over(tmp_path):
    import socket

    cfg = tiny(epochs=1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    claim = tmp_path / f"{cfg.key()}.claim"
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid}))
    leftovers = [tmp_path / f".{cfg.key()}.json.abc.tmp", tmp_path / f".{cfg.key()}.ckpt.x.tmp"]
    other = tmp_path / ".someotherkey.json.abc.tmp"
    for path in [*leftovers, other]:
        path.write_bytes(b"half written")
    result = ex.run(cfg, cache_dir=tmp_path, progress=False)
    assert result["status"] == "finished"
    assert not claim.exists() and not any(p.exists() for p in leftovers)
    assert other.exists()  # another run's file is not ours to remove


def test_a_stale_claim_from_another_host_is_taken_over(tmp_path):
    cfg = tiny(epochs=1)
    claim = tmp_path / f"{cfg.key()}.claim"
    claim.write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    old = time.time() - 4 * 3600
    os.utime(claim, (old, old))
    assert ex.run(cfg, cache_dir=tmp_path, progress=False)["status"] == "finished"
    fresh = tiny(epochs=1, seed=5)
    (tmp_path / f"{fresh.key()}.claim").write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    with pytest.raises(ex.RunClaimedError, match="elsewhere"):  # a fresh heartbeat: refused
        ex.run(fresh, cache_dir=tmp_path, progress=False)


def test_progress_lines_name_the_run_and_the_time_left(capsys):
    ex.run(tiny(epochs=3, eval_every=2), progress="lines")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all("[run spiral sgd seed 0" in line for line in err)
    assert "epoch 2/3, test acc" in err[1] and "min left" in err[0] and err[2].endswith("finished")


def test_progress_lines_of_a_run_to_97_percent_say_the_time_at_the_paper_s_epochs(capsys):
    from analog_tt.runs.training import _ProgressLines

    cfg = ex.RunConfig(n_tiles=32, bl=5, epochs=None, stop_at_accuracy=0.97, max_epochs=700)
    lines = _ProgressLines(cfg, first_epoch=1)
    assert lines.paper_epochs == 66  # the paper's shared_A N = 32 BL 5: 65.6 epochs
    lines.report(1, 0.11, stopped=False)
    lines.report(70, 0.968, stopped=False)  # past the paper's epochs: the cap's bound alone
    first, late = capsys.readouterr().err.splitlines()
    assert "min left at the paper's 66 epochs, at most ~" in first
    assert "paper's" not in late and "at most ~" in late
    assert _ProgressLines(ex.RunConfig(n_tiles=32, bl=7, epochs=None, stop_at_accuracy=0.97,
                                       max_epochs=700), 1).paper_epochs is None  # fmt: skip


def test_a_where_filter_that_matches_nothing_fails_and_lists_the_values(capsys):
    assert sweep_main(["smoke", "--only", "fig2", "--where", "n_tiles=0", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "matches none of the" in err and "n_tiles in [1, 2]" in err
    assert sweep_main(["smoke", "--only", "fig2", "--where", "n_tiles=abc", "--dry-run"]) == 2
