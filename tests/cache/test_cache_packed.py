"""The packed 1-bit K cache: score identity, equivalence with the dequantize path, generate, bytes.

Strict equivalence runs in float64 (``model.to(torch.float64)`` on private copies): there the two
paths differ only by float64 rounding, so logits agree to ~1e-12 and the 1e-4 bound has a wide
margin. In float32 a per-score rounding difference of ~1e-6 can flip an MoE router near-tie at an
isolated position (logit jumps ~1e-3–1e-2 there, measured), so float32 is checked where no router
sits — one attention layer, to 2e-5 (float32 eps 6e-8 times sums over d = 256 and T keys) — and
end to end by the fraction of positions whose largest logit difference is within 1e-4 (≥ 95%), its
median (≤ 5e-5: measured ~1.1e-5, i.e. ~10 float32 ulps at |logit| ≈ 10 after four layers) and at
most one changed greedy token.

Tests run on one torch thread: on the shared 2-core machine a second thread waits for a timeslice
at every parallel region.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from transformers import DynamicCache

import moegauge.cache.packed as packed_mod
from moegauge.cache.accounting import split_key_value_bytes
from moegauge.cache.packed import (ATTENTION_NAME, PackedKeys, PackedOneBitKCache, PackedOneBitKLayer,
                                   byte_tables, packed_attention, packed_sign_dots, table_sign_dots)
from moegauge.lm.kcache import KeyTransform, OneBitKCache
from moegauge.lm.model import cache_kwargs, kv_geometry, load_model
from moegauge.signquant import pack_signs, unpack_signs

REPO = Path(__file__).resolve().parents[2]
ROTATIONS = REPO / "evidence" / "rotations" / "rotations_trained.safetensors"


def _text_ids(n: int, batch: int = 1, offset: int = 0) -> torch.Tensor:
    """Real text the embedded model was not trained on (this repository's own sources)."""
    src = REPO / "py" / "moegauge"
    data = (src / "hadamard.py").read_bytes() + (src / "signquant.py").read_bytes()
    rows = [list(data[offset + i * n: offset + (i + 1) * n]) for i in range(batch)]
    return torch.tensor(rows, dtype=torch.long)


def _orthogonal(d: int, g: torch.Generator, *lead: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(*lead, d, d, generator=g, dtype=torch.float64))
    return q.float()


def _transforms(model, kind: str, seed: int = 0) -> list[KeyTransform]:
    """Per-layer transforms of one kind for ``model``: learned (random orthogonal + mean), srht, identity,
    their head_dim versions, and per-head (one R_h and μ_h per KV head)."""
    layers, h, hd = kv_geometry(model.config)
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(layers):
        if kind == "learned":
            out.append(KeyTransform(mean=0.1 * torch.randn(h * hd, generator=g), rotation=_orthogonal(h * hd, g)))
        elif kind == "srht":
            out.append(KeyTransform(mean=torch.zeros(h * hd), srht_seed=seed + i))
        elif kind == "identity":
            out.append(KeyTransform.identity(h * hd))
        elif kind == "learned_head_dim":
            out.append(KeyTransform(mean=0.1 * torch.randn(hd, generator=g), rotation=_orthogonal(hd, g),
                                    scope="head_dim"))
        elif kind == "srht_head_dim":
            out.append(KeyTransform(mean=torch.zeros(hd), srht_seed=seed + i, scope="head_dim"))
        elif kind == "identity_head_dim":
            out.append(KeyTransform.identity(hd, scope="head_dim"))
        elif kind == "per_head":
            out.append(KeyTransform(mean=0.1 * torch.randn(h, hd, generator=g), rotation=_orthogonal(hd, g, h),
                                    scope="head_dim"))
        else:
            raise ValueError(kind)
    return out


KINDS = ["learned", "srht", "identity", "learned_head_dim", "srht_head_dim", "identity_head_dim", "per_head"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="module")
def tiny64(tiny_models):
    """Private float64 copies of the tiny models (the session fixtures stay float32)."""
    return {name: copy.deepcopy(m).to(torch.float64) for name, m in tiny_models.items()}


@pytest.fixture(scope="module")
def embedded():
    return load_model(None).model


@pytest.fixture(scope="module")
def embedded64(embedded):
    return copy.deepcopy(embedded).to(torch.float64)


def _learned_from_evidence(dtype=None) -> list[KeyTransform]:
    from safetensors.torch import load_file

    t = load_file(str(ROTATIONS))
    out = []
    for i in range(4):
        mean, rot = t[f"layer{i}.learned_centered.mean"], t[f"layer{i}.learned_centered.rotation"]
        out.append(KeyTransform(mean=mean if dtype is None else mean.to(dtype),
                                rotation=rot if dtype is None else rot.to(dtype), label="learned_centered"))
    return out


def _prefill_and_decode(model, cache, ids: torch.Tensor, prefill: int, packed: bool) -> torch.Tensor:
    """Logits of a prefill of ``prefill`` tokens, then the rest one token per forward."""
    ctx = packed_attention(model) if packed else contextlib.nullcontext()
    outs = []
    with torch.no_grad(), ctx:
        outs.append(model(input_ids=ids[:, :prefill], **cache_kwargs(model, cache)).logits)
        for i in range(prefill, ids.shape[1]):
            outs.append(model(input_ids=ids[:, i:i + 1], **cache_kwargs(model, cache)).logits)
    return torch.cat(outs, dim=1)


# ----------------------------------------------------------------------------- the score identity

@settings(max_examples=60)
@given(d=st.integers(1, 80), streams=st.integers(1, 3), tokens=st.integers(0, 9), queries=st.integers(1, 5),
       seed=st.integers(0, 2**31 - 1))
def test_table_scores_equal_dense_sign_dot_products(d, streams, tokens, queries, seed):
    """2·Σ_{s=+1} x − Σ x read through byte tables equals ±1·x for any bytes (padding bits included)."""
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 256, (streams, tokens, -(-d // 8)), generator=g, dtype=torch.uint8)
    x = torch.randn(streams, queries, d, generator=g, dtype=torch.float64)
    got = packed_sign_dots(bits, x)
    # (signquant.unpack_signs cannot reshape zero vectors, so the empty reference is built directly)
    want = unpack_signs(bits, d, torch.float64) @ x.transpose(-1, -2) if tokens else torch.zeros(streams, 0, queries,
                                                                                                   dtype=torch.float64)
    assert got.shape == (streams, tokens, queries)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_byte_tables_hold_every_partial_sum():
    x = torch.arange(1.0, 11.0, dtype=torch.float64).reshape(1, 1, 10)  # d = 10: two bytes, the second padded
    t = byte_tables(x)
    rows = t.weight.reshape(2, 256)
    assert rows[0, 0b00000101].item() == 1 + 3 and rows[0, 255].item() == sum(range(1, 9))
    assert rows[1, 0b11111111].item() == 9 + 10  # padding coordinates count as 0
    assert t.totals.item() == 55


def test_table_scores_refuse_mismatched_bits():
    t = byte_tables(torch.randn(2, 3, 16))
    with pytest.raises(ValueError):
        table_sign_dots(torch.zeros(2, 4, 3, dtype=torch.uint8), t)
    with pytest.raises(TypeError):
        table_sign_dots(torch.zeros(2, 4, 2, dtype=torch.int32), t)


# ----------------------------------------------------------------------------- one layer

def _layer_case(kind: str, heads: int, kv_heads: int, dtype):
    hd = 16
    g = torch.Generator().manual_seed(1)
    d = kv_heads * hd
    t = {"learned": KeyTransform(mean=torch.randn(d, generator=g), rotation=_orthogonal(d, g)),
         "srht": KeyTransform(mean=torch.randn(d, generator=g), srht_seed=5),
         "identity": KeyTransform.identity(d),
         "per_head": KeyTransform(mean=torch.randn(kv_heads, hd, generator=g), rotation=_orthogonal(hd, g, kv_heads),
                                  scope="head_dim"),
         "srht_head_dim": KeyTransform(mean=torch.randn(hd, generator=g), srht_seed=2, scope="head_dim")}[kind]
    k = torch.randn(2, kv_heads, 37, hd, generator=g, dtype=torch.float64).to(dtype)
    v = torch.randn(2, kv_heads, 37, hd, generator=g, dtype=torch.float64).to(dtype)
    return t, k, v, g


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("kind", ["learned", "srht", "identity", "per_head", "srht_head_dim"])
@pytest.mark.parametrize("lq", [1, 3, 21])  # 21 > TABLE_MAX_QUERY_TOKENS: the blockwise unpacked path
def test_layer_attention_equals_sdpa_on_dequantized_keys(kind, lq, dtype, atol, monkeypatch):
    """GQA (8 query heads on 4 KV heads), batch 2, chunk and block boundaries crossed, causal and
    padded boolean masks, a fully masked row (→ 0, as sdpa)."""
    monkeypatch.setattr(packed_mod, "UNPACK_KEY_BLOCK", 8)
    t, k, v, g = _layer_case(kind, 8, 4, dtype)
    layer = PackedOneBitKLayer(t, chunk_tokens=10)
    layer.update(k[:, :, :20], v[:, :, :20])
    layer.update(k[:, :, 20:], v[:, :, 20:])
    q = torch.randn(2, 8, lq, 16, generator=g, dtype=torch.float64).to(dtype)
    keys = layer.dequantized_keys(dtype).repeat_interleave(2, dim=1)
    values = layer.stored_values(dtype).repeat_interleave(2, dim=1)
    causal = torch.ones(lq, 37, dtype=torch.bool).tril(37 - lq)
    padded = causal.expand(2, 1, lq, 37).clone()
    padded[1, :, :, :5] = False
    padded[0, :, 0, :] = False  # a row with no key at all
    for mask in (None, padded):
        want = F.scaled_dot_product_attention(q, keys, values, attn_mask=causal if mask is None else mask,
                                              scale=0.3).transpose(1, 2)
        got = layer.attend(q, mask, 0.3)
        torch.testing.assert_close(got, want, rtol=0, atol=atol)


def test_decode_never_reconstructs_keys(monkeypatch):
    """A one-token step scores through tables: unpacking or dequantizing would raise here."""
    t, k, v, g = _layer_case("learned", 4, 4, torch.float32)
    layer = PackedOneBitKLayer(t, chunk_tokens=16)
    layer.update(k, v)

    def forbidden(*a, **kw):
        raise AssertionError("decode reconstructed the keys")

    for name in ("unpack_signs", "dequantize"):
        monkeypatch.setattr(packed_mod, name, forbidden)
    monkeypatch.setattr(KeyTransform, "inverse", forbidden)
    out = layer.attend(torch.randn(2, 4, 1, 16, generator=g), None, 0.25)
    assert out.shape == (2, 1, 4, 16) and torch.isfinite(out).all()


def test_storage_grows_in_preallocated_chunks():
    t, k, v, _ = _layer_case("srht", 4, 4, torch.float32)
    layer = PackedOneBitKLayer(t, chunk_tokens=16)
    layer.update(k[:, :, :5], v[:, :, :5])
    first = layer._chunks[0].bits.data_ptr()
    for i in range(5, 37):
        layer.update(k[:, :, i:i + 1], v[:, :, i:i + 1])
    assert len(layer._chunks) == 3 and layer._chunks[0].bits.data_ptr() == first  # never copied
    stored, allocated = layer.stored_nbytes(), layer.allocated_nbytes()
    # 2 batch × 37 tokens × (64 / 8) bytes; fp16 scales; fp16 values 2 × 4 heads × 37 × 16
    assert stored == {"key_bits": 2 * 37 * 8, "key_scales": 2 * 37 * 2, "values": 2 * 4 * 37 * 16 * 2,
                      "metadata": 8 + 64 * 4}
    assert allocated["key_bits"] == 2 * 48 * 8 and allocated["values"] == 2 * 4 * 48 * 16 * 2
    stored_bits = torch.cat([c.bits for c in layer._chunks], dim=2)[:, :, :37]
    y = t.forward(k.transpose(1, 2).reshape(2, 1, 37, 64))
    assert torch.equal(stored_bits, pack_signs(y))  # the same bits OneBitKLayer stores


# ----------------------------------------------------------------------------- whole models, float64

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("arch", ["olmoe", "mixtral"])  # mixtral: 4 query heads on 2 KV heads
def test_logits_equal_the_dequantize_path_float64(tiny64, arch, kind):
    model = tiny64[arch]
    ids = _text_ids(30, batch=2)
    t = _transforms(model, kind)
    ref = _prefill_and_decode(model, OneBitKCache(t), ids, 18, packed=False)
    got = _prefill_and_decode(model, PackedOneBitKCache(t, chunk_tokens=8), ids, 18, packed=True)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-4)
    assert (got - ref).abs().max() < 1e-9  # float64: rounding only


def test_embedded_model_float64_learned_evidence_rotations(embedded64):
    """The embedded model with its trained rotations (fp32 and fp16-stored) on real held-out-like text."""
    ids = _text_ids(96, batch=2, offset=500)
    for dtype in (None, torch.float16):
        t = _learned_from_evidence(dtype)
        ref = _prefill_and_decode(embedded64, OneBitKCache(t), ids, 64, packed=False)
        got = _prefill_and_decode(embedded64, PackedOneBitKCache(t, chunk_tokens=40), ids, 64, packed=True)
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-4)


def test_embedded_model_float32_within_justified_tolerance(embedded):
    ids = _text_ids(160, batch=1, offset=2000)
    t = _learned_from_evidence()
    ref = _prefill_and_decode(embedded, OneBitKCache(t), ids, 128, packed=False)
    got = _prefill_and_decode(embedded, PackedOneBitKCache(t, chunk_tokens=64), ids, 128, packed=True)
    per_position = (got - ref).abs().amax(dim=-1).flatten()
    assert (per_position <= 1e-4).float().mean() >= 0.95
    assert per_position.median() <= 5e-5
    assert (got.argmax(-1) != ref.argmax(-1)).sum() <= 1


def test_generate_greedy_tokens_equal_the_dequantize_path(tiny64, embedded64):
    """Batch 2 with left padding, through ``generate``; float64 so the tokens must be identical."""
    for model, kind in ((tiny64["mixtral"], "srht"), (tiny64["olmoe"], "per_head"), (embedded64, "learned")):
        t = _learned_from_evidence() if model is embedded64 else _transforms(model, kind)
        ids = _text_ids(20, batch=2, offset=100)
        mask = torch.ones_like(ids)
        mask[1, :6] = 0
        kw = dict(attention_mask=mask, max_new_tokens=10, do_sample=False, pad_token_id=0)
        with torch.no_grad():
            ref = model.generate(ids, past_key_values=OneBitKCache(t), **kw)
            with packed_attention(model):
                got = model.generate(ids, past_key_values=PackedOneBitKCache(t, chunk_tokens=8), **kw)
        assert got.shape == (2, 30)
        assert torch.equal(got, ref)


def test_padding_free_batch_with_a_block_mask(tiny64):
    """Two sequences packed in one row, position ids restarting, a 4-D block-causal boolean mask."""
    model = tiny64["mixtral"]
    t = _transforms(model, "learned")
    ids = _text_ids(24)
    pos = torch.cat([torch.arange(10), torch.arange(14)]).unsqueeze(0)
    seq = torch.cat([torch.zeros(10), torch.ones(14)])
    mask = ((seq[:, None] == seq[None, :]) & torch.ones(24, 24, dtype=torch.bool).tril())[None, None]
    with torch.no_grad():
        ref = model(input_ids=ids, position_ids=pos, attention_mask=mask, **cache_kwargs(model, OneBitKCache(t))).logits
        with packed_attention(model):
            got = model(input_ids=ids, position_ids=pos, attention_mask=mask,
                        **cache_kwargs(model, PackedOneBitKCache(t))).logits
            # no cache: transformers builds the packed-sequence mask itself, the function falls back to sdpa
            free = model(input_ids=ids, position_ids=pos, use_cache=False).logits
        sdpa_free = model(input_ids=ids, position_ids=pos, use_cache=False).logits
        alone = model(input_ids=ids[:, 10:], use_cache=False).logits
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-9)
    assert torch.equal(free, sdpa_free)
    # the second sequence must not see the first
    torch.testing.assert_close(free[:, 10:], alone, rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- glue and fallbacks

def test_regular_cache_inside_packed_attention_is_ordinary_sdpa(tiny_olmoe):
    ids = _text_ids(12, batch=2)
    with torch.no_grad():
        ref = tiny_olmoe(input_ids=ids, **cache_kwargs(tiny_olmoe, DynamicCache())).logits
        with packed_attention(tiny_olmoe):
            assert tiny_olmoe.config._attn_implementation == ATTENTION_NAME
            got = tiny_olmoe(input_ids=ids, **cache_kwargs(tiny_olmoe, DynamicCache())).logits
    assert torch.equal(got, ref)


def test_packed_cache_outside_packed_attention_returns_dense_keys(tiny_olmoe):
    t = _transforms(tiny_olmoe, "learned")
    ids = _text_ids(12, batch=2)
    with torch.no_grad():
        ref = tiny_olmoe(input_ids=ids, **cache_kwargs(tiny_olmoe, OneBitKCache(t))).logits
        cache = PackedOneBitKCache(t)
        got = tiny_olmoe(input_ids=ids, **cache_kwargs(tiny_olmoe, cache)).logits
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)
    with packed_attention(tiny_olmoe):
        handle, _ = cache.layers[0].update(torch.randn(2, 4, 1, 16), torch.randn(2, 4, 1, 16))
    assert isinstance(handle, PackedKeys)


def test_packed_attention_restores_the_implementation(tiny_olmoe):
    before = tiny_olmoe.config._attn_implementation
    with pytest.raises(RuntimeError):
        with packed_attention(tiny_olmoe):
            raise RuntimeError("boom")
    assert tiny_olmoe.config._attn_implementation == before
    assert all(getattr(m, "config", tiny_olmoe.config)._attn_implementation == before for m in tiny_olmoe.modules()
               if hasattr(getattr(m, "config", None), "_attn_implementation"))


def test_stored_bytes_of_the_cache_are_counted_from_tensors(tiny_olmoe):
    layers, h, hd = kv_geometry(tiny_olmoe.config)
    d = h * hd
    ids = _text_ids(40)
    caches = {"srht": PackedOneBitKCache(_transforms(tiny_olmoe, "srht"), chunk_tokens=16),
              "learned": PackedOneBitKCache(_transforms(tiny_olmoe, "learned"), chunk_tokens=16),
              "learned_fp16": PackedOneBitKCache([KeyTransform(mean=x.mean.half(), rotation=x.rotation.half())
                                                  for x in _transforms(tiny_olmoe, "learned")], chunk_tokens=16),
              "per_head": PackedOneBitKCache(_transforms(tiny_olmoe, "per_head"), chunk_tokens=16)}
    with torch.no_grad(), packed_attention(tiny_olmoe):
        for cache in caches.values():
            tiny_olmoe(input_ids=ids, **cache_kwargs(tiny_olmoe, cache))
    b = {name: c.stored_nbytes() for name, c in caches.items()}
    assert b["srht"] == {"key_bits": layers * 40 * d // 8, "key_scales": layers * 40 * 2,
                         "values": layers * 40 * d * 2, "metadata": layers * (d * 4 + 8)}
    assert b["learned"]["metadata"] == layers * (d * d + d) * 4
    assert b["learned_fp16"]["metadata"] * 2 == b["learned"]["metadata"]  # fp16 metadata halves
    assert b["per_head"]["key_bits"] == layers * 40 * h * (hd // 8)  # one code per head
    assert b["per_head"]["key_scales"] == layers * 40 * h * 2  # one scale per head
    assert b["per_head"]["metadata"] == layers * (h * hd * hd + h * hd) * 4
    assert caches["srht"].allocated_nbytes()["key_bits"] == layers * 48 * d // 8  # 3 chunks of 16
    k, v = split_key_value_bytes(b["srht"])
    assert v == layers * 40 * d * 2 and k == layers * (40 * (d // 8 + 2) + d * 4 + 8)


# ----------------------------------------------------------------------------- per-head KeyTransform

def test_per_head_transform_acts_head_by_head():
    g = torch.Generator().manual_seed(4)
    r, mu = _orthogonal(8, g, 3), torch.randn(3, 8, generator=g)
    t = KeyTransform(mean=mu, rotation=r, scope="head_dim")
    k = torch.randn(2, 3, 5, 8, generator=g)
    y = t.forward(k)
    for h in range(3):
        torch.testing.assert_close(y[:, h], (k[:, h] - mu[h]) @ r[h].T)
    torch.testing.assert_close(t.inverse(y), k, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        KeyTransform(mean=mu, rotation=r)  # per-head needs scope head_dim
    with pytest.raises(ValueError):
        t.forward(torch.randn(2, 4, 5, 8))  # 4 heads for a 3-head transform
    with pytest.raises(ValueError):
        KeyTransform(mean=torch.zeros(2, 8), rotation=r, scope="head_dim")


def test_per_head_rotation_alone_leaves_logits_unchanged(tiny_models):
    """The dequantize path with per-head R_h and μ_h, unquantized: exact up to rounding."""
    model = tiny_models["mixtral"]
    ids = _text_ids(16, batch=2)
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits
        cache = OneBitKCache(_transforms(model, "per_head"), quantize_keys=False, value_dtype=torch.float32)
        got = model(input_ids=ids, **cache_kwargs(model, cache)).logits
    torch.testing.assert_close(got, ref, atol=2e-5, rtol=1e-5)
