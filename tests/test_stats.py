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
