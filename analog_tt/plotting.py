"""Plotting helpers shared by the notebooks.

Each function is independent (no module state); figures are matplotlib ``Figure`` objects.
Import matplotlib lazily so that ``import analog_tt`` does not need a display backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["heatmap", "phase_portrait"]

# Saving and stamping figures with their profile and sources: analog_tt.artifacts.save_figure.


def heatmap(
    ax: Any,
    values: np.ndarray,
    row_labels: Sequence[Any],
    col_labels: Sequence[Any],
    *,
    errors: np.ndarray | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
    fmt: str = "{:.2f}",
    xlabel: str = "",
    ylabel: str = "",
) -> Any:
    """Annotated heat map of a 2-D array (rows top to bottom, columns left to right).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    values : ndarray, shape (n_rows, n_cols)
    row_labels, col_labels : sequences of length n_rows / n_cols
    errors : ndarray, shape (n_rows, n_cols), optional
        Printed as ``± e`` under each value (e.g. 95 % CI half-widths); NaN is skipped.

    Returns
    -------
    matplotlib.image.AxesImage
    """
    values = np.asarray(values, dtype=float)
    if values.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"values has shape {values.shape}, labels give {(len(row_labels), len(col_labels))}"
        )
    im = ax.imshow(values, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    lo, hi = im.get_clim()
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            text = fmt.format(v)
            if errors is not None and np.isfinite(errors[i, j]):
                text += "\n± " + fmt.format(errors[i, j])
            light = (v - lo) / (hi - lo + 1e-12) < 0.5
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if light else "black",
            )
    return im


def phase_portrait(
    ax: Any, a: np.ndarray, c: np.ndarray, *, cmap: str = "viridis", label: str | None = None
) -> Any:
    """Trajectory in the (A, C) plane, coloured by time, with start (o) and end (*) marked.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    a, c : ndarray, shape (T,)
        Fast weight A and slow weight C over time.

    Returns
    -------
    matplotlib.collections.LineCollection
    """
    from matplotlib.collections import LineCollection

    a = np.asarray(a, dtype=float)
    c = np.asarray(c, dtype=float)
    if a.shape != c.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"a and c must be 1-D of equal length >= 2, got {a.shape}, {c.shape}")
    pts = np.stack([a, c], axis=1)
    segs = np.stack([pts[:-1], pts[1:]], axis=1)
    lc = LineCollection(segs, cmap=cmap, label=label)
    lc.set_array(np.linspace(0.0, 1.0, len(segs)))
    ax.add_collection(lc)
    ax.plot(a[0], c[0], "o", color="tab:red", ms=5)
    ax.plot(a[-1], c[-1], "*", color="black", ms=9)
    ax.autoscale()
    ax.set_xlabel("fast weight A")
    ax.set_ylabel("slow weight C")
    return lc
