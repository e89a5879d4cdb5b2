"""``make reproduce``: run the sweeps and every notebook of a profile, then write the manifest.

Steps, for ``python -m analog_tt reproduce --profile quick``:

1. the profile's experiment sweeps (``analog_tt.runs``), resumed from cached results;
2. every ``notebooks/NN_*.ipynb`` in order with papermill, the profile's parameters and
   ``output_dir=figures``, executed copies written to ``build/<profile>/``;
3. ``figures/MANIFEST.json``: for every figure and table, its notebook, profile, result files,
   git commit, package versions and the notebook's wall time;
4. a summary of the key results beside the paper's values.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ..core.files import atomic_write_json
from ..core.paths import REPO_ROOT
from ..core.provenance import git_commit, machine_info, package_versions, utc_now
from ..core.vocabulary import PROFILES
from ..runs.profiles import notebook_parameters
from .artifacts import check_profile, read_provenance

NOTEBOOKS = REPO_ROOT / "notebooks"
FIGURES = REPO_ROOT / "figures"


def figures_dir(profile: str) -> Path:
    """Where ``reproduce`` writes a profile's figures: ``figures/`` for the quick profile (the
    committed ones), ``figures/paper/`` for the paper profile, ``build/smoke/figures`` for the
    smoke profile; a profile never overwrites another's outputs."""
    check_profile(profile)
    if profile == "quick":
        return FIGURES
    if profile == "smoke":
        return REPO_ROOT / "build" / "smoke" / "figures"
    return FIGURES / profile


def list_notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def run_notebooks(
    profile: str,
    output_dir: Path = FIGURES,
    only: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> list[dict]:
    """Execute the notebooks with papermill; return one timing record per notebook.

    ``extra`` parameters are passed to every notebook (e.g. ``run_missing=False`` to draw only
    from cached results); a notebook without such a parameter ignores it.
    """
    import papermill

    _absolute_preload()  # the kernels start in notebooks/: a relative LD_PRELOAD would not load
    build = REPO_ROOT / "build" / profile
    build.mkdir(parents=True, exist_ok=True)
    records = []
    for path in list_notebooks():
        if only and not any(path.stem.startswith(o) for o in only):
            continue
        params = notebook_parameters(profile, path.stem)
        params.update(extra or {})
        params["output_dir"] = str(output_dir)
        print(f"[reproduce] {path.name} with {params}", flush=True)
        start = time.time()
        papermill.execute_notebook(
            str(path),
            str(build / path.name),
            parameters=params,
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            progress_bar=True,  # cell n of m, elapsed, time left
            log_output=False,
            config=kernel_config(),
        )
        wall = time.time() - start
        print(f"[reproduce] {path.name} done in {wall:.0f} s", flush=True)
        records.append(
            {
                "notebook": f"notebooks/{path.name}",
                "executed": f"build/{profile}/{path.name}",
                "start": start,
                "wall_s": round(wall, 1),
            }
        )
    return records


def kernel_config():
    """The notebook kernels' config: local sockets (IPC), so no kernel warns that it runs over
    unencrypted TCP. Pass it to ``papermill.execute_notebook(..., config=kernel_config())``."""
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport = "ipc"
    return config


def _absolute_preload() -> None:
    """Make ``$LD_PRELOAD``'s relative paths absolute (as the Makefile sets them), for kernels
    started in another directory; a path that does not exist is left for ld.so to report."""
    import os

    entries = os.environ.get("LD_PRELOAD", "").split()
    if entries:
        os.environ["LD_PRELOAD"] = " ".join(
            str(Path(e).resolve()) if Path(e).exists() else e for e in entries
        )


def write_manifest(profile: str, runs: list[dict], output_dir: Path = FIGURES) -> Path:
    """Merge the provenance records of ``output_dir`` into ``MANIFEST.json``."""
    path = output_dir / "MANIFEST.json"
    previous: dict[str, Any] = {}
    if path.is_file():
        import json

        previous = {
            (e["kind"], e["name"]): e for e in json.loads(path.read_text()).get("outputs", [])
        }
    commit, versions, machine = git_commit(), package_versions(), machine_info()
    # the commit the outputs were made from, and separately whether tracked files had changes
    # then (results a sweep just wrote count as changes)
    tree_clean = not commit.endswith("-dirty")
    commit = commit.removesuffix("-dirty")
    for record in read_provenance(output_dir):
        written = record.get("written", "")
        source_nb = None
        for run in runs:  # attribute each output to the notebook whose run wrote it
            if written and utc_epoch(written) >= run["start"] - 1:
                source_nb = run
        key = (record["kind"], record["name"])
        if source_nb is None and key in previous:
            continue  # untouched by this run: keep the earlier entry
        entry = dict(record)
        if source_nb is not None:
            entry.update(notebook=source_nb["notebook"], notebook_wall_s=source_nb["wall_s"])
        entry.update(git_commit=commit, tree_clean=tree_clean, versions=versions, machine=machine)
        previous[key] = entry
    manifest = {
        "generated": utc_now(),
        "outputs": sorted(previous.values(), key=lambda e: (e["kind"], e["name"])),
    }
    atomic_write_json(path, manifest)
    return path


def utc_epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


#: A sweep estimated to need more core-hours than this does not start without ``--yes``; nor
#: does any unfinished run of the paper profile (each takes up to hours, most of them days in all).
CONFIRM_CORE_HOURS = 2.0


def _sweep_is_affordable(profile: str) -> bool:
    """Whether the profile's unfinished runs fit :data:`CONFIRM_CORE_HOURS`; if not, say what
    they would cost and the two ways on (draw from the results at hand, or run them)."""
    from ..core.paths import results_root
    from ..runs.estimate import estimate_sweep
    from ..runs.profiles import load_profile

    cost = estimate_sweep(load_profile(profile), results_root() / profile)
    hours = cost.seconds / 3600
    if hours <= CONFIRM_CORE_HOURS and not (profile == "paper" and cost.runs_left):
        return True
    unknown = (f" and {cost.runs_without_estimate} more without an estimate"
               if cost.runs_without_estimate else "")  # fmt: skip
    print(
        f"[reproduce] the {profile} profile has {cost.runs_left} unfinished run(s): "
        f"~{hours:.1f} core-hours by the finished runs' wall times{unknown}.\n"
        "  The committed paper-profile runs are already drawn by `make reproduce` (the quick\n"
        "  profile) into figures/ (the *_paper_profile figures, the claims ledger).\n"
        "  Skip the sweep and run the notebooks on the results already here (notebook 01\n"
        "  still computes its own from-scratch runs):\n"
        f"    make reproduce PROFILE={profile} SWEEP=0\n"
        f"  Run them first (a cluster: SCHEDULER=tcp://host:8786; one machine: "
        f"python -m analog_tt sweep {profile} --plan HOURS):\n"
        f"    make reproduce PROFILE={profile} SWEEP=1",
        file=sys.stderr,
    )
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analog_tt reproduce")
    parser.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)}")
    parser.add_argument("--scheduler", default=None, help="dask scheduler address for the sweeps")
    parser.add_argument("--only", nargs="*", default=None, help="notebook prefixes, e.g. 01 05")
    parser.add_argument("--skip-sweeps", action="store_true")
    parser.add_argument(
        "--yes",
        action="store_true",
        help="run the sweeps even where they are long: without it, a sweep estimated at more "
        f"than {CONFIRM_CORE_HOURS:g} core-hours, or any unfinished paper-profile run, stops "
        "the command before it starts",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra notebook parameter (YAML value), e.g. --param run_missing=false",
    )
    args = parser.parse_args(argv)
    # every argument is checked before any work (a paper-profile sweep takes hours)
    try:
        check_profile(args.profile)
    except ValueError as exc:
        parser.error(str(exc))
    extra = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            parser.error(f"--param needs KEY=VALUE, got {item!r}")
        extra[key] = yaml.safe_load(value)
    if args.only:
        names = [p.stem for p in list_notebooks()]
        unknown = [o for o in args.only if not any(n.startswith(o) for n in names)]
        if unknown:
            parser.error(f"--only {unknown} matches no notebook; notebooks: {names}")
    if not args.skip_sweeps and not args.yes and not _sweep_is_affordable(args.profile):
        return 2
    start = time.time()
    if not args.skip_sweeps:
        from ..runs.cli import sweep_main

        sweep_args = [args.profile] + (["--scheduler", args.scheduler] if args.scheduler else [])
        code = sweep_main(sweep_args)
        if code:
            return code
    output_dir = figures_dir(args.profile)
    runs = run_notebooks(args.profile, output_dir, only=args.only, extra=extra)
    manifest = write_manifest(args.profile, runs, output_dir)
    print(f"[reproduce] manifest: {manifest.relative_to(REPO_ROOT)}")
    from .summary import print_summary

    print_summary()
    print(f"[reproduce] profile {args.profile} finished in {(time.time() - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
