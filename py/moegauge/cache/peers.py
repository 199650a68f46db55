"""Our KV-cache peers of the 1-bit K cache: a KIVI-style and a QJL-style cache (no package exists).

Both are transformers ``Cache`` objects whose ``update()`` returns dense keys and values for
standard attention, and whose ``stored_nbytes()`` counts every stored tensor by part (names follow
``moegauge.cache.accounting``: ``key_*``, ``value_*`` or ``metadata``). Codes are really packed
(b-bit codes 8/b per byte, sign bits 8 per byte), so bits per element read from them are honest.

KIVI-style (Liu et al. 2024, "KIVI: a tuning-free asymmetric 2bit quantization for KV cache").
K is quantized asymmetrically *per channel*, grouped along tokens: each group of ``group_size``
consecutive tokens stores, per channel, a minimum (the zero point) and a step in fp16. V is
quantized asymmetrically *per token*, grouped along channels: each token stores a minimum and a
step per ``value_group_size`` consecutive channels (default min(group_size, head_dim)). The most
recent tokens stay in fp16 in a residual window of at most ``residual_length`` tokens; whenever
the window overflows, its oldest tokens leave it in whole groups of ``group_size`` (the K grouping
needs full token groups) and are quantized — K and V leave together. This applies to the prefill
too, so a prefill forward already attends over the quantized part.

Choice of rounding: the fp16 zero point is rounded down and the fp16 step up (one fp16 ulp at
most), so the whole group range [min, max] is covered by the 2^b levels and every element's
dequantization error is at most half a step — the property the tests check.

QJL-style (Zandieh et al. 2024, "QJL: 1-bit quantized JL transform for KV cache quantization").
A key k ∈ R^d is stored as sign(S k) ∈ {±1}^m, packed 8 per byte, plus ‖k‖ in fp16; V is fp16.
S is m×d i.i.d. N(0, 1), one per layer, drawn from ``seed + layer_idx`` with
``moegauge.qjl.qjl_projections``. By default S is regenerated from the seed at each update, not
stored: the layer keeps the seed (an int64 tensor, counted as ``metadata``);
``store_projection=True`` keeps S (float32) instead and counts it as ``metadata``.
The score estimator is √(π/2)/m · ‖k‖ · ⟨S q, sign(S k)⟩, unbiased for ⟨q, k⟩ because
E[sign(⟨g, k⟩)⟨g, q⟩] = √(2/π)⟨q, k⟩/‖k‖ for g ~ N(0, I). Attention receives the effective keys
k̃ = √(π/2)/m · ‖k‖ · Sᵀ sign(S k), for which q·k̃ equals the estimator exactly. Not included: QJL's
outlier channels kept apart, its value quantization and its fp residual of recent keys.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from transformers.cache_utils import Cache, DynamicLayer

from ..qjl import qjl_projections
from ..signquant import pack_signs, unpack_signs

PACKABLE_BITS = (1, 2, 4, 8)


# --- b-bit codes, packed ---------------------------------------------------------------------------

def pack_codes(codes: Tensor, bits: int) -> Tensor:
    """uint8 (..., n·bits/8) from integer codes (..., n) in [0, 2^bits): code j of a row occupies
    bits [bits·(j mod p), bits·(j mod p + 1)) of byte j // p, p = 8 // bits (least significant first)."""
    if bits not in PACKABLE_BITS:
        raise ValueError(f"bits must be one of {PACKABLE_BITS}")
    per_byte = 8 // bits
    n = codes.shape[-1]
    if n % per_byte:
        raise ValueError(f"{n} codes per row do not fill whole bytes at {bits} bits")
    grouped = codes.to(torch.uint8).reshape(*codes.shape[:-1], n // per_byte, per_byte)
    shifts = torch.arange(per_byte, dtype=torch.uint8, device=codes.device) * bits
    return (grouped << shifts).sum(dim=-1, dtype=torch.uint8)  # disjoint bit fields: sum == OR


def unpack_codes(packed: Tensor, bits: int) -> Tensor:
    """Integer codes (..., n) (uint8) from :func:`pack_codes` output."""
    if packed.dtype != torch.uint8:
        raise TypeError(f"packed codes must be uint8, got {packed.dtype}")
    per_byte = 8 // bits
    shifts = torch.arange(per_byte, dtype=torch.uint8, device=packed.device) * bits
    mask = (1 << bits) - 1
    codes = (packed.unsqueeze(-1) >> shifts) & mask
    return codes.reshape(*packed.shape[:-1], packed.shape[-1] * per_byte)


# --- asymmetric quantization -----------------------------------------------------------------------

def _fp16_toward(x: Tensor, direction: float) -> Tensor:
    """x rounded to fp16 toward −inf (direction < 0) or +inf (direction > 0)."""
    h = x.to(torch.float16)
    wrong_side = (h.float() > x) if direction < 0 else (h.float() < x)
    return torch.where(wrong_side, torch.nextafter(h, torch.full_like(h, direction * math.inf)), h)


def quantize_asymmetric(x: Tensor, bits: int, dim: int) -> tuple[Tensor, Tensor, Tensor]:
    """(codes uint8 like x, step fp16, zero fp16) with ``dim`` reduced (kept as size 1): b-bit
    asymmetric quantization of x over ``dim``, x ≈ code·step + zero. The zero point (group minimum)
    is rounded down to fp16 and the step up, so |x − code·step − zero| ≤ step/2 for every element."""
    levels = (1 << bits) - 1
    xf = x.to(torch.float32)
    zero = _fp16_toward(xf.amin(dim=dim, keepdim=True), -1.0)
    step = _fp16_toward((xf.amax(dim=dim, keepdim=True) - zero.float()) / levels, +1.0)
    safe_step = torch.where(step > 0, step.float(), torch.ones_like(step, dtype=torch.float32))
    codes = torch.round((xf - zero.float()) / safe_step).clamp_(0, levels).to(torch.uint8)
    return codes, step, zero


def dequantize_asymmetric(codes: Tensor, step: Tensor, zero: Tensor) -> Tensor:
    """code·step + zero in float32 (step and zero broadcast over the quantized dim)."""
    return codes.to(torch.float32) * step.float() + zero.float()


def _tensor_nbytes(t: Tensor | None) -> int:
    return 0 if t is None else t.numel() * t.element_size()


def _validate_geometry(key_states: Tensor, value_states: Tensor) -> None:
    if key_states.dim() != 4 or value_states.dim() != 4:
        raise ValueError("keys and values must be (batch, kv_heads, tokens, head_dim)")


# --- KIVI-style ------------------------------------------------------------------------------------

class KiviLayer(DynamicLayer):
    """One layer of the KIVI-style cache (see the module docstring): quantized K (per channel, token
    groups) and V (per token, channel groups) plus an fp16 residual window of recent tokens."""

    is_croppable = False

    def __init__(self, bits: int = 2, group_size: int = 32, residual_length: int = 128,
                 value_group_size: int | None = None):
        super().__init__()
        if bits not in PACKABLE_BITS:
            raise ValueError(f"bits must be one of {PACKABLE_BITS}")
        if group_size < 1 or residual_length < 0:
            raise ValueError("group_size must be ≥ 1 and residual_length ≥ 0")
        self.bits = bits
        self.group_size = group_size
        self.residual_length = residual_length
        self.requested_value_group_size = value_group_size
        self.cumulative_length = 0
        self._clear()

    def _clear(self) -> None:
        self.key_codes = self.key_scales = self.key_zero_points = self.key_residual = None
        self.value_codes = self.value_scales = self.value_zero_points = self.value_residual = None

    def lazy_initialization(self, key_states: Tensor, value_states: Tensor) -> None:
        _validate_geometry(key_states, value_states)
        b, h, _, d = key_states.shape
        dv = value_states.shape[-1]
        if (d * self.bits) % 8 or (dv * self.bits) % 8:
            raise ValueError(f"head_dim {d} does not pack into whole bytes at {self.bits} bits")
        self.value_group_size = self.requested_value_group_size or min(self.group_size, dv)
        if dv % self.value_group_size:
            raise ValueError(f"value group size {self.value_group_size} does not divide head_dim {dv}")
        self.dtype, self.device = key_states.dtype, key_states.device
        kw = dict(device=self.device)
        self.key_codes = torch.empty(b, h, 0, d * self.bits // 8, dtype=torch.uint8, **kw)
        self.key_scales = torch.empty(b, h, 0, d, dtype=torch.float16, **kw)
        self.key_zero_points = torch.empty(b, h, 0, d, dtype=torch.float16, **kw)
        self.key_residual = torch.empty(b, h, 0, d, dtype=torch.float16, **kw)
        self.value_codes = torch.empty(b, h, 0, dv * self.bits // 8, dtype=torch.uint8, **kw)
        self.value_scales = torch.empty(b, h, 0, dv // self.value_group_size, dtype=torch.float16, **kw)
        self.value_zero_points = torch.empty_like(self.value_scales)
        self.value_residual = torch.empty(b, h, 0, dv, dtype=torch.float16, **kw)
        self.is_initialized = True

    def _quantize_oldest(self, tokens: int) -> None:
        """Move the ``tokens`` oldest residual tokens (a multiple of group_size) into the quantized part."""
        g = self.group_size
        k, self.key_residual = self.key_residual[..., :tokens, :], self.key_residual[..., tokens:, :]
        v, self.value_residual = self.value_residual[..., :tokens, :], self.value_residual[..., tokens:, :]
        b, h, _, d = k.shape
        codes, step, zero = quantize_asymmetric(k.reshape(b, h, tokens // g, g, d), self.bits, dim=3)
        self.key_codes = torch.cat([self.key_codes, pack_codes(codes.reshape(b, h, tokens, d), self.bits)], dim=-2)
        self.key_scales = torch.cat([self.key_scales, step.squeeze(3)], dim=-2)
        self.key_zero_points = torch.cat([self.key_zero_points, zero.squeeze(3)], dim=-2)
        dv, gv = v.shape[-1], self.value_group_size
        codes, step, zero = quantize_asymmetric(v.reshape(b, h, tokens, dv // gv, gv), self.bits, dim=4)
        self.value_codes = torch.cat([self.value_codes, pack_codes(codes.reshape(b, h, tokens, dv), self.bits)],
                                     dim=-2)
        self.value_scales = torch.cat([self.value_scales, step.squeeze(4)], dim=-2)
        self.value_zero_points = torch.cat([self.value_zero_points, zero.squeeze(4)], dim=-2)

    def dequantized_keys(self) -> Tensor:
        """The quantized part of K, dequantized: float32 (batch, heads, quantized tokens, head_dim)."""
        b, h, t, _ = self.key_codes.shape
        d = self.key_scales.shape[-1]
        g = self.group_size
        codes = unpack_codes(self.key_codes, self.bits).reshape(b, h, t // g, g, d)
        return dequantize_asymmetric(codes, self.key_scales.unsqueeze(3),
                                     self.key_zero_points.unsqueeze(3)).reshape(b, h, t, d)

    def dequantized_values(self) -> Tensor:
        """The quantized part of V, dequantized: float32 (batch, heads, quantized tokens, head_dim)."""
        b, h, t, _ = self.value_codes.shape
        gv = self.value_group_size
        codes = unpack_codes(self.value_codes, self.bits)
        dv = codes.shape[-1]
        codes = codes.reshape(b, h, t, dv // gv, gv)
        return dequantize_asymmetric(codes, self.value_scales.unsqueeze(-1),
                                     self.value_zero_points.unsqueeze(-1)).reshape(b, h, t, dv)

    @property
    def quantized_length(self) -> int:
        return 0 if self.key_codes is None else self.key_codes.shape[-2]

    def update(self, key_states: Tensor, value_states: Tensor, *args, **kwargs) -> tuple[Tensor, Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self.cumulative_length += key_states.shape[-2]
        self.key_residual = torch.cat([self.key_residual, key_states.to(torch.float16)], dim=-2)
        self.value_residual = torch.cat([self.value_residual, value_states.to(torch.float16)], dim=-2)
        overflow = self.key_residual.shape[-2] - self.residual_length
        if overflow > 0:
            groups = min(-(-overflow // self.group_size), self.key_residual.shape[-2] // self.group_size)
            if groups:
                self._quantize_oldest(groups * self.group_size)
        keys = torch.cat([self.dequantized_keys(), self.key_residual.float()], dim=-2)
        values = torch.cat([self.dequantized_values(), self.value_residual.float()], dim=-2)
        return keys.to(key_states.dtype), values.to(value_states.dtype)

    def get_seq_length(self) -> int:
        return self.cumulative_length

    def stored_nbytes(self) -> dict[str, int]:
        """Bytes of each stored tensor of this layer (0 before the first update)."""
        names = ("key_codes", "key_scales", "key_zero_points", "key_residual",
                 "value_codes", "value_scales", "value_zero_points", "value_residual")
        return {name: _tensor_nbytes(getattr(self, name)) for name in names}

    def reset(self) -> None:
        self._clear()
        self.cumulative_length = 0
        self.is_initialized = False

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        """Reorder every stored tensor along the batch (beam search)."""
        if not self.is_initialized:
            return
        for name in self.stored_nbytes():
            t = getattr(self, name)
            setattr(self, name, t.index_select(0, beam_idx.to(t.device)))

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("the KIVI-style cache does not support cropping")


class KiviCache(Cache):
    """KIVI-style cache for ``num_layers`` layers: ``bits``-bit K per channel in token groups of
    ``group_size``, V per token in channel groups, fp16 residual window of ``residual_length``."""

    def __init__(self, num_layers: int, bits: int = 2, group_size: int = 32, residual_length: int = 128,
                 value_group_size: int | None = None):
        super().__init__(layers=[KiviLayer(bits, group_size, residual_length, value_group_size)
                                 for _ in range(num_layers)])

    def stored_nbytes(self) -> dict[str, int]:
        return _sum_parts(self.layers)


# --- QJL-style -------------------------------------------------------------------------------------

def qjl_score_scale(m: int) -> float:
    """√(π/2)/m: the factor making √(π/2)/m · ‖k‖ · ⟨S q, sign(S k)⟩ unbiased for ⟨q, k⟩."""
    return math.sqrt(math.pi / 2) / m


def qjl_effective_keys(signs: Tensor, norms: Tensor, projection: Tensor) -> Tensor:
    """k̃ = √(π/2)/m · ‖k‖ · Sᵀ sign(S k) from signs (..., m) of S k, norms (...) and S (..., m, d):
    for any q, q·k̃ is QJL's estimate of q·k. Broadcasts over leading dims (one S per batch of S)."""
    m = projection.shape[-2]
    dtype = torch.promote_types(projection.dtype, torch.float32)
    back = (signs.to(dtype).unsqueeze(-2) @ projection.to(dtype)).squeeze(-2)
    return qjl_score_scale(m) * norms.to(dtype).unsqueeze(-1) * back


class QjlLayer(DynamicLayer):
    """One layer of the QJL-style cache (see the module docstring): packed sign(S k), fp16 ‖k‖,
    fp16 V; S from ``seed`` (regenerated, or stored with ``store_projection``)."""

    is_croppable = False

    def __init__(self, head_dim: int, m: int, seed: int, store_projection: bool = False):
        super().__init__()
        if m < 1 or head_dim < 1:
            raise ValueError("m and head_dim must be positive")
        self.head_dim, self.m = head_dim, m
        self.seed = torch.tensor([seed], dtype=torch.int64)  # stored: S is regenerated from it
        self.store_projection = store_projection
        self.projection = qjl_projections(m, head_dim, seed).to(torch.float32) if store_projection else None
        self.cumulative_length = 0
        self._clear()

    def _clear(self) -> None:
        self.key_signs = self.key_norms = self.values_fp16 = None

    def current_projection(self) -> Tensor:
        """S (m × head_dim, float32): the stored one, or regenerated from the seed."""
        if self.projection is not None:
            return self.projection
        return qjl_projections(self.m, self.head_dim, int(self.seed.item())).to(torch.float32)

    def lazy_initialization(self, key_states: Tensor, value_states: Tensor) -> None:
        _validate_geometry(key_states, value_states)
        if key_states.shape[-1] != self.head_dim:
            raise ValueError(f"keys have head_dim {key_states.shape[-1]}, the layer was built for {self.head_dim}")
        b, h = key_states.shape[:2]
        self.dtype, self.device = key_states.dtype, key_states.device
        self.seed = self.seed.to(self.device)
        if self.projection is not None:
            self.projection = self.projection.to(self.device)
        self.key_signs = torch.empty(b, h, 0, -(-self.m // 8), dtype=torch.uint8, device=self.device)
        self.key_norms = torch.empty(b, h, 0, dtype=torch.float16, device=self.device)
        self.values_fp16 = torch.empty(b, h, 0, value_states.shape[-1], dtype=torch.float16, device=self.device)
        self.is_initialized = True

    def update(self, key_states: Tensor, value_states: Tensor, *args, **kwargs) -> tuple[Tensor, Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self.cumulative_length += key_states.shape[-2]
        proj = self.current_projection().to(self.device)
        k = key_states.to(torch.float32)
        self.key_signs = torch.cat([self.key_signs, pack_signs(k @ proj.T)], dim=-2)
        self.key_norms = torch.cat([self.key_norms, k.norm(dim=-1).to(torch.float16)], dim=-1)
        self.values_fp16 = torch.cat([self.values_fp16, value_states.to(torch.float16)], dim=-2)
        keys = qjl_effective_keys(unpack_signs(self.key_signs, self.m), self.key_norms, proj)
        return keys.to(key_states.dtype), self.values_fp16.to(value_states.dtype)

    def get_seq_length(self) -> int:
        return self.cumulative_length

    def stored_nbytes(self) -> dict[str, int]:
        """Bytes of each stored tensor: packed signs, fp16 norms, fp16 values, seed (and S if stored)."""
        return {
            "key_codes": _tensor_nbytes(self.key_signs),
            "key_norms": _tensor_nbytes(self.key_norms),
            "values": _tensor_nbytes(self.values_fp16),
            "metadata": _tensor_nbytes(self.seed) + _tensor_nbytes(self.projection),
        }

    def reset(self) -> None:
        self._clear()
        self.cumulative_length = 0
        self.is_initialized = False

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        """Reorder the per-token tensors along the batch (beam search)."""
        if not self.is_initialized:
            return
        for name in ("key_signs", "key_norms", "values_fp16"):
            t = getattr(self, name)
            setattr(self, name, t.index_select(0, beam_idx.to(t.device)))

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("the QJL-style cache does not support cropping")


class QjlCache(Cache):
    """QJL-style cache for ``num_layers`` layers: keys as m packed sign bits of S k plus fp16 ‖k‖
    (layer i's S from ``seed + i``), values fp16."""

    def __init__(self, num_layers: int, head_dim: int, m: int, seed: int = 0, store_projection: bool = False):
        super().__init__(layers=[QjlLayer(head_dim, m, seed + i, store_projection) for i in range(num_layers)])

    def stored_nbytes(self) -> dict[str, int]:
        return _sum_parts(self.layers)


def _sum_parts(layers) -> dict[str, int]:
    total: dict[str, int] = {}
    for layer in layers:
        for name, n in layer.stored_nbytes().items():
            total[name] = total.get(name, 0) + n
    return total
