"""Shadows of the Gaussian SRHT floor and of the theorems the studies rely on (issue 15). Each states
its theorem on numbers produced by ``moegauge``'s own functions."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import torch
from hypothesis import assume, target
from hypothesis import strategies as st

from moegauge import theorems as T
from moegauge.expertcache import CACHE_POLICIES, distinct_devices_per_token, simulate_cache
from moegauge.hadamard import srht
from moegauge.moments import (
    covariance_spectrum,
    effective_rank,
    gauge_G,
    head_moments,
    one_bit_cosine,
    participation_ratio,
)
from moegauge.qjl import qjl_inner_product, qjl_projections, qjl_sign_products
from moegauge.rotation import cayley
from moegauge.signquant import pack_signs, packed_sign_scores, unpack_signs
from moegauge.studies.coactivation.caches import coact_prefetch_loads, lfu_misses, lru_misses
from moegauge.studies.coactivation.structure import firing_matrix

from . import shadow


def _orthogonal(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return cayley(a - a.T)


def _assert_iid_standard_gaussian(y: torch.Tensor, label: str) -> None:
    """Rows of y (n, d) look i.i.d. N(0, I): per-coordinate mean 0 and variance 1 and the sample
    covariance's off-diagonal entries 0, each within 6 standard errors (max over d coordinates)."""
    n, d = y.shape
    se_mean = 1 / math.sqrt(n)
    se_var = math.sqrt(2 / n)
    se_cov = 1 / math.sqrt(n)
    z = 6 + math.sqrt(2 * math.log(max(d * d, 2)))  # a max over up to d² statistics
    mean_dev = float(y.mean(dim=0).abs().max()) / se_mean
    var_dev = float((y.var(dim=0, unbiased=False) - 1).abs().max()) / se_var
    cov = (y.T @ y) / n
    off = cov - torch.diag(torch.diagonal(cov))
    cov_dev = float(off.abs().max()) / se_cov
    target(max(mean_dev, var_dev, cov_dev), label=f"{label}: worst deviation in SEs")
    assert mean_dev < z and var_dev < z and cov_dev < z, (mean_dev, var_dev, cov_dev, z)


@shadow(T.PI_GAUSSIAN_MAP_ORTHOGONAL, "86af4d030b95ca58946c284c79951c743e5eca448f8ab35fcac00a7514e0e637",
        "an orthogonal R (the project's Cayley rotations) maps i.i.d. N(0,1) coordinates to i.i.d. N(0,1) "
        "coordinates: mean, variance and cross-covariance of R·Z within CLT tolerance",
        strategies=[st.integers(2, 24), st.integers(0, 10_000)])
def pi_gaussian_map_orthogonal(d, seed):
    n = 4000
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    _assert_iid_standard_gaussian(z @ _orthogonal(d, seed).T, "Cayley")


@shadow(T.SRHT_MAP_PI_GAUSSIAN, "9b38929ce824c103d3052ec2f2f7fd1ecb0ad95398525e49f3d5f7e0f156af6b",
        "the project's SRHT maps i.i.d. N(0,1) vectors to i.i.d. N(0,1) vectors, for every sign seed",
        strategies=[st.integers(1, 5), st.integers(0, 10_000)])
def srht_map_pi_gaussian(m, seed):
    d, n = 2 ** m, 4000
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    _assert_iid_standard_gaussian(srht(z, seed), "SRHT")


@shadow(T.GAUSSIAN_ONE_BIT_COSINE_TENDSTO_AE, "8b0568f6546afcf40ba3d22c8be970060fe863ab773ea46a0e74656ae0ecf965",
        "i.i.d. N(0,1) coordinates (and their SRHT image): the one-bit cosine of the first n coordinates is "
        "√(2/π) within the audit's d-aware tolerance, and its distance shrinks as n grows",
        strategies=[st.integers(0, 10_000), st.booleans()])
def gaussian_one_bit_cosine_tendsto(seed, through_srht):
    from ..implications import GAUSSIAN_COSINE, floor_tolerance

    z = torch.randn(8, 4096, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if through_srht:
        z = srht(z, seed)
    errs = []
    for n in (256, 4096):
        c = one_bit_cosine(z[:, :n])  # one sequence per row, its first n coordinates
        err = float((c - GAUSSIAN_COSINE).abs().max())
        tol = floor_tolerance("one_bit_cosine", {"n": 1, "d": n}) + 3 * math.sqrt((1 - 3 / math.pi) / n)
        target(err / tol, label=f"|c − √(2/π)| in tolerances at n={n}")
        assert err <= tol
        errs.append(float((c - GAUSSIAN_COSINE).abs().mean()))
    assert errs[1] < errs[0]


@shadow(T.GAUGE_SCALE_COVARIANCE, "162567c31d4c7c44f84bd7b799cd2bb1fa627384f546a06446c1ca4aa69cfb15",
        "the project's gauge G (both reductions) satisfies G(c·K) = G(K)/c², while (q/c)·(c·k) = q·k",
        strategies=[st.integers(0, 10_000), st.floats(0.05, 20), st.booleans(), st.sampled_from(["pooled", "per_channel"])])
def gauge_scale_covariance(seed, c, negative, reduce):
    c = -c if negative else c
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(64, 3, 8, generator=g, dtype=torch.float64) ** 3  # heavy tails: κ > 0
    base = gauge_G(keys, reduce=reduce)
    scaled = gauge_G(c * keys, reduce=reduce)
    target(abs(scaled - base / c ** 2) / max(1e-12, base / c ** 2), label="relative |G(cK) − G(K)/c²|")
    assert math.isclose(scaled, base / c ** 2, rel_tol=1e-9, abs_tol=1e-12)
    km = head_moments(c * keys, reduce=reduce)
    torch.testing.assert_close(km.excess_kurtosis, head_moments(keys, reduce=reduce).excess_kurtosis,
                               rtol=1e-9, atol=1e-9)
    q = torch.randn(8, generator=g, dtype=torch.float64)
    k = keys[0, 0]
    assert math.isclose(float((q / c) @ (c * k)), float(q @ k), rel_tol=1e-9, abs_tol=1e-9)


def _packed(d: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(5, d, generator=g, dtype=torch.float64)
    q = torch.randn(d, generator=g, dtype=torch.float64) * 10
    return keys, q, pack_signs(keys)


@shadow(T.PACKED_SIGN_SCORE, "71e009751ad35460ae0054f86615b928f723513adbeef5e9df05f16206843b30",
        "⟨s, x⟩ = 2·Σ_{sᵢ=+1} xᵢ − Σ xᵢ: the packed-bit scorer equals the ±1 dot product, any d",
        strategies=[st.integers(1, 200), st.integers(0, 10_000)])
def packed_sign_score(d, seed):
    keys, q, bits = _packed(d, seed)
    s = unpack_signs(bits, d, torch.float64)
    direct = s @ q
    identity = 2 * torch.where(s > 0, q, torch.zeros_like(q)).sum(-1) - q.sum()
    fast = packed_sign_scores(bits, q, d)
    target(float((fast - direct).abs().max()), label="|packed − direct|")
    torch.testing.assert_close(fast, direct, rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(identity, direct, rtol=1e-12, atol=1e-9)


@shadow(T.PACKED_SIGN_SCORE_BYTES, "05d29734e8d17bf00db82d286e229445d68029f5ae25b5fcaa85c822e21750fd",
        "byte-blocked: the score is Σ over bytes b of 2·Σ_{bit j of b set} x_{8b+j} − Σ_j x_{8b+j}, read off the "
        "project's packed bytes",
        strategies=[st.integers(1, 32), st.integers(0, 10_000)])
def packed_sign_score_bytes(nbytes, seed):
    d = 8 * nbytes
    keys, q, bits = _packed(d, seed)
    for row in range(keys.shape[0]):
        total = 0.0
        for b in range(nbytes):
            byte = int(bits[row, b])
            block = q[8 * b: 8 * b + 8]
            total += 2 * sum(float(block[j]) for j in range(8) if byte >> j & 1) - float(block.sum())
        direct = float(torch.sign(keys[row]).where(keys[row] != 0, torch.ones(())) @ q)
        assert math.isclose(total, direct, rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(float(packed_sign_scores(bits[row], q, d)), direct, rel_tol=1e-12, abs_tol=1e-9)


@shadow(T.QJL_SIGN_ESTIMATOR_MEAN, "a2c6777faa708324c818be42b3653c248f52bbfed9c02d92f9ebf16710e0a23d",
        "g ~ N(0, I): the mean of sign(⟨g,k⟩)·⟨g,q⟩ over the project's QJL projections is √(2/π)·⟨q,k⟩/‖k‖ "
        "within 5 standard errors, and the √(π/2)·‖k‖-scaled estimate is ⟨q,k⟩ (the theorem is deferred)",
        strategies=[st.integers(1, 32), st.integers(0, 10_000)])
def qjl_sign_estimator_mean(d, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(d, generator=g, dtype=torch.float64)
    k = torch.randn(d, generator=g, dtype=torch.float64)
    m = 40_000
    proj = qjl_projections(m, d, seed + 7)
    terms = qjl_sign_products(q, k, proj)
    se = float(terms.std()) / math.sqrt(m)
    expected = math.sqrt(2 / math.pi) * float(q @ k) / float(k.norm())
    target(abs(float(terms.mean()) - expected) / se, label="|mean − √(2/π)⟨q,k⟩/‖k‖| in SEs")
    assert abs(float(terms.mean()) - expected) < 5 * se
    scale = math.sqrt(math.pi / 2) * float(k.norm())
    assert abs(qjl_inner_product(q, k, proj) - float(q @ k)) < 5 * se * scale + 1e-12


@shadow(T.UNIFORM_INDEPENDENT_HIT_PROBABILITY, "17aa9eb80e3472707baa1c9c6c8432d539a52ac16fc6b850f64eb61b9eaeb2ee",
        "exact enumeration: over all N^T uniform request sequences, each of the project's policies "
        "(LRU, LFU, FIFO, and the co-activation study's vectorised LRU, C-pinned LFU and co-activation "
        "prefetcher, one expert per token) started full with C experts hits exactly C/N of the time",
        strategies=[st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.sampled_from(CACHE_POLICIES),
                    st.integers(0, 10_000)])
def uniform_independent_hit_probability(n, c, t, policy, seed):
    assume(c <= n and n ** t <= 3125)
    rng = np.random.default_rng(seed)
    warm = [int(e) for e in rng.permutation(n)[:c]]  # a full cache of C distinct experts
    hits = 0
    for seq in itertools.product(range(n), repeat=t):
        hits += simulate_cache([*warm, *seq], c, policy).hits  # the warm-up requests all miss
    rate = Fraction(hits, n ** t * t)
    target(float(abs(rate - Fraction(c, n))), label="|hit rate − C/N|")
    assert rate == Fraction(c, n), (rate, Fraction(c, n))
    # the study's batched replays (k = 1), which made the evidence: warm-up tokens fill the cache
    if n ** t > 256:
        return  # (each sequence is three replays: keep the enumeration small)
    freq = np.zeros(n)
    freq[warm] = np.arange(c, 0, -1)  # the pinned set of LFU is the warm set
    learn = firing_matrix(np.array(warm)[:, None], n)
    batched = {"lru": 0, "lfu_pinned_c": 0, "coact": 0}
    for seq in itertools.product(range(n), repeat=t):
        trace = np.array([*warm, *seq])[:, None]
        batched["lru"] += t - (lru_misses(trace, n, [c])[c] - c)
        batched["lfu_pinned_c"] += t - lfu_misses(trace[c:], n, [c], freq)["lfu_pinned_c"][c]
        demand, _ = coact_prefetch_loads(trace[None], n, [c], [learn])
        batched["coact"] += t - (int(demand[0, 0]) - _warm_misses(warm, n, c, learn))
    for name, h in batched.items():
        assert Fraction(h, n ** t * t) == Fraction(c, n), (name, Fraction(h, n ** t * t))


def _warm_misses(warm, n, c, learn):
    demand, _ = coact_prefetch_loads(np.array(warm)[None, :, None], n, [c], [learn])
    return int(demand[0, 0])


@shadow(T.DISTINCT_DEVICES_LE_MIN, "c7daedd62a2567776d3d286ee0658336126a4f877ee5c4f21e722fffbc72aa10",
        "for any placement on D devices, the project's distinct-devices count of a token with k experts is "
        "the size of its device set, between 1 and min(k, D)",
        strategies=[st.integers(1, 64), st.integers(1, 8), st.integers(1, 16), st.integers(0, 10_000)])
def distinct_devices_le_min(n_experts, k, n_devices, seed):
    assume(k <= n_experts)
    rng = np.random.default_rng(seed)
    topk = np.stack([rng.choice(n_experts, size=k, replace=False) for _ in range(50)])
    placement = rng.integers(0, n_devices, size=n_experts)
    counts = distinct_devices_per_token(topk, placement)
    target(float(counts.max() - min(k, n_devices)), label="count − min(k, D)")
    assert (counts >= 1).all() and (counts <= min(k, n_devices)).all()
    assert counts.tolist() == [len(set(placement[row].tolist())) for row in topk]


@shadow(T.PARTICIPATION_RATIO_BOUNDS, "3fce6ce313940a30486a7847e78e6fc383168cdba0d11925c2cfa7034afe1d70",
        "1 ≤ PR ≤ rank for nonnegative spectra (equality: one nonzero eigenvalue / all equal), and for the "
        "project's effective_rank of rank-r data",
        strategies=[st.lists(st.floats(0, 1e3), min_size=1, max_size=40), st.integers(1, 12), st.integers(0, 10_000)])
def participation_ratio_bounds(spectrum, r, seed):
    lam = torch.tensor(spectrum, dtype=torch.float64)
    assume(float((lam * lam).sum()) > 1e-12)
    rank = int((lam != 0).sum())
    pr = participation_ratio(lam)
    target(max(1 - pr, pr - rank), label="violation of 1 ≤ PR ≤ rank")
    assert 1 - 1e-9 <= pr <= rank + 1e-9
    assert math.isclose(participation_ratio(torch.full((rank,), 3.0)), rank, rel_tol=1e-12)
    assert math.isclose(participation_ratio(torch.tensor([0.0, 5.0, 0.0])), 1.0, rel_tol=1e-12)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, r, generator=g, dtype=torch.float64) @ torch.randn(r, 16, generator=g, dtype=torch.float64)
    spec = covariance_spectrum(x)
    numeric_rank = int((spec > 1e-9 * float(spec.max())).sum())
    assert numeric_rank <= r
    assert 1 - 1e-9 <= effective_rank(x) <= numeric_rank + 1e-6
