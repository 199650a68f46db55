"""Moment ratio, one-bit cosine, per-head moments and the gauge.

Tolerances for sampled laws are derived, not tuned: an estimate is accepted within Z standard errors
of its exact value, the SE coming from the CLT + delta method (moegauge.moments.*_se_*). With Z = 5 a
correct implementation fails a given check with probability ≈ 6e-7; the seeds are fixed anyway, so a
failure means the code (or the SE formula) is wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, target
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from moegauge import theorems as th
from moegauge.moments import (
    GAUSSIAN_BETA,
    beta_moment_ratio,
    beta_se_from_moments,
    beta_standard_error,
    excess_kurtosis_se_from_moments,
    gauge_from_moments,
    gauge_G,
    head_moments,
    one_bit_cosine,
    variance_se_from_moments,
)
from moegauge.synthetic import KNOWN_LAWS, iid_samples

Z = 5.0

# Magnitudes in [1e-6, 1e6] (or exactly 0): squares stay far from float64 under/overflow.
_magnitude = st.one_of(st.just(0.0), st.floats(1e-6, 1e6))
_coordinate = st.builds(lambda m, neg: -m if neg else m, _magnitude, st.booleans())
vectors = hnp.arrays(np.float64, st.integers(1, 48), elements=_coordinate).filter(lambda a: np.any(a != 0))

# Absolute moments E|X|^k, k = 1..4, of the unit-scale laws in moegauge.synthetic (closed forms).
ABS_MOMENTS = {
    "gaussian": (math.sqrt(2 / math.pi), 1.0, 2 * math.sqrt(2 / math.pi), 3.0),
    "laplace": (1.0, 2.0, 6.0, 24.0),  # E|X|^k = k!
    "uniform": (1 / 2, 1 / 3, 1 / 4, 1 / 5),  # E|X|^k = 1/(k+1)
}
# Even central moments μ2, μ4, μ6, μ8 of the same laws.
EVEN_MOMENTS = {
    "gaussian": (1.0, 3.0, 15.0, 105.0),
    "laplace": (2.0, 24.0, 720.0, 40320.0),
    "uniform": (1 / 3, 1 / 5, 1 / 7, 1 / 9),
}


@given(vectors)
def test_beta_at_most_one(a):
    """Shadows MoEGauge.moment_ratio_le_one: 0 < β ≤ 1; Hypothesis is steered toward β → 1."""
    assert th.MOMENT_RATIO_LE_ONE in th.ALL_THEOREMS
    beta = float(beta_moment_ratio(torch.from_numpy(a)))
    target(beta)
    assert 0.0 < beta <= 1.0 + 1e-12


@given(vectors)
def test_beta_gap_is_relative_variance_of_abs(a):
    """1 − β = Var|x| / E[x²] exactly, so β = 1 iff |x| is constant (the 'iff' of the theorem)."""
    x = torch.from_numpy(a)
    gap = 1.0 - float(beta_moment_ratio(x))
    ax = np.abs(a)
    expected = ax.var() / np.mean(a * a)
    assert gap == pytest.approx(expected, abs=1e-12)


@given(st.integers(1, 64), st.floats(1e-6, 1e6), st.data())
def test_beta_is_one_on_the_sign_lattice(d, c, data):
    signs = data.draw(hnp.arrays(np.float64, d, elements=st.sampled_from([-1.0, 1.0])))
    x = torch.from_numpy(c * signs)
    assert float(beta_moment_ratio(x)) == pytest.approx(1.0, abs=1e-14)
    assert float(one_bit_cosine(x)) == pytest.approx(1.0, abs=1e-14)


@given(vectors)
def test_one_bit_cosine_is_cosine_with_sign(a):
    """Shadows MoEGauge.cos_sign_quant_formula: ‖x‖₁/(√d‖x‖₂) = cos(x, s) for s = sign(x) ∈ {±1}^d."""
    x = torch.from_numpy(a)
    s = torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    cos = float(x @ s / (x.norm() * s.norm()))
    c = float(one_bit_cosine(x))
    target(c)
    assert c == pytest.approx(cos, rel=1e-12, abs=1e-15)
    assert 0.0 < c <= 1.0 + 1e-12


@given(vectors)
def test_cosine_squared_is_the_vectors_own_beta(a):
    """Units: c(x)² = β of x's own coordinates (β is the square of the cosine form, not the cosine)."""
    x = torch.from_numpy(a)
    assert float(one_bit_cosine(x)) ** 2 == pytest.approx(float(beta_moment_ratio(x, dim=-1)), rel=1e-12)


def test_beta_dim_and_batching():
    x = torch.randn(4, 5, 6, dtype=torch.float64)
    per_row = beta_moment_ratio(x, dim=-1)
    assert per_row.shape == (4, 5)
    assert torch.allclose(per_row[1, 2], beta_moment_ratio(x[1, 2]))
    assert beta_moment_ratio(x, dim=0).shape == (5, 6)
    assert beta_moment_ratio(x).shape == ()
    assert one_bit_cosine(x).shape == (4, 5)
    # Integer and half inputs are accepted and widened.
    assert beta_moment_ratio(torch.tensor([1, -1, 1])).dtype == torch.float64
    assert one_bit_cosine(torch.ones(8, dtype=torch.float16)).dtype == torch.float32
    assert math.isnan(float(beta_moment_ratio(torch.zeros(3))))


def test_beta_is_differentiable():
    x = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    one_bit_cosine(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("law", sorted(KNOWN_LAWS))
def test_known_laws_give_known_beta(law):
    """Gaussian 2/π (MoEGauge.gaussian_moment_ratio_floor_eq), Laplace 1/2, uniform 3/4, within
    Z delta-method SEs at n = 400 000."""
    n = 400_000
    expected, _ = KNOWN_LAWS[law]
    x = iid_samples(law, (n,), seed=11)
    se = beta_se_from_moments(*ABS_MOMENTS[law], n)
    assert abs(float(beta_moment_ratio(x)) - expected) <= Z * se
    # The data-driven (cluster) SE agrees with the closed form to sampling precision.
    assert beta_standard_error(x.reshape(-1, 1)) == pytest.approx(se, rel=0.05)
    if law == "gaussian":
        assert expected == pytest.approx(GAUSSIAN_BETA)


@pytest.mark.parametrize("law", sorted(KNOWN_LAWS))
def test_head_moments_of_known_laws(law):
    """Pooled per-head σ² and κ match the law within Z SEs (Gaussian κ 0, uniform −1.2, Laplace 3)."""
    tokens, heads, hd = 4096, 2, 32
    keys = iid_samples(law, (tokens, heads, hd), seed=3)
    hm = head_moments(keys)
    mu2, mu4, mu6, mu8 = EVEN_MOMENTS[law]
    n = tokens * hd
    _, kappa = KNOWN_LAWS[law]
    assert (hm.variance - mu2).abs().max() <= Z * variance_se_from_moments(mu2, mu4, n)
    assert (hm.excess_kurtosis - kappa).abs().max() <= Z * excess_kurtosis_se_from_moments(mu2, mu4, mu6, mu8, n)


def test_head_moments_match_numpy_and_reductions_differ_on_dc_offsets():
    gen = torch.Generator().manual_seed(5)
    keys = torch.randn(200, 3, 8, generator=gen, dtype=torch.float64)
    keys[:, :, 0] += 10.0  # a DC offset on one channel of every head
    hm = head_moments(keys, reduce="pooled")
    for h in range(3):
        v = keys[:, h, :].numpy().ravel()
        dev = v - v.mean()
        var = np.mean(dev**2)
        assert float(hm.variance[h]) == pytest.approx(var, rel=1e-12)
        assert float(hm.excess_kurtosis[h]) == pytest.approx(np.mean(dev**4) / var**2 - 3, rel=1e-10)
    pc = head_moments(keys, reduce="per_channel")
    # Per-channel moments ignore the offset: variance ≈ 1, the pooled one is inflated by it.
    assert (pc.variance - 1).abs().max() < 0.3
    assert (hm.variance > 5).all()
    with pytest.raises(ValueError):
        head_moments(keys, reduce="bogus")


def test_gauge_definition():
    var = torch.tensor([2.0, 0.5, 1.0])
    kurt = torch.tensor([3.0, -1.0, 0.5])
    assert gauge_from_moments(var, kurt) == pytest.approx((1.5 + 0.0 + 0.5) / 3)


def test_gauge_of_known_laws():
    """Head 0 Laplace (κ = 3, σ² = 2), head 1 uniform (κ < 0 → contributes 0): G = 1.5 / 2 = 0.75,
    within the propagated SE bound |ΔG| ≤ (Z·SEκ/σ² + κ·Z·SEσ²/σ⁴)/H."""
    tokens, hd = 8192, 16
    keys = torch.stack(
        [iid_samples("laplace", (tokens, hd), 1), iid_samples("uniform", (tokens, hd), 2)], dim=1
    )
    n = tokens * hd
    mu2, mu4, mu6, mu8 = EVEN_MOMENTS["laplace"]
    bound = (
        Z * excess_kurtosis_se_from_moments(mu2, mu4, mu6, mu8, n) / mu2
        + 3.0 * Z * variance_se_from_moments(mu2, mu4, n) / mu2**2
    ) / 2
    assert abs(gauge_G(keys) - 0.75) <= bound
