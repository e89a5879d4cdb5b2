"""Whole paper runs before and after the run-cost work, one after the other on a quiet machine.

Issue #14's last two targets are about whole runs, not parts: a 40-epoch N = 32 Figure 2 run
(training, tests, programming) at most 60 % of the wall time it took before the run-cost work,
and an N = 32 epochs-to-97 % run (a test every epoch) at most 50 %. This script measures both
(:data:`SCHEDULES`: Figure 2's N = 32 cell, and epochs to 97 % at shared A, N = 32, BL 31).

What it runs for each schedule, in this order, each as its own process (its own process group)
with one torch thread, never two at once:

``before``
    The cell (seed ``--seed``) with the code of ``--before`` (default 9fbdb3a, the commit of these
    cells' runs before the run-cost work), from a temporary git worktree that gets the compiled
    clock helper, through that commit's own ``python -m analog_tt sweep paper``.
``after``
    The same cell with this checkout's code and the cheaper settings the run-cost work built:
    ``replica_engine="batched"`` and ``read_probes="shared"`` (one probe set and one factorisation
    for all replicas). Both are run-key fields: the runs they make are tested against aihwkit's
    engine and against per-replica probes (``engine_check``, ``tests/test_readout.py``), not
    bit-identical to them, so the two runs' accuracies are reported, not compared bit for bit.

Both runs write into a temporary results folder (never ``data/results``). The script refuses
to start while the machine is busy (1-minute load average above ``--max-load``), records the
load average before and after each run, and writes each schedule's runs as soon as they finish
(runs of schedules not measured this time are kept; runs of another machine are refused).

:func:`derive` adds each run's ratio to its schedule's ``before`` run: of the whole wall time,
and, because an epochs-to-97 % run stops when it reaches 97 % and the two runs may differ in
epochs, at the ``before`` run's epochs (programming + the rest + that many epochs at the run's
own training and test time per epoch).

Writes ``benchmarks/results/whole_run.json`` (atomically).

Usage::

    python benchmarks/whole_run.py                          # about 2 h on a quiet 2-core Xeon
    python benchmarks/whole_run.py --schedule epochs_to_97  # one cell, about 55 min
    python benchmarks/whole_run.py --derive-only            # recompute the derived columns
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_wall import record as wall_split  # noqa: E402

from analog_tt.core.files import atomic_write_json  # noqa: E402
from analog_tt.core.provenance import machine_info  # noqa: E402

OUT = Path("benchmarks/results/whole_run.json")
#: the two whole runs of the issue's targets: the paper profile's experiment, the cell, and the
#: largest ratio of the ``after`` run's wall time to the ``before`` run's
SCHEDULES: dict[str, dict[str, Any]] = {
    "fig2": {"experiment": "fig2", "cell": {"n_tiles": 32}, "target": 0.60},
    "epochs_to_97": {
        "experiment": "epochs_to_97",
        "cell": {"variant": "shared_A", "n_tiles": 32, "bl": 31},
        "target": 0.50,
    },
}
AFTER_SETTINGS = {"replica_engine": "batched", "read_probes": "shared"}


def _git(*args: str, cwd: Path | str = ".") -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def _env(code_root: Path, results_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    # the code's own copy of the clock helper: a run checks that the one preloaded is its own
    shim = sorted((code_root / "analog_tt").resolve().glob("_clockshim*.so"))
    if not shim:
        raise SystemExit(f"{code_root}/analog_tt/_clockshim*.so is missing: run `make env` first")
    env.update(
        PYTHONPATH=str(code_root),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        LD_PRELOAD=str(shim[0]),
        ANALOG_TT_RESULTS=str(results_root),
    )
    return env


def _one_result(folder: Path) -> dict[str, Any]:
    found = sorted(folder.rglob("*.json"))
    finished = [json.loads(p.read_text()) for p in found]
    finished = [r for r in finished if r.get("status") == "finished"]
    if len(finished) != 1:
        raise RuntimeError(f"expected one finished result under {folder}, found {len(finished)}")
    return finished[0]


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    # its own process group, so that a stopped benchmark leaves no run (or sweep worker) behind
    child = subprocess.Popen(cmd, cwd=cwd, env=env, start_new_session=True)
    try:
        returncode = child.wait()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait()
    if returncode:
        raise subprocess.CalledProcessError(returncode, cmd)
    return time.perf_counter() - start, load_before, os.getloadavg()[0]


def run_before(schedule: str, commit: str, seed: int, scratch: Path) -> dict[str, Any]:
    """One run of ``schedule``'s cell with the code of ``commit`` (its own sweep command)."""
    spec = SCHEDULES[schedule]
    tree, results = scratch / f"before_tree_{schedule}", scratch / f"before_results_{schedule}"
    _git("worktree", "add", "--detach", str(tree), commit)
    try:
        (tree / "data").mkdir(exist_ok=True)
        (tree / "data" / "MNIST").symlink_to(Path("data/MNIST").resolve())
        for shim in Path("analog_tt").glob("_clockshim*.so"):  # built, so not in git
            shutil.copy2(shim, tree / "analog_tt" / shim.name)
        cmd = [sys.executable, "-m", "analog_tt", "sweep", "paper", "--workers", "1"]
        cmd += ["--only", spec["experiment"], "--results-root", str(results)]
        for field, value in {**spec["cell"], "seed": seed}.items():
            cmd += ["--where", f"{field}={value}"]
        wall, load0, load1 = _timed(cmd, tree, _env(tree, results))
    finally:
        _git("worktree", "remove", "--force", str(tree))
    return _summary(schedule, "before", commit, {}, _one_result(results), wall, load0, load1)


def run_after(schedule: str, seed: int, scratch: Path) -> dict[str, Any]:
    """The same cell with this checkout's code and :data:`AFTER_SETTINGS`."""
    spec = SCHEDULES[schedule]
    experiment, results = spec["experiment"], scratch / f"after_results_{schedule}"
    where = {field: [value] for field, value in {**spec["cell"], "seed": seed}.items()}
    code = (
        "import dataclasses\n"
        "from analog_tt.runs import load_profile, run\n"
        f"sweep = load_profile('paper').select([{experiment!r}]).where(**{where!r})\n"
        f"(config,) = sweep.experiments[{experiment!r}]\n"
        f"config = dataclasses.replace(config, **{AFTER_SETTINGS!r})\n"
        f"run(config, cache_dir={str(results / experiment)!r}, progress='lines')\n"
    )
    root = Path(".").resolve()
    wall, load0, load1 = _timed([sys.executable, "-c", code], root, _env(root, results))
    commit = _git("rev-parse", "--short", "HEAD")
    result = _one_result(results)
    return _summary(schedule, "after", commit, AFTER_SETTINGS, result, wall, load0, load1)


def _summary(schedule, label, commit, settings, result, wall, load0, load1) -> dict[str, Any]:
    split = wall_split(SCHEDULES[schedule]["experiment"], result)
    tests = [e for e in result["epochs"] if e.get("test") is not None]
    test_s = [float(e["eval_s"]) for e in tests if e.get("eval_s") is not None]
    final = result.get("final") or {}
    return {
        "schedule": schedule,
        "label": label,
        "git_commit": commit,
        "settings": settings,
        "key": result["key"],
        "seed": result["config"]["seed"],
        "epochs_run": result["epochs_run"],
        "process_wall_min": wall / 60,
        **{k: split[k] for k in ("wall_min", "train_min", "test_min", "program_min", "other_min")},
        "train_s_per_epoch": split["train_min"] * 60 / max(1, result["epochs_run"]),
        "n_tests": len(tests),
        "test_s_per_test": statistics.mean(test_s) if test_s else None,
        "final": final,
        "loadavg_1min_before": load0,
        "loadavg_1min_after": load1,
        "loadavg_mean_during": split["loadavg_mean"],
    }


def derive(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The measured runs as records, with their ratios to the ``before`` run of their schedule.

    ``wall_ratio_to_before`` compares the whole runs as measured. An epochs-to-97 % run stops
    when it reaches 97 %, so its two runs may differ in epochs; ``same_epochs_ratio_to_before``
    compares at the ``before`` run's epochs: programming + the rest + that many epochs at the run's
    own mean training and test time per epoch.
    """
    befores = {r["schedule"]: r for r in runs if r["label"] == "before"}
    records = []
    for run in runs:
        before = befores[run["schedule"]]
        per_epoch_min = (run["train_min"] + run["test_min"]) / run["epochs_run"]
        same_epochs_min = (
            run["program_min"] + run["other_min"] + before["epochs_run"] * per_epoch_min
        )
        records.append(
            {
                **run,
                # the before commit predates both fields: aihwkit's replica passes, one probe set
                # and one solve per replica
                "replica_engine": run["settings"].get("replica_engine", "aihwkit"),
                "read_probes": run["settings"].get("read_probes", "per_replica"),
                "tile_avg_acc": run["final"]["lstsq"]["tile_avg"]["acc"],
                "wall_ratio_to_before": run["wall_min"] / before["wall_min"],
                "same_epochs_ratio_to_before": same_epochs_min / before["wall_min"],
                "target_ratio": SCHEDULES[run["schedule"]]["target"],
            }
        )
    return records


def assemble(runs: list[dict[str, Any]], machine: dict[str, Any]) -> dict[str, Any]:
    """The whole results file: the measured ``runs`` and the records derived from them."""
    order = list(SCHEDULES)
    runs = sorted(runs, key=lambda r: (order.index(r["schedule"]), r["label"] != "before"))
    return {
        "what": "whole N = 32 paper runs before and after the run-cost work, one at a time on a "
        "quiet machine, one torch thread each",
        "machine": machine,
        "concurrent": 1,
        "schedules": SCHEDULES,
        "runs": runs,
        "records": derive(runs),
    }


def _machine() -> dict[str, Any]:
    """This machine, as the runs see it: their torch thread count is :func:`_env`'s, 1."""
    return {**machine_info(), "torch_threads": int(_env(Path("."), Path("."))["OMP_NUM_THREADS"])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="9fbdb3a", help="commit of the 'before' runs")
    parser.add_argument(
        "--schedule",
        nargs="+",
        choices=list(SCHEDULES),
        default=list(SCHEDULES),
        help="which whole runs to measure (each replaces its runs in the results file)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-load", type=float, default=1.0, help="refuse above this load")
    parser.add_argument(
        "--derive-only", action="store_true", help=f"run nothing: re-derive {OUT}'s records"
    )
    args = parser.parse_args(argv)
    kept: list[dict[str, Any]] = []
    machine = _machine()
    if OUT.exists():
        committed = json.loads(OUT.read_text())
        kept, machine = committed["runs"], committed["machine"]
    if args.derive_only:
        atomic_write_json(OUT, assemble(kept, machine))
        return
    if kept and machine != _machine():
        raise SystemExit(
            f"{OUT} holds runs of another machine ({machine}); move it away to start afresh"
        )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the clean-up runs
    load = os.getloadavg()[0]
    if load > args.max_load:
        raise SystemExit(f"load average {load:.2f} > {args.max_load}: the machine is not quiet")
    runs = [r for r in kept if r["schedule"] not in args.schedule]
    with tempfile.TemporaryDirectory(prefix="whole_run_") as scratch:
        for schedule in args.schedule:
            runs.append(run_before(schedule, args.before, args.seed, Path(scratch)))
            runs.append(run_after(schedule, args.seed, Path(scratch)))
            atomic_write_json(OUT, assemble(runs, machine))  # each schedule as it finishes
    print(json.dumps(assemble(runs, machine)["records"], indent=1))


if __name__ == "__main__":
    main()
