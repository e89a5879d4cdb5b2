"""Every results table in the README equals the table file it cites."""

from __future__ import annotations

import pandas as pd

from analog_tt.core.paths import REPO_ROOT
from analog_tt.report import readme


def test_readme_blocks_match_their_tables(repo_root):
    problems = readme.check(repo_root / "README.md")
    assert not problems, "\n".join(problems)


def test_a_drifted_number_is_caught(tmp_path):
    (tmp_path / "t.csv").write_text(
        pd.DataFrame({"n_tiles": [1, 8], "mean": [0.9712, 0.9701]}).to_csv(index=False)
    )
    spec = "<!-- results: t.csv | columns: n_tiles, mean | digits: 4 -->"
    good = f"# R\n\n{spec}\nplaceholder\n<!-- /results -->\n"
    path = tmp_path / "README.md"
    path.write_text(good)
    assert readme.check(path)  # placeholder differs
    assert readme.update(path) == 1
    assert readme.check(path) == []
    assert "| 8 | 0.9701 |" in path.read_text()
    path.write_text(path.read_text().replace("0.9701", "0.9710"))
    assert readme.check(path)


def test_filters_select_rows(tmp_path):
    df = pd.DataFrame({"profile": ["quick", "paper"], "mean": [0.5, 0.9]})
    (tmp_path / "t.csv").write_text(df.to_csv(index=False))
    spec = readme.BlockSpec.parse(" t.csv | where: profile=paper | columns: mean ")
    assert readme.render(spec, tmp_path).splitlines()[-1] == "| 0.9 |"


def test_json_records_nested_and_object_form(tmp_path):
    import json

    import pytest

    records = [{"n_tiles": 1, "t": {"1": 2.5}}, {"n_tiles": 64, "t": {"1": 9.0}}]
    (tmp_path / "list.json").write_text(json.dumps(records))
    (tmp_path / "obj.json").write_text(json.dumps({"machine": "x", "records": records}))
    (tmp_path / "bad.json").write_text(json.dumps({"machine": "x"}))
    for name in ("list.json", "obj.json"):
        spec = readme.BlockSpec.parse(f" {name} | where: n_tiles=64 | columns: t.1 | digits: 1 ")
        assert readme.render(spec, tmp_path).splitlines()[-1] == "| 9 |"
    with pytest.raises(ValueError, match="records"):
        readme.render(readme.BlockSpec.parse(" bad.json "), tmp_path)


def _run_readme_snippet(anchor: str) -> dict:
    """Run the first Python block after ``anchor`` in README.md; return its namespace."""
    import re

    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index(anchor) :]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace


def test_readme_tile_snippet_runs():
    """The README's first Python example (the multi-tile tile) runs as written."""
    layer = _run_readme_snippet("## The multi-tile tile")["layer"]
    assert layer.analog_module.tile.n_tiles == 8


def test_public_names_are_at_the_top():
    import analog_tt

    assert callable(analog_tt.seed_everything)
    assert analog_tt.MultiTileRPUConfig.__name__ == "MultiTileRPUConfig"
    assert analog_tt.RunConfig().key() == analog_tt.runs.RunConfig().key()
    for name in analog_tt.__all__:
        assert getattr(analog_tt, name) is not None


def test_readme_switch_to_multi_tile_example_runs():
    """The README's "existing aihwkit model" example trains, saves and reloads as written."""
    model = _run_readme_snippet("<!-- example: switch-to-multi-tile -->")["model"]
    assert [t.tile.n_tiles for t in model.analog_tiles()] == [4, 4]
