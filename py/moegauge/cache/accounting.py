"""Counting a cache's stored bytes as K and V bits per element (from tensors, never a formula).

A cache's ``stored_nbytes()`` maps part names to bytes held by stored tensors. Parts whose name
starts with ``key`` (sign bits, scales, zero points, norms, residual fp16 keys, outlier indices …)
or is ``metadata`` (the K transform's mean and rotation) count for K; parts starting with
``value`` (including ``value_metadata``) count for V. Any other name is an error, so a new part
can never be silently left out of the totals.
"""

from __future__ import annotations

from collections.abc import Mapping


def split_key_value_bytes(parts: Mapping[str, int]) -> tuple[int, int]:
    """(K bytes, V bytes) of a ``stored_nbytes()`` breakdown."""
    k = v = 0
    for name, n in parts.items():
        if name.startswith("value"):
            v += int(n)
        elif name.startswith("key") or name == "metadata":
            k += int(n)
        else:
            raise ValueError(f"stored part {name!r} is neither a key_*, value_* nor metadata part")
    return k, v


def bits_per_element(nbytes: int, tokens: int, layers: int, kv_heads: int, head_dim: int) -> float:
    """Stored bits per K (or V) element: 8·bytes / (tokens · layers · kv_heads · head_dim)."""
    elements = tokens * layers * kv_heads * head_dim
    if elements <= 0:
        raise ValueError("no elements stored")
    return 8.0 * nbytes / elements
