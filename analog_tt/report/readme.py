"""Results tables in README.md are generated from the table files they cite, never typed.

A block in the README looks like::

    <!-- results: figures/tables/fig2_accuracy.csv | where: profile=quick, metric=swa
         | columns: n_tiles, mean, ci95, paper_mean | digits: 4 -->
    | n_tiles | mean | ... |
    <!-- /results -->

``python -m analog_tt readme`` rewrites every block from its CSV; ``tests/test_readme.py`` checks
that the README's blocks equal what their CSVs give, so prose never drifts from results.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.files import atomic_write_text
from ..core.paths import REPO_ROOT

BLOCK = re.compile(
    r"(<!--\s*results:(?P<spec>.*?)-->)\n(?P<body>.*?)\n?(<!--\s*/results\s*-->)", re.S
)


@dataclass(frozen=True)
class BlockSpec:
    source: str
    where: tuple[tuple[str, str], ...] = ()
    columns: tuple[str, ...] = ()
    digits: int = 4

    @classmethod
    def parse(cls, text: str) -> BlockSpec:
        parts = [p.strip() for p in " ".join(text.split()).split("|")]
        source, fields = parts[0], {}
        for part in parts[1:]:
            key, _, value = part.partition(":")
            fields[key.strip()] = value.strip()
        unknown = set(fields) - {"where", "columns", "digits"}
        if unknown:
            raise ValueError(
                f"unknown README block field(s) {sorted(unknown)}; allowed: where, columns, digits"
            )
        where = tuple(
            tuple(s.strip() for s in item.split("=", 1))
            for item in fields.get("where", "").split(",")
            if item.strip()
        )
        columns = tuple(c.strip() for c in fields.get("columns", "").split(",") if c.strip())
        return cls(source, where, columns, int(fields.get("digits", 4)))


def _format(value, digits: int) -> str:
    """Numbers rounded to ``digits`` decimals, trailing zeros dropped; NaN as an en dash."""
    if isinstance(value, float):
        if value != value:
            return "–"
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def render(spec: BlockSpec, root: Path = REPO_ROOT) -> str:
    """The Markdown table a block should hold, from its CSV."""
    import pandas as pd

    path = root / spec.source
    if not path.is_file():
        raise FileNotFoundError(
            f"README cites {spec.source}, which does not exist; run `make reproduce`"
        )
    if (
        path.suffix == ".json"
    ):  # benchmarks/results/*.json: a list of records, or {"records": [...]}
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            if not isinstance(data.get("records"), list):
                raise ValueError(
                    f"README cites {spec.source}, a JSON object without a 'records' list; "
                    "cite a file holding a list of records"
                )
            data = data["records"]
        table = pd.json_normalize(data, sep=".")
    else:
        table = pd.read_csv(path)
    for column, value in spec.where:
        if column not in table:
            raise KeyError(f"README filter column {column!r} is not in {spec.source}")
        table = table[table[column].astype(str) == value]
    if spec.columns:
        missing = [c for c in spec.columns if c not in table]
        if missing:
            raise KeyError(f"README columns {missing} are not in {spec.source}")
        table = table[list(spec.columns)]
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = [
        "| " + " | ".join(_format(v, spec.digits) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def check(readme: Path = REPO_ROOT / "README.md") -> list[str]:
    """Differences between the README's result blocks and their CSVs (empty when in sync)."""
    problems = []
    for match in BLOCK.finditer(readme.read_text()):
        spec = BlockSpec.parse(match.group("spec"))
        try:
            expected = render(spec, readme.parent)
        except (FileNotFoundError, KeyError) as exc:
            problems.append(str(exc))
            continue
        if match.group("body").strip() != expected:
            problems.append(
                f"README block citing {spec.source} differs from the file; run `python -m analog_tt readme`"
            )
    return problems


def update(readme: Path = REPO_ROOT / "README.md") -> int:
    """Rewrite every result block from its CSV; return how many blocks there are."""
    text = readme.read_text()
    count = 0

    def replace(match: re.Match) -> str:
        nonlocal count
        count += 1
        spec = BlockSpec.parse(match.group("spec"))
        return f"{match.group(1)}\n{render(spec, readme.parent)}\n{match.group(4)}"

    atomic_write_text(readme, BLOCK.sub(replace, text))
    return count
