"""Held-out negative log-likelihood, bits per byte and perplexity of a causal LM.

Windows are scored independently (no context carried across windows); within a window every
token after the first is predicted. With ``cache_factory`` the forward pass goes through the
given KV cache (e.g. the 1-bit K cache), so the keys attention sees are the cache's keys: this is
how the quantized-cache perplexities are measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model import cache_kwargs

LN2 = math.log(2.0)


@dataclass(frozen=True)
class HeldoutScore:
    """Summed NLL (nats) over ``tokens`` predicted bytes."""

    nll: float
    tokens: int

    @property
    def nll_per_token(self) -> float:
        return self.nll / self.tokens

    @property
    def bits_per_byte(self) -> float:
        """Bits per predicted token, which is per byte for a byte-level model (for a subword model
        divide the NLL by the bytes the predicted tokens cover instead)."""
        return self.nll_per_token / LN2

    @property
    def ppl(self) -> float:
        """Per-token perplexity, exp(mean NLL)."""
        return math.exp(self.nll_per_token)


@torch.no_grad()
def score_windows(
    model: torch.nn.Module,
    windows: torch.Tensor,
    batch_size: int = 8,
    cache_factory: Callable[[], object] | None = None,
    progress: Callable[[int], None] | None = None,
) -> HeldoutScore:
    """NLL of ``windows`` ([n, L] int64 byte tokens) under ``model``."""
    total = 0.0
    count = 0
    for start in range(0, windows.shape[0], batch_size):
        batch = windows[start : start + batch_size]
        if cache_factory is None:
            logits = model(input_ids=batch, use_cache=False).logits
        else:
            logits = model(input_ids=batch, **cache_kwargs(model, cache_factory())).logits
        pred = logits[:, :-1].float().reshape(-1, logits.shape[-1])
        target = batch[:, 1:].reshape(-1)
        total += float(F.cross_entropy(pred, target, reduction="sum"))
        count += target.numel()
        if progress is not None:
            progress(batch.shape[0])
    return HeldoutScore(nll=total, tokens=count)
