"""Sign packing, the stored 1-bit form, and the optimal-scale / residual identity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, target
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from moegauge import theorems as th
from moegauge.moments import one_bit_cosine
from moegauge.signquant import (
    SignQuantized,
    dequantize,
    one_bit_residual_energy,
    optimal_one_bit_scale,
    pack_signs,
    quantize,
    unpack_signs,
)

_magnitude = st.one_of(st.just(0.0), st.floats(1e-6, 1e6))
_coordinate = st.builds(lambda m, neg: -m if neg else m, _magnitude, st.booleans())
vectors = hnp.arrays(np.float64, st.integers(1, 48), elements=_coordinate).filter(lambda a: np.any(a != 0))


_shapes = st.builds(lambda lead, d: (*lead, d), hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), st.integers(1, 40))


@given(hnp.arrays(np.float64, _shapes, elements=_coordinate))
def test_pack_unpack_roundtrip(a):
    x = torch.from_numpy(a)
    d = x.shape[-1]
    packed = pack_signs(x)
    assert packed.dtype == torch.uint8
    assert packed.shape == (*x.shape[:-1], math.ceil(d / 8))
    assert torch.equal(unpack_signs(packed, d, torch.float64), torch.where(x >= 0, 1.0, -1.0).to(torch.float64))


def test_bit_layout_is_lsb_first_and_zero_padded():
    x = torch.tensor([1.0, -1, -1, -1, -1, -1, -1, -1, 0.0, -2.0])
    assert pack_signs(x).tolist() == [0b00000001, 0b00000001]
    assert pack_signs(-torch.ones(3)).tolist() == [0]
    with pytest.raises(ValueError):
        unpack_signs(torch.zeros(2, dtype=torch.uint8), 17)
    with pytest.raises(TypeError):
        unpack_signs(torch.zeros(2, dtype=torch.int32), 16)


@pytest.mark.parametrize("shape", [(10, 64), (3, 4, 100), (1, 1)])
def test_nbytes_is_counted_from_stored_tensors(shape):
    q = quantize(torch.randn(shape))
    n = math.prod(shape[:-1])
    d = shape[-1]
    assert isinstance(q, SignQuantized) and q.d == d
    assert q.bits.dtype == torch.uint8 and q.scale.dtype == torch.float16
    assert q.nbytes_breakdown() == {"bits": n * math.ceil(d / 8), "scale": 2 * n}
    assert q.nbytes() == sum(t.numel() * t.element_size() for t in (q.bits, q.scale))


@given(vectors, st.floats(-10.0, 10.0))
def test_optimal_scale_minimises_the_residual(a, factor):
    """Shadows MoEGauge.one_bit_scale_optimal (optimality): no scale α beats α* = ‖x‖₁/d; Hypothesis
    is steered toward a violation (maximising E(α*) − E(α))."""
    x = torch.from_numpy(a)
    s = torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    a_star = optimal_one_bit_scale(x)
    alpha = a_star * factor
    e_star = float(((x - a_star * s) ** 2).sum())
    e_alpha = float(((x - alpha * s) ** 2).sum())
    target(e_star - e_alpha)
    assert e_star <= e_alpha + 1e-9 * float((x * x).sum())


@given(vectors)
def test_residual_is_one_minus_cosine_squared(a):
    """Shadows MoEGauge.one_bit_scale_optimal (residual): ‖x − α*s‖²/‖x‖² = 1 − c(x)²."""
    assert th.ONE_BIT_SCALE_OPTIMAL in th.ALL_THEOREMS
    x = torch.from_numpy(a)
    c = float(one_bit_cosine(x))
    assert float(one_bit_residual_energy(x)) == pytest.approx(1 - c * c, abs=1e-12)


@given(vectors)
def test_dequantized_vector_has_the_one_bit_cosine(a):
    """The fp16 scale cannot change the direction: cos(x, x̂) = c(x). Its rounding (relative error
    δ ≤ 2⁻¹¹) adds exactly c²·δ² ≤ c²·2⁻²² to the residual 1 − c²."""
    x = torch.from_numpy(a)
    alpha = float(optimal_one_bit_scale(x))
    if not (6.2e-5 <= alpha <= 6.0e4):  # normal fp16 range: relative rounding ≤ 2^-11
        return
    q = quantize(x)
    xh = dequantize(q, torch.float64)
    c = float(one_bit_cosine(x))
    cos = float(x @ xh / (x.norm() * xh.norm()))
    assert cos == pytest.approx(c, rel=1e-12)
    gap = float(((x - xh) ** 2).sum() / (x * x).sum()) - (1 - c * c)
    assert -1e-12 <= gap <= c * c * 2.0**-22 + 1e-12


def test_quantize_refuses_bad_input():
    with pytest.raises(ValueError):
        quantize(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError):
        quantize(torch.full((2, 4), 1e6))
    with pytest.raises(TypeError):
        quantize(torch.ones(4, dtype=torch.int32))
    x = torch.randn(5, 3, 20)
    y = dequantize(quantize(x))
    assert y.shape == x.shape and y.dtype == torch.float32
