"""The package outside the repository: installed (not editable), run from an empty directory."""

from __future__ import annotations

import os
import subprocess
import sys


def test_an_installed_package_runs_a_sweep_and_writes_only_into_the_working_directory(
    tmp_path, repo_root
):
    site, work = tmp_path / "site", tmp_path / "work"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(repo_root)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (work / "data").mkdir(parents=True)
    (work / "data" / "MNIST").symlink_to(repo_root / "data" / "MNIST")  # no download in tests
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALOG_TT_")}
    env["PYTHONPATH"] = str(site)

    def run(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "analog_tt", *args],
            cwd=work, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return out.stdout + out.stderr

    where = subprocess.run(
        [sys.executable, "-c", "import analog_tt; print(analog_tt.__file__)"],
        cwd=work, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(site)), where  # the installed copy, not the checkout
    assert "OK" in run("doctor")
    script = site / "bin" / "analog-tt"  # the console script pip installed
    data = subprocess.run(
        [sys.executable, str(script), "data"], cwd=work, env=env, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    assert "verified" in (data.stdout + data.stderr).lower(), data.stdout + data.stderr
    assert not (site / "data").exists()  # MNIST is the working directory's, not site-packages'
    run("sweep", "smoke", "--only", "baselines", "--where", "algorithm=sgd", "--workers", "1",
        "--no-progress")  # fmt: skip
    assert list((work / "data" / "results" / "smoke" / "baselines").glob("*.json"))
    written = [p for p in site.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert not [p for p in written if "results" in p.parts or p.suffix == ".ckpt"], written
