"""The paper's published numbers, as data with their source (a bottom layer: no imports).

Values are transcribed from the paper's original repository (see
``../shared/reference/seed-analysis.md`` for where each table comes from) into JSON files under
``analog_tt/paper_data/``, with the source of every value. They are *reference values to compare against*, never results of ours:
every table that shows them labels them ``paper_*``.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

PAPER_DATA = Path(__file__).resolve().parent / "paper_data"


@cache
def load(name: str) -> dict[str, Any]:
    """Load ``analog_tt/paper_data/<name>.json`` (e.g. ``"mnist"``, ``"spiral"``)."""
    path = PAPER_DATA / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in PAPER_DATA.glob("*.json"))
        raise FileNotFoundError(f"no paper reference table {name!r}; known: {known}")
    return json.loads(path.read_text())


# --------------------------------------------------------------------------------------------
# The paper's per-run result files (paper_data/paper_results/, copied unchanged; SOURCE.md)
# --------------------------------------------------------------------------------------------

PAPER_RESULTS = PAPER_DATA / "paper_results"

#: The paper's file suffix of each variant: v1 = one shared A, v2 = one A per replica.
VARIANT_SUFFIX = {"shared_A": "v1", "replicated_A": "v2"}


def _csv_rows(file_name: str) -> list[dict[str, str]]:
    import csv

    path = PAPER_RESULTS / file_name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the paper's per-run files ship with the package "
            "(analog_tt/paper_data/paper_results/); reinstall or restore it from git"
        )
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _number_list(text: str, file_name: str) -> list:
    # the paper's CSVs hold Python list reprs; its NaN is "nan"
    try:
        return json.loads(text.replace("nan", "NaN"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file_name}: cannot parse a list cell ({exc})") from None


def _variant_suffix(variant: str) -> str:
    if variant not in VARIANT_SUFFIX:
        raise ValueError(f"variant must be one of {sorted(VARIANT_SUFFIX)}, got {variant!r}")
    return VARIANT_SUFFIX[variant]


@cache
def figure2_runs() -> dict[int, dict[str, tuple[float, ...]]]:
    """Figure 2's per-run accuracies: ``{N: {"tile_avg": (5 values), "swa": (5 values)}}``.

    From ``mnist_swa_16.csv`` (tile-average and SWA test accuracy after 40 epochs, 5 runs per N).
    """
    out = {}
    for row in _csv_rows("mnist_swa_16.csv"):
        out[int(row["num_tiles"])] = {
            "tile_avg": tuple(_number_list(row["model_average_accuracy"], "mnist_swa_16.csv")),
            "swa": tuple(_number_list(row["swa_accuracy"], "mnist_swa_16.csv")),
        }
    return out


@cache
def epochs_to_97_curves(variant: str) -> dict[tuple[int, int], tuple[tuple[float, ...], ...]]:
    """Per-epoch test accuracy of every epochs-to-97 % run: ``{(N, BL): (run curves)}``.

    From ``mnist_bl_v1.csv`` / ``mnist_bl_v2.csv`` (lr 0.1, 5 runs per cell). Each run stopped at
    the first epoch whose test accuracy reached 0.97, so a curve's length is its epochs to 97 %.
    """
    name = f"mnist_bl_{_variant_suffix(variant)}.csv"
    out = {}
    for row in _csv_rows(name):
        runs = _number_list(row["digital_accuracies"], name)
        out[(int(row["num_tiles"]), int(row["bl"]))] = tuple(tuple(r) for r in runs)
    return out


def epochs_to_97_runs(variant: str) -> dict[tuple[int, int], tuple[int, ...]]:
    """Epochs to 97 % of every run: ``{(N, BL): (epochs per run)}`` (the curves' lengths)."""
    return {
        cell: tuple(len(c) for c in curves) for cell, curves in epochs_to_97_curves(variant).items()
    }


@cache
def spiral_runs(variant: str, drop_diverged: bool = False) -> dict[int, tuple[float, ...]]:
    """Spiral (out_noise 0.1, 1000 epochs) training-set accuracy per run: ``{N: (10 values)}``.

    From ``agad_v1.csv`` (shared A) / ``agad_v2_new.csv`` (replicated A). A run that diverged is
    stored by the paper as NaN loss and chance accuracy: kept as it is, or left out with
    ``drop_diverged=True``.
    """
    name = {"v1": "agad_v1.csv", "v2": "agad_v2_new.csv"}[_variant_suffix(variant)]
    runs = {}
    for row in _csv_rows(name):
        accuracies = _number_list(row["digital_accuracies"], name)
        losses = _number_list(row["digital_losses"], name)
        if len(losses) != len(accuracies):
            raise ValueError(f"{name}, N = {row['num_tiles']}: {len(losses)} losses for "
                             f"{len(accuracies)} accuracies")  # fmt: skip
        runs[int(row["num_tiles"])] = tuple(
            acc
            for acc, loss in zip(accuracies, losses, strict=True)
            if not (drop_diverged and math.isnan(loss))
        )
    return runs


def epochs_to_97_by_setting(
    ref: dict[str, Any] | None = None,
) -> dict[tuple[str, int, int, float], float]:
    """``{(variant, n_tiles, bl, lr): epochs to 97 %}`` of the paper: its §4.3 table (lr 0.1,
    means over 5 runs) and its §4.4 sweep (other lr, single runs that reached 97 %).

    ``ref`` is ``load("mnist")`` (the default).
    """
    ref = load("mnist") if ref is None else ref
    out = {
        (r["variant"], r["n_tiles"], r["bl"], 0.1): r["epochs_to_97"]
        for r in ref["epochs_time_energy"]["rows"]
    }
    out.update(
        {
            (r["variant"], r["n_tiles"], r["bl"], r["lr"]): r["epochs_to_97"]
            for r in ref["lr_sweep"]["rows"]
            if r["reached_97"]
        }
    )
    return out
