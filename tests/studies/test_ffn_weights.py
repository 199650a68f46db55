"""Seed 003 Part E's measurements on a tiny random model and on constructed low-rank weights."""

from __future__ import annotations

import torch

from moegauge.lm.model import embedded_config, new_model
from moegauge.studies.ffn.weights import beta_lift, effective_dimensions


def _model():
    return new_model(embedded_config(hidden_size=64, intermediate_size=16, num_hidden_layers=2, num_attention_heads=4,
                                     num_key_value_heads=4, num_experts=8, num_experts_per_tok=2), seed=0)


def test_effective_dimension_of_planted_rank_two_experts():
    model = _model()
    experts = model.model.layers[0].mlp.experts
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        a, b = torch.randn(8, 32, 2, generator=g), torch.randn(8, 2, 64, generator=g)
        experts.gate_up_proj.copy_(a @ b)  # rank 2 per expert
    rows = [r for r in effective_dimensions(model, [0]) if r["matrix"] in ("gate", "up")]
    assert all(1.0 <= r["d_eff"] <= 2.0 + 1e-6 and r["rank_90"] <= 2 for r in rows)  # participationRatio_bounds
    full = [r for r in effective_dimensions(model, [0]) if r["matrix"] == "down_t"]
    assert all(1.0 <= r["d_eff"] <= r["max_rank"] for r in full)


def test_beta_lift_fields_and_bounds():
    model = _model()
    rows = effective_dimensions(model, [0])
    out = beta_lift(model, 0, rows, steps=20, seed=0)
    for k in ("beta_raw", "beta_learned", "beta_random"):
        assert 0 < out[k] <= 1  # moment_ratio_le_one
    assert out["lift"] == out["beta_learned"] - out["beta_raw"] and out["scored_vectors"] == 4 * 3 * 16
