"""The package's layers: no import cycle between modules, no layer importing one above it, and
no test or notebook importing a private module."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import analog_tt

PACKAGE = Path(analog_tt.__file__).resolve().parent
ROOT = PACKAGE.parent
#: bottom-up; a module may import its own layer and those before it
LAYERS = ["core", "paper", "tiles", "scratch", "hardware", "data", "runs", "report", "top"]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """analog_tt modules imported by ``path`` (absolute and relative, at any depth)."""
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("analog_tt")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("analog_tt"):
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "top"
    head = parts[1]
    return head if head in LAYERS else "top"


def test_no_import_cycle():
    graph = _graph()
    # lazy re-exports of the package root are not part of the layering
    graph = {m: {d for d in deps if d != "analog_tt"} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_layer_imports_a_layer_above_it():
    bad = []
    for module, deps in _graph().items():
        own = LAYERS.index(_layer(module))
        for dep in deps:
            if dep == "analog_tt":
                continue
            if LAYERS.index(_layer(dep)) > own:
                bad.append(f"{module} imports {dep}")
    assert not bad, "\n".join(sorted(bad))


def test_no_module_over_the_size_limit_without_a_reason():
    # modules that are long but do one job (checked by hand): the tile, the hardware model
    allowed = {"tiles/tile.py", "hardware/model.py", "tiles/programming.py", "scratch/tiki_taka.py"}
    long = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if len(p.read_text().splitlines()) > 520 and str(p.relative_to(PACKAGE)) not in allowed
    ]
    assert not long, long


_PRIVATE = re.compile(r"\banalog_tt(?:\.\w+)*\._[a-z]\w*\b")


def test_tests_and_notebooks_import_no_private_module():
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        offenders += [f"{path.name}: {m}" for m in _PRIVATE.findall(path.read_text())]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                src = "".join(cell["source"])
                offenders += [f"{path.name}: {m}" for m in _PRIVATE.findall(src)]
    assert not offenders, offenders


def test_notebooks_define_no_long_functions():
    """Helpers live in the package; a notebook keeps the story and short calls."""
    long = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 12:
                    long.append(f"{path.name} cell {i}: {node.name}")
    assert not long, long


def test_committed_notebooks_keep_no_output_that_goes_stale_as_paper_runs_land():
    """Cells reading data/results/paper (unless nbval checks them) are tagged and keep no output."""
    from analog_tt.report.committed_outputs import PAPER_RESULTS_TAG, reads_paper_results

    untagged, stale, checked = [], [], []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            source, tagged = (
                "".join(cell["source"]),
                PAPER_RESULTS_TAG in cell["metadata"].get("tags", []),
            )
            # a checked cell may read them: nbval then fails if its output changes as runs land
            if reads_paper_results(source) and not tagged and "NBVAL_CHECK_OUTPUT" not in source:
                untagged.append(f"{path.name} cell {i}")
            if tagged and (cell["outputs"] or cell["execution_count"] is not None):
                stale.append(f"{path.name} cell {i}")
            if tagged and "NBVAL_CHECK_OUTPUT" in source:
                checked.append(f"{path.name} cell {i}")
    assert not untagged, f"cells reading paper-profile results without the tag: {untagged}"
    assert not stale, f"run `make notebooks` (it drops these outputs): {stale}"
    assert not checked, checked


def test_paper_results_patterns_and_dropping(tmp_path):
    from analog_tt.report.committed_outputs import drop_paper_results_outputs, reads_paper_results

    assert reads_paper_results('df = runs.load_results("paper", "fig2")')
    assert reads_paper_results('x = results_root / "paper" / "fig2"')
    assert not reads_paper_results('rows = table[table["source"] == "paper"]')
    assert not reads_paper_results('# load_results("paper") in a comment')
    cell = {"cell_type": "code", "metadata": {"tags": ["paper-results"]}, "source": ["1"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1"]}],
            "execution_count": 3}  # fmt: skip
    other = {**cell, "metadata": {}}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [cell, other], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))  # fmt: skip
    assert drop_paper_results_outputs(path) == 1
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["outputs"] == [] and cells[0]["execution_count"] is None
    assert cells[1]["outputs"] and drop_paper_results_outputs(path) == 0
