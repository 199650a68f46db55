"""One-bit sign quantization: packed sign bits plus a per-vector fp16 scale.

x ∈ R^d is stored as s = sign(x) ∈ {±1}^d, packed 8 per byte, and α = ‖x‖₁/d in float16; it is read
back as α·s. Zero coordinates get the sign +1, so s never has a zero and ⟨x, s⟩ = ‖x‖₁ holds for
every x. α = ‖x‖₁/d is the least-squares optimal scale for s, and the relative residual energy is
‖x − α s‖²/‖x‖² = 1 − c(x)² with c the one-bit cosine (``MoEGauge.one_bit_scale_optimal``).

Bit layout: coordinate j of a vector is bit (j mod 8) (least significant first) of byte j // 8; the
last byte is zero-padded when d is not a multiple of 8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

_FP16_MAX = float(torch.finfo(torch.float16).max)
_SHIFTS = torch.arange(8, dtype=torch.uint8)


def pack_signs(x: Tensor) -> Tensor:
    """uint8 tensor (..., ceil(d/8)): bit set where x ≥ 0 (so sign(0) = +1)."""
    d = x.shape[-1]
    bits = (x >= 0).to(torch.uint8)
    pad = (-d) % 8
    if pad:
        bits = torch.nn.functional.pad(bits, (0, pad))
    bits = bits.reshape(*x.shape[:-1], (d + pad) // 8, 8)
    return (bits << _SHIFTS.to(bits.device)).sum(dim=-1, dtype=torch.uint8)


def unpack_signs(packed: Tensor, d: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """±1 tensor (..., d) from :func:`pack_signs` output."""
    if packed.dtype != torch.uint8:
        raise TypeError(f"packed signs must be uint8, got {packed.dtype}")
    if packed.shape[-1] != math.ceil(d / 8):
        raise ValueError(f"{packed.shape[-1]} bytes cannot hold d={d} signs")
    bits = (packed.unsqueeze(-1) >> _SHIFTS.to(packed.device)) & 1
    bits = bits.reshape(*packed.shape[:-1], -1)[..., :d]
    return bits.to(dtype) * 2 - 1


@dataclass(frozen=True)
class SignQuantized:
    """Stored form of 1-bit vectors: ``bits`` uint8 (..., ceil(d/8)), ``scale`` float16 (...)."""

    bits: Tensor
    scale: Tensor
    d: int

    def nbytes(self) -> int:
        """Bytes actually held by the stored tensors (elements × element size, no formula)."""
        return sum(t.numel() * t.element_size() for t in (self.bits, self.scale))

    def nbytes_breakdown(self) -> dict[str, int]:
        """Bytes per stored tensor: ``{"bits": …, "scale": …}``."""
        return {
            "bits": self.bits.numel() * self.bits.element_size(),
            "scale": self.scale.numel() * self.scale.element_size(),
        }


def optimal_one_bit_scale(x: Tensor) -> Tensor:
    """α* = ⟨x, s⟩/‖s‖² = ‖x‖₁/d for s = sign(x): the least-squares scale, per vector."""
    return x.abs().mean(dim=-1)


def one_bit_residual_energy(x: Tensor, scale: Tensor | None = None) -> Tensor:
    """‖x − α·sign(x)‖² / ‖x‖² per vector, computed directly (α = the optimal scale by default)."""
    s = torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    alpha = optimal_one_bit_scale(x) if scale is None else scale.to(x.dtype)
    r = x - alpha.unsqueeze(-1) * s
    return (r * r).sum(dim=-1) / (x * x).sum(dim=-1)


def quantize(x: Tensor) -> SignQuantized:
    """Pack the signs of ``x`` (..., d) and store α = ‖x‖₁/d per vector in float16.

    Raises ValueError if x is not finite or a scale overflows float16 (> 65504).
    """
    if not x.is_floating_point():
        raise TypeError(f"quantize needs a floating-point tensor, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("cannot quantize non-finite values")
    alpha = optimal_one_bit_scale(x.to(torch.float32) if x.dtype != torch.float64 else x)
    if alpha.numel() and float(alpha.max()) > _FP16_MAX:
        raise ValueError(f"a scale {float(alpha.max()):.4g} overflows float16")
    return SignQuantized(bits=pack_signs(x), scale=alpha.to(torch.float16), d=x.shape[-1])


def dequantize(q: SignQuantized, dtype: torch.dtype = torch.float32) -> Tensor:
    """α·s, shape (..., d)."""
    return unpack_signs(q.bits, q.d, dtype) * q.scale.to(dtype).unsqueeze(-1)


#: Row b holds the 8 bits of byte value b, least significant first (the pack_signs layout).
_BYTE_BITS = ((torch.arange(256, dtype=torch.int64)[:, None] >> torch.arange(8)) & 1).to(torch.float64)


def packed_sign_scores(bits: Tensor, x: Tensor, d: int) -> Tensor:
    """⟨s, x⟩ for the ±1 vectors s stored in ``bits`` (..., ceil(d/8)), scored without expanding s.

    Uses the packed-sign identity (``MoEGauge.packed_sign_score_bytes``): per byte b,
    2·∑_{bit j of b set} x_{8b+j} − ∑_j x_{8b+j}, summed over bytes. ``x`` is (d,) or broadcastable
    against the stored vectors' leading dims with a trailing d. Padding bits (j ≥ d) meet zero
    query coordinates, so they contribute nothing. Computed in float64.
    """
    if bits.dtype != torch.uint8:
        raise TypeError(f"packed signs must be uint8, got {bits.dtype}")
    nbytes = math.ceil(d / 8)
    if bits.shape[-1] != nbytes:
        raise ValueError(f"{bits.shape[-1]} bytes cannot hold d={d} signs")
    if x.shape[-1] != d:
        raise ValueError(f"query has {x.shape[-1]} coordinates, expected d={d}")
    xq = x.to(torch.float64)
    xq = torch.nn.functional.pad(xq, (0, nbytes * 8 - d)).reshape(*xq.shape[:-1], nbytes, 8)
    set_bits = _BYTE_BITS.to(bits.device)[bits.to(torch.int64)]  # (..., nbytes, 8) of 0/1
    per_byte = 2 * (set_bits * xq).sum(dim=-1) - xq.sum(dim=-1)  # the identity, one byte at a time
    return per_byte.sum(dim=-1)
