"""Seeded synthetic key sets for tests and benchmarks (never evidence about real models)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Laws with a known β: name → (β, excess kurtosis).
KNOWN_LAWS = {
    "gaussian": (2.0 / math.pi, 0.0),
    "laplace": (0.5, 3.0),
    "uniform": (0.75, -1.2),
}


def iid_samples(law: str, shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """I.i.d. samples of a unit-scale law: gaussian N(0,1), laplace (b = 1), uniform on [−1, 1]."""
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    if law == "gaussian":
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
    elif law == "laplace":
        u = torch.rand(shape, generator=gen, dtype=torch.float64)
        e = -torch.log1p(-u)  # Exp(1)
        s = torch.randint(0, 2, shape, generator=gen, dtype=torch.int64) * 2 - 1
        x = e * s
    elif law == "uniform":
        x = torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1
    else:
        raise ValueError(f"law must be one of {tuple(KNOWN_LAWS)}, got {law!r}")
    return x.to(dtype)


def low_rank_keys(
    n: int,
    d: int,
    rank: int,
    seed: int,
    *,
    dc: float = 2.0,
    noise: float = 0.05,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Keys k = B z + δ + ε: B a random d×rank orthonormal basis, z ~ N(0, diag(σ²)) with σ
    decaying from 1 to 0.1 over the rank, δ a per-channel DC offset of typical size ``dc``/√d·√d
    (entries N(0, dc²/d)·… scaled so ‖δ‖ ≈ dc), ε isotropic noise of std ``noise``/√d per coordinate.

    The low-rank part is what a learned rotation can align with the sign lattice; δ is what
    per-channel centering removes.
    """
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    basis, _ = torch.linalg.qr(torch.randn(d, rank, generator=gen, dtype=torch.float64))
    sig = torch.logspace(0, -1, rank, dtype=torch.float64)
    z = torch.randn(n, rank, generator=gen, dtype=torch.float64) * sig
    delta = torch.randn(d, generator=gen, dtype=torch.float64)
    delta = dc * delta / delta.norm()
    eps = torch.randn(n, d, generator=gen, dtype=torch.float64) * (noise / math.sqrt(d))
    return (z @ basis.T + delta + eps).to(dtype)
