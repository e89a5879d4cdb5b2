"""Shared plot helpers: CIs cut at the frame are marked, seeds drawn, colour bars meaningful."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from analog_tt.report.plotting import accuracy_errorbar, chance_line, phase_portrait  # noqa: E402


def _markers(ax, marker):
    return [line for line in ax.lines if line.get_marker() == marker]


def test_a_ci_past_the_frame_is_cut_there_and_marked():
    fig, ax = plt.subplots()
    cut = accuracy_errorbar(ax, [1, 2, 3], [0.5, 0.9, 0.3], [0.1, 0.3, 0.2], limits=(0.25, 1.0),
                            seeds=[[0.45, 0.55], [0.8, 1.0], [0.2, 0.4]], fmt="-o")  # fmt: skip
    assert cut
    (top,), (bottom,) = _markers(ax, "^"), _markers(ax, "v")
    assert list(top.get_xdata()) == [2.0] and list(top.get_ydata()) == [1.0]
    assert list(bottom.get_xdata()) == [3.0] and list(bottom.get_ydata()) == [0.25]
    bars = ax.containers[0][2][0].get_segments()  # the error bars, cut at the frame
    assert [tuple(np.round(s[:, 1], 6)) for s in bars] == [(0.4, 0.6), (0.6, 1.0), (0.25, 0.5)]
    seeds = [
        line for line in ax.lines if line.get_marker() == "o" and line.get_linestyle() == "None"
    ]
    assert sorted(len(line.get_xdata()) for line in seeds) == [2, 2, 2]
    assert not accuracy_errorbar(ax, [1], [0.5], [np.nan])  # one seed: no CI, nothing cut
    with pytest.raises(ValueError, match="one sequence per x"):
        accuracy_errorbar(ax, [1, 2], [0.5, 0.6], [0.1, 0.1], seeds=[[0.5]])
    chance_line(ax, 1 / 3, "3 classes")
    assert ax.get_legend_handles_labels()[1][-1] == "chance (3 classes: 0.33)"
    plt.close(fig)


def test_phase_portrait_colours_by_step():
    fig, ax = plt.subplots()
    lc = phase_portrait(ax, np.linspace(0, 1, 11), np.linspace(1, 0, 11))
    assert list(lc.get_array()) == list(range(10))
    assert {line.get_label() for line in ax.lines} == {"start", "end"}
    plt.close(fig)
