"""A sort-and-split experts implementation for MoE layers on CPU, registered with transformers.

transformers' own implementations are slow to *train* on a CPU with many small experts: ``eager``
indexes each expert's weights out of the stacked parameter, so backward allocates a full-size
gradient per expert (O(E²) memory traffic at E = 64), and ``grouped_mm`` falls back to per-expert
matmuls plus a slow ``index_put`` on CPU. This one sorts the (token, expert) pairs by expert once,
splits them into contiguous per-expert blocks, and unbinds the stacked weights once, so every
gradient is accumulated in a single pass. It computes the same function as ``eager`` (same gate,
activation and routing weights), differing only by floating-point rounding (tested).

It is registered under ``EXPERTS_IMPLEMENTATION`` through transformers' public extension point
(``ExpertsInterface``), so ``from_pretrained(..., experts_implementation=...)`` and
``set_experts_implementation`` select it like a built-in one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NAME = "moegauge_sorted"


def sorted_experts_forward(self, hidden_states: torch.Tensor, top_k_index: torch.Tensor,
                           top_k_weights: torch.Tensor) -> torch.Tensor:
    """Σ_k w_k · expert_{e_k}(x) per token, for OLMoE-style gated experts ([E, 2I, H] and [E, H, I])."""
    if not getattr(self, "has_gate", True) or getattr(self, "has_bias", False) or getattr(self, "is_transposed", False) \
            or not getattr(self, "is_concatenated", True):
        raise NotImplementedError(f"{NAME} supports gated, concatenated, untransposed experts without bias "
                                  f"(OLMoE's layout); {type(self).__name__} is not: use 'eager'")
    k = top_k_index.shape[-1]
    flat = top_k_index.reshape(-1)
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=self.num_experts).tolist()
    token_of = order // k
    rows = hidden_states.index_select(0, token_of)
    gate_up, down = self.gate_up_proj.unbind(0), self.down_proj.unbind(0)
    outs = []
    for e, block in enumerate(torch.split(rows, counts)):
        if block.shape[0]:
            gate, up = F.linear(block, gate_up[e]).chunk(2, dim=-1)
            outs.append(F.linear(self.act_fn(gate) * up, down[e]))
    out = torch.cat(outs) * top_k_weights.reshape(-1)[order].unsqueeze(-1).to(hidden_states.dtype)
    return torch.zeros_like(hidden_states).index_add(0, token_of, out)


def register() -> str:
    """Register the implementation with transformers (idempotent); returns its name."""
    from transformers.integrations.moe import ExpertsInterface

    ExpertsInterface.register(NAME, sorted_experts_forward)
    return NAME
