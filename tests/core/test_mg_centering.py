"""Named DC-mean centerings and the norm decomposition they rest on."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from moegauge import theorems as th
from moegauge.centering import CENTERINGS, center, normalise_centering, per_channel_mean, per_vector_mean

_finite = st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False)


def test_per_channel_centering_uses_token_means():
    keys = torch.randn(50, 3, 8, dtype=torch.float64) + torch.arange(8, dtype=torch.float64)
    c = center(keys, "per_channel")
    assert c.offset.shape == (8,)
    assert torch.allclose(c.offset, keys.reshape(-1, 8).mean(0))
    assert c.values.reshape(-1, 8).mean(0).abs().max() < 1e-12
    assert torch.equal(c.restore(), c.values + c.offset)
    assert torch.allclose(c.restore(), keys, atol=1e-12)
    # A calibration mean applied to other keys.
    other = torch.randn(7, 8, dtype=torch.float64)
    assert torch.allclose(center(other, "per_channel", mean=c.offset).values, other - c.offset)
    with pytest.raises(ValueError):
        center(other, "per_channel", mean=torch.zeros(5))


def test_per_vector_centering_and_none():
    keys = torch.randn(6, 10, dtype=torch.float64) + 3.0
    c = center(keys, "per_vector")
    assert c.offset.shape == (6, 1)
    assert torch.allclose(c.offset, per_vector_mean(keys))
    assert c.values.sum(-1).abs().max() < 1e-12
    assert torch.allclose(c.restore(), keys)
    n = center(keys, "none")
    assert torch.equal(n.values, keys) and torch.equal(n.offset, torch.zeros(10, dtype=torch.float64))
    with pytest.raises(ValueError):
        center(keys, "per_vector", mean=torch.zeros(10))
    with pytest.raises(ValueError):
        center(keys, "bogus")
    assert per_channel_mean(keys).shape == (10,)


def test_centering_names():
    assert CENTERINGS == ("none", "per_channel", "per_vector")
    assert normalise_centering(True) == "per_channel"
    assert normalise_centering(False) == "none"
    assert normalise_centering("per_vector") == "per_vector"
    with pytest.raises(ValueError):
        normalise_centering("sideways")


@given(hnp.arrays(np.float64, st.integers(1, 64), elements=_finite))
def test_dc_mean_decomposition_norm(a):
    """Shadows MoEGauge.dc_mean_decomposition_norm: k = μ·e + v with e = 1/√d, v ⟂ e, so
    ‖k‖² = μ² + ‖v‖² (μ = √d·mean(k))."""
    assert th.DC_MEAN_DECOMPOSITION_NORM in th.ALL_THEOREMS
    k = torch.from_numpy(a)
    d = k.shape[-1]
    c = center(k, "per_vector")
    mu = math.sqrt(d) * float(c.offset)
    e = torch.full((d,), 1 / math.sqrt(d), dtype=torch.float64)
    scale = float(k @ k) + 1.0
    assert abs(float(c.values @ e)) <= 1e-12 * math.sqrt(scale)
    assert abs(float(k @ k) - (mu * mu + float(c.values @ c.values))) <= 1e-12 * scale
