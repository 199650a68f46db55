"""Fast Walsh–Hadamard transform and the SRHT, with dense references for testing.

``srht(x, seed)`` computes y = T·D·x along the last dim: D = diag(s) with s ∈ {±1}^d drawn from
``seed``, and T an orthogonal matrix built as a Kronecker product of small orthonormal factors.

Power-of-two d = 2^p: T = H_d/√d, the normalised Sylvester–Hadamard matrix. Since H_{2^p} is the
p-fold Kronecker power of H_2, it splits exactly as H_{2^a} ⊗ H_{2^b} ⊗ … with factors of at most 64,
and (F ⊗ G)·vec(X) is "apply G along the last axis, F along the one before": each factor is one
GEMM with a 64×64 (or smaller) matrix, i.e. 2·(sum of factor sizes) flops per coordinate —
O(d log d) for a bounded factor size. Rows are processed in chunks of 4–16 MiB so every stage runs in
cache and the big tensor is read once and written once (chunk size: see ``_CHUNK_BYTES_MIN``).

Other d: write d = 2^k·m with m odd. T = (H_{2^k}/√2^k) ⊗ C_m, where C_m is the orthonormal DCT-II
matrix, C[i, j] = √(2/m)·cos(π(2j+1)i/(2m)) with row 0 scaled by 1/√2. A Kronecker product of
orthogonal matrices is orthogonal, so T is exactly orthogonal (to rounding) for every d. Indexing a
coordinate as i = a·m + b (a < 2^k, b < m), T acts as Y = H·X·C_mᵀ on the 2^k × m matrix X. Every
entry of T has magnitude ≤ √(2/d) (the Hadamard limit is 1/√d), so T still spreads any coordinate
over all d outputs; with the random signs in front this is the usual SRHT mixing. Cost: O(d·(k + m))
per vector — O(d log d) when the odd part m is small (head dims like 80 = 16·5, 96 = 32·3,
112 = 16·7, 192 = 64·3), and O(d²) in the worst case of odd d. C_m is deterministic: all the
randomness is in s. For m = 1 this is exactly the power-of-two SRHT.

What is lost for m > 1: flatness. A real orthogonal matrix with all entries ±1/√n is a Hadamard
matrix, which exists only for n = 1, 2 or a multiple of 4, so no odd factor can be flat. Dense
inputs do not notice (every row of T has unit norm, so i.i.d. coordinates still map to equal-variance
outputs and β → 2/π as for powers of two), but Gaussian inputs living on a few channels map to output
coordinates of unequal variance v_i, and pooled β becomes (2/π)·(mean √v)²/mean v, slightly below the
floor (rank 8 at d = 768: 0.630 instead of 0.637); a single spike at d = 96 comes out with β = 0.955
instead of the power-of-two value 1.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

#: Largest Hadamard factor applied as one GEMM (2^6 = 64: best on the CPUs measured).
_MAX_FACTOR_BITS = 6
#: Row chunks for the cache-resident pipeline: at least 4 MiB, at most 16 MiB, and no more than
#: _MAX_CHUNKS of them. Each chunk costs a few parallel regions; on a shared 2-core machine each
#: region can wait a scheduler timeslice for its second thread, so many small chunks are fragile under
#: load (measured: 1 MiB chunks 1.1–8.3 s vs 16 MiB 0.8 s at d = 4096 on a busy machine; 0.19 s vs
#: 0.22 s when idle).
_CHUNK_BYTES_MIN = 1 << 22
_CHUNK_BYTES_MAX = 1 << 24
_MAX_CHUNKS = 16


def is_power_of_two(n: int) -> bool:
    return n >= 1 and (n & (n - 1)) == 0


def split_dimension(d: int) -> tuple[int, int]:
    """d = 2^k · m with m odd; returns (2^k, m)."""
    if d < 1:
        raise ValueError(f"dimension must be positive, got {d}")
    two_k = d & -d
    return two_k, d // two_k


def hadamard_matrix(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Unnormalised Sylvester–Hadamard matrix H_n (entries ±1), n a power of two; dense reference."""
    if not is_power_of_two(n):
        raise ValueError(f"Hadamard order must be a power of two, got {n}")
    h = torch.ones(1, 1, dtype=dtype)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], dim=1), torch.cat([h, -h], dim=1)], dim=0)
    return h


def dct_matrix(m: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Orthonormal DCT-II matrix C_m (C Cᵀ = I), the odd factor of the non-power-of-two SRHT."""
    i = torch.arange(m, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(m, dtype=torch.float64).unsqueeze(0)
    c = math.sqrt(2.0 / m) * torch.cos(math.pi * (2.0 * j + 1.0) * i / (2.0 * m))
    c[0] /= math.sqrt(2.0)
    return c.to(dtype)


def srht_signs(d: int, seed: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The ±1 diagonal of D: ``torch.randint`` bits from a CPU generator seeded with ``seed``."""
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    bits = torch.randint(0, 2, (d,), generator=gen, dtype=torch.int64)
    return (2 * bits - 1).to(dtype)


def orthogonal_transform_matrix(d: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Dense T for dimension d (see the module docstring), built directly: H_{2^k}/√2^k ⊗ C_m."""
    two_k, m = split_dimension(d)
    h = hadamard_matrix(two_k, torch.float64) / math.sqrt(two_k)
    t = torch.kron(h, dct_matrix(m)) if m > 1 else h
    return t.to(dtype)


def srht_matrix(d: int, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Dense reference M = T·D, so that ``srht(x, seed) == x @ M.T`` (O(d²) memory: tests only)."""
    t = orthogonal_transform_matrix(d, torch.float64)
    return (t * srht_signs(d, seed, torch.float64)).to(dtype)


@lru_cache(maxsize=64)
def _factors_cached(d: int, dtype: torch.dtype) -> tuple[Tensor, ...]:
    two_k, m = split_dimension(d)
    p = two_k.bit_length() - 1
    mats: list[Tensor] = []
    if p > 0:
        pieces = -(-p // _MAX_FACTOR_BITS)  # ceil
        bits = [p // pieces + (1 if i < p % pieces else 0) for i in range(pieces)]
        for b in bits:
            n = 1 << b
            mats.append(hadamard_matrix(n, torch.float64) / math.sqrt(n))
    if m > 1:
        mats.append(dct_matrix(m))
    return tuple(f.to(dtype).contiguous() for f in mats)


def _factors(d: int, dtype: torch.dtype) -> tuple[Tensor, ...]:
    """Small orthonormal F_1, …, F_r with T = F_1 ⊗ … ⊗ F_r (Hadamard pieces first, C_m last)."""
    return _factors_cached(d, dtype)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _apply_factor(src: Tensor, f: Tensor, left: int, right: int, out: Tensor | None) -> Tensor:
    """Apply the orthonormal factor f (n×n) along the middle axis of src viewed as (left, n, right)."""
    n = f.shape[0]
    if right == 1:
        return torch.mm(src.view(-1, n), f.T, out=None if out is None else out.view(-1, n))
    return torch.matmul(f, src.view(left, n, right), out=None if out is None else out.view(left, n, right))


def _transform_functional(rows: Tensor, factors: tuple[Tensor, ...]) -> Tensor:
    """T·rows (rows: (n, d)) without in-place ops, so autograd can flow through it."""
    n, d = rows.shape
    y = rows
    sizes = [f.shape[0] for f in factors]
    for j in reversed(range(len(factors))):
        left = n * math.prod(sizes[:j])
        right = math.prod(sizes[j + 1 :])
        y = _apply_factor(y.contiguous(), factors[j], left, right, None).reshape(n, d)
    return y


def _srht_rows(rows: Tensor, signs: Tensor, out: Tensor, factors: tuple[Tensor, ...]) -> None:
    """out = (F_1 ⊗ … ⊗ F_r)·D·rows for contiguous (n, d) ``rows``, chunked so each chunk's stages
    stay in cache. ``out`` may alias ``rows``: a chunk is read into scratch before it is written.
    """
    n, d = rows.shape
    cdt = signs.dtype
    sizes = [f.shape[0] for f in factors]
    row_bytes = d * signs.element_size()
    target = min(max(_CHUNK_BYTES_MIN, n * row_bytes // _MAX_CHUNKS), _CHUNK_BYTES_MAX)
    chunk = max(1, target // row_bytes)
    bufs = (torch.empty(min(chunk, n), d, dtype=cdt), torch.empty(min(chunk, n), d, dtype=cdt))
    direct = out.dtype == cdt
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        c = stop - start
        cur, other = bufs[0][:c], bufs[1][:c]
        torch.mul(rows[start:stop], signs, out=cur)
        if not factors:
            out[start:stop].copy_(cur)
            continue
        for j in reversed(range(len(factors))):
            last = j == 0
            dst = out[start:stop] if (last and direct) else other
            left = c * math.prod(sizes[:j])
            right = math.prod(sizes[j + 1 :])
            _apply_factor(cur, factors[j], left, right, dst)
            cur, other = dst, cur
        if not direct:
            out[start:stop].copy_(cur)


def srht(x: Tensor, seed: int, *, out: Tensor | None = None) -> Tensor:
    """Randomized Hadamard transform y = T·D·x along the last dim, no subsampling (see module doc).

    Seeded ±1 signs D, then the normalised Walsh–Hadamard transform (power-of-two d) or the exact
    orthogonal H ⊗ DCT construction (other d). Batched over leading dims; any float dtype (half
    types are computed in float32 and rounded back, float64 in float64). Orthogonal, so norms and dot
    products are preserved (``MoEGauge.attention_score_gauge_invariance``); it drives coordinates
    toward Gaussian, β → 2/π (``MoEGauge.srht_achieves_isotropic_floor``).

    ``out`` (same shape and dtype as x, contiguous; may be x itself for an in-place transform) avoids
    allocating the result. Differentiable when x requires grad (then ``out`` is not allowed).
    """
    if not x.is_floating_point():
        raise TypeError(f"srht needs a floating-point tensor, got {x.dtype}")
    d = x.shape[-1]
    cdt = _compute_dtype(x.dtype)
    signs = srht_signs(d, seed, cdt).to(x.device)
    if x.requires_grad and torch.is_grad_enabled():
        if out is not None:
            raise ValueError("out= is not supported when x requires grad")
        rows = (x.reshape(-1, d).to(cdt)) * signs
        y = _transform_functional(rows, _factors(d, cdt))
        return y.to(x.dtype).reshape(x.shape)
    if out is None:
        out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    elif out.shape != x.shape or out.dtype != x.dtype or not out.is_contiguous():
        raise ValueError("out must be a contiguous tensor with x's shape and dtype")
    if x.numel() == 0:
        return out
    rows = x.reshape(-1, d)
    if not rows.is_contiguous():
        rows = rows.contiguous()
    _srht_rows(rows, signs, out.view(-1, d), _factors(d, cdt))
    return out


def srht_inverse(y: Tensor, seed: int) -> Tensor:
    """x = D·Tᵀ·y, the inverse (= transpose) of :func:`srht` for the same ``seed``."""
    if not y.is_floating_point():
        raise TypeError(f"srht_inverse needs a floating-point tensor, got {y.dtype}")
    d = y.shape[-1]
    cdt = _compute_dtype(y.dtype)
    signs = srht_signs(d, seed, cdt).to(y.device)
    factors_t = tuple(f.T.contiguous() for f in _factors(d, cdt))
    rows = y.reshape(-1, d).to(cdt)
    if y.requires_grad and torch.is_grad_enabled():
        return (_transform_functional(rows, factors_t) * signs).to(y.dtype).reshape(y.shape)
    out = torch.empty(rows.shape, dtype=cdt, device=y.device)
    if rows.numel():
        ones = torch.ones(d, dtype=cdt, device=y.device)
        _srht_rows(rows.contiguous(), ones, out, factors_t)
        out.mul_(signs)
    return out.to(y.dtype).reshape(y.shape)


def fwht(x: Tensor) -> Tensor:
    """Normalised Walsh–Hadamard transform (H_d/√d)·x along the last dim; d must be a power of two."""
    d = x.shape[-1]
    if not is_power_of_two(d):
        raise ValueError(f"fwht needs a power-of-two last dim, got {d} (use srht for other d)")
    cdt = _compute_dtype(x.dtype)
    ones = torch.ones(d, dtype=cdt, device=x.device)
    if x.requires_grad and torch.is_grad_enabled():
        return _transform_functional(x.reshape(-1, d).to(cdt), _factors(d, cdt)).to(x.dtype).reshape(x.shape)
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if x.numel():
        _srht_rows(x.reshape(-1, d).contiguous(), ones, out.view(-1, d), _factors(d, cdt))
    return out
