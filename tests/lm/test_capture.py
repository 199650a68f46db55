"""Capture from OLMoE, Mixtral and Qwen2-MoE configs: shapes, RoPE consistency, router, shards."""

from __future__ import annotations

import json

import pytest
import torch

from moegauge.errors import InputError
from moegauge.lm.capture import QUANTITIES, capture_batch, capture_to_dir, decoder_layers, load_capture


def _rope(model, ids):
    base = model.model
    pos = torch.arange(ids.shape[1]).unsqueeze(0).expand(ids.shape[0], -1)
    dummy = torch.zeros(1, dtype=torch.float32)
    return base.rotary_emb(dummy, pos)


@pytest.mark.parametrize("arch", ["olmoe", "mixtral", "qwen2moe"])
def test_capture_shapes_and_rope_consistency(tiny_models, byte_batch, arch):
    import sys

    model = tiny_models[arch]
    cfg = model.config
    t = capture_batch(model, byte_batch, QUANTITIES)
    n = byte_batch.numel()
    hd = cfg.hidden_size // cfg.num_attention_heads
    for layer in range(cfg.num_hidden_layers):
        assert t[f"layer{layer}.k_post_rope"].shape == (n, cfg.num_key_value_heads, hd)
        assert t[f"layer{layer}.q_post_rope"].shape == (n, cfg.num_attention_heads, hd)
        assert t[f"layer{layer}.router_topk"].shape == (n, cfg.num_experts_per_tok)
        # Post-RoPE tensors are the model's own RoPE applied to the pre-RoPE ones.
        apply = sys.modules[type(decoder_layers(model)[layer].self_attn).__module__].apply_rotary_pos_emb
        cos, sin = _rope(model, byte_batch)
        b, s = byte_batch.shape
        k_pre = t[f"layer{layer}.k_pre_rope"].reshape(b, s, -1, hd).transpose(1, 2)
        _, k_rot = apply(k_pre, k_pre, cos, sin)
        torch.testing.assert_close(k_rot.transpose(1, 2).reshape(n, -1, hd), t[f"layer{layer}.k_post_rope"])
        # Position 0 is not rotated; later positions are.
        first = torch.arange(0, n, s)
        torch.testing.assert_close(t[f"layer{layer}.k_post_rope"][first], t[f"layer{layer}.k_pre_rope"][first])
        assert not torch.allclose(t[f"layer{layer}.k_post_rope"], t[f"layer{layer}.k_pre_rope"])


def test_olmoe_k_norm_separates_pre_norm_and_pre_rope(tiny_olmoe, byte_batch):
    t = capture_batch(tiny_olmoe, byte_batch, ["k_pre_norm", "k_pre_rope"])
    pre_norm = t["layer0.k_pre_norm"].reshape(byte_batch.numel(), -1)
    pre_rope = t["layer0.k_pre_rope"].reshape(byte_batch.numel(), -1)
    # OLMoE's k-norm is an RMSNorm over all KV heads at once: unit RMS before the learned weight.
    rms = pre_norm.pow(2).mean(-1, keepdim=True).add(tiny_olmoe.config.rms_norm_eps).rsqrt()
    weight = tiny_olmoe.model.layers[0].self_attn.k_norm.weight
    torch.testing.assert_close(pre_rope, pre_norm * rms * weight)


def test_router_topk_matches_router_logits(tiny_olmoe, byte_batch):
    t = capture_batch(tiny_olmoe, byte_batch, ["router_topk"])
    out = tiny_olmoe(input_ids=byte_batch, output_router_logits=True)
    expected = out.router_logits[0].topk(tiny_olmoe.config.num_experts_per_tok, dim=-1).indices
    assert torch.equal(t["layer0.router_topk"].long(), expected)


def test_capture_to_dir_shards_and_reloads(tiny_olmoe, tmp_path):
    g = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, 256, (2, 16), generator=g) for _ in range(5)]
    manifest = capture_to_dir(tiny_olmoe, batches, tmp_path, ["k_post_rope", "router_topk"], shard_tokens=64)
    assert manifest["tokens"] == 160
    assert len(manifest["shards"]) == 3  # 64 + 64 + 32 tokens
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == manifest
    k = load_capture(tmp_path, "k_post_rope", 1)
    assert k.shape[0] == 160
    direct = torch.cat([capture_batch(tiny_olmoe, b, ["k_post_rope"])["layer1.k_post_rope"] for b in batches])
    assert torch.equal(k, direct)


def test_incomplete_capture_is_refused(tmp_path):
    with pytest.raises(InputError, match="no manifest.json"):
        load_capture(tmp_path, "k_post_rope", 0)


def test_unknown_quantity_is_refused(tiny_olmoe, byte_batch):
    with pytest.raises(ValueError, match="unknown capture quantities"):
        capture_batch(tiny_olmoe, byte_batch, ["k_post_rope", "attention_weights"])


def test_float16_storage_moves_beta_and_one_bit_cosine_below_1e_3(tiny_olmoe, tmp_path):
    """fp16 against fp32 captures of the same windows: β and the one-bit cosine differ by < 1e-3."""
    from moegauge.lm.capture import storage_dtype_effect

    g = torch.Generator().manual_seed(2)
    batches = [torch.randint(0, 256, (2, 32), generator=g) for _ in range(2)]
    capture_to_dir(tiny_olmoe, batches, tmp_path / "fp32", ["k_post_rope"], dtype=torch.float32)
    capture_to_dir(tiny_olmoe, batches, tmp_path / "fp16", ["k_post_rope"], dtype=torch.float16)
    effect = storage_dtype_effect(tmp_path / "fp32", tmp_path / "fp16")
    assert effect["layers"] == tiny_olmoe.config.num_hidden_layers
    assert 0 < effect["max_beta_diff"] < 1e-3  # fp16 rounds: a difference, and a small one
    assert effect["max_one_bit_cosine_diff"] < 1e-3
