"""The sort-and-split experts implementation computes what transformers' eager one does."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from moegauge.lm import experts
from moegauge.lm.model import embedded_config, new_model


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**16), n_experts=st.sampled_from([4, 16, 64]), top_k=st.sampled_from([1, 2, 8]))
def test_sorted_experts_match_eager(seed, n_experts, top_k):
    top_k = min(top_k, n_experts)
    cfg = embedded_config(num_hidden_layers=1, hidden_size=32, intermediate_size=8, num_attention_heads=2,
                          num_key_value_heads=2, num_experts=n_experts, num_experts_per_tok=top_k)
    model = new_model(cfg, seed).train()
    ids = torch.randint(256, (2, 24), generator=torch.Generator().manual_seed(seed))
    results = {}
    for impl in ("eager", experts.NAME):
        model.set_experts_implementation(impl)
        model.zero_grad()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results[impl] = (out.logits.detach(), grads)
    (l0, g0), (l1, g1) = results["eager"], results[experts.NAME]
    assert torch.allclose(l0, l1, atol=1e-5, rtol=1e-5)
    assert g0.keys() == g1.keys()
    for name in g0:
        assert torch.allclose(g0[name], g1[name], atol=1e-5, rtol=1e-4), name


def test_unsupported_layout_is_refused():
    class Fake(torch.nn.Module):
        num_experts, has_gate, has_bias, is_transposed, is_concatenated = 2, True, True, False, True

    with pytest.raises(NotImplementedError, match="eager"):
        experts.sorted_experts_forward(Fake(), torch.zeros(3, 4), torch.zeros(3, 1, dtype=torch.long),
                                       torch.ones(3, 1))
