"""The environment files agree, and the doctor recognises the stack."""

from __future__ import annotations

import re

import yaml


def _requirement_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]+\])?==([^\s;]+)", line)
        assert match, f"unpinned or malformed requirement: {line!r}"
        pins[match.group(1).lower() + (match.group(2) or "")] = match.group(3)
    return pins


def test_environment_yml_matches_requirements(repo_root):
    req = _requirement_pins((repo_root / "requirements.txt").read_text())
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pins = _requirement_pins("\n".join(pip_section))
    assert conda_pins == req
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pythons and re.fullmatch(r"python=3\.1[0-2]", pythons[0])


def test_lock_contains_every_pin_at_the_same_version(repo_root):
    req = _requirement_pins((repo_root / "requirements.txt").read_text())
    lock = _requirement_pins((repo_root / "requirements.lock").read_text())
    for name, version in req.items():
        assert lock.get(name.split("[")[0]) == version, name


def test_doctor_reports_the_pinned_stack():
    from analog_tt.doctor import PINS, check_stack

    info = check_stack(steps=3)
    for name, pin in PINS.items():
        assert str(info[name]).split("+")[0] == pin
    assert len(info["analog_losses"]) == 3
    assert info["analog_losses"][-1] < info["analog_losses"][0]


def test_doctor_names_abi_mismatch(monkeypatch):
    """A torch whose ABI aihwkit was not built for fails with the cause and the pins."""
    import pytest

    from analog_tt import doctor

    def broken(*args, **kwargs):
        raise RuntimeError("Invalid weights dimensions: expected [2,2] tensor")

    import aihwkit.nn

    monkeypatch.setattr(aihwkit.nn, "AnalogLinear", broken)
    with pytest.raises(doctor.EnvironmentMismatch, match=r"ABI mismatch.*torch 2\.10\.0"):
        doctor.check_stack()


def test_make_env_names_too_little_disk_before_installing(repo_root, tmp_path):
    """A first `make env` on a full disk stops with the space it needs, not pip's Errno 28."""
    import shutil
    import subprocess
    import sys

    shutil.copy(repo_root / "Makefile", tmp_path / "Makefile")
    for name in ("requirements.txt", "requirements.lock", "pyproject.toml", "setup.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "analog_tt").mkdir()
    (tmp_path / "analog_tt" / "_clockshim.cpp").write_text("")
    done = subprocess.run(
        ["make", "env", f"PYTHON={sys.executable}", "ENV_DISK_GB=100000000"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "needs about 100000000 GiB of free disk" in done.stderr, done.stderr
    assert not (tmp_path / ".venv").exists()
