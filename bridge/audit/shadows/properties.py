"""The shadows. Each property names its theorem, the statement hash it was checked against, and
states the theorem on numbers produced by ``moegauge``'s own functions."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import assume, target
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from moegauge import theorems as T
from moegauge.centering import center
from moegauge.hadamard import hadamard_matrix, srht
from moegauge.moments import beta_moment_ratio, beta_se_from_moments, one_bit_cosine
from moegauge.rotation import cayley
from moegauge.signquant import dequantize, one_bit_residual_energy, optimal_one_bit_scale, quantize, unpack_signs

from . import shadow

MATHLIB = "MoEGauge."
FLOATS = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False, width=64)
NONZERO = FLOATS.filter(lambda v: abs(v) > 1e-3)


def vectors(elements=FLOATS, min_size: int = 1, max_size: int = 64):
    return st.integers(min_size, max_size).flatmap(lambda d: arrays(np.float64, d, elements=elements))


def t64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def orthogonal(d: int, seed: int) -> torch.Tensor:
    """An orthogonal matrix from the project's Cayley parametrisation (as learned rotations are)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return cayley(a - a.T)


@shadow(T.MOMENT_RATIO_LE_ONE, "9a4f40ab68de57bfdacdcc08f6f0402e067dffe2470307ab58a6eec98bbe6add",
        "(Σ|xᵢ|)² ≤ n·Σxᵢ², i.e. β ≤ 1, with equality iff all |xᵢ| are equal",
        strategies=[vectors()])
def moment_ratio_le_one(x):
    assume(np.abs(x).max() > 1e-6)
    b = float(beta_moment_ratio(t64(x)))
    target(b, label="beta (toward the bound 1)")
    assert b <= 1 + 1e-12
    equal = np.allclose(np.abs(x), np.abs(x[0]), rtol=0, atol=0)
    if equal:
        assert abs(b - 1) < 1e-12


@shadow("MoEGauge.momentRatio_eq_one_iff", "5a3153e4f565460b56a06342d53716e5d7f174700e48829f9fe8291130367fad",
        "for x ≠ 0: β = 1 iff every |xᵢ| is the same",
        strategies=[st.integers(1, 64), st.floats(1e-3, 1e3), st.lists(st.booleans(), min_size=64, max_size=64),
       st.integers(0, 63), st.floats(1.001, 10)])
def moment_ratio_eq_one_iff(d, c, signs, k, bump):
    x = np.array([c if s else -c for s in signs[:d]])
    assert abs(float(beta_moment_ratio(t64(x))) - 1) < 1e-12
    if d > 1:
        x[k % d] *= bump  # one magnitude differs: β < 1 strictly
        b = float(beta_moment_ratio(t64(x)))
        target(b, label="beta of a non-constant |x|")
        assert b < 1


@shadow(T.COS_SIGN_QUANT_FORMULA, "f5effea76a4a4fac2ab23e886503f55762355eb4f15e10b38d4fb96558ad1fdf",
        "no zero coordinate ⇒ cos(x, sign x) = ‖x‖₁/(√d‖x‖₂), with sign x read back from the packed bits",
        strategies=[vectors(NONZERO)])
def cos_sign_quant_formula(x):
    xt = t64(x)
    q = quantize(xt)
    s = unpack_signs(q.bits, xt.shape[-1], torch.float64)
    cos = float(xt @ s / (xt.norm() * s.norm()))
    c = float(one_bit_cosine(xt))
    target(abs(cos - c), label="|cos(x, sign x) − c(x)|")
    assert math.isclose(cos, c, rel_tol=1e-9, abs_tol=1e-12)


@shadow(T.ONE_BIT_SCALE_OPTIMAL, "df99b668e9be24c5085f41b6025847b92f1039c447f4c50761444efba271ecb5",
        "‖x − α·sign x‖² ≥ ‖x‖² − ‖x‖₁²/d for every α, with equality at α = ‖x‖₁/d (the stored scale)",
        strategies=[vectors(NONZERO), st.floats(-1e3, 1e3)])
def one_bit_scale_optimal(x, alpha):
    xt = t64(x)
    d = xt.numel()
    s = torch.sign(xt)
    floor = float(xt.dot(xt) - xt.abs().sum() ** 2 / d)
    err = float(((xt - alpha * s) ** 2).sum())
    target(floor - err, label="floor − error (a violation is > 0)")
    assert err >= floor - 1e-9 * max(1.0, float(xt.dot(xt)))
    a_star = float(optimal_one_bit_scale(xt))
    best = float(((xt - a_star * s) ** 2).sum())
    assert math.isclose(best, floor, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, float(xt.dot(xt))))


@shadow("MoEGauge.one_bit_relative_residual", "3114ab7536ed0d33bd1316431fa6b0e8b34e78fa5f64a97a2c95c60f5abcbf55",
        "at the optimal scale the relative residual energy is 1 − c(x)²",
        strategies=[vectors(NONZERO)])
def one_bit_relative_residual(x):
    xt = t64(x)
    r = float(one_bit_residual_energy(xt))
    c = float(one_bit_cosine(xt))
    target(abs(r - (1 - c * c)), label="|residual − (1 − c²)|")
    assert math.isclose(r, 1 - c * c, rel_tol=1e-9, abs_tol=1e-12)
    # And through the stored form (fp16 scale): the dequantized code is α̂·sign x.
    deq = dequantize(quantize(xt), torch.float64)
    assert torch.equal(torch.sign(deq), torch.sign(xt))


@shadow(T.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ, "f9738ab31524b8dc2da0b82b38bb80f1327286c846aa91307b358816153a3c72",
        "standard Gaussian: E|Z| = √(2/π) and β = 2/π (Monte Carlo, within 5 delta-method SEs)",
        strategies=[st.integers(0, 2**31 - 1), st.sampled_from([20_000, 100_000])])
def gaussian_moment_ratio_floor_eq(seed, n):
    z = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    b = float(beta_moment_ratio(z))
    m1 = math.sqrt(2 / math.pi)
    se = beta_se_from_moments(m1, 1.0, 2 * m1, 3.0, n)
    target(abs(b - 2 / math.pi) / se, label="|β − 2/π| in SEs")
    assert abs(b - 2 / math.pi) < 5 * se
    assert abs(float(z.abs().mean()) - m1) < 5 * math.sqrt((1 - 2 / math.pi) / n)


@shadow(T.ATTENTION_SCORE_GAUGE_INVARIANCE, "1f44f9826b12498247acb7c87e080f3dd8d301deffd0c54e63ba53729d883ae1",
        "(Rq)·(Rk) = q·k for orthogonal R: learned (Cayley) rotations and the SRHT",
        strategies=[st.integers(1, 48), st.integers(0, 10_000)])
def attention_score_gauge_invariance(d, seed):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, d, generator=g, dtype=torch.float64) * 10
    r = orthogonal(d, seed)
    lhs = float((r @ q) @ (r @ k))
    rhs = float(q @ k)
    target(abs(lhs - rhs), label="|Δ score| (Cayley)")
    assert math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-9 * float(q.norm() * k.norm()))
    sq, sk = srht(q, seed), srht(k, seed)
    assert math.isclose(float(sq @ sk), rhs, rel_tol=1e-9, abs_tol=1e-9 * float(q.norm() * k.norm()))


@shadow("MoEGauge.attention_output_gauge_invariance",
        "a3b2b6957efac34642c32c5ae0d9bc58ae23c2e722658e3d11ea4acac2ecbec3",
        "softmax attention output is unchanged when every query and key is rotated by the same R",
        strategies=[st.integers(1, 32), st.integers(1, 12), st.integers(1, 12), st.integers(0, 10_000)])
def attention_output_gauge_invariance(d, n, m, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, d, generator=g, dtype=torch.float64)
    k = torch.randn(m, d, generator=g, dtype=torch.float64)
    v = torch.randn(m, 5, generator=g, dtype=torch.float64)
    r = orthogonal(d, seed)
    out = torch.softmax(q @ k.T / math.sqrt(d), dim=-1) @ v
    rot = torch.softmax((q @ r.T) @ (k @ r.T).T / math.sqrt(d), dim=-1) @ v
    target(float((out - rot).abs().max()), label="max |Δ output|")
    torch.testing.assert_close(rot, out, rtol=1e-9, atol=1e-9)


def _rope_matrix(d: int, t: int, theta: float = 10000.0) -> torch.Tensor:
    """The embedded model's RoPE at position t as a matrix (rotate-half layout, as transformers)."""
    from transformers.models.olmoe.modeling_olmoe import apply_rotary_pos_emb

    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = t * inv
    emb = torch.cat((freqs, freqs))
    cos, sin = emb.cos()[None, :], emb.sin()[None, :]
    eye = torch.eye(d, dtype=torch.float64)[None, None]  # (1, 1, d, d): rows are basis vectors
    rotated, _ = apply_rotary_pos_emb(eye, eye, cos[None], sin[None])
    return rotated[0, 0].T  # columns are images of basis vectors


@shadow("MoEGauge.rope_fold_exact_iff_commute", "43cdf52aed405386b4f72c6a3db7d388b3d207e923a1179defeecc8d405c4275",
        "folding R into W_Q and W_K is exact for every position pair iff R commutes with every RoPE rotation",
        strategies=[st.sampled_from([4, 8, 16]), st.integers(0, 10_000), st.booleans()])
def rope_fold_exact_iff_commute(d, seed, commuting):
    g = torch.Generator().manual_seed(seed)
    if commuting:
        # Rotations within each RoPE frequency plane commute with every RoPE rotation.
        r = _rope_matrix(d, int(torch.randint(1, 50, (1,), generator=g)))
    else:
        r = orthogonal(d, seed)
    q, k = torch.randn(2, d, generator=g, dtype=torch.float64)
    positions = [(0, 3), (2, 7), (5, 5), (11, 1)]
    folded_equal = all(
        math.isclose(float((_rope_matrix(d, a) @ r @ q) @ (_rope_matrix(d, b) @ r @ k)),
                     float((_rope_matrix(d, a) @ q) @ (_rope_matrix(d, b) @ k)), rel_tol=1e-9, abs_tol=1e-9)
        for a, b in positions)
    commutes = all(torch.allclose(r @ _rope_matrix(d, t), _rope_matrix(d, t) @ r, atol=1e-9) for t in (1, 2, 3, 7))
    assert commutes == commuting
    # The iff, on these positions: commuting ⇒ exact; a generic (non-commuting) R breaks it.
    if commutes:
        assert folded_equal
    else:
        assert not folded_equal


@shadow(T.DC_MEAN_DECOMPOSITION_NORM, "ff07194cdeb471e7cd6324d58164deddecea3eb2ba373c4d6ca66ebb67b99c94",
        "k = μe + v with v ⟂ e (per-vector centering) ⇒ ‖Rk‖² = μ² + ‖Rv‖²",
        strategies=[vectors(min_size=2), st.integers(0, 10_000)])
def dc_mean_decomposition_norm(x, seed):
    k = t64(x)
    c = center(k, "per_vector")
    d = k.numel()
    mu = float(c.offset.squeeze()) * math.sqrt(d)  # μ = ⟨k, e⟩ with e = 1/√d
    r = orthogonal(d, seed)
    lhs = float((r @ k).pow(2).sum())
    rhs = mu * mu + float((r @ c.values).pow(2).sum())
    target(abs(lhs - rhs) / max(1.0, lhs), label="relative |Δ|")
    assert math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, lhs))


def _per_vector_ceilings_are_one(x, mu):
    v = center(t64(x), "per_vector").values
    assume(float(v.norm()) > 1e-6)
    d = v.numel()
    e = torch.full((d,), 1 / math.sqrt(d), dtype=torch.float64)
    ceilings = []
    for vec in (v, mu * e + v):
        target_dir = torch.full((d,), float(vec.norm()) / math.sqrt(d), dtype=torch.float64)
        w = vec - target_dir
        h = torch.eye(d, dtype=torch.float64) - (2 * torch.outer(w, w) / w.dot(w) if float(w.norm()) > 1e-12 else 0)
        ceilings.append(float(one_bit_cosine(h @ vec)))
    target(1 - min(ceilings), label="1 − ceiling")
    assert all(math.isclose(c, 1.0, rel_tol=0, abs_tol=1e-9) for c in ceilings)


@shadow(T.DC_PER_VECTOR_CEILINGS_EQ_ONE, "88f33e19b7ba16674a1bda3811093907856c922f978c5741e192851be32a2fa9",
        "per vector, the rotational ceiling of c is 1 with and without centering (a Householder reflection "
        "attains both): ceil(μe + v) = 1 = ceil(v)",
        strategies=[vectors(min_size=2, max_size=48), FLOATS])
def rotational_ceilings_eq_one(x, mu):
    _per_vector_ceilings_are_one(x, mu)


@shadow(T.DC_CENTERING_LIFTS_ROTATIONAL_CEILING,
        "b0595b07a6ccf5dee9ab417ad30861f529ecdc38f5a181349aa36fdb9957a39b",
        "deprecated seed name with the same statement: both per-vector ceilings are 1 (no lift)",
        strategies=[vectors(min_size=2, max_size=48), FLOATS])
def dc_centering_lifts_rotational_ceiling(x, mu):
    _per_vector_ceilings_are_one(x, mu)


@shadow("MoEGauge.per_channel_centering_energy", "62242a49c978e710050e5fd21d26c720deabf09392c8193f9ae5cfa6ac99b7f4",
        "Σₙ‖R(kₙ − m)‖² = Σₙ‖kₙ‖² − N‖m‖² for the per-channel mean m the 1-bit cache stores",
        strategies=[st.integers(1, 40), st.integers(1, 16), st.integers(0, 10_000)])
def per_channel_centering_energy(n, d, seed):
    k = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 5 + 3
    c = center(k, "per_channel")
    r = orthogonal(d, seed)
    lhs = float((c.values @ r.T).pow(2).sum())
    rhs = float(k.pow(2).sum() - n * c.offset.pow(2).sum())
    assert math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-8)


@shadow(T.BETA_LAST_MILE_QUADRATIC_HARDNESS, "580874de2a0bc4e14adaa23346f5a0c2fe84cda5179d951fa4b5ce1aee4760d4",
        "x = s + εu near a sign-lattice point: sign x = s and 1 − c² = ε²(d‖u‖² − ⟨s,u⟩²)/(d‖x‖²) "
        "≤ ε²‖u‖²/‖x‖²",
        strategies=[st.integers(1, 64), st.integers(0, 10_000), st.floats(-0.99, 0.99)])
def beta_last_mile_quadratic_hardness(d, seed, eps):
    g = torch.Generator().manual_seed(seed)
    s = torch.where(torch.rand(d, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
    u = torch.rand(d, generator=g, dtype=torch.float64) * 2 - 1  # |εu_i| < 1
    x = s + eps * u
    assert torch.equal(torch.sign(x), s)
    c = float(one_bit_cosine(x))
    lhs = 1 - c * c
    rhs = eps ** 2 * (d * float(u.dot(u)) - float(s.dot(u)) ** 2) / (d * float(x.dot(x)))
    target(abs(lhs - rhs), label="|identity gap|")
    assert math.isclose(lhs, rhs, rel_tol=1e-6, abs_tol=1e-12)
    bound = eps ** 2 * float(u.dot(u)) / float(x.dot(x))
    target(lhs - bound, label="1 − c² − bound (a violation is > 0)")
    assert lhs <= bound + 1e-12


def _curvature_nonneg(d, seed, t, parallel):
    g = torch.Generator().manual_seed(seed)
    s = torch.where(torch.rand(d, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
    u = t * s if parallel else torch.randn(d, generator=g, dtype=torch.float64)
    h = d * float(u.dot(u)) - float(s.dot(u)) ** 2
    target(-h, label="−curvature (a violation is > 0)")
    assert h >= -1e-9 * max(1.0, d * float(u.dot(u)))
    # Along u = ts the one-bit cosine does not move: x = (1 + εt)s stays on the sign ray.
    if parallel and abs(t) < 0.9:
        assert math.isclose(float(one_bit_cosine(s + 0.1 * u)), 1.0, abs_tol=1e-12)


CURVATURE_STRATEGIES = [st.integers(1, 64), st.integers(0, 10_000), st.floats(-5, 5), st.booleans()]


@shadow(T.LAST_MILE_CURVATURE_NONNEG, "3da5b5395097c822882784e8eb738f24ad7f5e4b406903a999d6f8f5c5da7835",
        "d‖u‖² − ⟨s,u⟩² ≥ 0 for s ∈ {±1}^d, = 0 iff u ∥ s (the ε² coefficient of 1 − c² at the lattice)",
        strategies=CURVATURE_STRATEGIES)
def last_mile_curvature_nonneg(d, seed, t, parallel):
    _curvature_nonneg(d, seed, t, parallel)


@shadow(T.BETA_HESSIAN_NONNEG, "a1e5aee012c989a6239f0ce3ecbcc1f7febd29c3cb3c14f97672089f0a8fbdfc",
        "deprecated seed name with the same statement: d‖u‖² − ⟨s,u⟩² ≥ 0, = 0 iff u ∥ s (no Hessian computed)",
        strategies=CURVATURE_STRATEGIES)
def beta_hessian_nonneg(d, seed, t, parallel):
    _curvature_nonneg(d, seed, t, parallel)


@shadow("MoEGauge.walshHadamard_mul_transpose", "730b4ec756eea79899e3ac1c9dd0e5f03a4eae54dde88ed9bbcbd786bbd0cd42",
        "the Sylvester–Walsh–Hadamard matrix of order 2^m satisfies H·Hᵀ = 2^m·I",
        strategies=[st.integers(0, 8)])
def walsh_hadamard_mul_transpose(m):
    n = 2 ** m
    h = hadamard_matrix(n)  # the project's Sylvester matrix, entries ±1 (the SRHT divides by √n)
    assert bool((h.abs() == 1).all())
    torch.testing.assert_close(h @ h.T, n * torch.eye(n, dtype=h.dtype), rtol=0, atol=1e-9 * n)


@shadow("MoEGauge.srht_preserves_sqNorm", "547c92ea60deb03245a7b99f9efbaf5793beb1c4576014220cd14428a3a47656",
        "the SRHT preserves squared norms (it is orthogonal), at power-of-two d",
        strategies=[st.integers(0, 11), st.integers(0, 10_000)])
def srht_preserves_sq_norm(m, seed):
    d = 2 ** m
    x = torch.randn(3, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    y = srht(x, seed)
    ratio = (y.pow(2).sum(-1) / x.pow(2).sum(-1)).tolist()
    target(max(abs(r - 1) for r in ratio), label="|‖y‖²/‖x‖² − 1|")
    assert all(abs(r - 1) < 1e-9 for r in ratio)


@shadow(T.SRHT_ACHIEVES_ISOTROPIC_FLOOR, "678365eb22d7d5636b55214439cc287d617825999d31cd0daba8188d41f8c1ea",
        "i.i.d. symmetric inputs (Laplace, uniform, Rademacher-scaled) through the SRHT: the one-bit cosine is "
        "√(2/π) up to the sample- and d-aware tolerance of the audit (the theorem itself is deferred)",
        strategies=[st.sampled_from([512, 1024, 2048]), st.sampled_from(["laplace", "uniform", "rademacher", "student5"]),
       st.integers(0, 10_000)])
def srht_achieves_isotropic_floor(d, law, seed):
    from ..implications import GAUSSIAN_COSINE, floor_tolerance

    rng = np.random.default_rng(seed)
    n = 64
    draw = {
        "laplace": lambda: rng.laplace(size=(n, d)),
        "uniform": lambda: rng.uniform(-1, 1, size=(n, d)),
        "rademacher": lambda: rng.choice([-1.0, 1.0], size=(n, d)),
        "student5": lambda: rng.standard_t(5, size=(n, d)),
    }
    x = t64(draw[law]())
    c = float(one_bit_cosine(srht(x, seed)).mean())
    tol = floor_tolerance("one_bit_cosine", {"n": n, "d": d})
    target(abs(c - GAUSSIAN_COSINE) / tol, label="distance from √(2/π) in tolerances")
    assert abs(c - GAUSSIAN_COSINE) <= tol
