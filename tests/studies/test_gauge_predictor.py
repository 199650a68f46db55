"""The gauge-predictor study's parts: Spearman ρ, the one-head 1-bit cache and the scale symmetry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from moegauge.lm.capture import capture_batch
from moegauge.moments import head_moments
from moegauge.studies.gauge.predictor import OneHeadOneBitCache, average_ranks, gauge_of, scaled_qk, spearman


@settings(max_examples=60)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=30), st.integers(0, 1000))
def test_spearman_is_rank_only_and_bounded(xs, seed):
    x = np.array(xs)
    y = np.random.default_rng(seed).normal(size=x.size)
    r = spearman(x, y)
    assert -1 - 1e-12 <= r <= 1 + 1e-12
    assert spearman(average_ranks(x), y) == pytest.approx(r, abs=1e-9)  # only the ranks matter
    if np.unique(x).size == x.size:
        assert spearman(x, x) == pytest.approx(1.0)
        assert spearman(x, -x) == pytest.approx(-1.0)


def test_one_head_cache_quantizes_only_its_head():
    cache = OneHeadOneBitCache(0, [1])
    k = torch.randn(2, 3, 5, 4)
    v = torch.randn(2, 3, 5, 4)
    kk, vv = cache.update(k, v, 0)
    assert torch.equal(kk[:, 0], k[:, 0]) and torch.equal(kk[:, 2], k[:, 2]) and torch.equal(vv, v)
    assert torch.allclose(kk[:, 1].abs(), k[:, 1].abs().mean(-1, keepdim=True).expand_as(k[:, 1]))
    assert torch.equal(torch.sign(kk[:, 1]), torch.sign(k[:, 1]))


@pytest.mark.parametrize("arch", ["olmoe", "mixtral"])
def test_scale_symmetry_keeps_logits_and_moves_g_by_c_squared(arch, tiny_models):
    byte_batch = torch.randint(0, 256, (2, 24), generator=torch.Generator().manual_seed(0))
    model = tiny_models[arch]
    with torch.no_grad():
        plain = model(input_ids=byte_batch, use_cache=False).logits
        k0 = capture_batch(model, byte_batch, ("k_post_rope",))["layer0.k_post_rope"]
        with scaled_qk(model, 2.0):
            scaled = model(input_ids=byte_batch, use_cache=False).logits
            k1 = capture_batch(model, byte_batch, ("k_post_rope",))["layer0.k_post_rope"]
        after = model(input_ids=byte_batch, use_cache=False).logits
    assert (scaled - plain).abs().max() < 1e-3 and torch.equal(after, plain)  # exact up to rounding; restored
    assert torch.allclose(k1, k0 / 2.0, atol=1e-5)
    m0, m1 = head_moments(k0), head_moments(k1)
    g0 = gauge_of(m0.variance.numpy(), m0.excess_kurtosis.numpy())
    g1 = gauge_of(m1.variance.numpy(), m1.excess_kurtosis.numpy())
    live = g0 > 0
    assert np.allclose(g1[live], 4.0 * g0[live], rtol=1e-3)  # MoEGauge.gauge_scale_covariance
    assert np.allclose(m1.excess_kurtosis.numpy(), m0.excess_kurtosis.numpy(), atol=1e-4)
