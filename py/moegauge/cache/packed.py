"""The 1-bit K cache as a decode path: attention computed on the packed sign bits.

Storage is the same as ``moegauge.lm.kcache.OneBitKLayer`` (y = R(k − μ) on the scope's vectors,
its signs packed by ``signquant.pack_signs``, α = ‖y‖₁/d in fp16, values in fp16), but the keys are
never reconstructed. For every query q and stored key k̂ = Rᵀ(α·s) + μ,

    q·k̂ = (Rq)·(α·s) + q·μ                                  (R orthogonal)

so the rotation moves to the query, once per step, and the score of each stored token is
α·⟨s, Rq⟩ plus a per-query constant. ⟨s, x⟩ for s ∈ {±1}^d is read from the packed bytes:
Σᵢ sᵢxᵢ = 2·Σ_{sᵢ=+1} xᵢ − Σᵢ xᵢ, and the first sum is, per byte j, one entry of a 256-entry table
of the partial sums of the 8 query coordinates that byte covers (``byte_tables``): a decode step
costs ceil(d/8) table lookups per token and query vector (``table_sign_dots``, one
``embedding_bag``). Multi-token steps (prefill) unpack the signs one key block at a time and use a
matmul, with an online softmax across blocks, so no step holds more than one block of ±1 signs.

Scopes. ``all_kv_heads``: each token's keys of all KV heads form one vector (d = heads·head_dim);
query head h only meets its own head's slot of k̂, so its rotated query is R applied to q placed in
slot h (zeros elsewhere) — a d-vector per query head. ``head_dim``: each KV head's key is its own
vector (d = head_dim) with a shared or per-head R; query heads of a GQA group use their KV head's.

Storage grows in preallocated chunks of ``chunk_tokens`` tokens (nothing is re-concatenated per
step). transformers is extended through its public registries: ``ATTENTION_NAME`` in
``AttentionInterface`` (this module's attention function) and in ``AttentionMaskInterface``
(transformers' own ``sdpa_mask``: boolean masks, or None for plain causal). Inside
:func:`packed_attention` a packed layer's ``update`` returns a :class:`PackedKeys` handle instead of
dense keys; the attention function scores it, and falls back to ordinary sdpa for dense keys (any
other cache). Outside :func:`packed_attention` the layer returns dequantized keys, so the cache
still gives correct results under any attention implementation (slowly).
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers.cache_utils import Cache, DynamicLayer

from ..hadamard import srht
from ..lm.kcache import KeyTransform, compute_dtype
from ..signquant import SignQuantized, dequantize, quantize, unpack_signs

#: The name registered with transformers' AttentionInterface and AttentionMaskInterface.
ATTENTION_NAME = "moegauge_packed"
#: Steps with at most this many query tokens score through byte tables; longer ones unpack blocks.
TABLE_MAX_QUERY_TOKENS = 16
#: Key tokens unpacked at once by multi-token steps (bounds the ±1 block and the score block).
UNPACK_KEY_BLOCK = 512

_ACTIVE = contextvars.ContextVar("moegauge_packed_attention_active", default=0)


# ----------------------------------------------------------------------------- score math (pure)

def _byte_bits(dtype: torch.dtype, device) -> Tensor:
    """(256, 8): row b holds the bits of byte value b, least significant first (pack_signs layout)."""
    b = torch.arange(256, device=device)
    return ((b[:, None] >> torch.arange(8, device=device)) & 1).to(dtype)


class ByteTables(NamedTuple):
    """Per-stream lookup tables of query vectors, laid out for ``embedding_bag``.

    ``weight`` (streams·nbytes·256, E): row (s, j, b) holds, for each of the stream's E query
    vectors, the sum of the coordinates 8j … 8j+7 whose bit is set in byte value b. ``totals``
    (streams, E): Σᵢ xᵢ of each query vector."""

    weight: Tensor
    totals: Tensor
    streams: int
    nbytes: int


def byte_tables(x: Tensor) -> ByteTables:
    """Tables of the 256 partial sums of every 8 coordinates of the query vectors ``x`` (S, E, d).

    Coordinates past d (the zero-padded tail of the last byte) count as 0, so padding bits of the
    stored bytes contribute nothing."""
    s, e, d = x.shape
    nbytes = math.ceil(d / 8)
    xp = F.pad(x, (0, nbytes * 8 - d)).reshape(s, e, nbytes, 8)
    partial = xp @ _byte_bits(x.dtype, x.device).T  # (S, E, nbytes, 256)
    weight = partial.permute(0, 2, 3, 1).reshape(s * nbytes * 256, e).contiguous()
    return ByteTables(weight=weight, totals=x.sum(dim=-1), streams=s, nbytes=nbytes)


def table_sign_dots(bits: Tensor, tables: ByteTables) -> Tensor:
    """⟨s_t, x_e⟩ (S, T, E) for the ±1 vectors s_t packed in ``bits`` (S, T, nbytes) uint8 and the
    query vectors the tables were built from: 2·Σ_j table_j[byte_j] − Σᵢ xᵢ, one lookup per byte."""
    if bits.dtype != torch.uint8:
        raise TypeError(f"packed signs must be uint8, got {bits.dtype}")
    s, t, nb = bits.shape
    if (s, nb) != (tables.streams, tables.nbytes):
        raise ValueError(f"bits of shape {tuple(bits.shape)} do not match tables of {tables.streams} streams "
                         f"× {tables.nbytes} bytes")
    index_dtype = torch.int32 if tables.weight.shape[0] < 2 ** 31 else torch.int64
    offsets = (torch.arange(s, device=bits.device, dtype=index_dtype)[:, None, None] * (nb * 256)
               + torch.arange(nb, device=bits.device, dtype=index_dtype) * 256)
    index = torch.add(bits, offsets).reshape(s * t, nb)  # uint8 + int → the index dtype, one pass
    plus = F.embedding_bag(index, tables.weight, mode="sum").reshape(s, t, tables.weight.shape[1])
    return plus.mul_(2).sub_(tables.totals[:, None, :])


def packed_sign_dots(bits: Tensor, x: Tensor) -> Tensor:
    """⟨s_t, x_e⟩ (S, T, E) for packed ±1 vectors ``bits`` (S, T, ceil(d/8)) and queries ``x``
    (S, E, d), through byte tables (the decode-path identity, for one-off use and tests)."""
    return table_sign_dots(bits, byte_tables(x))


def rotated_queries(transform: KeyTransform, query: Tensor, kv_heads: int) -> Tensor:
    """R q̃ for every query vector, grouped by the key stream it is scored against.

    ``query`` (B, Hq, Lq, head_dim) in the compute dtype; query head hq belongs to KV head
    hq // (Hq / kv_heads). Returns (B, G, E, d): for ``all_kv_heads`` G = 1, d = kv_heads·head_dim
    and E = Hq·Lq (R applied to q placed in its KV head's slot); for ``head_dim`` G = kv_heads,
    d = head_dim and E = (Hq / kv_heads)·Lq (the group's R_h applied to q). Rows are ordered
    (query head, position), so scores reshape to (B, Hq, Lq, ·)."""
    b, hq, lq, hd = query.shape
    rep = hq // kv_heads
    q = query.reshape(b, kv_heads, rep * lq, hd)
    cdt = query.dtype
    if transform.scope == "all_kv_heads":
        d = kv_heads * hd
        if transform.rotation is not None:
            r = transform.rotation_for(cdt)
            by_slot = r.reshape(d, kv_heads, hd).permute(1, 2, 0)  # [h] = R[:, slot h]ᵀ, (H, hd, d)
            x = q @ by_slot
        else:
            eye = torch.eye(kv_heads, dtype=cdt, device=query.device)
            x = (q.unsqueeze(-2) * eye[None, :, None, :, None]).reshape(b, kv_heads, rep * lq, d)
            if transform.srht_seed is not None:
                x = srht(x.contiguous(), transform.srht_seed)
        return x.reshape(b, 1, hq * lq, d)
    if transform.rotation is not None:
        r = transform.rotation_for(cdt)
        return q @ r.transpose(-1, -2)  # (hd, hd) shared, or (H, hd, hd) broadcast over the batch
    if transform.srht_seed is not None:
        return srht(q.contiguous(), transform.srht_seed)
    return q


def query_mean_dots(transform: KeyTransform, query: Tensor, kv_heads: int) -> Tensor:
    """q·μ_h (B, Hq, Lq): the centering term, μ_h being the KV head's slice (or own mean) of μ."""
    b, hq, lq, hd = query.shape
    mu = transform.mean.to(query.dtype)
    mu_heads = mu.reshape(kv_heads, hd) if transform.scope == "all_kv_heads" or mu.ndim == 2 \
        else mu.expand(kv_heads, hd)
    q = query.reshape(b, kv_heads, hq // kv_heads * lq, hd)
    return (q @ mu_heads.unsqueeze(-1)).reshape(b, hq, lq)


# ----------------------------------------------------------------------------- storage

@dataclass
class _Chunk:
    bits: Tensor  # (B, G, C, nbytes) uint8
    scales: Tensor  # (B, G, C) float16
    values: Tensor  # (B, H, C, head_dim)


@dataclass(frozen=True)
class PackedKeys:
    """What a packed layer's ``update`` hands the attention function instead of dense keys."""

    layer: "PackedOneBitKLayer"


class PackedOneBitKLayer(DynamicLayer):
    """One layer of the 1-bit K cache whose attention reads the packed bits (see the module doc)."""

    def __init__(self, transform: KeyTransform, value_dtype: torch.dtype = torch.float16, chunk_tokens: int = 2048):
        super().__init__()
        if chunk_tokens < 1:
            raise ValueError("chunk_tokens must be positive")
        self.transform = transform
        self.value_dtype = value_dtype
        self.chunk_tokens = chunk_tokens
        self.cumulative_length = 0
        self._chunks: list[_Chunk] = []

    # -- geometry
    def lazy_initialization(self, key_states: Tensor, value_states: Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self.batch, self.kv_heads, _, self.head_dim = key_states.shape
        self.value_dim = value_states.shape[-1]
        if self.transform.scope == "all_kv_heads":
            self.groups, self.d = 1, self.kv_heads * self.head_dim
        else:
            self.groups, self.d = self.kv_heads, self.head_dim
        if self.transform.d != self.d:
            raise ValueError(f"the transform acts on d={self.transform.d}, the keys give d={self.d} "
                             f"in scope {self.transform.scope}")
        if self.transform.per_head and self.transform.heads != self.kv_heads:
            raise ValueError(f"per-head transform of {self.transform.heads} heads, the model has {self.kv_heads}")
        self.nbytes = math.ceil(self.d / 8)
        self.is_initialized = True

    def _vectors(self, k: Tensor) -> Tensor:
        """(B, H, S, hd) keys → (B, G, S, d) vectors of the scope."""
        b, h, s, hd = k.shape
        if self.transform.scope == "all_kv_heads":
            return k.transpose(1, 2).reshape(b, 1, s, h * hd)
        return k

    def _new_chunk(self) -> _Chunk:
        b, g, c = self.batch, self.groups, self.chunk_tokens
        return _Chunk(bits=torch.zeros(b, g, c, self.nbytes, dtype=torch.uint8, device=self.device),
                      scales=torch.zeros(b, g, c, dtype=torch.float16, device=self.device),
                      values=torch.zeros(b, self.kv_heads, c, self.value_dim, dtype=self.value_dtype,
                                         device=self.device))

    def _append(self, q: SignQuantized, values: Tensor) -> None:
        n, pos = q.bits.shape[-2], 0
        while pos < n:
            idx, off = divmod(self.cumulative_length, self.chunk_tokens)
            if idx == len(self._chunks):
                self._chunks.append(self._new_chunk())
            take = min(self.chunk_tokens - off, n - pos)
            c = self._chunks[idx]
            c.bits[:, :, off:off + take] = q.bits[:, :, pos:pos + take]
            c.scales[:, :, off:off + take] = q.scale[:, :, pos:pos + take]
            c.values[:, :, off:off + take] = values[:, :, pos:pos + take]
            self.cumulative_length += take
            pos += take

    def _filled(self, max_block: int | None = None) -> Iterator[tuple[_Chunk, int, int, int]]:
        """(chunk, start, stop, first global token) over the filled part, in blocks ≤ max_block."""
        step = max_block or self.chunk_tokens
        for idx, c in enumerate(self._chunks):
            filled = min(self.chunk_tokens, self.cumulative_length - idx * self.chunk_tokens)
            for a in range(0, max(filled, 0), step):
                yield c, a, min(a + step, filled), idx * self.chunk_tokens + a

    # -- transformers' layer API
    def update(self, key_states: Tensor, value_states: Tensor, *args, **kwargs):
        """Quantize and store the new keys and values; return a :class:`PackedKeys` handle (inside
        :func:`packed_attention`) or the dequantized keys and the values (anywhere else)."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        if key_states.shape[0] != self.batch:
            raise ValueError(f"the cache holds batch {self.batch}, got keys of batch {key_states.shape[0]}")
        y = self.transform.forward(self._vectors(key_states))
        self._append(quantize(y), value_states.to(self.value_dtype))
        if _ACTIVE.get() > 0:
            return PackedKeys(self), None
        return self.dequantized_keys(key_states.dtype), self.stored_values(value_states.dtype)

    def get_seq_length(self) -> int:
        return self.cumulative_length

    def get_max_length(self) -> int:
        return -1

    def reset(self) -> None:
        self._chunks = []
        self.cumulative_length = 0
        self.is_initialized = False

    def crop(self, tokens_to_remove: int) -> None:
        """Forget the last ``-tokens_to_remove`` tokens (a negative count, as DynamicLayer)."""
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative number of tokens to remove")
        self.cumulative_length = max(0, self.cumulative_length + tokens_to_remove)

    def _map_batch(self, fn) -> None:
        for c in self._chunks:
            c.bits, c.scales, c.values = fn(c.bits), fn(c.scales), fn(c.values)
        if self._chunks:
            self.batch = self._chunks[0].bits.shape[0]

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._map_batch(lambda t: t.repeat_interleave(repeats, dim=0))

    def batch_select_indices(self, indices: Tensor) -> None:
        self._map_batch(lambda t: t[indices, ...])

    def reorder_cache(self, beam_idx: Tensor) -> None:
        self._map_batch(lambda t: t.index_select(0, beam_idx.to(t.device)))

    # -- reading back (tests and the non-packed fallback)
    def dequantized_keys(self, dtype: torch.dtype) -> Tensor:
        """All stored keys reconstructed, Rᵀ(α·s) + μ, as (B, H, T, hd): the fallback path only."""
        cdt = compute_dtype(dtype)
        blocks = [dequantize(SignQuantized(bits=c.bits[:, :, a:b], scale=c.scales[:, :, a:b], d=self.d), cdt)
                  for c, a, b, _ in self._filled()]
        y = torch.cat(blocks, dim=-2)
        k = self.transform.inverse(y)
        if self.transform.scope == "all_kv_heads":
            k = k.reshape(self.batch, -1, self.kv_heads, self.head_dim).transpose(1, 2)
        return k.to(dtype)

    def stored_values(self, dtype: torch.dtype) -> Tensor:
        return torch.cat([c.values[:, :, a:b] for c, a, b, _ in self._filled()], dim=-2).to(dtype)

    # -- bytes
    def _bytes(self, filled_only: bool) -> dict[str, int]:
        def size(t: Tensor) -> int:
            return t.numel() * t.element_size()

        parts = {"key_bits": 0, "key_scales": 0, "values": 0}
        if filled_only:
            for c, a, b, _ in self._filled():
                parts["key_bits"] += size(c.bits[:, :, a:b])
                parts["key_scales"] += size(c.scales[:, :, a:b])
                parts["values"] += size(c.values[:, :, a:b])
        else:
            for c in self._chunks:
                parts["key_bits"] += size(c.bits)
                parts["key_scales"] += size(c.scales)
                parts["values"] += size(c.values)
        parts["metadata"] = self.transform.metadata_nbytes()
        return parts

    def stored_nbytes(self) -> dict[str, int]:
        """Bytes of the filled part of the stored tensors, by part (plus the transform's metadata)."""
        return self._bytes(filled_only=True)

    def allocated_nbytes(self) -> dict[str, int]:
        """Bytes reserved by the preallocated chunks, by part (plus the transform's metadata)."""
        return self._bytes(filled_only=False)

    # -- attention
    def attend(self, query: Tensor, attention_mask: Tensor | None, scaling: float, is_causal: bool = True) -> Tensor:
        """softmax(scaling·q·k̂ + mask)·V over every stored token, scored on the packed bits.

        ``query`` (B, Hq, Lq, hd); ``attention_mask`` boolean (True = attend) or additive float,
        broadcastable to (B, Hq, Lq, T), or None (causal, aligned so the last query is the last key;
        no mask at all when ``is_causal`` is False). Returns (B, Lq, Hq, value_dim) in the query's
        dtype, like transformers' sdpa function. Rows with no allowed key give 0, as sdpa does."""
        b, hq, lq, hd = query.shape
        if b != self.batch or hq % self.kv_heads:
            raise ValueError(f"query of shape {tuple(query.shape)} does not fit the cache "
                             f"(batch {self.batch}, {self.kv_heads} KV heads)")
        cdt = compute_dtype(query.dtype)
        q = query.to(cdt) * scaling
        x = rotated_queries(self.transform, q, self.kv_heads)  # (B, G, E, d)
        qmu = query_mean_dots(self.transform, q, self.kv_heads)  # (B, Hq, Lq)
        if lq <= TABLE_MAX_QUERY_TOKENS:
            out = self._attend_tables(x, qmu, attention_mask, is_causal)
        else:
            out = self._attend_unpacked(x, qmu, attention_mask, is_causal)
        return out.reshape(b, hq, lq, self.value_dim).transpose(1, 2).contiguous().to(query.dtype)

    def _block_mask(self, mask: Tensor | None, lq: int, start: int, stop: int, is_causal: bool):
        """(allowed bool | None, additive bias | None) for key tokens [start, stop)."""
        total = self.cumulative_length
        if mask is None:
            if not is_causal or lq == 1:
                return None, None
            i = torch.arange(lq, device=self.device)[:, None] + (total - lq)
            return (torch.arange(start, stop, device=self.device)[None, :] <= i), None
        if mask.shape[-1] != total:
            raise ValueError(f"attention mask covers {mask.shape[-1]} keys, the cache holds {total}")
        block = mask[..., start:stop]
        return (block, None) if block.dtype == torch.bool else (None, block)

    def _grouped(self, t: Tensor) -> Tensor:
        """(B, Hq, Lq, n) → (B, H, rep·Lq, n): query heads of a KV head side by side."""
        b, hq, lq, n = t.shape
        return t.reshape(b, self.kv_heads, (hq // self.kv_heads) * lq, n)

    def _scores(self, dots: Tensor, alpha: Tensor, qmu: Tensor) -> Tensor:
        """α_t·dots + q·μ, (B, G, E, n) dots and (B, G, n) α → (B, Hq, Lq, n)."""
        b, hq, lq = qmu.shape
        s = dots * alpha.unsqueeze(-2)
        return s.reshape(b, hq, lq, -1) + qmu.unsqueeze(-1)

    def _attend_tables(self, x: Tensor, qmu: Tensor, mask: Tensor | None, is_causal: bool) -> Tensor:
        b, g, e, d = x.shape
        cdt = x.dtype
        tables = byte_tables(x.reshape(b * g, e, d))
        parts = []
        for c, a0, a1, _ in self._filled():
            n = a1 - a0
            dots = table_sign_dots(c.bits[:, :, a0:a1].reshape(b * g, n, self.nbytes), tables)  # (BG, n, E)
            parts.append(dots.reshape(b, g, n, e).mul_(c.scales[:, :, a0:a1, None].to(cdt)))  # α_t·⟨s_t, Rq⟩
        hq, lq = qmu.shape[1:]
        scores = torch.cat(parts, dim=2).transpose(-1, -2).reshape(b, hq, lq, -1).add_(qmu.unsqueeze(-1))
        allowed, bias = self._block_mask(mask, qmu.shape[-1], 0, self.cumulative_length, is_causal)
        if bias is not None:
            scores = scores + bias.to(cdt)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, torch.finfo(cdt).min)
        weights = torch.softmax(scores, dim=-1)
        if allowed is not None:
            weights = weights * allowed.any(dim=-1, keepdim=True)
        weights = self._grouped(weights)
        out = None
        for c, a0, a1, t0 in self._filled():
            part = weights[..., t0:t0 + (a1 - a0)] @ c.values[:, :, a0:a1].to(cdt)
            out = part if out is None else out.add_(part)
        return out

    def _attend_unpacked(self, x: Tensor, qmu: Tensor, mask: Tensor | None, is_causal: bool) -> Tensor:
        b, hq, lq = qmu.shape
        cdt = x.dtype
        neg = torch.finfo(cdt).min
        m = torch.full((b, hq, lq), -math.inf, dtype=cdt, device=x.device)
        total = torch.zeros(b, hq, lq, dtype=cdt, device=x.device)
        acc = torch.zeros(b, self.kv_heads, (hq // self.kv_heads) * lq, self.value_dim, dtype=cdt, device=x.device)
        any_allowed = None
        for c, a0, a1, t0 in self._filled(UNPACK_KEY_BLOCK):
            signs = unpack_signs(c.bits[:, :, a0:a1], self.d, cdt)  # (B, G, n, d)
            s = self._scores(x @ signs.transpose(-1, -2), c.scales[:, :, a0:a1].to(cdt), qmu)
            allowed, bias = self._block_mask(mask, lq, t0, t0 + (a1 - a0), is_causal)
            if bias is not None:
                s = s + bias.to(cdt)
            if allowed is not None:
                s = s.masked_fill(~allowed, neg)
                hit = allowed.any(dim=-1)
                any_allowed = hit if any_allowed is None else any_allowed | hit
            m_new = torch.maximum(m, s.amax(dim=-1))
            p = torch.exp(s - m_new.unsqueeze(-1))
            corr = torch.exp(m - m_new)
            total = total * corr + p.sum(dim=-1)
            acc = acc * self._grouped(corr.unsqueeze(-1)) + self._grouped(p) @ c.values[:, :, a0:a1].to(cdt)
            m = m_new
        out = acc / self._grouped(total.unsqueeze(-1))
        if any_allowed is not None and mask is not None:
            out = out * self._grouped(any_allowed.expand(b, hq, lq).unsqueeze(-1).to(cdt))
        return out


class PackedOneBitKCache(Cache):
    """A Cache of :class:`PackedOneBitKLayer`, one per transform (one per model layer)."""

    def __init__(self, transforms: list[KeyTransform], value_dtype: torch.dtype = torch.float16,
                 chunk_tokens: int = 2048):
        super().__init__(layers=[PackedOneBitKLayer(t, value_dtype=value_dtype, chunk_tokens=chunk_tokens)
                                 for t in transforms])

    @staticmethod
    def _sum(parts: list[dict[str, int]]) -> dict[str, int]:
        total: dict[str, int] = {}
        for p in parts:
            for k, v in p.items():
                total[k] = total.get(k, 0) + v
        return total

    def stored_nbytes(self) -> dict[str, int]:
        """Bytes of the filled part of every layer's stored tensors, by part."""
        return self._sum([layer.stored_nbytes() for layer in self.layers])

    def allocated_nbytes(self) -> dict[str, int]:
        """Bytes reserved by every layer's preallocated chunks, by part."""
        return self._sum([layer.allocated_nbytes() for layer in self.layers])


# ----------------------------------------------------------------------------- transformers glue

def packed_attention_forward(module: torch.nn.Module, query: Tensor, key, value, attention_mask: Tensor | None,
                             dropout: float = 0.0, scaling: float | None = None, is_causal: bool | None = None,
                             **kwargs) -> tuple[Tensor, None]:
    """transformers attention function: scores a :class:`PackedKeys` handle on its packed bits,
    and hands dense keys (any other cache, or none) to transformers' sdpa function unchanged."""
    if not isinstance(key, PackedKeys):
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    if dropout:
        raise NotImplementedError("the packed 1-bit K path is inference only (dropout must be 0)")
    if kwargs.get("sliding_window") is not None or kwargs.get("softcap") is not None:
        raise NotImplementedError("the packed 1-bit K path supports neither sliding windows nor softcapping")
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return key.layer.attend(query, attention_mask, scale, is_causal=causal), None


def register() -> str:
    """Register the attention and mask functions under ``ATTENTION_NAME`` (idempotent)."""
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(ATTENTION_NAME, packed_attention_forward)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
    return ATTENTION_NAME


def _configs(model: torch.nn.Module) -> list:
    seen, out = set(), []
    for module in model.modules():
        cfg = getattr(module, "config", None)
        if cfg is not None and hasattr(cfg, "_attn_implementation") and id(cfg) not in seen:
            seen.add(id(cfg))
            out.append(cfg)
    return out


@contextmanager
def packed_attention(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run ``model`` (``model(...)``, ``generate``) with the packed attention function: every
    submodule's config is switched to ``ATTENTION_NAME`` and packed layers hand out
    :class:`PackedKeys`; the previous implementations are restored on exit."""
    register()
    saved = [(cfg, cfg._attn_implementation) for cfg in _configs(model)]
    token = _ACTIVE.set(_ACTIVE.get() + 1)
    try:
        model.set_attn_implementation(ATTENTION_NAME)
        yield model
    finally:
        _ACTIVE.reset(token)
        model.set_attn_implementation(saved[0][1] if saved else "sdpa")
        for cfg, impl in saved:
            if cfg._attn_implementation != impl:
                cfg._attn_implementation = impl


register()
