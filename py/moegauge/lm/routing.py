"""Router top-k choices of a MoE causal LM, and the router's health on held-out text.

Health, per MoE layer (what a dead or collapsed router would show first):

* ``load_cv``: coefficient of variation (std / mean, population std) of the number of routed
  (token, expert) assignments per expert; 0 is perfectly even;
* ``dead_fraction``: the fraction of experts receiving less than ``DEAD_SHARE`` (0.1%) of the
  routed assignments;
* ``distinct_per_window``: the mean number of distinct experts used in a window of ``window``
  tokens (at most the number of experts).
"""

from __future__ import annotations

import torch

DEAD_SHARE = 1e-3


@torch.no_grad()
def router_topk(model, windows: torch.Tensor, batch_size: int = 8) -> list[torch.Tensor]:
    """Per MoE layer, the top-k expert ids of every token of ``windows`` ([n, L]) → [n, L, k] int64."""
    k = model.config.num_experts_per_tok
    per_layer: list[list[torch.Tensor]] = []
    for start in range(0, windows.shape[0], batch_size):
        batch = windows[start : start + batch_size]
        out = model(input_ids=batch, use_cache=False, output_router_logits=True)
        logits = [lg for lg in (out.router_logits or ()) if lg is not None]
        if not per_layer:
            per_layer = [[] for _ in logits]
        for i, lg in enumerate(logits):
            per_layer[i].append(lg.reshape(batch.shape[0], batch.shape[1], -1).topk(k, dim=-1).indices)
    return [torch.cat(parts) for parts in per_layer]


def router_health(topk: torch.Tensor, num_experts: int) -> dict[str, float]:
    """Health of one layer from its top-k ids [windows, L, k] (see the module docstring)."""
    counts = torch.bincount(topk.reshape(-1), minlength=num_experts).double()
    share = counts / counts.sum()
    n, _, _ = topk.shape
    present = torch.zeros(n, num_experts, dtype=torch.bool)
    present.scatter_(1, topk.reshape(n, -1), True)
    return {
        "load_cv": float(counts.std(unbiased=False) / counts.mean()),
        "dead_fraction": float((share < DEAD_SHARE).double().mean()),
        "distinct_per_window": float(present.sum(dim=1).double().mean()),
        "min_share": float(share.min()),
        "max_share": float(share.max()),
    }
