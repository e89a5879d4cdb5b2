"""Result keys are stable: every committed result's key, recomputed from its stored config, is its
file name, and adding a field with its default value renames nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from analog_tt.core.paths import RESULTS_ROOT
from analog_tt.runs.config import KEY_BASE_FIELDS, RunConfig


def _run_results() -> list[Path]:
    paths = []
    for path in sorted(RESULTS_ROOT.rglob("*.json")):
        if "smoke" in path.parts:
            continue
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "config" in data and "key" in data and "epochs" in data:
            paths.append(path)
    return paths


def test_committed_results_are_found_by_their_recomputed_key():
    paths = _run_results()
    assert len(paths) >= 40, f"expected the committed run results, found {len(paths)}"
    wrong = []
    for path in paths:
        stored = json.loads(path.read_text())
        key = RunConfig.from_dict(stored["config"]).key()
        if not (key == stored["key"] == path.stem):
            wrong.append(f"{path}: file {path.stem}, stored {stored['key']}, recomputed {key}")
    assert not wrong, "\n".join(wrong)


def test_committed_paper_runs_record_their_seed_wall_time_and_provenance():
    """Each paper-profile run says which seed, code, machine and how long it took; the few runs
    migrated from the old spiral runner say so instead (they have no wall time of their own)."""
    paths = [p for p in _run_results() if "paper" in p.parts]
    assert len(paths) >= 100, f"expected the committed paper-profile runs, found {len(paths)}"
    lacking = []
    for path in paths:
        stored = json.loads(path.read_text())
        provenance, wall = stored["provenance"], stored["wall_s"]
        if provenance.get("seed") != stored["config"]["seed"]:
            lacking.append(f"{path}: provenance.seed {provenance.get('seed')!r}")
        if "migrated_by" in provenance:
            if not provenance.get("note"):
                lacking.append(f"{path}: migrated without a note")
            continue
        for field in ("git_commit", "code_hash", "started_at", "finished_at", "cpu", "packages"):
            if not provenance.get(field):
                lacking.append(f"{path}: no provenance.{field}")
        if not (wall.get("train_total") or 0) > 0:
            lacking.append(f"{path}: no wall_s.train_total")
    assert not lacking, "\n".join(lacking)


def test_fields_added_later_keep_their_defaults_and_stay_out_of_the_key():
    added = [f for f in dataclasses.fields(RunConfig) if f.name not in KEY_BASE_FIELDS]
    assert added, "no fields beyond the base set: this test would check nothing"
    base = RunConfig()
    for f in added:
        assert getattr(base, f.name) == f.default, f"{f.name} is rewritten in __post_init__"
    # a config from a result stored before those fields existed has the same key
    old_style = {k: v for k, v in base.to_dict().items() if k in KEY_BASE_FIELDS}
    assert RunConfig.from_dict(old_style).key() == base.key()


def test_a_non_default_new_field_changes_the_key():
    spiral = {"dataset": "spiral", "network": "2-64-3-relu-x25"}
    assert RunConfig(**spiral).key() != RunConfig(**spiral, out_noise=0.1).key()
    assert RunConfig(**spiral).key() != RunConfig(**spiral, analog_eval_repeats=5).key()


@pytest.mark.parametrize("name", KEY_BASE_FIELDS)
def test_base_fields_are_always_hashed(name):
    assert name in RunConfig().to_dict()
