import math

import numpy as np
import pytest

from analog_tt.core.stats import mean_ci95, verdict


def test_mean_ci95_matches_hand_computation():
    # n = 4, mean 2.5, s = sqrt(5/3); t_{0.975,3} = 3.182446305284263
    mean, half, n = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert n == 4
    assert mean == pytest.approx(2.5)
    assert half == pytest.approx(3.182446305284263 * math.sqrt(5 / 3) / 2, rel=1e-9)


def test_mean_ci95_single_value_has_nan_half_width():
    mean, half, n = mean_ci95(np.array([0.85]))
    assert (mean, n) == (0.85, 1)
    assert math.isnan(half)


def test_mean_ci95_zero_spread():
    assert mean_ci95([0.5, 0.5, 0.5]) == (0.5, 0.0, 3)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_mean_ci95_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        mean_ci95(bad)


def test_verdict():
    assert verdict(0.84, 0.02, 0.85) == "indistinguishable"
    assert verdict(0.75, 0.25, 1.0) == "indistinguishable"  # closed interval (exact floats)
    assert verdict(0.90, 0.02, 0.85) == "better"
    assert verdict(0.70, 0.02, 0.85) == "worse"
    assert verdict(0.30, 0.02, 0.39, higher_is_better=False) == "better"
    assert verdict(0.70, float("nan"), 0.85) == "indistinguishable"


def test_verdict_rejects_bad_input():
    with pytest.raises(ValueError):
        verdict(0.8, -0.1, 0.85)
    with pytest.raises(ValueError):
        verdict(float("nan"), 0.1, 0.85)


def test_welch_summary_is_welch_on_the_runs_it_summarises():
    from analog_tt.core.stats import welch, welch_summary

    ours = [0.70, 0.72, 0.69, 0.74, 0.71]
    theirs = [0.85, 0.80, 0.88, 0.79, 0.86, 0.84, 0.90, 0.83, 0.81, 0.87]
    summary = welch_summary(ours, float(np.mean(theirs)), float(np.std(theirs, ddof=1)), 10)
    runs = welch(ours, theirs)
    assert summary.keys() == runs.keys()
    for key, value in runs.items():
        expected = value if isinstance(value, str) else pytest.approx(value, rel=1e-12)
        assert summary[key] == expected, key
    assert summary["verdict"] == "lower"


@pytest.mark.parametrize(
    ("ours", "mean", "sd", "n"),
    [([0.7], 0.8, 0.05, 10), ([0.7, 0.8], 0.8, 0.05, 1), ([0.7, 0.8], 0.8, -0.1, 10),
     ([0.7, float("nan")], 0.8, 0.05, 10), ([0.7, 0.8], float("inf"), 0.05, 10)],
)  # fmt: skip
def test_welch_summary_rejects_what_it_cannot_test(ours, mean, sd, n):
    from analog_tt.core.stats import welch_summary

    with pytest.raises(ValueError):
        welch_summary(ours, mean, sd, n)


def test_slope_matches_scipy_linregress():
    from scipy import stats as sps

    from analog_tt.core.stats import slope

    rng = np.random.default_rng(3)
    x = np.repeat([0.0, 3.0, 5.0], 4)
    y = 33 + 4.5 * x + rng.normal(0, 3, x.size)
    got = slope(x, y)
    ref = sps.linregress(x, y)
    assert got["slope"] == pytest.approx(ref.slope, rel=1e-12)
    assert got["se"] == pytest.approx(ref.stderr, rel=1e-12)
    half = sps.t.ppf(0.975, x.size - 2) * ref.stderr
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ref.slope - half, ref.slope + half))
    assert got["trend"] == "grows" and got["n"] == 12 and got["dof"] == 10


def test_slope_ci_covers_the_true_slope_95_percent_of_the_time():
    """Coverage over 4000 simulated campaigns of 3 seeds at N = 1, 8, 32 (x = log2 N)."""
    from analog_tt.core.stats import slope

    rng = np.random.default_rng(0)
    x = np.repeat(np.log2([1, 8, 32]), 3)
    covered = [
        (f := slope(x, 40 + 2.0 * x + rng.normal(0, 5, x.size)))["ci_low"] <= 2.0 <= f["ci_high"]
        for _ in range(4000)
    ]
    assert 0.94 <= np.mean(covered) <= 0.96  # binomial sd of the rate: 0.0034


def test_slope_flat_data_shows_no_trend_and_rejects_what_it_cannot_fit():
    from analog_tt.core.stats import slope

    assert slope([0, 0, 3, 3], [30, 32, 31, 31])["trend"] == "no trend detected"
    assert slope([0, 0, 3, 3], [40, 41, 30, 31])["trend"] == "falls"
    with pytest.raises(ValueError, match="2 or more distinct x"):
        slope([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 3 runs"):
        slope([0, 1], [1, 2])
    with pytest.raises(ValueError, match="one y per x"):
        slope([0, 1, 2], [1, 2])
    with pytest.raises(ValueError, match="non-finite"):
        slope([0, 1, 2], [1, float("nan"), 2])


def test_slope_difference_tells_apart_slopes_that_differ_and_not_ones_that_agree():
    from analog_tt.core.stats import slope, slope_difference

    rng = np.random.default_rng(1)
    x = np.repeat(np.log2([1, 4, 8, 16, 32]), 5)
    paper = slope(x, 33 + 7 * x + rng.normal(0, 3, x.size))
    same = slope(x, 33 + 7 * x + rng.normal(0, 3, x.size))
    flat = slope(x, 36 + 0 * x + rng.normal(0, 3, x.size))
    assert slope_difference(same, paper)["verdict"] == "indistinguishable"
    d = slope_difference(flat, paper)
    assert d["verdict"] == "smaller" and d["ci_low"] <= -7 <= d["ci_high"] < 0  # true: -7
    assert d["difference"] == pytest.approx(flat["slope"] - paper["slope"])
