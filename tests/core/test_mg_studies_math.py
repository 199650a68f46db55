"""Packed-sign scores, participation ratio and the QJL estimator."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from moegauge.moments import covariance_spectrum, effective_rank, participation_ratio
from moegauge.qjl import qjl_inner_product, qjl_projections, qjl_sign_products
from moegauge.signquant import pack_signs, packed_sign_scores, quantize, unpack_signs


@given(st.integers(1, 130), st.integers(0, 2**31 - 1))
def test_packed_sign_scores_equal_the_unpacked_dot_product(d, seed):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(4, 3, d, generator=g)
    q = torch.randn(d, generator=g)
    bits = quantize(keys).bits
    expected = unpack_signs(bits, d, torch.float64) @ q.to(torch.float64)
    torch.testing.assert_close(packed_sign_scores(bits, q, d), expected, rtol=1e-12, atol=1e-9)


def test_packed_sign_scores_sign_zero_is_plus_one():
    x = torch.tensor([0.0, -1.0, 2.0])
    q = torch.tensor([1.0, 10.0, 100.0])
    assert float(packed_sign_scores(pack_signs(x), q, 3)) == 1.0 - 10.0 + 100.0


def test_packed_sign_scores_refuses_bad_shapes():
    bits = pack_signs(torch.ones(9))
    with pytest.raises(ValueError, match="bytes"):
        packed_sign_scores(bits, torch.ones(20), 20)
    with pytest.raises(ValueError, match="coordinates"):
        packed_sign_scores(bits, torch.ones(8), 9)
    with pytest.raises(TypeError):
        packed_sign_scores(bits.to(torch.int32), torch.ones(9), 9)


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50))
def test_participation_ratio_between_one_and_rank(spectrum):
    lam = torch.tensor(spectrum, dtype=torch.float64)
    if float((lam * lam).sum()) == 0:
        with pytest.raises(ValueError):
            participation_ratio(lam)
        return
    pr = participation_ratio(lam)
    assert 1 - 1e-9 <= pr <= int((lam != 0).sum()) + 1e-9


def test_participation_ratio_extremes_and_refusals():
    assert participation_ratio([4.0, 4.0, 4.0, 0.0]) == pytest.approx(3.0)
    assert participation_ratio([0.0, 7.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        participation_ratio([1.0, -0.5])
    with pytest.raises(ValueError):
        participation_ratio([])


def test_effective_rank_of_isotropic_and_rank_two_data():
    g = torch.Generator().manual_seed(0)
    iso = torch.randn(20_000, 8, generator=g, dtype=torch.float64)
    assert effective_rank(iso) == pytest.approx(8.0, rel=0.02)
    low = torch.randn(500, 2, generator=g, dtype=torch.float64) @ torch.randn(2, 8, generator=g, dtype=torch.float64)
    assert 1.0 <= effective_rank(low) <= 2.0 + 1e-6
    assert int((covariance_spectrum(low) > 1e-9).sum()) == 2


def test_qjl_estimator_is_unbiased_at_its_scale():
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(2, 16, generator=g, dtype=torch.float64)
    proj = qjl_projections(200_000, 16, seed=11)
    terms = qjl_sign_products(q, k, proj)
    se = float(terms.std()) / math.sqrt(terms.numel())
    assert abs(float(terms.mean()) - math.sqrt(2 / math.pi) * float(q @ k) / float(k.norm())) < 5 * se
    assert qjl_inner_product(q, k, proj) == pytest.approx(float(q @ k), abs=5 * se * math.sqrt(math.pi / 2) * float(k.norm()))
