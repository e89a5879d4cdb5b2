"""What every results notebook does first: check its profile, find its folders, get its runs."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from ..runs.profiles import load_profile
from ..runs.results import is_finished
from ..runs.sweep import run_sweep

__all__ = ["ensure_results"]


def ensure_results(
    profile: str,
    experiments: Sequence[str],
    results: Path,
    *,
    run_missing: bool,
    n_workers: int = 2,
    progress: bool = True,
) -> list[Path]:
    """Make the profile's runs of ``experiments`` available; return their result folders.

    With ``run_missing`` every configured run without a result is computed (a Dask sweep with
    ``n_workers`` workers); without it nothing is run, and how many of the configured runs have
    results is printed (the paper profile's sweeps take days: they are run outside notebooks).

    Parameters
    ----------
    profile
        Profile name.
    experiments
        Experiment names of the profile.
    results
        ``<results_dir>/<profile>`` (from :func:`analog_tt.report.artifacts.resolve_dirs`).
    progress
        A bar of the runs done with the time left (a widget in JupyterLab, text in a terminal).
    """
    sweep = load_profile(profile).select(list(experiments))
    if run_missing:
        with warnings.catch_warnings():  # dask's "port in use" notes
            warnings.simplefilter("ignore")
            report = run_sweep(
                sweep,
                profile=profile,
                results_root=results.parent,
                n_workers=n_workers,
                progress=progress,
            )
        if not report.ok:
            raise RuntimeError(f"{len(report.failed)} run(s) failed: {report.failed}")
    else:
        for name, cfgs in sweep.experiments.items():
            done = sum(is_finished(results / name / f"{c.key()}.json") for c in cfgs)
            print(f"{name}: {done} of {len(cfgs)} configured runs have results (run_missing off)")
    return [results / name for name in experiments]
