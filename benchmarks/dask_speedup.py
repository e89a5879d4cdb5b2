"""Wall time of a 4-run sweep on a dask LocalCluster with 1 vs 2 single-threaded workers.

Usage: ``python benchmarks/dask_speedup.py [--runs 4] [--repeats 2] [--epochs 5] [--out PATH]``. Each run is a
1-tile AGAD training on a 12800-image MNIST subset (exact reads), ~15 s per run on an idle core.
Two times are printed per cluster size: ``sweep`` = ``run_sweep`` on an already started cluster
whose workers have imported the package and loaded the data, and ``total`` = that plus starting
and warming the cluster. Every measurement starts from an empty results folder. The machine's
load average is printed with each line: other processes on the same cores make the speed-up
meaningless, so repeat on a quiet machine. The measurements are written (atomically) to
``benchmarks/results/dask_speedup.json`` with the machine and package versions.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster

from analog_tt.core.files import atomic_write_json
from analog_tt.core.provenance import machine_info, package_versions
from analog_tt.runs import RunConfig, run_sweep


def _configs(n_runs: int, epochs: int) -> list[RunConfig]:
    return [
        RunConfig(
            algorithm="agad",
            n_tiles=1,
            init="init_std",
            epochs=epochs,
            train_subset=12800,
            test_subset=1000,
            eval_modes=("exact",),
            seed=seed,
        )
        for seed in range(n_runs)
    ]


def _warm_up() -> None:
    from analog_tt.runs.models import load_dataset

    load_dataset(RunConfig(train_subset=12800, test_subset=1000))


def measure(n_workers: int, n_runs: int, epochs: int) -> tuple[float, float]:
    """(total seconds incl. cluster start, seconds of run_sweep alone)."""
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm_up)
        with tempfile.TemporaryDirectory() as tmp:
            t1 = time.perf_counter()
            report = run_sweep(
                _configs(n_runs, epochs),
                profile="bench",
                client=client,
                progress=False,
                results_root=tmp,
            )
            t2 = time.perf_counter()
    if not report.ok or len(report.computed) != n_runs:
        raise RuntimeError(f"sweep failed: {report.failed}")
    start = min(t["started"] for t in report.tasks.values())
    spans = sorted(
        (t["pid"], round(t["started"] - start, 1), round(t["finished"] - start, 1))
        for t in report.tasks.values()
    )
    print(f"  {n_workers} worker(s), runs as (pid, start s, end s): {spans}", flush=True)
    return t2 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "dask_speedup.json"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    print(f"cores: {os.cpu_count()}, load average before: {load_before:.1f}", flush=True)
    records = []
    for rep in range(args.repeats):
        total1, sweep1 = measure(1, args.runs, args.epochs)
        load1 = os.getloadavg()[0]
        total2, sweep2 = measure(2, args.runs, args.epochs)
        load2 = os.getloadavg()[0]
        print(
            f"repeat {rep}: sweep 1 worker {sweep1:.1f} s, 2 workers {sweep2:.1f} s, "
            f"speed-up {sweep1 / sweep2:.2f}x | total incl. cluster start {total1:.1f} s vs "
            f"{total2:.1f} s, {total1 / total2:.2f}x | load average {load1:.1f} / {load2:.1f}",
            flush=True,
        )
        records.append(
            {
                "repeat": rep,
                "sweep_s": {"1": sweep1, "2": sweep2},
                "total_s": {"1": total1, "2": total2},
                "speedup_sweep": sweep1 / sweep2,
                "speedup_total": total1 / total2,
                "load_average_after": {"1": load1, "2": load2},
            }
        )
        atomic_write_json(
            args.out,
            {
                "benchmark": "dask_speedup",
                "runs": args.runs,
                "epochs": args.epochs,
                "load_average_before": load_before,
                "records": records,
                "machine": machine_info(),
                "packages": package_versions(),
            },
        )


if __name__ == "__main__":
    main()
