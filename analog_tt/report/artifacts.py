"""Where notebooks put figures, tables and results, and how each output records its provenance.

Conventions (the same in every notebook):

- parameters ``profile`` (``"smoke"``, ``"quick"`` or ``"paper"``), ``output_dir`` and
  ``results_dir``. ``output_dir=None`` means ``build/<profile>/figures`` so that tests never write
  into the committed ``figures/``; ``make reproduce`` passes ``output_dir=figures``.
  ``results_dir=None`` means ``data/results``; results go to ``<results_dir>/<profile>/``.
- every figure is saved as PNG and PDF by :func:`save_figure`, every table as CSV and Markdown by
  :func:`save_table`; both stamp the profile and the result files they were drawn from and write a
  small provenance record next to them (``<output_dir>/.provenance/<kind>-<name>.json``) that
  ``make reproduce`` gathers into ``figures/MANIFEST.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.files import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..core.paths import PROJECT_ROOT, REPO_ROOT, results_root
from ..core.provenance import utc_now
from ..core.validation import check_choice
from ..core.vocabulary import PROFILES


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is known, else raise a ValueError listing the allowed names."""
    return check_choice("profile", profile, PROFILES)


def resolve_dirs(
    profile: str, output_dir: str | Path | None = None, results_dir: str | Path | None = None
) -> tuple[Path, Path]:
    """Resolve a notebook's ``output_dir`` and ``results_dir`` parameters.

    Returns
    -------
    figures : Path
        Folder for figures (tables go to ``figures / "tables"``), created.
    results : Path
        ``<results_dir>/<profile>``, created.
    """
    check_profile(profile)
    figures = (
        Path(output_dir) if output_dir is not None else PROJECT_ROOT / "build" / profile / "figures"
    )
    results = (Path(results_dir) if results_dir is not None else results_root()) / profile
    if not figures.is_absolute():
        figures = (Path.cwd() / figures).resolve()
    if not results.is_absolute():
        results = (Path.cwd() / results).resolve()
    (figures / "tables").mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    return figures, results


def _as_list(sources) -> list:
    """``sources`` as a list: one path or string, or an iterable of them."""
    if sources is None:
        return []
    if isinstance(sources, (str, Path)):
        return [sources]
    return list(sources)


def _relative(path: str | Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return path.name


def results_profiles(sources: Iterable[str | Path]) -> list[str]:
    """The profiles whose results ``sources`` come from (``.../results/<profile>/...``), sorted.

    A notebook run under one profile may draw a table from another's results (the quick run
    reports the committed paper-profile runs); the stamp names the profile that made the data.
    """
    found = set()
    for source in _as_list(sources):
        parts = Path(source).parts
        pairs = zip(parts, parts[1:], strict=False)
        found.update(part for parent, part in pairs if parent == "results" and part in PROFILES)
    return [p for p in PROFILES if p in found]


def _profile_label(profile: str, sources) -> str:
    """``profile``, or the results' profiles and the run that drew them where those differ."""
    made_by = results_profiles(sources)
    if not made_by or made_by == [profile]:
        return profile
    return f"{' + '.join(made_by)} (results), drawn in a {profile} run"


def _record(
    output_dir: Path, name: str, kind: str, files: list[Path], profile: str, sources
) -> None:
    record = {
        "name": name,
        "kind": kind,
        "files": [_relative(f) for f in files],
        "profile": profile,
        "results_profiles": results_profiles(sources),
        "sources": sorted({_relative(s) for s in sources}),
        "written": utc_now(),
    }
    atomic_write_json(output_dir / ".provenance" / f"{kind}-{name}.json", record)


def stamp(fig, profile: str, sources: Iterable[str | Path]) -> None:
    """Write "profile: X · data: files" in small print under ``fig``.

    The line hangs below the figure's bottom edge, so it never covers an axis label; the saved
    files (``bbox_inches="tight"``) grow to hold it.
    """
    sources = _as_list(sources)
    names = ", ".join(sorted({_relative(s) for s in sources})) or "computed in the notebook"
    fig.text(
        0.005,
        -0.01,
        f"profile: {_profile_label(profile, sources)} · data: {names}",
        fontsize=6,
        color="0.4",
        ha="left",
        va="top",
        wrap=True,
    )


def save_figure(
    fig, output_dir: str | Path, name: str, *, profile: str, sources: Iterable[str | Path]
) -> list[Path]:
    """Stamp ``fig`` with its profile and data sources and save it as PNG (150 dpi) and PDF."""
    check_profile(profile)
    sources = _as_list(sources)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp(fig, profile, sources)
    paths = []
    for ext in ("png", "pdf"):
        path = output_dir / f"{name}.{ext}"
        import io

        buffer = io.BytesIO()
        # fixed metadata keeps the files byte-stable between identical runs
        meta = {"Software": None} if ext == "png" else {"CreationDate": None, "Producer": None}
        fig.savefig(buffer, format=ext, dpi=150, bbox_inches="tight", metadata=meta)
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    _record(output_dir, name, "figure", paths, profile, sources)
    return paths


def save_table(
    table,
    output_dir: str | Path,
    name: str,
    *,
    profile: str,
    sources: Iterable[str | Path],
    float_format: str = "%.4g",
) -> list[Path]:
    """Save a pandas DataFrame as ``tables/<name>.csv`` and ``tables/<name>.md``."""
    check_profile(profile)
    sources = _as_list(sources)
    tables = Path(output_dir) / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = tables / f"{name}.csv", tables / f"{name}.md"
    atomic_write_text(csv_path, table.to_csv(index=False))
    names = ", ".join(sorted({_relative(s) for s in sources})) or "computed in the notebook"
    markdown = (
        table.to_markdown(index=False, floatfmt=float_format.lstrip("%"))
        if _has_tabulate()
        else _markdown(table, float_format)
    )
    label = _profile_label(profile, sources)
    atomic_write_text(md_path, f"{markdown}\n\n<sub>profile: {label} · data: {names}</sub>\n")
    _record(Path(output_dir), name, "table", [csv_path, md_path], profile, sources)
    return [csv_path, md_path]


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def markdown_table(table, float_format: str = "%.4g") -> str:
    """A DataFrame as a Markdown table (tabulate's when installed, else a plain one)."""
    if _has_tabulate():
        return table.to_markdown(index=False, floatfmt=float_format.lstrip("%"))
    return _markdown(table, float_format)


def _markdown(table, float_format: str) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if value != value else float_format % value
        return str(value)

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def read_provenance(output_dir: str | Path) -> list[dict[str, Any]]:
    """All provenance records under ``<output_dir>/.provenance``."""
    folder = Path(output_dir) / ".provenance"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
