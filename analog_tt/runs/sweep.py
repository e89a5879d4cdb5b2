"""Sweeps: every unfinished run of a set of configs, on a Dask cluster or in this process."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.files import atomic_write_bytes
from ..core.paths import results_root as _results_root
from .claims import RunClaimedError
from .config import RunConfig
from .profiles import Sweep
from .results import ResultFileError, is_finished
from .training import run

__all__ = ["SweepReport", "run_sweep"]


@dataclass
class SweepReport:
    """What :func:`run_sweep` did. Lists hold ``(experiment, key)`` pairs; ``tasks`` maps the
    computed ones to their worker process id and start/end times (``time.time()``)."""

    profile: str
    computed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    copied: list[tuple[str, str]] = field(default_factory=list)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    #: runs another live process was computing (skipped here; their claim names the owner)
    claimed: dict[tuple[str, str], str] = field(default_factory=dict)
    tasks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        return (
            f"sweep {self.profile}: {len(self.computed)} computed, {len(self.skipped)} already done, "
            f"{len(self.copied)} reused from another experiment, {len(self.failed)} failed, "
            f"{len(self.claimed)} left to another process computing them, "
            f"{self.wall_s:.1f} s"
        )


def _sweep_task(
    config_dict: dict[str, Any], cache_dir: str, progress_lines: bool = False
) -> dict[str, Any]:
    """Run one config on a worker (1 torch thread) and write its result file; with
    ``progress_lines`` the worker prints a line per epoch (run, accuracy, time left)."""
    import torch

    torch.set_num_threads(1)
    config = RunConfig.from_dict(config_dict)
    started = time.time()
    try:
        result = run(config, cache_dir=cache_dir, progress="lines" if progress_lines else False)
    except RunClaimedError as exc:  # another sweep computes it: skip it here
        return {"key": config.key(), "pid": os.getpid(), "claimed": str(exc)}
    return {
        "key": result["key"],
        "pid": os.getpid(),
        "started": started,
        "finished": time.time(),
        "final_acc": result["final_acc"],
    }


def _normalize_configs(configs) -> dict[str, list[RunConfig]]:
    if isinstance(configs, Sweep):
        return configs.experiments
    if isinstance(configs, Mapping):
        return {str(k): list(v) for k, v in configs.items()}
    return {"adhoc": list(configs)}


def run_sweep(
    configs: Sweep | Mapping[str, Sequence[RunConfig]] | Sequence[RunConfig],
    *,
    profile: str,
    client: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
    results_root: str | os.PathLike | None = None,
) -> SweepReport:
    """Run every unfinished config, in parallel on dask, writing results as they finish.

    Parameters
    ----------
    configs
        A :class:`~analog_tt.runs.profiles.Sweep`, a mapping ``experiment -> configs``, or a
        plain sequence of configs (stored under the experiment name ``adhoc``). A config shared
        by several experiments is computed once; one that another experiment folder of the
        profile has already finished (the same key) is copied, not computed.
    profile
        Results go to ``<results_root>/<profile>/<experiment>/<key>.json``.
    client
        An existing ``dask.distributed.Client``; else one is made for ``scheduler`` (an address,
        e.g. ``tcp://host:8786``) or, by default, a ``LocalCluster`` with ``n_workers``
        single-threaded worker processes (default: the number of cores). With a remote scheduler
        the workers must see the same results folder (a shared file system).
    progress
        tqdm bar of runs done, with the time left.
    results_root
        Default: ``data/results`` of the repository (or ``$ANALOG_TT_RESULTS``).

    Raises
    ------
    ResultFileError
        Before any work, listing every damaged result file among the sweep's runs.
    """
    root = (_results_root(results_root) / profile).resolve()  # workers may run elsewhere
    experiments = _normalize_configs(configs)
    report = SweepReport(profile)
    t0 = time.perf_counter()

    # group by key: a config shared by several experiments is computed once
    locations: dict[str, list[str]] = {}
    by_key: dict[str, RunConfig] = {}
    for exp, cfgs in experiments.items():
        for cfg in cfgs:
            if not isinstance(cfg, RunConfig):
                raise TypeError(f"experiment {exp!r}: expected RunConfig, got {type(cfg).__name__}")
            k = cfg.key()
            by_key[k] = cfg
            if exp not in locations.setdefault(k, []):
                locations[k].append(exp)

    damaged: list[str] = []
    pending: dict[str, str] = {}  # key -> experiment that computes it
    for k, exps in locations.items():
        done = []
        for e in exps:
            try:
                if is_finished(root / e / f"{k}.json", k):
                    done.append(e)
            except ResultFileError as exc:
                damaged.append(str(exc))
        source = root / done[0] / f"{k}.json" if done else None
        if source is None:
            try:
                source = _finished_elsewhere(root, k, exps)
            except ResultFileError as exc:
                damaged.append(str(exc))
                continue
        if source is not None:
            for e in exps:
                if e in done:
                    report.skipped.append((e, k))
                else:
                    _copy_result(source, root / e / f"{k}.json")
                    report.copied.append((e, k))
        else:
            pending[k] = exps[0]
    if damaged:
        raise ResultFileError(
            f"{len(damaged)} damaged result file(s); nothing was run:\n  " + "\n  ".join(damaged)
        )

    if pending:
        _compute(pending, by_key, root, report, client, scheduler, n_workers, progress)
        for k, exp in pending.items():
            if (exp, k) in report.computed:
                for other in locations[k][1:]:
                    _copy_result(root / exp / f"{k}.json", root / other / f"{k}.json")
                    report.copied.append((other, k))
    report.wall_s = time.perf_counter() - t0
    return report


def _finished_elsewhere(root: Path, key: str, experiments: Sequence[str]) -> Path | None:
    """A finished result of ``key`` in another experiment folder of the profile, or ``None``.

    A key names one config whatever experiment asks for it, so a sweep of some experiments
    (``--only``) reuses a run another experiment already has instead of computing it again.
    """
    for path in sorted(root.glob(f"*/{key}.json")):
        if path.parent.name not in experiments and is_finished(path, key):
            return path
    return None


def _copy_result(src: Path, dst: Path) -> None:
    atomic_write_bytes(dst, src.read_bytes())
    dst.chmod(0o644)


def _compute(pending, by_key, root, report, client, scheduler, n_workers, progress) -> None:
    from distributed import Client, LocalCluster, as_completed

    own_client = client is None
    cluster = None
    if own_client:
        if scheduler:
            client = Client(scheduler)
        else:
            n = n_workers or os.cpu_count() or 1
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            )
            client = Client(cluster)
    bar = None
    try:
        futures = {}
        for k, exp in pending.items():
            fut = client.submit(
                _sweep_task,
                by_key[k].to_dict(),
                str(root / exp),
                progress,
                key=f"run-{exp}-{k}",
                pure=False,
            )
            futures[fut] = (exp, k)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(futures), desc=f"sweep {report.profile}", unit="run")
        for fut in as_completed(futures):
            exp, k = futures[fut]
            try:
                task = fut.result()
                if "claimed" in task:
                    report.claimed[(exp, k)] = task["claimed"]
                else:
                    report.tasks[(exp, k)] = task
                    report.computed.append((exp, k))
            except Exception as exc:  # noqa: BLE001 - record, go on with the other runs
                report.failed[(exp, k)] = f"{type(exc).__name__}: {exc}"
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=len(report.failed))
    finally:
        if bar is not None:
            bar.close()
        if own_client:
            client.close()
            if cluster is not None:
                cluster.close()
