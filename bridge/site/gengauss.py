"""The generalised Gaussian family behind the β widget: density ∝ exp(−|x/α|^p), unit variance.

p = 1 is Laplace (β = 1/2), p = 2 Gaussian (β = 2/π), p → ∞ uniform (β → 3/4). For this family

    β(p) = (E|X|)² / E[X²] = Γ(2/p)² / (Γ(1/p) Γ(3/p)),

exactly (E|X|^r = α^r Γ((r+1)/p) / Γ(1/p)), and the one-bit cosine of many i.i.d. coordinates
tends to √β. Everything is computed with log-Gamma so large p does not overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The shape where the family is the Laplace law, and where it is the Gaussian.
LAPLACE_P = 1.0
GAUSSIAN_P = 2.0
#: β of the uniform law, the family's limit as p → ∞ (and its supremum).
UNIFORM_BETA = 3.0 / 4.0


def beta_of_p(p: float) -> float:
    """β(p) = Γ(2/p)² / (Γ(1/p) Γ(3/p)) for p > 0."""
    if not p > 0 or not math.isfinite(p):
        raise ValueError(f"shape p must be a positive finite number, got {p!r}")
    return math.exp(2 * math.lgamma(2 / p) - math.lgamma(1 / p) - math.lgamma(3 / p))


def cosine_of_p(p: float) -> float:
    """The large-d one-bit cosine √β(p)."""
    return math.sqrt(beta_of_p(p))


def unit_variance_scale(p: float) -> float:
    """α with Var X = α² Γ(3/p) / Γ(1/p) = 1."""
    return math.exp(0.5 * (math.lgamma(1 / p) - math.lgamma(3 / p)))


def log_density_norm(p: float) -> float:
    """log of the normaliser c in f(x) = c · exp(−|x/α|^p), c = p / (2 α Γ(1/p))."""
    return math.log(p) - math.log(2) - math.log(unit_variance_scale(p)) - math.lgamma(1 / p)


def density(p: float, x: float) -> float:
    """The unit-variance generalised Gaussian density at x."""
    a = unit_variance_scale(p)
    return math.exp(log_density_norm(p) - abs(x / a) ** p)


def p_of_beta(beta: float, lo: float = 1e-2, hi: float = 1e6) -> float | None:
    """The shape p with β(p) = beta, or None when beta is outside the family's range on [lo, hi].

    β(p) increases strictly in p (from 0 towards 3/4), so bisection on log p is exact to float
    precision; a β at or above 3/4 (e.g. a learned rotation's) has no generalised-Gaussian shape.
    """
    if not (beta_of_p(lo) <= beta <= beta_of_p(hi)):
        return None
    a, b = math.log(lo), math.log(hi)
    for _ in range(200):
        m = 0.5 * (a + b)
        if beta_of_p(math.exp(m)) < beta:
            a = m
        else:
            b = m
    return math.exp(0.5 * (a + b))


@dataclass(frozen=True)
class ShapeGrid:
    """The slider's positions: p = 2^t for t on an even grid, so Laplace→Gaussian gets as much room
    as Gaussian→large p. Each position carries the exact β, √β and the density's constants, so the
    page's script only looks values up and evaluates exp(log c − |x/α|^p)."""

    log2_min: float
    log2_max: float
    positions: int

    def p_values(self) -> list[float]:
        n = self.positions - 1
        return [2.0 ** (self.log2_min + (self.log2_max - self.log2_min) * i / n) for i in range(self.positions)]

    def table(self) -> list[dict[str, float]]:
        return [
            {
                "p": p,
                "beta": beta_of_p(p),
                "cosine": cosine_of_p(p),
                "alpha": unit_variance_scale(p),
                "log_norm": log_density_norm(p),
            }
            for p in self.p_values()
        ]

    def index_of(self, p: float) -> int:
        """The position whose p is nearest to ``p`` on the log scale."""
        t = math.log2(p)
        n = self.positions - 1
        i = round((t - self.log2_min) / (self.log2_max - self.log2_min) * n)
        return max(0, min(n, i))


#: Laplace (2⁰) to p = 2⁶ = 64, where β is within 0.05% of the uniform law's 3/4; 241 positions put
#: the Gaussian on a grid point (t = 1 is position 40).
SLIDER = ShapeGrid(log2_min=0.0, log2_max=6.0, positions=241)
