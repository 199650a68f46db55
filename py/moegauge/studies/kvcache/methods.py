"""Scoring a KV cache the way it is used: token by token, each prediction made from the cache.

A prefill forward does not measure every cache fairly: transformers' ``QuantizedCache`` returns the
unquantized keys of the prompt it was given, and KIVI-style caches keep a full-precision window of
recent tokens. Decoding one token at a time puts every method on the same footing: the logits of
token t+1 come from attention over what the cache stored for tokens ≤ t.

``decode_score`` feeds a batch of windows (one per row) one column at a time and sums the NLL of
every next token per row; the batch is the unit of work, so per-domain sums come from row groups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ...cache.accounting import bits_per_element, split_key_value_bytes
from ...lm.model import cache_kwargs


@dataclass
class Method:
    """One row of the comparison: how to make a fresh cache, and the context it must run in (the
    packed 1-bit K cache needs its attention function switched on)."""

    label: str
    family: str  # ours | peer | baseline
    what: str
    factory: Callable[[], object] | None
    context: Callable[[torch.nn.Module], contextlib.AbstractContextManager] = field(
        default=lambda model: contextlib.nullcontext())
    error: str | None = None  # a peer that cannot run here: recorded, never dropped


@torch.no_grad()
def decode_score(model: torch.nn.Module, windows: torch.Tensor, method: Method,
                 progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """Summed NLL (nats) per row of ``windows`` ([n, L] int64) of tokens 1…L−1, each predicted by a
    one-token forward through a cache holding tokens < t (token 0 is the first step's input)."""
    n, length = windows.shape
    cache = method.factory()
    nll = torch.zeros(n, dtype=torch.float64)
    with method.context(model):
        for t in range(length - 1):
            out = model(input_ids=windows[:, t : t + 1], **cache_kwargs(model, cache))
            cache = out.past_key_values if getattr(out, "past_key_values", None) is not None else cache
            logits = out.logits[:, -1].float()
            nll += F.cross_entropy(logits, windows[:, t + 1], reduction="none").double()
            if progress is not None:
                progress(n)
    return nll


@torch.no_grad()
def record_kv(model: torch.nn.Module, tokens: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, the (keys, values) the model hands its cache for ``tokens`` ([1, T]): post-RoPE
    keys and values as attention sees them, from one forward through a ``DynamicCache``."""
    from transformers import DynamicCache

    cache = DynamicCache()
    model(input_ids=tokens, **cache_kwargs(model, cache), logits_to_keep=1)
    return [(layer.keys, layer.values) for layer in cache.layers]


@torch.no_grad()
def stored_bytes_after(kv: list[tuple[torch.Tensor, torch.Tensor]], method: Method) -> dict[str, int]:
    """Stored bytes by part after a fresh cache of ``method`` stored the recorded keys and values
    of every layer (one prefill-sized ``update`` per layer, as a forward would make): the bytes
    depend on what is stored, not on attention, so the model's forward is not repeated per cache."""
    cache = method.factory()
    for i, (k, v) in enumerate(kv):
        cache.update(k, v, i)
    if hasattr(cache, "stored_nbytes"):
        return cache.stored_nbytes()
    from ...cache.hf_peers import stored_nbytes  # transformers' QuantizedCache

    return stored_nbytes(cache)


def kv_bits(parts: dict[str, int], tokens: int, layers: int, kv_heads: int, head_dim: int) -> tuple[float, float]:
    """(K bits per element, V bits per element) from a stored-bytes breakdown."""
    k, v = split_key_value_bytes(parts)
    return (bits_per_element(k, tokens, layers, kv_heads, head_dim),
            bits_per_element(v, tokens, layers, kv_heads, head_dim))
