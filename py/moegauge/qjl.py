"""QJL's 1-bit sketch of a key and its inner-product estimator (the peers row's baseline).

A key k is stored as the signs of m Gaussian projections, sign(G k) with G ∈ R^{m×d} i.i.d. N(0, 1),
plus ‖k‖. For one row g, E[sign(⟨g, k⟩)·⟨g, q⟩] = √(2/π)·⟨q, k⟩/‖k‖
(``MoEGauge.qjl_sign_estimator_mean``), so the unbiased estimate of ⟨q, k⟩ is
√(π/2)·‖k‖/m · ⟨sign(G k), G q⟩. That factor is the scale convention.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def qjl_projections(m: int, d: int, seed: int) -> Tensor:
    """The m×d Gaussian projection matrix (float64), reproducible from ``seed``."""
    return torch.randn(m, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def qjl_sign_products(q: Tensor, k: Tensor, proj: Tensor) -> Tensor:
    """sign(⟨gⱼ, k⟩)·⟨gⱼ, q⟩ for each row gⱼ of ``proj`` (m,): the per-row terms of the estimator."""
    s = torch.sign(proj @ k.to(torch.float64))
    s = torch.where(s == 0, torch.ones_like(s), s)  # sign(0) = +1, as in the 1-bit cache
    return s * (proj @ q.to(torch.float64))


def qjl_inner_product(q: Tensor, k: Tensor, proj: Tensor) -> float:
    """QJL's unbiased estimate √(π/2)·‖k‖·mean_j sign(⟨gⱼ, k⟩)⟨gⱼ, q⟩ of ⟨q, k⟩."""
    norm = float(k.to(torch.float64).norm())
    return math.sqrt(math.pi / 2) * norm * float(qjl_sign_products(q, k, proj).mean())
