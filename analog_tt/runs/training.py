"""``run``: train and test one :class:`~analog_tt.runs.config.RunConfig`, resumable and cached.

Determinism
-----------
Python's, numpy's and torch's generators are seeded from the config before the model is built,
torch is re-seeded at the start of every epoch from ``(seed, epoch)``, the shuffling order and the
probe vectors of the least-squares reads have their own seeded generators, and aihwkit's C++
tiles (which seed their own generators from the wall clock) get generators seeded from
``(seed, epoch)`` at the start of every epoch (:func:`analog_tt.core.seeding.reseed_analog_tiles`).
So runs are bit-identical run to run, in the same process or another one, and a run resumed from
a checkpoint gives the same bits as an uninterrupted one (tested).
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import paper
from ..core import determinism
from ..core.files import atomic_write_json, atomic_write_with
from ..core.provenance import git_commit, machine_info, package_versions, utc_now
from ..core.seeding import (
    derived_seed,
    reseed_analog_tiles,
    restore_hidden_parameters,
    seed_everything,
)
from ..core.vocabulary import PAPER_TARGET_ACCURACY
from ..tiles import counting
from .claims import RunClaim, remove_stale_temporaries
from .config import RESULTS_FORMAT_VERSION, RunConfig
from .evaluation import analog_accuracies, evaluate_epoch, make_swa, swa_due
from .models import build_model, build_optimizer, initialize, load_dataset
from .results import read_result

__all__ = ["CHECKPOINT_OVERHEAD", "NUMERICS_MODULES", "numerics_code_hash", "run"]

#: Modules whose code decides a run's numbers (paths below ``analog_tt/``); their hash goes into
#: the provenance (not into the key, so that editing a comment does not invalidate hours of
#: cached runs: compare ``provenance.code_hash`` with :func:`numerics_code_hash`).
NUMERICS_MODULES = (
    "data.py",
    "tiles/config.py",
    "tiles/counting.py",
    "tiles/io_forward.py",
    "tiles/layers.py",
    "tiles/presets.py",
    "tiles/programming.py",
    "tiles/readout.py",
    "tiles/reads.py",
    "tiles/swa.py",
    "tiles/tile.py",
    "runs/config.py",
    "runs/evaluation.py",
    "runs/models.py",
    "runs/training.py",
)


@lru_cache(maxsize=1)
def numerics_code_hash() -> str:
    """sha256 (16 hex digits) of the source of :data:`NUMERICS_MODULES`."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for name in NUMERICS_MODULES:
        path = package / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()[:16]


def _seed_epoch(seed: int, epoch: int) -> None:
    s = derived_seed(seed, "epoch", epoch)
    torch.manual_seed(s)
    np.random.seed(s % 2**32)
    random.seed(s)


#: a checkpoint is written after an epoch once the time since the last one is at least
#: ``1 / CHECKPOINT_OVERHEAD`` times what the last one took: checkpoints cost at most about 5 %
#: of a run (an N = 32 replicated_A checkpoint is 0.7 GB, seconds to write) and a kill loses at
#: most that much work; a stop raised from ``on_epoch_end`` always writes one first
CHECKPOINT_OVERHEAD = 0.05


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_with(path, lambda fh: torch.save(payload, fh))


def _load_checkpoint(path: Path, key: str) -> dict[str, Any] | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - reported, then the run starts over
        warnings.warn(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); the run starts "
            "over from epoch 1 and will overwrite it",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    if payload.get("key") != key or payload.get("results_format") != RESULTS_FORMAT_VERSION:
        warnings.warn(
            f"checkpoint {path} belongs to another run or results format (key "
            f"{payload.get('key')!r}, format {payload.get('results_format')!r}; this run: "
            f"{key!r}, {RESULTS_FORMAT_VERSION!r}); the run starts over and will overwrite it",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return payload


def run(
    config: RunConfig,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool | str = True,
    on_epoch_end: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train and test one configuration; return (and with ``cache_dir``, store) its result.

    Parameters
    ----------
    config
        The run.
    cache_dir
        Folder of ``<key>.json`` (the finished result, returned as is when present) and
        ``<key>.ckpt`` (checkpoint after an epoch, as often as :data:`CHECKPOINT_OVERHEAD`
        allows; a run resumes from it and deletes it when done).
        ``None``: no caching, no checkpoints.
    progress
        ``True``: a tqdm bar over epochs (a widget in JupyterLab); ``"lines"``: one line per
        epoch on stderr with the run, the epoch, its test accuracy, the time so far and an
        estimate of the time left (what sweep workers print); ``False``: nothing.
    on_epoch_end
        Called with the epoch number after each epoch (and its checkpoint, when one is due),
        e.g. to report progress, or to stop a run: an exception raised there leaves a
        checkpoint of that epoch behind.

    Returns
    -------
    dict
        JSON-ready: ``config``, ``key``, ``status``, ``epochs`` (one record per epoch: train loss,
        per read mode the test accuracy/loss of the tile average, SWA and weighted SWA, spiral
        runs also ``train_acc``/``train_loss``; wall times; op counts), ``final``, ``final_acc``,
        ``epochs_to_target``, ``final_analog`` (``analog_eval_repeats``), ``init_report``,
        ``op_counts_total``, ``op_counts_per_epoch_mean``, ``replica_spread``, ``provenance``.
        Epochs that were not tested have ``test = None``; a run whose training loss became NaN
        stops there (``diverged_at_epoch``).
    """
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    key = config.key()
    result_path = ckpt_path = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        result_path = cache_dir / f"{key}.json"
        ckpt_path = cache_dir / f"{key}.ckpt"
        if result_path.exists():
            return read_result(result_path, expected_key=key)
        claim = RunClaim(cache_dir / f"{key}.claim")
        claim.acquire()  # RunClaimedError while another live process computes this run
        try:
            if result_path.exists():  # finished by the previous owner of the claim
                return read_result(result_path, expected_key=key)
            remove_stale_temporaries(cache_dir, key)
            return _train(config, key, result_path, ckpt_path, progress, on_epoch_end, claim)
        finally:
            claim.release()
    return _train(config, key, None, None, progress, on_epoch_end, None)


def _train(config, key, result_path, ckpt_path, progress, on_epoch_end, claim) -> dict[str, Any]:
    """The body of :func:`run` (holding the run's claim when it caches)."""
    started_at = utc_now()
    data = load_dataset(config)
    x_train, y_train = data[0], data[1]
    payload = _load_checkpoint(ckpt_path, key) if ckpt_path and ckpt_path.exists() else None
    seed_everything(config.seed)
    model = build_model(config)
    # replica initialisation (pulse programming: minutes for large N) only for a fresh start
    init_report = None
    if payload is None:
        announce = progress is not False and config.is_multi_tile and config.init == "program"
        start = time.perf_counter()
        if announce:
            _say(config, f"pulse-programming {config.n_tiles} replicas per layer (before epoch 1)")
        init_report = initialize(model, config)
        if announce:
            _say(config, f"programmed in {(time.perf_counter() - start) / 60:.1f} min")
    if claim is not None:
        claim.heartbeat()  # pulse programming can take minutes
    if payload is not None:
        model.load_state_dict(payload["model"])
        restore_hidden_parameters(model, payload["model"])
    # built after the state is loaded: loading an aihwkit tile replaces its parameter objects
    # (digital bias, output scale), and an optimizer built before would train stale copies
    optimizer = build_optimizer(model, config)
    swa, weighted_swa = make_swa(config)
    records: list[dict[str, Any]] = []
    resumes: list[dict[str, Any]] = []
    first_epoch = 1
    if payload is not None:
        optimizer.load_state_dict(payload["optimizer"])
        for mode, state in payload["swa"].items():
            swa[mode].load_state_dict(state)
        if weighted_swa is not None:
            weighted_swa.load_state_dict(payload["weighted_swa"])
        records = payload["records"]
        init_report = payload["init_report"]
        started_at = payload["started_at"]
        resumes = payload["resumes"] + [{"at_epoch": len(records), "time": utc_now()}]
        first_epoch = len(records) + 1

    n_train = len(x_train)
    bar = None
    lines = _ProgressLines(config, first_epoch) if progress == "lines" else None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=config.n_epochs_max,
            initial=first_epoch - 1,
            desc=_describe(config),
            unit="epoch",
            leave=False,
        )
    stopped = any(r.get("reached_target") or r.get("diverged") for r in records)
    last_save_s, last_save_end = 0.0, time.perf_counter()  # see CHECKPOINT_OVERHEAD

    def save_checkpoint() -> None:
        nonlocal last_save_s, last_save_end
        start = time.perf_counter()
        _save_checkpoint(
            ckpt_path,
            {
                "key": key,
                "results_format": RESULTS_FORMAT_VERSION,
                "config": config.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "swa": {m: s.state_dict() for m, s in swa.items()},
                "weighted_swa": None if weighted_swa is None else weighted_swa.state_dict(),
                "records": records,
                "init_report": init_report,
                "started_at": started_at,
                "resumes": resumes,
            },
        )
        last_save_end = time.perf_counter()
        last_save_s = last_save_end - start

    loss_fn = torch.nn.functional.nll_loss
    for epoch in range(first_epoch, config.n_epochs_max + 1):
        if stopped:
            break
        _seed_epoch(config.seed, epoch)
        if config.is_analog:
            # fresh C++ generators seeded from (seed, epoch): a resumed run draws the same noise
            reseed_analog_tiles(model, derived_seed(config.seed, "tiles", epoch))
        if config.count_ops:
            counting.reset_op_counts(model)
        shuffle = torch.Generator().manual_seed(derived_seed(config.seed, "shuffle", epoch))
        order = torch.randperm(n_train, generator=shuffle)
        model.train()
        t0 = time.perf_counter()
        loss_sum = 0.0
        for i in range(0, n_train, config.batch_size):
            idx = order[i : i + config.batch_size]
            optimizer.zero_grad()
            logp = model(x_train[idx])
            loss = loss_fn(logp, y_train[idx])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            if weighted_swa is not None:
                weighted_swa.observe(logp.detach(), y_train[idx])
        train_s = time.perf_counter() - t0
        record: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": loss_sum / n_train,
            "train_s": train_s,
        }
        t1 = time.perf_counter()
        if not math.isfinite(record["train_loss"]):
            # the paper's scripts stop on NaN too; there is nothing left to evaluate
            record["train_loss"] = None
            record["diverged"] = stopped = True
            record["test"] = None
        elif (
            epoch % config.eval_every == 0 or swa_due(config, epoch) or epoch == config.n_epochs_max
        ):
            record["test"] = evaluate_epoch(model, config, epoch, swa, weighted_swa, data)
        else:
            record["test"] = None
        record["eval_s"] = time.perf_counter() - t1
        # what else ran on the machine (campaign pairing: how much a second run slows this one)
        record["loadavg_1min"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        if config.count_ops:
            record["op_counts"] = counting.collect_op_counts(model)
        primary = None
        if record["test"] is not None:
            primary = record["test"][config.eval_modes[0]]["tile_avg"]["acc"]
            if config.stop_at_accuracy is not None and primary >= config.stop_at_accuracy:
                record["reached_target"] = stopped = True
        records.append(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(acc="–" if primary is None else f"{primary:.4f}")
        if lines is not None:
            lines.report(epoch, primary, stopped)
        done = stopped or epoch == config.n_epochs_max

        saved = False
        since_save = time.perf_counter() - last_save_end
        if ckpt_path is not None and not done and since_save * CHECKPOINT_OVERHEAD >= last_save_s:
            save_checkpoint()
            saved = True
        if claim is not None:
            claim.heartbeat()
        if on_epoch_end is not None and not done:
            try:
                on_epoch_end(epoch)
            except BaseException:
                if ckpt_path is not None and not saved:
                    save_checkpoint()  # a stop at an epoch's end keeps that epoch
                if bar is not None:
                    bar.close()
                raise
    if bar is not None:
        bar.close()

    final_analog = _final_analog(model, config, data, records)
    result = _assemble_result(
        config, key, records, init_report, started_at, resumes, final_analog, model
    )
    if result_path is not None:
        atomic_write_json(result_path, result)
        result_path.chmod(0o644)  # readable by the other users of a shared results folder
        ckpt_path.unlink(missing_ok=True)
    return result


class _ProgressLines:
    """One line per epoch, for processes without a terminal bar (sweep workers, logs)."""

    def __init__(self, config: RunConfig, first_epoch: int) -> None:
        self.config, self.first_epoch, self.start = config, first_epoch, time.perf_counter()
        self.label = f"[run {_describe(config)}, pid {os.getpid()}]"
        self.paper_epochs = _paper_epochs_to_target(config)

    def report(self, epoch: int, acc: float | None, stopped: bool) -> None:
        elapsed = time.perf_counter() - self.start
        total = self.config.n_epochs_max
        if stopped or epoch == total:
            left = "finished"
        else:
            per_epoch = elapsed / (epoch - self.first_epoch + 1)
            minutes = per_epoch * (total - epoch) / 60
            capped = self.config.stop_at_accuracy is not None
            left = f"{'at most ' if capped else ''}~{minutes:.1f} min left"
            if self.paper_epochs is not None and epoch < self.paper_epochs:
                expected = per_epoch * (self.paper_epochs - epoch) / 60
                left = f"~{expected:.1f} min left at the paper's {self.paper_epochs} epochs, {left}"
        score = "" if acc is None else f", test acc {acc:.4f}"
        print(
            f"{self.label} epoch {epoch}/{total}{score}, {elapsed / 60:.1f} min, {left}",
            file=sys.stderr,
            flush=True,
        )


def _paper_epochs_to_target(config: RunConfig) -> int | None:
    """The paper's epochs to 97 % at this run's setting (its mean over runs, rounded up), for a
    run that stops at 97 % on MNIST; None elsewhere."""
    if config.stop_at_accuracy != PAPER_TARGET_ACCURACY or config.dataset != "mnist":
        return None
    setting = (config.variant, config.n_tiles, config.bl, config.lr)
    epochs = paper.epochs_to_97_by_setting().get(setting)
    return None if epochs is None else math.ceil(epochs)


def _say(config: RunConfig, text: str) -> None:
    """One progress line outside the epochs (e.g. the minutes of pulse programming)."""
    print(f"[run {_describe(config)}, pid {os.getpid()}] {text}", file=sys.stderr, flush=True)


def _describe(config: RunConfig) -> str:
    """Short progress-bar label naming the run, e.g. ``mnist agad shared_A N=8 BL31 seed 2``."""
    algo = config.algorithm + (
        f" {config.variant} N={config.n_tiles}" if config.is_multi_tile else ""
    )
    bl = f" BL{config.bl}" if config.is_analog else ""
    engine = "" if config.replica_engine == "aihwkit" else f" ({config.replica_engine} engine)"
    return f"{config.dataset} {algo}{bl} seed {config.seed}{engine}"


def _final_analog(model, config: RunConfig, data, records) -> dict[str, float] | None:
    """Mean and std of ``analog_eval_repeats`` analog-forward accuracies, training and test set."""
    if not config.analog_eval_repeats or any(r.get("diverged") for r in records):
        return None
    x_train, y_train, x_test, y_test = data
    out = {}
    for name, (x, y) in (("train", (x_train, y_train)), ("test", (x_test, y_test))):
        accs = analog_accuracies(model, x, y, config.analog_eval_repeats)
        out[name] = float(np.mean(accs))
        out[f"{name}_std"] = float(np.std(accs))
    return out


def _replica_spread(model) -> list[float] | None:
    """Per multi-tile layer: std over replicas of the exact weights, averaged over the matrix."""
    from ..tiles.layers import find_multi_tile_layers, replicas_of, stack_replica_weights

    layers = find_multi_tile_layers(model)
    if not layers:
        return None
    out = []
    for layer in layers.values():
        reps = replicas_of(layer)
        if len(reps) < 2:
            return None
        out.append(round(float(stack_replica_weights(reps).std(dim=0).mean()), 6))
    return out


def _assemble_result(
    config, key, records, init_report, started_at, resumes, final_analog, model
) -> dict[str, Any]:
    primary = config.eval_modes[0]
    epochs_to_target = None
    if config.stop_at_accuracy is not None:
        epochs_to_target = next((r["epoch"] for r in records if r.get("reached_target")), None)
    evaluated = [r for r in records if r["test"] is not None]
    final = evaluated[-1]["test"] if evaluated else None
    diverged_at = next((r["epoch"] for r in records if r.get("diverged")), None)
    op_totals = None
    if config.count_ops and records and records[0].get("op_counts") is not None:
        op_totals = _sum_op_counts([r["op_counts"] for r in records])
    info = machine_info()
    result = {
        "status": "finished",
        "results_format": RESULTS_FORMAT_VERSION,
        "key": key,
        "config": config.to_dict(),
        "epochs": records,
        "epochs_run": len(records),
        "final": final,
        "final_acc": None if final is None else final[primary]["tile_avg"]["acc"],
        "diverged_at_epoch": diverged_at,
        "epochs_to_target": epochs_to_target,
        "target_reached": epochs_to_target is not None,
        "init_report": init_report,
        "op_counts_total": op_totals,
        "op_counts_per_epoch_mean": None
        if op_totals is None
        else _scale_op_counts(op_totals, 1.0 / len(records)),
        "wall_s": {
            "train_total": sum(r["train_s"] for r in records),
            "eval_total": sum(r["eval_s"] for r in records),
            "train_per_epoch_mean": sum(r["train_s"] for r in records) / max(len(records), 1),
        },
        "provenance": {
            "seed": config.seed,
            "started_at": started_at,
            "finished_at": utc_now(),
            "resumes": resumes,
            "git_commit": git_commit(),
            "code_hash": numerics_code_hash(),
            "packages": package_versions(),
            "cpu": info["cpu"],
            "cores": info["cores"],
            "torch_threads": torch.get_num_threads(),
            "platform": info["platform"],
            "bitwise_reproducible": determinism.active(),
        },
    }
    # fields of the spiral runs (added with the runner merge; absent from older MNIST results)
    if config.dataset == "spiral":
        result["final_analog"] = final_analog
        result["replica_spread"] = _replica_spread(model)
    return result


def _scale_op_counts(counts: Any, factor: float) -> Any:
    if isinstance(counts, Mapping):
        return {k: _scale_op_counts(v, factor) for k, v in counts.items()}
    if isinstance(counts, (int, float)) and not isinstance(counts, bool):
        return counts * factor
    return counts


def _sum_op_counts(per_epoch: Sequence[Any]) -> Any:
    """Sum nested dicts of numbers (op counts) over epochs; non-numbers are kept from the first."""
    first = per_epoch[0]
    if isinstance(first, Mapping):
        return {
            k: _sum_op_counts([p[k] for p in per_epoch if isinstance(p, Mapping) and k in p])
            for k in first
        }
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return sum(per_epoch)
    return first
