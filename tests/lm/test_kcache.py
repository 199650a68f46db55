"""The 1-bit K cache: exactness of the rotation alone, stored bytes, ablation, generation."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from moegauge.lm.kcache import Fp16Cache, KeyTransform, OneBitKCache
from moegauge.signquant import quantize, dequantize


def _d(model) -> int:
    c = model.config
    return c.num_key_value_heads * (c.hidden_size // c.num_attention_heads)


def _random_transform(d: int, seed: int, centered: bool) -> KeyTransform:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    mu = torch.randn(d, generator=g) if centered else torch.zeros(d)
    return KeyTransform(mean=mu, rotation=q.float(), label="random")


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), centered=st.booleans(), arch=st.sampled_from(["olmoe", "mixtral", "qwen2moe"]))
def test_rotation_alone_leaves_logits_unchanged(tiny_models, seed, centered, arch):
    """Gauge invariance on a real forward pass: y = R(k − μ) stored exactly, k = Rᵀy + μ read back."""
    model = tiny_models[arch]
    ids = torch.randint(0, 256, (2, 20), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits
        t = [_random_transform(_d(model), seed + i, centered) for i in range(model.config.num_hidden_layers)]
        cache = OneBitKCache(t, quantize_keys=False, value_dtype=torch.float32)
        got = model(input_ids=ids, past_key_values=cache, use_cache=True).logits
    torch.testing.assert_close(got, ref, atol=2e-5, rtol=1e-5)


def test_one_bit_keys_are_what_attention_sees(tiny_olmoe, byte_batch):
    """The cache returns Rᵀ(α·sign(R(k − μ))) + μ for every stored key."""
    d = _d(tiny_olmoe)
    t = _random_transform(d, 3, centered=True)
    layer = OneBitKCache([t, t]).layers[0]
    k = torch.randn(2, 4, 5, d // 4)
    v = torch.randn(2, 4, 5, d // 4)
    keys, values = layer.update(k, v)
    y = t.forward(k.transpose(1, 2).reshape(2, 5, d))
    expected = t.inverse(dequantize(quantize(y))).reshape(2, 5, 4, d // 4).transpose(1, 2)
    torch.testing.assert_close(keys, expected)
    torch.testing.assert_close(values, v.half().float())


def test_stored_bytes_are_counted_from_tensors(tiny_olmoe):
    d = _d(tiny_olmoe)
    t = KeyTransform(mean=torch.zeros(d), srht_seed=0, label="srht")
    cache = OneBitKCache([t, t])
    fp16 = Fp16Cache(2)
    ids = torch.randint(0, 256, (1, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        tiny_olmoe(input_ids=ids, past_key_values=cache, use_cache=True)
        tiny_olmoe(input_ids=ids, past_key_values=fp16, use_cache=True)
    b = cache.stored_nbytes()
    assert b["key_bits"] == 2 * 40 * (d // 8)  # two layers, one bit per coordinate
    assert b["key_scales"] == 2 * 40 * 2  # one fp16 scale per token vector
    assert b["values"] == 2 * 40 * d * 2  # fp16 values
    assert fp16.stored_nbytes() == {"keys": 2 * 40 * d * 2, "values": 2 * 40 * d * 2}


def test_layer_ablation_quantizes_only_that_layer(tiny_olmoe, byte_batch):
    d = _d(tiny_olmoe)
    t = [KeyTransform.identity(d), KeyTransform.identity(d)]
    with torch.no_grad():
        ref = tiny_olmoe(input_ids=byte_batch, use_cache=False).logits
        only1 = OneBitKCache(t, {1})
        out = tiny_olmoe(input_ids=byte_batch, past_key_values=only1, use_cache=True).logits
    assert type(only1.layers[0]).__name__ == "DynamicLayer"
    assert only1.stored_nbytes()["key_bits"] == byte_batch.numel() * d // 8
    assert not torch.allclose(out, ref)


def test_generate_with_the_one_bit_cache(tiny_models):
    for model in tiny_models.values():
        d = _d(model)
        t = [KeyTransform(mean=torch.zeros(d), srht_seed=1) for _ in range(model.config.num_hidden_layers)]
        ids = torch.tensor([[72, 101, 108, 108, 111]])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                             past_key_values=OneBitKCache(t), pad_token_id=0)
        assert out.shape == (1, 11)


def test_transform_refuses_two_rotations():
    with pytest.raises(ValueError):
        KeyTransform(mean=torch.zeros(4), rotation=torch.eye(4), srht_seed=0)
