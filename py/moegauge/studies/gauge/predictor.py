"""Seed 000's gauge G as a predictor of 1-bit damage, and the scale symmetry that G does not respect.

Per (layer, head) of the trained model, on held-out post-RoPE keys (pooled moments,
``moments.head_moments``): σ², κ and G = max(0, κ/σ²) (seed 000); per layer G_ℓ = mean over heads.

* **Damage**: Δ bits/byte of quantizing that one head (or that one layer, all heads) of the K cache
  to 1 bit — α·sign(k) per head vector with α = mean |k|, no rotation — everything else full
  precision, on held-out windows of every domain.
* **Predictors**: Spearman rank correlation of G with the damage (heads; layers), and of the
  scale-invariant alternative κ (excess kurtosis alone).
* **The scale symmetry** (measured on the real model): scale the keys by 1/c and the queries by c
  just before RoPE — in OLMoE, its k-norm and q-norm weights (the projections' outputs are
  normalised, so scaling W_K itself would be undone by the norm); in a model without them, W_K and
  W_Q. Scores q·k, hence logits, do not change (the largest |Δ logit| is reported: float rounding),
  while σ² → σ²/c², κ unchanged, so G → c²·G (``MoEGauge.gauge_scale_covariance``). A predictor
  that moves under a symmetry of the model is not a property of what attention computes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
from transformers import DynamicCache

from ...moments import head_moments
from ...lm.capture import capture_batch, decoder_layers
from ...lm.perplexity import score_windows

SCALE_C = 2.0


def average_ranks(x) -> np.ndarray:
    """Ranks 1 … n, ties sharing their average rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(1, x.size + 1)
    for v in np.unique(x):
        tie = x == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a, b) -> float:
    """Spearman's ρ: the Pearson correlation of the average ranks (0 when either side is constant)."""
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else 0.0


class OneHeadOneBitCache(DynamicCache):
    """A DynamicCache that stores the keys of ``heads`` of ``layer`` as α·sign(k) (α = mean |k| per
    vector), every other key and every value as they come."""

    def __init__(self, layer: int, heads, **kw):
        super().__init__(**kw)
        self.target_layer, self.target_heads = layer, list(heads)

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        if layer_idx == self.target_layer:
            k = key_states.clone()
            sel = k[:, self.target_heads]
            alpha = sel.abs().mean(dim=-1, keepdim=True)
            k[:, self.target_heads] = alpha * torch.sign(sel)
            key_states = k
        return super().update(key_states, value_states, layer_idx, *args, **kwargs)


@contextlib.contextmanager
def scaled_qk(model, c: float):
    """Keys × 1/c and queries × c before RoPE, in place, restored on exit (see the module docstring)."""
    changed = []
    for layer in decoder_layers(model):
        attn = layer.self_attn
        q_mod = getattr(attn, "q_norm", None) or attn.q_proj
        k_mod = getattr(attn, "k_norm", None) or attn.k_proj
        for mod, f in ((q_mod, c), (k_mod, 1.0 / c)):
            for p in (mod.weight, getattr(mod, "bias", None)):
                if p is not None:
                    changed.append((p, p.detach().clone()))
                    p.data.mul_(f)
    try:
        yield
    finally:
        for p, old in changed:
            p.data.copy_(old)


def key_moments(model, windows: torch.Tensor, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(σ², κ) per [layer, head] of post-RoPE keys over ``windows``."""
    per_layer: dict[int, list[torch.Tensor]] = {}
    for s in range(0, windows.shape[0], batch_size):
        got = capture_batch(model, windows[s : s + batch_size], ("k_post_rope",))
        for name, t in got.items():
            per_layer.setdefault(int(name.split(".")[0][5:]), []).append(t)
    var, kurt = [], []
    for li in sorted(per_layer):
        hm = head_moments(torch.cat(per_layer[li]))
        var.append(hm.variance.numpy())
        kurt.append(hm.excess_kurtosis.numpy())
    return np.stack(var), np.stack(kurt)


def gauge_of(var: np.ndarray, kurt: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, kurt / var)


@torch.no_grad()
def measure(model, moment_windows: torch.Tensor, ppl_windows: torch.Tensor, batch_size: int,
            progress: Callable[[int], None] | None = None) -> dict:
    """Every number of the gauge-predictor artifact (see the module docstring)."""
    var, kurt = key_moments(model, moment_windows, batch_size)
    g = gauge_of(var, kurt)
    n_layers, heads = g.shape
    base = score_windows(model, ppl_windows, batch_size).bits_per_byte
    rows = []
    for li in range(n_layers):
        for h in range(heads):
            bpb = score_windows(model, ppl_windows, batch_size, lambda li=li, h=h: OneHeadOneBitCache(li, [h])).bits_per_byte
            rows.append({"layer": li, "head": h, "variance": float(var[li, h]), "excess_kurtosis": float(kurt[li, h]),
                         "gauge": float(g[li, h]), "delta_bits_per_byte": bpb - base})
            if progress:
                progress(1)
    layer_rows = []
    for li in range(n_layers):
        bpb = score_windows(model, ppl_windows, batch_size,
                            lambda li=li: OneHeadOneBitCache(li, range(heads))).bits_per_byte
        layer_rows.append({"layer": li, "gauge": float(g[li].mean()), "excess_kurtosis": float(kurt[li].mean()),
                           "delta_bits_per_byte": bpb - base})
        if progress:
            progress(1)
    probe = ppl_windows[: min(8, ppl_windows.shape[0])]
    plain = model(input_ids=probe, use_cache=False).logits.float()
    with scaled_qk(model, SCALE_C):
        scaled = model(input_ids=probe, use_cache=False).logits.float()
        var_c, kurt_c = key_moments(model, moment_windows, batch_size)
    g_c = gauge_of(var_c, kurt_c)
    live = g > 0
    return {
        "rows": rows, "layer_rows": layer_rows, "bpb_fp": base, "scale_c": SCALE_C,
        "max_logit_delta_scaled": float((scaled - plain).abs().max()),
        "g_ratio_scaled": float(np.mean(g_c[live] / g[live])) if live.any() else 1.0,
        "kappa_ratio_scaled_max_dev": float(np.max(np.abs(kurt_c / kurt - 1.0))),
        "variance_ratio_scaled": float(np.mean(var_c / var)),
        "spearman_g_head": spearman([r["gauge"] for r in rows], [r["delta_bits_per_byte"] for r in rows]),
        "spearman_kappa_head": spearman([r["excess_kurtosis"] for r in rows], [r["delta_bits_per_byte"] for r in rows]),
        "spearman_g_layer": spearman([r["gauge"] for r in layer_rows], [r["delta_bits_per_byte"] for r in layer_rows]),
        "spearman_kappa_layer": spearman([r["excess_kurtosis"] for r in layer_rows],
                                         [r["delta_bits_per_byte"] for r in layer_rows]),
    }
