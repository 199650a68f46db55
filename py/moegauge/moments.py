"""Moment statistics of key vectors: β, the one-bit cosine, per-head variance/kurtosis, gauge G.

Pure functions, torch tensors in, tensors or floats out. Half-precision inputs are computed in
float32, integer inputs in float64; float32/float64 stay as they are (and keep autograd), except the
per-head moments, which are always accumulated in float64 (fourth powers of outlier channels).

Units: β = (E|x|)²/E[x²] is the *moment ratio*; the *one-bit cosine* c = ‖x‖₁/(√d‖x‖₂) is its
per-vector cosine form, c → √β for i.i.d. coordinates. Gaussian: β = 2/π ≈ 0.6366, c ≈ 0.7979.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .choices import HEAD_MOMENT_REDUCTIONS

#: β of a Gaussian: (E|X|)²/E[X²] = 2/π.
GAUSSIAN_BETA = 2.0 / math.pi
#: One-bit cosine of a (high-dimensional) Gaussian vector: √(2/π).
GAUSSIAN_ONE_BIT_COSINE = math.sqrt(2.0 / math.pi)



def _as_float(x: Tensor) -> Tensor:
    """Tensor in a dtype fit for moments: ≥ float32, integers as float64."""
    if not torch.is_tensor(x):
        x = torch.as_tensor(x)
    if not x.is_floating_point():
        return x.to(torch.float64)
    if x.dtype in (torch.float16, torch.bfloat16):
        return x.to(torch.float32)
    return x


def beta_moment_ratio(x: Tensor, dim: int | None = None) -> Tensor:
    """β = (E|x|)² / E[x²]: pooled over all elements when ``dim`` is None, else along ``dim``.

    In (0, 1] by Cauchy–Schwarz (``MoEGauge.moment_ratio_le_one``), 1 iff |x| is constant. Undefined
    (NaN) for an all-zero input. Differentiable.
    """
    x = _as_float(x)
    ax = x.abs()
    if dim is None:
        m1 = ax.mean()
        m2 = (x * x).mean()
    else:
        m1 = ax.mean(dim=dim)
        m2 = (x * x).mean(dim=dim)
    return m1 * m1 / m2


def one_bit_cosine(x: Tensor) -> Tensor:
    """c(x) = ‖x‖₁ / (√d·‖x‖₂) along the last dim (d = its size): one value per vector.

    It is the cosine between x and its sign vector s ∈ {±1}^d (any sign for zero coordinates:
    ⟨x, s⟩ = ‖x‖₁ either way), ``MoEGauge.cos_sign_quant_formula``. NaN for a zero vector.
    Differentiable.
    """
    x = _as_float(x)
    d = x.shape[-1]
    l1 = x.abs().sum(dim=-1)
    l2 = torch.linalg.vector_norm(x, dim=-1)
    return l1 / (math.sqrt(d) * l2)


def beta_se_from_moments(m1: float, m2: float, m3: float, m4: float, n: int) -> float:
    """Delta-method standard error of the plug-in β̂ from ``n`` i.i.d. scalar samples of a law with
    absolute moments m_k = E|X|^k.

    β̂ = f(Ā, B̄) with A = |X|, B = X², f(a, b) = a²/b, ∇f = (2a/b, −a²/b²). By the CLT
    √n(Ā − m1, B̄ − m2) → N(0, Σ) with Var A = m2 − m1², Var B = m4 − m2², Cov(A, B) = m3 − m1·m2,
    so SE(β̂) ≈ √(∇fᵀ Σ ∇f / n). Its bias is O(1/n), negligible next to the SE.
    """
    ga, gb = 2.0 * m1 / m2, -(m1 * m1) / (m2 * m2)
    var_a, var_b, cov_ab = m2 - m1 * m1, m4 - m2 * m2, m3 - m1 * m2
    var = ga * ga * var_a + gb * gb * var_b + 2.0 * ga * gb * cov_ab
    return math.sqrt(max(var, 0.0) / n)


def beta_standard_error(x: Tensor) -> float:
    """Delta-method SE of the pooled β̂ of ``x`` (rows = independent vectors, shape (..., d)).

    Coordinates within one vector need not be independent (after a rotation they usually are not),
    so rows are treated as clusters: with a_v = mean_i |x_vi| and b_v = mean_i x_vi², β̂ = ā²/b̄ and
    SE ≈ √(∇fᵀ Σ̂ ∇f / n) with Σ̂ the sample covariance of (a_v, b_v) over the n rows. For i.i.d.
    scalars pass shape (n, 1).
    """
    x = _as_float(x).detach().to(torch.float64)
    rows = x.reshape(-1, x.shape[-1])
    n = rows.shape[0]
    if n < 2:
        raise ValueError("beta_standard_error needs at least 2 vectors")
    a = rows.abs().mean(dim=1)
    b = (rows * rows).mean(dim=1)
    abar, bbar = a.mean(), b.mean()
    ga, gb = 2.0 * abar / bbar, -(abar * abar) / (bbar * bbar)
    da, db = a - abar, b - bbar
    var_a = (da * da).sum() / (n - 1)
    var_b = (db * db).sum() / (n - 1)
    cov = (da * db).sum() / (n - 1)
    var = ga * ga * var_a + gb * gb * var_b + 2.0 * ga * gb * cov
    return math.sqrt(max(float(var), 0.0) / n)


def variance_se_from_moments(mu2: float, mu4: float, n: int) -> float:
    """SE of the sample variance from ``n`` i.i.d. samples: √((μ4 − μ2²)/n) (central moments μ_k)."""
    return math.sqrt(max(mu4 - mu2 * mu2, 0.0) / n)


def excess_kurtosis_se_from_moments(mu2: float, mu4: float, mu6: float, mu8: float, n: int) -> float:
    """Delta-method SE of the sample excess kurtosis m4/m2² − 3 for a *symmetric* law with central
    moments μ2, μ4, μ6, μ8 (odd moments vanish, so estimating the mean adds nothing at this order).

    With g(m2, m4) = m4/m2², ∇g = (−2μ4/μ2³, 1/μ2²) and Cov((X²), (X⁴)) terms
    Var X² = μ4 − μ2², Var X⁴ = μ8 − μ4², Cov = μ6 − μ2μ4:
    n·Var ≈ (μ8 − μ4²)/μ2⁴ − 4μ4(μ6 − μ2μ4)/μ2⁵ + 4μ4²(μ4 − μ2²)/μ2⁶ (Gaussian: 24).
    """
    v = (
        (mu8 - mu4 * mu4) / mu2**4
        - 4.0 * mu4 * (mu6 - mu2 * mu4) / mu2**5
        + 4.0 * mu4 * mu4 * (mu4 - mu2 * mu2) / mu2**6
    )
    return math.sqrt(max(v, 0.0) / n)


@dataclass(frozen=True)
class HeadMoments:
    """Per-head moments of keys across tokens (float64, shape (heads,)), and how they were pooled."""

    variance: Tensor
    excess_kurtosis: Tensor
    reduce: str

    @property
    def gauge(self) -> float:
        """G = mean over heads of max(0, κ/σ²) (seed 000)."""
        return gauge_from_moments(self.variance, self.excess_kurtosis)


def head_moments(keys: Tensor, reduce: str = "pooled") -> HeadMoments:
    """Variance σ² and excess kurtosis κ per head of ``keys`` shaped (..., heads, head_dim).

    All leading dims are tokens. ``reduce`` names the sample a head's moments are taken over:

    - ``"pooled"``: all (token, channel) values of the head as one sample, around the head's mean;
    - ``"per_channel"``: each channel across tokens (around its own mean), then σ² and κ averaged
      over the head's channels — insensitive to per-channel DC offsets.

    Population (1/n) moments, accumulated in float64. κ = E(x−m)⁴/σ⁴ − 3 (Gaussian 0, uniform −1.2,
    Laplace 3). A head with σ² = 0 gives NaN.
    """
    if reduce not in HEAD_MOMENT_REDUCTIONS:
        raise ValueError(f"reduce must be one of {HEAD_MOMENT_REDUCTIONS}, got {reduce!r}")
    x = _as_float(keys).detach().to(torch.float64)
    if x.dim() < 2:
        raise ValueError("keys must have shape (..., heads, head_dim)")
    heads, hd = x.shape[-2], x.shape[-1]
    x = x.reshape(-1, heads, hd)  # (tokens, heads, head_dim)
    if reduce == "pooled":
        flat = x.permute(1, 0, 2).reshape(heads, -1)  # (heads, tokens*head_dim)
        dev = flat - flat.mean(dim=1, keepdim=True)
        var = (dev * dev).mean(dim=1)
        m4 = (dev**4).mean(dim=1)
        kurt = m4 / (var * var) - 3.0
    else:
        dev = x - x.mean(dim=0, keepdim=True)
        var_c = (dev * dev).mean(dim=0)  # (heads, head_dim)
        m4_c = (dev**4).mean(dim=0)
        kurt_c = m4_c / (var_c * var_c) - 3.0
        var = var_c.mean(dim=1)
        kurt = kurt_c.mean(dim=1)
    return HeadMoments(variance=var, excess_kurtosis=kurt, reduce=reduce)


def gauge_from_moments(variance: Tensor, excess_kurtosis: Tensor) -> float:
    """G = mean over heads of max(0, κ_h / σ²_h) (seed 000's layer gauge; a heuristic diagnostic).

    Not scale invariant: scaling the keys by s scales G by 1/s².
    """
    ratio = torch.as_tensor(excess_kurtosis, dtype=torch.float64) / torch.as_tensor(
        variance, dtype=torch.float64
    )
    return float(ratio.clamp(min=0.0).mean())


def gauge_G(keys: Tensor, reduce: str = "pooled") -> float:
    """Gauge G_ℓ of one layer's keys (..., heads, head_dim): see :func:`head_moments`."""
    return head_moments(keys, reduce=reduce).gauge


def participation_ratio(eigenvalues: Tensor) -> float:
    """PR = (∑ λᵢ)² / ∑ λᵢ² of a nonnegative spectrum (the FFN study's effective dimension d_eff).

    ``MoEGauge.participationRatio_bounds``: 1 ≤ PR ≤ rank (the number of nonzero λᵢ). Raises on a
    negative entry or an all-zero spectrum, where PR is undefined.
    """
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64).flatten()
    if lam.numel() == 0 or bool((lam < 0).any()):
        raise ValueError("participation_ratio needs a nonempty nonnegative spectrum")
    s2 = float((lam * lam).sum())
    if s2 == 0.0:
        raise ValueError("participation_ratio of an all-zero spectrum is undefined")
    return float(lam.sum()) ** 2 / s2


def covariance_spectrum(x: Tensor) -> Tensor:
    """Eigenvalues (ascending, clipped at 0) of the covariance of the rows of ``x`` (n, d), float64."""
    xd = _as_float(x).detach().to(torch.float64).reshape(-1, x.shape[-1])
    dev = xd - xd.mean(dim=0, keepdim=True)
    cov = dev.T @ dev / xd.shape[0]
    return torch.linalg.eigvalsh(cov).clamp(min=0.0)


def effective_rank(x: Tensor) -> float:
    """Participation ratio of the covariance spectrum of the rows of ``x`` (n, d)."""
    return participation_ratio(covariance_spectrum(x))
