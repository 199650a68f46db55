"""Our KV-cache peers (moegauge.cache.peers): KIVI-style error bounds, the QJL effective-key identity
and the unbiasedness that pins QJL's scale convention, stored bytes against tensors, generation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from moegauge.cache.accounting import bits_per_element, split_key_value_bytes
from moegauge.cache.peers import (
    KiviCache,
    KiviLayer,
    QjlCache,
    QjlLayer,
    dequantize_asymmetric,
    pack_codes,
    qjl_effective_keys,
    quantize_asymmetric,
    unpack_codes,
)
from moegauge.lm.kcache import Fp16Cache
from moegauge.lm.model import cache_kwargs, kv_geometry
from moegauge.qjl import qjl_inner_product, qjl_projections


@pytest.fixture
def byte_batch() -> torch.Tensor:
    return torch.randint(0, 256, (2, 24), generator=torch.Generator().manual_seed(0))


def _tensor_bytes_in(obj) -> int:
    """Bytes of every tensor reachable from an object's attributes (an independent count)."""
    total = 0
    for item in vars(obj).values():
        if isinstance(item, torch.Tensor):
            total += item.numel() * item.element_size()
    return total


def _kv(seed: int, b: int, h: int, t: int, d: int, spread: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    # channel-dependent offsets and scales, like real keys (KIVI's reason for per-channel K)
    offsets = torch.randn(1, h, 1, d, generator=g) * 3 * spread
    k = torch.randn(b, h, t, d, generator=g) * spread + offsets
    v = torch.randn(b, h, t, d, generator=g) * spread
    return k, v


# --- packing ---------------------------------------------------------------------------------------

@settings(max_examples=30)
@given(bits=st.sampled_from([1, 2, 4, 8]), rows=st.integers(1, 5), bytes_per_row=st.integers(1, 6),
       seed=st.integers(0, 10_000))
def test_codes_pack_into_bits_per_code_and_round_trip(bits, rows, bytes_per_row, seed):
    n = bytes_per_row * 8 // bits
    codes = torch.randint(0, 1 << bits, (rows, n), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    packed = pack_codes(codes, bits)
    assert packed.dtype == torch.uint8 and packed.shape == (rows, bytes_per_row)
    assert torch.equal(unpack_codes(packed, bits), codes)


def test_code_layout_is_least_significant_first():
    assert pack_codes(torch.tensor([[1, 2, 3, 0]]), 2).tolist() == [[0b00111001]]


# --- KIVI-style ------------------------------------------------------------------------------------

@settings(max_examples=40)
@given(seed=st.integers(0, 10_000), bits=st.sampled_from([1, 2, 4, 8]), offset=st.sampled_from([0.0, 3.0, 1000.0]),
       spread=st.sampled_from([1e-3, 1.0, 100.0]))
def test_asymmetric_quantization_of_float32_is_within_half_a_step(seed, bits, offset, spread):
    """On float32 input (not on the fp16 grid), the fp16 zero point rounded down and step rounded up
    keep every element within half a step, even when the offset dwarfs the group's range."""
    x = offset + spread * torch.randn(6, 32, generator=torch.Generator().manual_seed(seed))
    codes, step, zero = quantize_asymmetric(x, bits, dim=-1)
    assert codes.dtype == torch.uint8 and int(codes.max()) <= (1 << bits) - 1
    assert step.dtype == zero.dtype == torch.float16 and step.shape == zero.shape == (6, 1)
    err = (dequantize_asymmetric(codes, step, zero) - x).abs()
    assert torch.all(err <= step.float() / 2 + 4 * torch.finfo(torch.float32).eps * (x.abs() + zero.float().abs()))


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), bits=st.sampled_from([2, 4]), group_size=st.sampled_from([4, 8, 32]),
       residual_length=st.sampled_from([0, 8, 40]), chunks=st.lists(st.integers(1, 40), min_size=1, max_size=6),
       spread=st.sampled_from([0.01, 1.0, 50.0]))
def test_kivi_error_is_at_most_half_a_step_and_residual_is_exact_fp16(seed, bits, group_size, residual_length,
                                                                      chunks, spread):
    """Fed in chunks (a prefill, then decode steps), the layer returns every token: the quantized ones
    within half their group's step of the fp16 input, the residual ones exactly the fp16 input; the
    steps are the tight ones ((max − min)/(2^b − 1), up to fp16 rounding up), and only whole groups of
    the oldest tokens leave the residual window, no more than it overflows by."""
    layer = KiviLayer(bits=bits, group_size=group_size, residual_length=residual_length)
    total = sum(chunks)
    k, v = _kv(seed, 2, 2, total, 16, spread)
    start = 0
    for n in chunks:
        keys, values = layer.update(k[..., start:start + n, :], v[..., start:start + n, :])
        start += n
        assert keys.shape[-2] == values.shape[-2] == start == layer.get_seq_length()
    k16, v16 = k.half().float(), v.half().float()
    q_len = layer.quantized_length
    assert q_len % group_size == 0
    assert layer.key_residual.shape[-2] == total - q_len
    if total > residual_length:
        assert total - q_len <= max(residual_length, group_size - 1)
    levels = (1 << bits) - 1
    # residual: exact fp16
    assert torch.equal(keys[..., q_len:, :], k16[..., q_len:, :])
    assert torch.equal(values[..., q_len:, :], v16[..., q_len:, :])
    if q_len == 0:
        return
    # K: per channel, groups of tokens
    b, h, _, d = k.shape
    kq = k16[..., :q_len, :].reshape(b, h, q_len // group_size, group_size, d)
    k_step = layer.key_scales.float().unsqueeze(3)
    err = (keys[..., :q_len, :].reshape(kq.shape) - kq).abs()
    tol = 4 * torch.finfo(torch.float32).eps * (kq.abs() + layer.key_zero_points.float().abs().unsqueeze(3))
    assert torch.all(err <= k_step / 2 + tol)
    k_range = kq.amax(dim=3, keepdim=True) - kq.amin(dim=3, keepdim=True)
    assert torch.all(k_step <= k_range / levels * (1 + 2 ** -9) + 1e-7)
    # V: per token, groups of channels
    gv = layer.value_group_size
    vq = v16[..., :q_len, :].reshape(b, h, q_len, d // gv, gv)
    v_step = layer.value_scales.float().unsqueeze(-1)
    err = (values[..., :q_len, :].reshape(vq.shape) - vq).abs()
    tol = 4 * torch.finfo(torch.float32).eps * (vq.abs() + layer.value_zero_points.float().abs().unsqueeze(-1))
    assert torch.all(err <= v_step / 2 + tol)
    v_range = vq.amax(dim=-1, keepdim=True) - vq.amin(dim=-1, keepdim=True)
    assert torch.all(v_step <= v_range / levels * (1 + 2 ** -9) + 1e-7)


def test_kivi_prefill_is_quantized_beyond_the_residual_window():
    layer = KiviLayer(bits=2, group_size=32, residual_length=128)
    k, v = _kv(0, 1, 4, 300, 64)
    keys, _ = layer.update(k, v)
    assert layer.quantized_length == 192 and layer.key_residual.shape[-2] == 108  # ceil(172/32) groups left
    assert not torch.equal(keys[..., :192, :], k.half().float()[..., :192, :])
    for step in range(20):  # decode: a group leaves only when the window overflows
        layer.update(k[..., :1, :], v[..., :1, :])
        assert layer.key_residual.shape[-2] <= 128
    assert layer.quantized_length == 192  # 108 + 20 = 128: no overflow yet
    layer.update(k[..., :1, :], v[..., :1, :])
    assert layer.quantized_length == 224 and layer.key_residual.shape[-2] == 97


def test_kivi_stored_bytes_match_the_tensors_and_the_geometry():
    b, h, t, d, g, r = 2, 4, 300, 64, 32, 128
    layer = KiviLayer(bits=2, group_size=g, residual_length=r)
    k, v = _kv(1, b, h, t, d)
    layer.update(k, v)
    parts = layer.stored_nbytes()
    tq, tr = 192, 108
    assert parts == {
        "key_codes": b * h * tq * d // 4, "key_scales": b * h * (tq // g) * d * 2,
        "key_zero_points": b * h * (tq // g) * d * 2, "key_residual": b * h * tr * d * 2,
        "value_codes": b * h * tq * d // 4, "value_scales": b * h * tq * (d // g) * 2,
        "value_zero_points": b * h * tq * (d // g) * 2, "value_residual": b * h * tr * d * 2,
    }
    assert sum(parts.values()) == _tensor_bytes_in(layer)
    assert layer.key_codes.dtype == layer.value_codes.dtype == torch.uint8


def test_kivi_bits_per_element_at_long_context():
    """2-bit K, fp16 step and zero per channel per 32 tokens (+1 bit), 128 fp16 residual tokens:
    (1920·3 + 128·16)/2048 = 3.8125 bits per K element; V the same with its groups along channels."""
    layers, h, t, d = 2, 4, 2048, 64
    cache = KiviCache(layers, bits=2, group_size=32, residual_length=128)
    for i, layer in enumerate(cache.layers):
        k, v = _kv(i, 1, h, t, d)
        layer.update(k, v)
    kb, vb = split_key_value_bytes(cache.stored_nbytes())
    k_bits = bits_per_element(kb, t, layers, h, d)
    v_bits = bits_per_element(vb, t, layers, h, d)
    assert k_bits == pytest.approx((1920 * 3 + 128 * 16) / 2048)
    assert v_bits == pytest.approx((1920 * 3 + 128 * 16) / 2048)
    assert 3.0 < k_bits < 4.0


def test_kivi_with_everything_in_the_residual_matches_the_fp16_cache(tiny_olmoe, byte_batch):
    layers = tiny_olmoe.config.num_hidden_layers
    with torch.no_grad():
        ref = tiny_olmoe(input_ids=byte_batch, **cache_kwargs(tiny_olmoe, Fp16Cache(layers))).logits
        wide = tiny_olmoe(input_ids=byte_batch, **cache_kwargs(tiny_olmoe, KiviCache(layers, residual_length=64))).logits
        narrow_cache = KiviCache(layers, group_size=8, residual_length=8)
        narrow = tiny_olmoe(input_ids=byte_batch, **cache_kwargs(tiny_olmoe, narrow_cache)).logits
    assert torch.equal(wide, ref)
    assert narrow_cache.layers[0].quantized_length == 16
    assert not torch.allclose(narrow, ref)


# --- QJL-style -------------------------------------------------------------------------------------

@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), head_dim=st.sampled_from([8, 16, 64]), m_factor=st.sampled_from([1, 2]),
       chunks=st.lists(st.integers(1, 12), min_size=1, max_size=4))
def test_qjl_effective_keys_give_the_estimator_exactly(seed, head_dim, m_factor, chunks):
    """q·k̃ = √(π/2)/m · ‖k‖ · ⟨S q, sign(S k)⟩ with S regenerated independently, ‖k‖ the stored fp16."""
    m = m_factor * head_dim
    layer = QjlLayer(head_dim, m, seed)
    total = sum(chunks)
    k, v = _kv(seed, 2, 3, total, head_dim)
    start = 0
    for n in chunks:
        keys, values = layer.update(k[..., start:start + n, :], v[..., start:start + n, :])
        start += n
    q = torch.randn(2, 3, 5, head_dim, generator=torch.Generator().manual_seed(seed + 1))
    scores = q @ keys.transpose(-1, -2)  # what attention computes (before 1/√d)
    s = qjl_projections(m, head_dim, seed)
    sk = k.double() @ s.T
    signs = torch.where(sk >= 0, 1.0, -1.0).double()
    norms = k.double().norm(dim=-1).half().double()
    expected = math.sqrt(math.pi / 2) / m * norms.unsqueeze(-2) * ((q.double() @ s.T) @ signs.transpose(-1, -2))
    torch.testing.assert_close(scores.double(), expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    torch.testing.assert_close(values, v.half().float())


def test_qjl_effective_keys_agree_with_the_reference_sketch():
    """The float64 effective-key form agrees with moegauge.qjl's per-row estimator."""
    d, m = 16, 32
    g = torch.Generator().manual_seed(5)
    q, k = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    s = qjl_projections(m, d, 7)
    k_eff = qjl_effective_keys(torch.where(s @ k >= 0, 1.0, -1.0).double(), k.norm(), s)
    assert float(q @ k_eff) == pytest.approx(qjl_inner_product(q, k, s), rel=1e-12)


SCALE_CONVENTIONS = {  # the factor c in c·‖k‖·⟨S q, sign(S k)⟩, relative to ours (√(π/2)/m)
    "sqrt(pi/2)/m": lambda m: 1.0,
    "1/m": lambda m: math.sqrt(2 / math.pi),
    "sqrt(pi/2)/sqrt(m)": lambda m: math.sqrt(m),
}
MONTE_CARLO_ROWS = 1 << 17  # N·m i.i.d. sign-projection terms in the mean


def _within_monte_carlo_bound(estimates: torch.Tensor, q: torch.Tensor, k: torch.Tensor, m: int) -> bool:
    """|mean − q·k| ≤ 6σ/√N. One estimate is √(π/2)‖k‖/m · Σⱼ Yⱼ with Yⱼ = sign(gⱼ·k)(gⱼ·q) i.i.d.,
    E[Yⱼ²] = ‖q‖², E[Yⱼ] = √(2/π) q·k/‖k‖; so σ² = (π/2)‖k‖²/m · (‖q‖² − (2/π)(q·k)²/‖k‖²).
    False-failure probability ≤ 1/36 by Chebyshev and ≈ 2·10⁻⁹ by the CLT over N·m = 2¹⁷ terms."""
    qk, kk, qq = float(q @ k), float(k @ k), float(q @ q)
    sigma = math.sqrt(math.pi / 2 * kk / m * (qq - 2 / math.pi * qk * qk / kk))
    return abs(float(estimates.mean()) - qk) <= 6 * sigma / math.sqrt(estimates.numel())


@settings(max_examples=12)
@given(seed=st.integers(0, 10_000), head_dim=st.sampled_from([8, 16, 32]), m_factor=st.sampled_from([1, 2]),
       cosine=st.floats(0.3, 0.95), sign=st.sampled_from([-1.0, 1.0]))
def test_qjl_estimator_is_unbiased_and_pins_the_scale_convention(seed, head_dim, m_factor, cosine, sign):
    """Shadow property: over many independent S, the mean of q·k̃ is q·k within the Monte-Carlo
    bound; the same estimates under the other conventions (1/m without √(π/2), √(π/2)/√m) are not —
    with |cos(q, k)| ≥ 0.3 the 1/m bias 0.2|q·k| is ≥ 3× the bound, so the bound does discriminate."""
    m = m_factor * head_dim
    n_projections = MONTE_CARLO_ROWS // m
    g = torch.Generator().manual_seed(seed)
    k = torch.randn(head_dim, generator=g, dtype=torch.float64) * 2.0
    noise = torch.randn(head_dim, generator=g, dtype=torch.float64)
    noise -= (noise @ k) / (k @ k) * k
    q = sign * (cosine * k / k.norm() + math.sqrt(1 - cosine ** 2) * noise / noise.norm()) * 1.5
    s = torch.randn(n_projections, m, head_dim, generator=g, dtype=torch.float64)  # independent S per row
    signs = torch.where(s @ k >= 0, 1.0, -1.0).double()
    k_eff = qjl_effective_keys(signs, k.norm().expand(n_projections), s)  # (N, d)
    estimates = k_eff @ q
    for name, relative in SCALE_CONVENTIONS.items():
        accepted = _within_monte_carlo_bound(estimates * relative(m), q, k, m)
        assert accepted == (name == "sqrt(pi/2)/m"), name


def test_qjl_stored_bytes_match_the_tensors_and_the_geometry():
    b, h, t, d = 2, 4, 30, 64
    for m in (d, 2 * d):
        for store in (False, True):
            layer = QjlLayer(d, m, seed=3, store_projection=store)
            k, v = _kv(2, b, h, t, d)
            layer.update(k[..., :20, :], v[..., :20, :])
            layer.update(k[..., 20:, :], v[..., 20:, :])
            parts = layer.stored_nbytes()
            assert parts == {"key_codes": b * h * t * m // 8, "key_norms": b * h * t * 2, "values": b * h * t * d * 2,
                             "metadata": 8 + (m * d * 4 if store else 0)}
            assert sum(parts.values()) == _tensor_bytes_in(layer)
            assert layer.key_signs.dtype == torch.uint8


def test_qjl_regenerated_and_stored_projection_give_the_same_keys():
    k, v = _kv(4, 1, 2, 10, 16)
    a, _ = QjlLayer(16, 32, seed=9).update(k, v)
    b, _ = QjlLayer(16, 32, seed=9, store_projection=True).update(k, v)
    c, _ = QjlLayer(16, 32, seed=10).update(k, v)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_qjl_bits_per_element_at_long_context():
    """m = head_dim: 1 sign bit per K element + an fp16 norm per 64 elements = 1.25 bits (+ the seed)."""
    layers, h, t, d = 2, 4, 2048, 64
    cache = QjlCache(layers, d, m=d)
    for i, layer in enumerate(cache.layers):
        k, v = _kv(i, 1, h, t, d)
        layer.update(k, v)
    kb, vb = split_key_value_bytes(cache.stored_nbytes())
    assert bits_per_element(kb, t, layers, h, d) == pytest.approx(1.25 + 8 * 8 * layers / (t * layers * h * d))
    assert bits_per_element(vb, t, layers, h, d) == 16.0


# --- both, on a model ------------------------------------------------------------------------------

def _peer_caches(model):
    layers, _, head_dim = kv_geometry(model.config)
    return {
        "kivi": lambda: KiviCache(layers, group_size=4, residual_length=8),
        "qjl-m=d": lambda: QjlCache(layers, head_dim, m=head_dim),
        "qjl-m=2d": lambda: QjlCache(layers, head_dim, m=2 * head_dim, seed=5, store_projection=True),
    }


def test_generate_works_with_every_peer_cache(tiny_olmoe):
    prompt = torch.tensor([[72, 101, 108, 108, 111, 32, 119], [0, 0, 104, 105, 32, 116, 104]])
    mask = torch.tensor([[1] * 7, [0, 0, 1, 1, 1, 1, 1]])
    for name, make in _peer_caches(tiny_olmoe).items():
        cache = make()
        out = tiny_olmoe.generate(prompt, attention_mask=mask, max_new_tokens=12, do_sample=False, pad_token_id=0,
                                  **cache_kwargs(tiny_olmoe, cache))
        assert out.shape == (2, 19), name
        assert cache.get_seq_length() == 18, name
        assert sum(cache.stored_nbytes().values()) > 0, name
    assert cache.layers[0].key_signs.shape[-2] == 18


def test_peer_caches_keep_batch_rows_independent(tiny_olmoe, byte_batch):
    for name, make in _peer_caches(tiny_olmoe).items():
        with torch.no_grad():
            both = tiny_olmoe(input_ids=byte_batch, **cache_kwargs(tiny_olmoe, make())).logits
            for row in range(byte_batch.shape[0]):
                alone = tiny_olmoe(input_ids=byte_batch[row:row + 1], **cache_kwargs(tiny_olmoe, make())).logits
                torch.testing.assert_close(both[row:row + 1], alone, atol=1e-5, rtol=1e-5, msg=name)


def test_reset_empties_the_peer_caches(tiny_olmoe, byte_batch):
    for name, make in _peer_caches(tiny_olmoe).items():
        cache = make()
        with torch.no_grad():
            first = tiny_olmoe(input_ids=byte_batch, **cache_kwargs(tiny_olmoe, cache)).logits
            cache.reset()
            assert cache.get_seq_length() == 0, name
            assert all(n == 0 for part, n in cache.stored_nbytes().items() if part != "metadata"), name
            again = tiny_olmoe(input_ids=byte_batch, **cache_kwargs(tiny_olmoe, cache)).logits
        assert torch.equal(first, again), name
