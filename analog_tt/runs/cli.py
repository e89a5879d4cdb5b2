"""``python -m analog_tt sweep <profile> ...``: run a profile's experiments from the shell."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.paths import results_root
from ..core.vocabulary import EXPERIMENTS
from .claims import live_claim
from .estimate import estimate_runs, long_runs, measured_costs, summarize_estimates
from .plan import plan_runs
from .profiles import available_profiles, load_profile
from .results import ResultFileError, is_finished
from .sweep import run_sweep

__all__ = ["parse_where", "sweep_main"]


def parse_where(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["n_tiles=1,8", "variant=shared_A"]`` -> ``{"n_tiles": [1, 8], "variant": ["shared_A"]}``."""
    import yaml

    out: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ValueError(f"--where expects FIELD=V1,V2, got {item!r}")
        out.setdefault(name.strip(), []).extend(yaml.safe_load(v) for v in values.split(","))
    return out


def _run_state(cache_dir: Path, key: str) -> str:
    if is_finished(cache_dir / f"{key}.json"):
        return "done"
    return "running" if live_claim(cache_dir / f"{key}.claim") else "left"


def sweep_main(argv: Sequence[str] | None = None) -> int:
    """``python -m analog_tt sweep <profile> [--scheduler ADDR] [--workers N] [--only EXP ...]
    [--where FIELD=V1,V2 ...] [--results-root DIR] [--dry-run | --plan HOURS [--cores N]]``;
    returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m analog_tt sweep",
        description="Run a profile's experiments; finished runs are skipped, killed ones resume.",
    )
    parser.add_argument("profile", help=f"one of {available_profiles()}")
    parser.add_argument(
        "--scheduler", default=None, help="dask scheduler address (default: a local cluster)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="local workers (default: number of cores)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="EXPERIMENT",
        help=f"run only these experiments (of {list(EXPERIMENTS)})",
    )
    parser.add_argument(
        "--results-root", default=None, help="results folder (default: data/results)"
    )
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="keep only runs whose config FIELD is one of the values, e.g. "
        "--where n_tiles=1,8,32 --where seed=0,1,2 (repeatable)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would run and estimate its cost from the finished runs; run nothing",
    )
    parser.add_argument(
        "--plan",
        type=float,
        default=None,
        metavar="HOURS",
        help="run nothing; print one queue of unfinished runs per core that fits HOURS of wall "
        "time each (estimated from the finished runs) and the commands that run them",
    )
    parser.add_argument(
        "--cores", type=int, default=2, help="queues for --plan (default: 2, one per core)"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    if args.plan is not None and not args.plan > 0:
        parser.error(f"--plan takes the hours each core may run, > 0; got {args.plan}")
    if args.cores < 1:
        parser.error(f"--cores must be >= 1, got {args.cores}")
    try:
        full = load_profile(args.profile).select(args.only)
        sweep = full
        if args.where:
            where = parse_where(args.where)
            sweep = full.where(**where)
            if len(sweep) == 0:
                have = "; ".join(f"{name} in {full.values(name)}" for name in where)
                print(
                    f"analog_tt sweep: --where {' '.join(args.where)} matches none of the "
                    f"{len(full)} runs; the values there: {have}",
                    file=sys.stderr,
                )
                return 2
    except ValueError as exc:
        print(f"analog_tt sweep: {exc}", file=sys.stderr)
        return 2
    root = results_root(args.results_root) / sweep.profile
    if args.plan is not None:
        try:
            plan = plan_runs(
                sweep,
                lambda exp, config: _run_state(root / exp, config.key()),
                measured_costs(sorted(root.glob("*/*.json"))),
                args.plan,
                args.cores,
                full=full,
            )
        except ValueError as exc:  # a damaged result file, or a run --where cannot select
            print(f"analog_tt sweep: {exc}", file=sys.stderr)
            return 2
        print(plan.describe(sweep.profile))
        return 0
    try:
        measured = measured_costs(sorted(root.glob("*/*.json"))) if args.dry_run else []
        for exp, cfgs in sweep.experiments.items():
            left = [c for c in cfgs if not is_finished(root / exp / f"{c.key()}.json")]
            line = f"  {exp:18s} {len(cfgs):4d} runs, {len(cfgs) - len(left):4d} done"
            if args.dry_run and left:
                costs = estimate_runs(left, measured)
                line += f", {summarize_estimates(costs)}"
                line += "".join(
                    f"\n      longer than a session: {c}" for c in long_runs(left, costs)
                )
            print(line)
        if args.dry_run:
            return 0
        report = run_sweep(
            sweep,
            profile=sweep.profile,
            scheduler=args.scheduler,
            n_workers=args.workers,
            progress=not args.no_progress,
            results_root=args.results_root,
        )
    except ResultFileError as exc:
        print(f"analog_tt sweep: {exc}", file=sys.stderr)
        return 2
    print(report)
    for (exp, k), err in report.failed.items():
        print(f"  FAILED {exp}/{k}: {err}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(sweep_main())
