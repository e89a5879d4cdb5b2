"""Which outputs a committed notebook keeps.

The committed notebooks are executed with the smoke profile (``make notebooks``): nbval compares
their checked cells against that run. Some cells also read the committed *paper-profile* runs
(``data/results/paper``), which grow as the campaign lands runs, without any notebook being
re-run; their outputs would go stale (a Figure 2 plot with fewer N than the figure file). Those
cells carry the cell tag :data:`PAPER_RESULTS_TAG`; a committed notebook keeps none of their
outputs. Their figures and tables are files under ``figures/``, rewritten by ``make reproduce``
from the results, and the cell shows them when run in Lab.

``python -m analog_tt.report.committed_outputs NOTEBOOK...`` drops those outputs (``make
notebooks`` does it after executing each notebook).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ..core.files import atomic_write_text

__all__ = ["PAPER_RESULTS_TAG", "drop_paper_results_outputs", "reads_paper_results"]

PAPER_RESULTS_TAG = "paper-results"

#: Source patterns of a cell that reads the paper profile's results.
_PAPER_READS = re.compile(
    r'load_results\(\s*"paper"'
    r'|/\s*"paper"\s*/'
    r'|\(\s*"paper"\s*,\s*results_root'
    r'|claims_ledger\(\s*results_root\s*,\s*"paper"'
    r'|\["profile"\]\s*==\s*"paper"'
)


def reads_paper_results(source: str) -> bool:
    """Whether a code cell's ``source`` reads the paper profile's results, by its patterns.

    A cell that uses such results only through a variable (e.g. notebook 07's ``measured``) is
    not found this way: tag it by hand.
    """
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    return bool(_PAPER_READS.search(code))


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def drop_paper_results_outputs(path: str | Path) -> int:
    """Drop the outputs of the cells tagged :data:`PAPER_RESULTS_TAG` in the notebook at ``path``.

    Returns
    -------
    int
        The number of cells whose outputs were dropped (the file is rewritten only if > 0).
    """
    path = Path(path)
    notebook = json.loads(path.read_text())
    dropped = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and PAPER_RESULTS_TAG in _tags(cell):
            if cell.get("outputs") or cell.get("execution_count") is not None:
                cell["outputs"], cell["execution_count"] = [], None
                dropped += 1
    if dropped:
        atomic_write_text(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return dropped


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(
            f"{name}: outputs of {drop_paper_results_outputs(name)} paper-results cell(s) dropped"
        )
