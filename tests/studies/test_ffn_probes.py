"""Seed 003 Part E's secondary probes (E2, E3) and seed 002 §3's Stiefel frustration, on tiny random
models and on constructed weights whose answer is known."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from moegauge.lm.model import embedded_config, new_model
from moegauge.moments import beta_moment_ratio
from moegauge.rotation import initial_rotation, learn_rotation
from moegauge.studies.ffn.frustration import (
    dense_comparator,
    frustration,
    learn_group_rotations,
    sample_experts,
)
from moegauge.studies.ffn.probes import (
    first_token_nll,
    one_bit_rows,
    optimiser_probe,
    planted_vectors,
    probe_summary,
    quantize_experts,
)


def _model():
    return new_model(embedded_config(hidden_size=32, intermediate_size=8, num_hidden_layers=2, num_attention_heads=4,
                                     num_key_value_heads=4, num_experts=8, num_experts_per_tok=2), seed=0)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(1, 6), st.integers(2, 12), st.integers(0, 10_000))
def test_one_bit_rows_is_a_sign_times_the_l2_optimal_scale(rows, d, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, d, generator=g, dtype=torch.float64)
    r = initial_rotation(d, "random", seed)
    q = one_bit_rows(w, r)
    y = q @ r.T  # back in the rotated basis: ±α per row
    alpha = (w @ r.T).abs().mean(dim=-1, keepdim=True)
    assert torch.allclose(y.abs(), alpha.expand_as(y), atol=1e-12)
    assert torch.equal(torch.sign(y), torch.where(w @ r.T >= 0, 1.0, -1.0).double())
    # one_bit_scale_optimal: the mean |y| is the scale with the least squared error for these signs
    err = ((w @ r.T - y) ** 2).sum()
    for f in (0.9, 1.1):
        assert err <= ((w @ r.T - f * y) ** 2).sum() + 1e-12


def test_quantize_experts_touches_only_the_named_layers_and_keeps_the_original():
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    q = quantize_experts(model, [0], None)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # a copy, not in place
    e0, e1 = q.model.layers[0].mlp.experts, q.model.layers[1].mlp.experts
    assert torch.equal(e1.gate_up_proj, model.model.layers[1].mlp.experts.gate_up_proj)
    # every row of layer 0 has exactly one magnitude: one bit per weight plus a row scale
    mags = e0.gate_up_proj.abs()
    assert torch.allclose(mags, mags[..., :1].expand_as(mags), rtol=1e-5)
    mags_d = e0.down_proj.abs().transpose(1, 2)
    assert torch.allclose(mags_d, mags_d[..., :1].expand_as(mags_d), rtol=1e-5)


def test_first_token_nll_matches_the_full_forward():
    model = _model()
    g = torch.Generator().manual_seed(1)
    prompts = torch.randint(0, 256, (5, 9), generator=g)
    got = first_token_nll(model, prompts, batch_size=2)
    with torch.no_grad():
        logits = model(input_ids=prompts).logits[:, -2].float()
    want = torch.nn.functional.cross_entropy(logits, prompts[:, -1], reduction="none")
    assert torch.allclose(got, want, atol=1e-5)


def test_planted_control_is_hidden_and_recoverable_in_principle():
    x, source_beta = planted_vectors(2048, 32, seed=0, sigma=0.05)
    assert abs(source_beta - 0.75) < 0.01  # uniform sources
    assert float(beta_moment_ratio(x.double())) < source_beta - 0.02  # the hiding rotation lowers β


def test_learn_rotation_snapshots_are_the_prefix_runs_and_radam_differs_from_adam():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 8, generator=g) ** 3
    long = learn_rotation(x, 12, 0, center=False, optimizer="radam", snapshot_steps=(0, 5, 12))
    short = learn_rotation(x, 5, 0, center=False, optimizer="radam")
    assert torch.equal(long.snapshots[5], short.rotation)
    assert torch.equal(long.snapshots[12], long.rotation)
    assert torch.allclose(long.snapshots[0], torch.eye(8))
    adam = learn_rotation(x, 12, 0, center=False, optimizer="adam")
    assert not torch.equal(adam.rotation, long.rotation)
    assert long.config["optimizer"] == "radam"


def test_optimiser_probe_budgets_and_summary():
    model = _model()
    r = optimiser_probe(model, [0], base_steps=8, seed=0)
    assert r["budgets"] == [2, 4, 8, 16, 32]
    assert {(x["optimizer"], x["steps"]) for x in r["budget_rows"]} == {(o, b) for o in ("adam", "radam") for b in r["budgets"]}
    s = probe_summary(r)
    assert s["best_lift"] == max(s["adam_lift"], s["radam_lift"])
    assert all(0 < x["beta_learned"] <= 1 for x in r["control_rows"])


def test_group_rotations_are_orthogonal_and_one_group_is_learn_rotation():
    g = torch.Generator().manual_seed(4)
    groups = [torch.randn(40, 6, generator=g) ** 3 for _ in range(3)]
    rots = learn_group_rotations(groups, 15)
    for r in rots:
        assert float((r.T @ r - torch.eye(6, dtype=torch.float64)).abs().max()) < 1e-10
    # one group: the same learner as learn_rotation (Cayley map from I, Adam, full batch)
    one = learn_group_rotations([groups[0]], 15)[0]
    ref = learn_rotation(groups[0], 15, 0, center=False).rotation.double()
    assert torch.allclose(one, ref, atol=1e-5)
    # groups do not interact: learning a group alone gives the same rotation as learning it with others
    assert torch.allclose(rots[1], learn_group_rotations([groups[1]], 15)[0], atol=1e-6)


def test_frustration_is_positive_for_experts_in_different_planted_bases():
    """Experts whose vectors are axis-aligned uniform sources, each expert in its own basis a small
    random rotation away from the standard one: each expert's own rotation can undo its basis, a
    shared one cannot — F > 0, and pseudo-experts that mix the experts' units gain less."""
    model = new_model(embedded_config(hidden_size=16, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                      num_key_value_heads=2, num_experts=4, num_experts_per_tok=2), seed=0)
    ex = model.model.layers[0].mlp.experts
    e, two_i, h = ex.gate_up_proj.shape
    inter = two_i // 2
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for k in range(e):
            a = torch.randn(h, h, generator=g, dtype=torch.float64)
            basis = torch.linalg.matrix_exp(0.1 * (a - a.T))
            v = ((torch.rand(3 * inter, h, generator=g, dtype=torch.float64) * 2 - 1) @ basis.T).float()
            ex.gate_up_proj[k].copy_(v[: 2 * inter])
            ex.down_proj[k].copy_(v[2 * inter :].T)
    f = frustration(model, 0, list(range(e)), steps=80, seed=0)
    assert f["vectors"] == e * 3 * inter
    assert f["held_out_frustration"] > 0.005 and f["frustration"] > 0.01
    assert f["pseudo_held_out_frustration"] < f["held_out_frustration"] - 0.005
    d = dense_comparator(model, 0, 10, 0, list(range(e)), f["shared_fit_rotation"])
    assert abs(d["moe_beta_rotated"] - f["held_out_beta_shared"]) < 1e-9
    assert d["lift_gap"] == d["dense_lift"] - d["moe_lift"]


def test_sample_experts_is_seeded_and_distinct():
    a, b = sample_experts(64, 16, 3), sample_experts(64, 16, 3)
    assert a == b and len(set(a)) == 16 and a == sorted(a)
    assert sample_experts(8, 16, 0) == list(range(8))
