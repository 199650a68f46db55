"""Phase-collapse statistics: η², the decoders and the verdict rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moegauge.studies.coactivation import phase


@settings(max_examples=50)
@given(st.integers(2, 8), st.integers(0, 10_000))
def test_eta_squared_bounds_and_extremes(groups, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, groups, size=400)
    x = rng.normal(size=(400, 5))
    e = phase.eta_squared(x, labels)
    assert 0.0 <= e <= 1.0
    centroids = rng.normal(size=(groups, 5)) * 10
    assert phase.eta_squared(centroids[labels], labels) == pytest.approx(1.0)  # no within-group variance
    # random labels: E η² = (G − 1)/(n − 1) for i.i.d. rows
    null = np.mean([phase.eta_squared(x, rng.integers(0, groups, size=400)) for _ in range(200)])
    assert null == pytest.approx((groups - 1) / 399, rel=0.35)


def test_decoders_read_separable_labels_and_not_shuffled_ones():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(6, 20)) * 3
    y_fit, y_test = rng.integers(0, 6, 600), rng.integers(0, 6, 600)
    x_fit = centers[y_fit] + rng.normal(size=(600, 20))
    x_test = centers[y_test] + rng.normal(size=(600, 20))
    for fn in (phase.logistic_accuracy, phase.nearest_centroid_accuracy):
        assert fn(x_fit, y_fit, x_test, y_test) > 0.95
        assert fn(x_fit, rng.permutation(y_fit), x_test, y_test) < 0.35
    # deterministic: the same inputs give the same accuracy
    assert phase.logistic_accuracy(x_fit, y_fit, x_test, y_test) == phase.logistic_accuracy(x_fit, y_fit, x_test, y_test)


def _cells(eta, null_mean, null_max, n=8):
    return [{"eta2": eta, "null_mean": null_mean, "null_max": null_max} for _ in range(n)]


def test_verdict_rules():
    present = phase.verdicts(_cells(0.05, 0.003, 0.004), [{"retained_learned": 0.6}, {"retained_learned": 0.55}])
    assert present["phase_collapse_present"] and present["one_bit_destroys_routing"] == "falsified"
    absent = phase.verdicts(_cells(0.0031, 0.003, 0.004), [{"retained_learned": 0.05}, {"retained_learned": 0.02}])
    assert not absent["phase_collapse_present"] and absent["one_bit_destroys_routing"] == "supported"
    mixed = phase.verdicts(_cells(0.05, 0.003, 0.004), [{"retained_learned": 0.6}, {"retained_learned": 0.3}])
    assert mixed["one_bit_destroys_routing"] == "mixed"
    assert "present" in present["sentence"] and "absent" in absent["sentence"]
