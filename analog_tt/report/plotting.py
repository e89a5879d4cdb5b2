"""Plotting helpers shared by the notebooks.

Each function is independent (no module state); figures are matplotlib ``Figure`` objects.
Import matplotlib lazily so that ``import analog_tt`` does not need a display backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["accuracy_errorbar", "chance_line", "draw_replica_frame", "heatmap", "phase_portrait"]

# Saving and stamping figures with their profile and sources: analog_tt.report.artifacts.save_figure.


def accuracy_errorbar(
    ax: Any,
    x: Sequence[float],
    mean: Sequence[float],
    ci: Sequence[float],
    *,
    seeds: Sequence[Sequence[float]] | None = None,
    limits: tuple[float, float] = (0.0, 1.0),
    **style: Any,
) -> bool:
    """Mean ± 95 % CI of an accuracy per ``x``, with every seed's value and the cuts marked.

    A CI past ``limits`` (the frame: two seeds give wide Student-t intervals) is cut there and
    the cut marked with ▲ (top) or ▼ (bottom) in the line's colour. With ``seeds``
    (one sequence of per-seed values per ``x``) each seed is drawn as a small hollow point.

    Parameters
    ----------
    ax : matplotlib Axes
    x, mean, ci : sequences of float, length n
        Positions, means and CI half-widths (NaN: no CI, one seed).
    seeds : sequence of n sequences of float, optional
    limits : (low, high)
        Where bars are cut: the axes' y limits, or the quantity's range (``(0, 1)``).
    **style
        Passed to ``Axes.errorbar`` (``fmt``, ``color``, ``label``, ...).

    Returns
    -------
    bool
        Whether any CI was cut (to say so in the caption or axis label).
    """
    x = np.asarray(x, dtype=float)
    mean = np.asarray(mean, dtype=float)
    half = np.nan_to_num(np.asarray(ci, dtype=float))
    if not (len(x) == len(mean) == len(half)):
        raise ValueError(
            f"x, mean and ci must have one length, got {len(x)}, {len(mean)}, {len(half)}"
        )
    low, high = np.clip(mean - half, *limits), np.clip(mean + half, *limits)
    style.setdefault("capsize", 3)
    line = ax.errorbar(x, mean, yerr=[mean - low, high - mean], **style)
    color = line[0].get_color()
    cut_high, cut_low = mean + half > limits[1], mean - half < limits[0]
    for cut, edge, marker in ((cut_high, limits[1], "^"), (cut_low, limits[0], "v")):
        if cut.any():  # an empty unclipped line would confuse tight_layout's bounding boxes
            ax.plot(x[cut], np.full(cut.sum(), edge), marker, color=color, ms=6, clip_on=False)
    if seeds is not None:
        if len(seeds) != len(x):
            raise ValueError(f"seeds needs one sequence per x ({len(x)}), got {len(seeds)}")
        for xi, values in zip(x, seeds, strict=True):
            ax.plot([xi] * len(values), values, "o", color=color, mfc="none", ms=3.5, alpha=0.6)
    return bool(cut_high.any() or cut_low.any())


def chance_line(ax: Any, value: float, what: str) -> None:
    """A labelled horizontal line at chance accuracy ``value`` (``what``: e.g. "3 classes")."""
    ax.axhline(value, color="0.6", lw=0.8, ls="--", label=f"chance ({what}: {value:.2f})")


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
    """Trajectory in the (A, C) plane, coloured by step, with start (o) and end (*) marked.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    a, c : ndarray, shape (T,)
        Fast weight A and slow weight C over time, one value per step.

    Returns
    -------
    matplotlib.collections.LineCollection
        Its colour array is the step of each segment (0 .. T - 2): pass it to
        ``fig.colorbar(..., label="step")``.
    """
    from matplotlib.collections import LineCollection

    a = np.asarray(a, dtype=float)
    c = np.asarray(c, dtype=float)
    if a.shape != c.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"a and c must be 1-D of equal length >= 2, got {a.shape}, {c.shape}")
    pts = np.stack([a, c], axis=1)
    segs = np.stack([pts[:-1], pts[1:]], axis=1)
    lc = LineCollection(segs, cmap=cmap, label=label)
    lc.set_array(np.arange(len(segs), dtype=float))
    ax.add_collection(lc)
    ax.plot(a[0], c[0], "o", color="tab:red", ms=5, label="start")
    ax.plot(a[-1], c[-1], "*", color="black", ms=9, label="end")
    ax.autoscale()
    ax.set_xlabel("fast weight A")
    ax.set_ylabel("slow weight C")
    return lc


def draw_replica_frame(
    ax_phase: Any | None, traj: dict[str, Any], upto: int, ax_loss: Any | None = None
) -> None:
    """Draw the two-replica demo up to epoch ``upto``: phase plane and (optionally) loss.

    ``ax_phase``: every replica's trajectory in the (A, C_i) plane (with ``shared_A`` all
    replicas share A), the replica average (the model) and the target weight. ``ax_loss``: the
    loss of the averaged weight up to ``upto``.

    Parameters
    ----------
    ax_phase : matplotlib Axes or None
        ``None`` draws the loss only.
    traj : dict
        Output of :func:`analog_tt.runs.demos.one_weight_regression`.
    upto : int
        Last epoch drawn (clipped to ``0 .. epochs``).
    ax_loss : matplotlib Axes, optional
    """
    reps = np.asarray(traj["replicas"])
    fast = np.asarray(traj["fast"])
    avg = np.asarray(traj["average"])
    loss = np.asarray(traj["loss"])
    s = traj["settings"]
    upto = int(min(max(upto, 0), len(avg) - 1))
    sl = slice(0, upto + 1)
    if ax_phase is not None:
        _draw_phase(ax_phase, reps, fast, avg, s, sl, upto)
    if ax_loss is not None:
        epochs_axis = np.arange(len(loss))
        ax_loss.plot(epochs_axis[sl], loss[sl], color="C3")
        ax_loss.set(
            xlim=(0, len(loss) - 1),
            ylim=(0, float(loss.max()) * 1.05),
            xlabel="epoch",
            ylabel="MSE of the averaged weight",
            title="loss",
        )


def _draw_phase(
    ax_phase: Any, reps: Any, fast: Any, avg: Any, s: dict, sl: slice, upto: int
) -> None:
    for i in range(reps.shape[1]):
        a = fast[:, 0] if fast.shape[1] == 1 else fast[:, i]
        (line,) = ax_phase.plot(a[sl], reps[sl, i], lw=1.2, label=f"replica C{i + 1}")
        ax_phase.plot(a[upto], reps[upto, i], "o", color=line.get_color(), ms=6)
    a_mean = fast.mean(axis=1)
    ax_phase.plot(a_mean[sl], avg[sl], "k--", lw=1.0, label="average (the model)")
    ax_phase.plot(a_mean[upto], avg[upto], "k*", ms=10)
    ax_phase.axhline(s["slope"], color="0.5", ls=":", lw=1, label=f"target w = {s['slope']}")
    lim_a = max(0.05, float(np.abs(fast).max()) * 1.1)
    lo = min(float(reps.min()), s["slope"]) - 0.05
    hi = max(float(reps.max()), s["slope"]) + 0.05
    ax_phase.set(
        xlim=(-lim_a, lim_a),
        ylim=(lo, hi),
        xlabel="gradient tile A (fast weight)",
        ylabel="replica weight C_i (slow)",
        title=f"epoch {upto}",
    )
    ax_phase.legend(fontsize=7, loc="upper left")
