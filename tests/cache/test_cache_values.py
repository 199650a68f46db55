"""The V-cache ablation (seed 001 §S8): the 2-bit quantizer, the value rotations, the recorded
attention inputs, and the quantized KV cache on real forward passes."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from moegauge.cache.accounting import split_key_value_bytes
from moegauge.cache.values import (
    QuantizedKVCache,
    QuantizedKVLayer,
    ValueTransform,
    attention_output_error,
    calibrate_v_ablation,
    exact_two_bit_scale,
    fit_two_bit_scale,
    kv_compression,
    learn_value_rotation_attention,
    learn_value_rotation_cosine,
    lloyd_two_bit_scale,
    nearest_two_bit_codes,
    pack_two_bit_codes,
    quantize_dequantize,
    quantize_two_bit,
    dequantize_two_bit,
    record_attention_inputs,
    score_v_ablation,
    two_bit_error,
    two_bit_levels,
    unpack_two_bit_codes,
    v_ablation_configs,
)
from moegauge.lm.kcache import KeyTransform, OneBitKLayer
from moegauge.lm.model import cache_kwargs, kv_geometry
from moegauge.lm.perplexity import score_windows
from moegauge.rotation import orthogonality_error
from moegauge.signquant import one_bit_residual_energy

vectors = st.integers(1, 48).flatmap(
    lambda d: st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=d, max_size=d))


def _vec(xs) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)


# -- 2-bit quantizer ------------------------------------------------------------------------------
@given(d=st.integers(1, 37), rows=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_two_bit_packing_round_trips(d, rows, seed):
    codes = torch.randint(0, 4, (rows, d), generator=torch.Generator().manual_seed(seed)).to(torch.uint8)
    packed = pack_two_bit_codes(codes)
    assert packed.dtype == torch.uint8 and packed.shape == (rows, math.ceil(d / 4))
    assert torch.equal(unpack_two_bit_codes(packed, d), codes)


def test_packing_layout_is_least_significant_first():
    assert pack_two_bit_codes(torch.tensor([1, 2, 3, 0, 3], dtype=torch.uint8)).tolist() == [1 | 2 << 2 | 3 << 4, 3]
    with pytest.raises(ValueError):
        pack_two_bit_codes(torch.tensor([4], dtype=torch.uint8))


@given(xs=vectors, init=st.floats(1e-3, 1e3))
def test_lloyd_never_increases_the_error(xs, init):
    """Every Lloyd iteration (assignment, then least-squares scale) keeps or lowers ‖y − aℓ‖²."""
    y = _vec(xs)
    a, errors = lloyd_two_bit_scale(y, torch.tensor(init, dtype=torch.float64), iterations=8)
    for before, after in zip(errors, errors[1:]):
        assert float(after) <= float(before)
    assert float(two_bit_error(y, a)) <= float(errors[0])
    assert float(two_bit_error(y, a)) == pytest.approx(float(errors[-1]), rel=1e-12, abs=1e-12)


@given(xs=vectors)
def test_fitted_scale_beats_every_scale_on_a_grid(xs):
    """The fit is the global minimiser over scales: no grid scale (nearest codes) does better, and
    with levels ±a, ±3a it does at least as well as the 1-bit α·sign(y)."""
    y = _vec(xs)
    a = fit_two_bit_scale(y)
    err = float(two_bit_error(y, a))
    top = float(y.abs().max())
    grid = torch.linspace(0, max(top, 1e-9), 801, dtype=torch.float64)
    grid_err = two_bit_error(y.expand(grid.numel(), -1), grid)
    tol = 1e-9 * float((y * y).sum()) + 1e-12
    assert err <= float(grid_err.min()) + tol
    if float((y * y).sum()) > 0:
        one_bit = float(one_bit_residual_energy(y)) * float((y * y).sum())
        assert err <= one_bit + tol
        # inside [−4a, 4a] every coordinate is within a of its level
        rec = a * two_bit_levels(nearest_two_bit_codes(y, a), y.dtype)
        inside = y.abs() <= 4 * a
        assert bool(((y - rec).abs()[inside] <= a * (1 + 1e-12)).all())


@given(xs=vectors)
def test_stored_two_bit_form_reads_back_what_was_fit(xs):
    """Stored codes are the nearest ones for the fp16 scale; fp16 rounding of a costs ≤ 2⁻¹⁰ relative."""
    y = _vec(xs).float()
    q = quantize_two_bit(y)
    assert q.codes.dtype == torch.uint8 and q.scale.dtype == torch.float16
    assert q.codes.shape == (math.ceil(y.numel() / 4),)
    rec = dequantize_two_bit(q)
    fit_err = float(two_bit_error(y.double(), fit_two_bit_scale(y.double())))
    stored_err = float(((y.double() - rec.double()) ** 2).sum())
    norm = float((y.double() ** 2).sum())
    assert stored_err <= fit_err * (1 + 2 ** -9) + 2 ** -9 * norm * 2 ** -10 + 1e-6


def test_lattice_points_are_reconstructed_exactly_and_lloyd_can_stall():
    levels = torch.tensor([-3.0, -1.0, 1.0, 3.0, 3.0, -1.0])
    y = 0.625 * levels
    assert torch.equal(dequantize_two_bit(quantize_two_bit(y)), y)
    # a Lloyd local minimum: from a small start, the exact initialisation does strictly better
    # (from a = 1 every coordinate takes level ±1 and a settles at mean |y| = 1.3, error 3.24; the
    # global minimum a ≈ 0.58 puts level ±3 on the four large coordinates, error ≈ 0.41)
    y = torch.tensor([-2.0, 0.0, 1.7, 1.8, -0.6, -1.7], dtype=torch.float64)
    a_local, _ = lloyd_two_bit_scale(y, torch.tensor(1.0, dtype=torch.float64), iterations=50)
    assert float(two_bit_error(y, a_local)) == pytest.approx(3.24)
    assert float(two_bit_error(y, fit_two_bit_scale(y))) < 0.42


# -- value rotations ------------------------------------------------------------------------------
@settings(max_examples=6)
@given(seed=st.integers(0, 1000), bits=st.sampled_from([1, 2]), scope=st.sampled_from(["all_kv_heads", "head_dim"]))
def test_learned_value_rotations_are_orthogonal(seed, bits, scope):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(1, 2, 12, 8, generator=g)
    probs = torch.softmax(torch.randn(1, 2, 12, 12, generator=g).masked_fill(
        ~torch.ones(12, 12, dtype=torch.bool).tril(), float("-inf")), dim=-1)
    fit = learn_value_rotation_attention(v, probs, bits, steps=15, seed=seed, scope=scope, lr=0.05)
    r = fit.transform.rotation
    assert fit.orthogonality_error < 1e-5 and orthogonality_error(r) < 1e-5
    assert r.shape == ((16, 16) if scope == "all_kv_heads" else (8, 8))
    cos = learn_value_rotation_cosine(v[0].transpose(0, 1), steps=15, seed=seed, scope=scope, lr=0.05)
    assert orthogonality_error(cos.rotation) < 1e-5


def _planted_case():
    """Values on one spiked coordinate (1-bit keeps 1/d of the energy) plus noise, attention random-causal."""
    g = torch.Generator().manual_seed(3)
    w, kvh, t, hd = 2, 2, 32, 8
    v = 0.05 * torch.randn(w, kvh, t, hd, generator=g)
    v[..., 0] += 2.0 * torch.randn(w, kvh, t, generator=g)
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    probs = torch.softmax(2 * torch.randn(w, kvh, t, t, generator=g).masked_fill(~mask, float("-inf")), dim=-1)
    return v, probs


def _real_error(transform: ValueTransform, v, probs, bits) -> float:
    """‖P(V − V̂)‖² per query with V̂ read back through the stored (fp16-scale) quantizer."""
    w, kvh, t, hd = v.shape
    rows = v.transpose(1, 2).reshape(w, t, kvh * hd)
    rec = transform.inverse(quantize_dequantize(transform.forward(rows), bits))
    err = (rows - rec).reshape(w, t, kvh, hd).transpose(1, 2)
    out = probs @ err
    return float((out * out).sum(-1).mean())


@pytest.mark.parametrize("bits", [1, 2])
def test_attention_learner_beats_identity_on_a_planted_case(bits):
    v, probs = _planted_case()
    fit = learn_value_rotation_attention(v, probs, bits, steps=150, seed=0, center=False, lr=0.03)
    identity = ValueTransform(d=16)
    assert fit.trace[-1] < 0.5 * fit.trace[0]
    assert fit.trace[-1] == pytest.approx(attention_output_error(fit.transform, v, probs, bits), rel=1e-4)
    # through the real quantizer (fp16 scales, nearest codes) the learned rotation still wins by 2×
    assert _real_error(fit.transform, v, probs, bits) < 0.5 * _real_error(identity, v, probs, bits)
    assert attention_output_error(identity, v, probs, bits) == pytest.approx(_real_error(identity, v, probs, bits),
                                                                             rel=2e-2)


# -- recorded attention inputs --------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["olmoe", "mixtral"])
def test_recorded_inputs_reproduce_the_attention_output(tiny_models, arch):
    """P·V from the recorded q, k, v equals what enters o_proj; the model is left as it was."""
    model = tiny_models[arch]
    ids = torch.randint(0, 256, (2, 24), generator=torch.Generator().manual_seed(1))
    before = model.config._attn_implementation
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits
    seen = {}
    attn = model.model.layers[1].self_attn
    hook = attn.o_proj.register_forward_pre_hook(lambda _m, a: seen.__setitem__("x", a[0]))
    try:
        recs = record_attention_inputs(model, ids, batch_size=1)
    finally:
        hook.remove()
    assert model.config._attn_implementation == before
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids, use_cache=False).logits, ref)
    layers, kvh, hd = kv_geometry(model.config)
    assert len(recs) == layers and recs[1].values.shape == (2, kvh, 24, hd)
    assert recs[1].queries.shape == (2, model.config.num_attention_heads, 24, hd)
    p = recs[1].probabilities()
    assert torch.allclose(p.sum(-1), torch.ones(()), atol=1e-5) and float(p.triu(1).abs().max()) == 0.0
    groups = p.shape[1] // kvh
    out = (p @ recs[1].values.repeat_interleave(groups, dim=1)).transpose(1, 2).reshape(2, 24, -1)
    assert torch.allclose(out[1:], seen["x"], atol=1e-5)  # the hook saw the last batch (window 1)


# -- the cache ------------------------------------------------------------------------------------
def _orthogonal(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q.float()


def _dims(model, scope):
    layers, kvh, hd = kv_geometry(model.config)
    return layers, kvh, hd, (kvh * hd if scope == "all_kv_heads" else hd)


@pytest.mark.parametrize("scope", ["all_kv_heads", "head_dim"])
@pytest.mark.parametrize("kind", ["rotation", "srht"])
def test_rotation_only_value_transform_leaves_logits_unchanged(tiny_models, scope, kind):
    """V stored as y = R_V(v − μ) in float32 and read back as R_Vᵀy + μ: logits as without a cache;
    the same transform with 2-bit storage does change them (the V path is live)."""
    model = tiny_models["olmoe"]
    layers, _, _, d = _dims(model, scope)
    ids = torch.randint(0, 256, (2, 20), generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(5)
    vts = [ValueTransform(d=d, mean=torch.randn(d, generator=g),
                          rotation=_orthogonal(d, i) if kind == "rotation" else None,
                          srht_seed=i if kind == "srht" else None, scope=scope) for i in range(layers)]
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits
        exact = model(input_ids=ids, **cache_kwargs(model, QuantizedKVCache(None, vts, 32, key_dtype=torch.float32))).logits
        coarse = model(input_ids=ids, **cache_kwargs(model, QuantizedKVCache(None, vts, 2, key_dtype=torch.float32))).logits
    assert torch.allclose(exact, ref, atol=1e-4, rtol=0)
    assert float((coarse - ref).abs().max()) > 1e-2


def test_layer_uses_the_one_bit_key_math_and_the_value_quantizer():
    """Keys equal OneBitKLayer's; values equal R_Vᵀ Q(R_V(v − μ)) + μ computed directly."""
    g = torch.Generator().manual_seed(7)
    k, v = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 5, 8, generator=g)
    kt = KeyTransform(mean=torch.randn(24, generator=g), rotation=_orthogonal(24, 1))
    vt = ValueTransform(d=24, mean=torch.randn(24, generator=g), rotation=_orthogonal(24, 2))
    for bits in (1, 2):
        layer = QuantizedKVLayer(kt, vt, bits)
        keys, values = layer.update(k, v)
        ref_keys, _ = OneBitKLayer(kt).update(k, v)
        assert torch.equal(keys, ref_keys)
        rows = v.transpose(1, 2).reshape(2, 5, 24)
        ref_v = vt.inverse(quantize_dequantize(vt.forward(rows), bits)).reshape(2, 5, 3, 8).transpose(1, 2)
        assert torch.allclose(values, ref_v, atol=1e-6)
        assert not torch.allclose(values, v, atol=1e-2)


@pytest.mark.parametrize("scope", ["all_kv_heads", "head_dim"])
@pytest.mark.parametrize("bits", [1, 2])
def test_stored_bytes_are_the_tensors_and_match_the_geometry(tiny_models, scope, bits):
    model = tiny_models["olmoe"]
    layers, kvh, hd, d = _dims(model, scope)
    b, t = 2, 20
    kts = [KeyTransform(mean=torch.zeros(d), rotation=_orthogonal(d, i), scope=scope) for i in range(layers)]
    vts = [ValueTransform(d=d, mean=torch.zeros(d), rotation=_orthogonal(d, 10 + i), scope=scope) for i in range(layers)]
    cache = QuantizedKVCache(kts, vts, bits)
    ids = torch.randint(0, 256, (b, t), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        model(input_ids=ids[:, :-1], **cache_kwargs(model, cache))
        model(input_ids=ids[:, -1:], **cache_kwargs(model, cache))  # one decode step
    parts = cache.stored_nbytes()
    for name in ("key_bits", "key_scales", "value_codes", "value_scales", "key_float", "value_float"):
        assert parts[name] == sum(x.numel() * x.element_size() for layer in cache.layers
                                  for x in layer.stored_tensors()[name])
    vectors_ = layers * b * t * (1 if scope == "all_kv_heads" else kvh)
    assert parts["key_bits"] == vectors_ * math.ceil(d / 8)
    assert parts["value_codes"] == vectors_ * math.ceil(d * bits / 8)
    assert parts["key_scales"] == parts["value_scales"] == vectors_ * 2
    assert parts["metadata"] == parts["value_metadata"] == layers * (d + d * d) * 4
    assert parts["key_float"] == parts["value_float"] == 0
    k_bytes, v_bytes = split_key_value_bytes(parts)
    comp = kv_compression(cache)
    assert comp["tokens"] == t and comp["fp16_bytes"] == 2 * 2 * layers * b * t * kvh * hd
    assert comp["kv_compression"] == pytest.approx(comp["fp16_bytes"] / (k_bytes + v_bytes))


def test_fp16_reference_compresses_by_exactly_one(tiny_models):
    model = tiny_models["olmoe"]
    layers, _, _, d = _dims(model, "all_kv_heads")
    cache = QuantizedKVCache(None, [ValueTransform(d=d) for _ in range(layers)], 16)
    with torch.no_grad():
        model(input_ids=torch.randint(0, 256, (1, 9)), **cache_kwargs(model, cache))
    comp = kv_compression(cache)
    assert comp["kv_compression"] == 1.0 and comp["key_compression"] == comp["value_compression"] == 1.0


def test_decode_steps_match_a_single_prefill(tiny_models):
    """Per-token quantization: prefill + one decode step gives the last logits of one long prefill."""
    model = tiny_models["olmoe"]
    layers, _, _, d = _dims(model, "all_kv_heads")
    kts = [KeyTransform(mean=torch.zeros(d), srht_seed=1) for _ in range(layers)]
    vts = [ValueTransform(d=d, srht_seed=2, label="srht") for _ in range(layers)]
    ids = torch.randint(0, 256, (1, 16), generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        full = model(input_ids=ids, **cache_kwargs(model, QuantizedKVCache(kts, vts, 2))).logits[:, -1]
        cache = QuantizedKVCache(kts, vts, 2)
        model(input_ids=ids[:, :-1], **cache_kwargs(model, cache))
        step = model(input_ids=ids[:, -1:], **cache_kwargs(model, cache)).logits[:, -1]
    assert torch.allclose(full, step, atol=1e-4)


@pytest.mark.parametrize("arch", ["olmoe", "mixtral"])
def test_generate_with_the_quantized_kv_cache(tiny_models, arch):
    model = tiny_models[arch]
    layers, _, _, d = _dims(model, "all_kv_heads")
    ids = torch.tensor([[72, 101, 108, 108, 111]])
    kw = dict(attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False, pad_token_id=0)
    kts = [KeyTransform(mean=torch.zeros(d), srht_seed=1) for _ in range(layers)]
    vts = [ValueTransform(d=d, srht_seed=3) for _ in range(layers)]
    cache = QuantizedKVCache(kts, vts, 2)
    out = model.generate(ids, cache=cache, **kw)
    assert out.shape == (1, 11) and cache.get_seq_length() == 10
    lossless = [ValueTransform(d=d, rotation=_orthogonal(d, i)) for i in range(layers)]
    exact = model.generate(ids, cache=QuantizedKVCache(None, lossless, 32, key_dtype=torch.float32), **kw)
    assert torch.equal(exact, model.generate(ids, **kw))


def test_ablation_grid_calibrates_builds_and_scores(tiny_models):
    """18 configs (K fp16 / 1-bit learned × V fp16 / {1, 2} bits × 4 transforms); the fp16 cell scores
    like the plain model; learned rotations are orthogonal and the attention fit improves its start."""
    model = tiny_models["olmoe"]
    g = torch.Generator().manual_seed(9)
    calib, held = torch.randint(0, 256, (2, 24), generator=g), torch.randint(0, 256, (2, 16), generator=g)
    cal = calibrate_v_ablation(model, calib, key_steps=5, cosine_steps=5, attention_steps=20, attention_lr=0.01)
    configs = v_ablation_configs(cal, model.config)
    assert len(configs) == 18 and len({c.name for c in configs}) == 18
    assert {c.value for c in configs} == {"fp16"} | {f"{b}bit_{k}" for b in (1, 2)
                                                     for k in ("none", "srht", "learned_cosine", "learned_attention")}
    for vt in cal.value_cosine + cal.value_attention[1] + cal.value_attention[2]:
        assert orthogonality_error(vt.rotation) < 1e-5
    for layer in range(model.config.num_hidden_layers):
        for bits in (1, 2):
            rec = cal.records[f"layer{layer}.attention_{bits}bit"]
            assert rec["error_learned"] < rec["error_identity_centered"]
    rows = score_v_ablation(model, configs[:2] + configs[-1:], held, compression_tokens=(held[0],))
    plain = score_windows(model, held)
    assert rows[0]["name"] == "K_fp16__V_fp16"
    assert rows[0]["bits_per_token"] == pytest.approx(plain.bits_per_byte, abs=1e-3)
    assert rows[1]["bits_per_token"] != pytest.approx(plain.bits_per_byte, abs=1e-4)
    assert rows[0]["compression_T16"]["kv_compression"] == 1.0
    assert rows[1]["compression_T16"]["value_compression"] > 1.0
