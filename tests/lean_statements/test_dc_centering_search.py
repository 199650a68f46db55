"""Numeric audit of the DC-mean-centering claim behind `MoEGauge.dc_centering_lifts_rotational_ceiling`.

Seed 001 §S5 claims that, for a set of keys, the rotational ceiling of the mean one-bit cosine after
per-channel mean-centering is at least the ceiling without centering. This file

(a) searches for counterexamples (seeded, deterministic): in d = 2 the ceiling over O(2) is computed
    on a dense angle grid with an explicit Lipschitz error bound; in d = 3, 4 by multi-start random
    orthogonal matrices plus Cayley-step hill climbing. The three-key family
    k_i = e_1 + eps * u_i (u_i at 0, 120, 240 degrees in the (e_1, e_2) plane) has a centered ceiling
    well below the uncentered one, so the seed's general statement is false;
(b) checks, on random instances, the statements that *are* proved in `lean/MoEGauge/DCMeanCentering.lean`
    and `lean/MoEGauge/Householder.lean`: the per-vector ceiling is exactly 1 for every nonzero vector
    (attained by the Householder reflection used in the Lean proof), so for k = mu*e + v with v != 0
    and sum(v) = 0 both per-vector ceilings equal 1; the pure-DC case v = 0 has centered ceiling 0;
    the norm decomposition |Rk|^2 = mu^2 + |Rv|^2; and the per-channel energy identity.

numpy only; runs in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest


def one_bit_cosine(y: np.ndarray) -> np.ndarray:
    """c(y) = |y|_1 / (sqrt(d) |y|_2) along the last axis; 0 for the zero vector (Lean's x / 0 = 0)."""
    d = y.shape[-1]
    l2 = np.linalg.norm(y, axis=-1)
    l1 = np.abs(y).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = l1 / (np.sqrt(d) * l2)
    return np.where(l2 > 0, out, 0.0)


def mean_cosine(keys: np.ndarray, rot: np.ndarray) -> float:
    return float(one_bit_cosine(keys @ rot.T).mean())


# ---------------------------------------------------------------------------------------------
# Ceilings
# ---------------------------------------------------------------------------------------------


def ceiling_2d(keys: np.ndarray, grid: int = 20001) -> tuple[float, float]:
    """Max over O(2) of the mean one-bit cosine, and a rigorous error bound for the grid.

    Every element of O(2) is a rotation by t or a rotation composed with diag(1, -1). The 2-D one-bit
    cosine of a vector at angle phi is (|cos phi| + |sin phi|)/sqrt(2): period pi/2 in phi, and
    1-Lipschitz, so a grid of spacing h on t in [0, pi/2] is within h/2 of the supremum.
    """
    ts = np.linspace(0.0, np.pi / 2, grid)
    c, s = np.cos(ts), np.sin(ts)
    rots = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (grid, 2, 2)
    refl = np.diag([1.0, -1.0])
    best = -1.0
    for family in (rots, rots @ refl):
        vals = one_bit_cosine(np.einsum("gij,nj->gni", family, keys)).mean(axis=1)
        best = max(best, float(vals.max()))
    spacing = (np.pi / 2) / (grid - 1)
    return best, spacing / 2


def _cayley(a: np.ndarray) -> np.ndarray:
    eye = np.eye(a.shape[0])
    return np.linalg.solve(eye - a, eye + a)


def ceiling_search(keys: np.ndarray, rng: np.random.Generator, starts: int = 24, iters: int = 300) -> float:
    """Lower bound on the max over O(d) of the mean one-bit cosine: multi-start hill climbing."""
    d = keys.shape[1]
    best = -1.0
    for _ in range(starts):
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        f = mean_cosine(keys, q)
        step = 0.5
        for _ in range(iters):
            a = rng.standard_normal((d, d))
            cand = _cayley(step * (a - a.T) / 2) @ q
            fc = mean_cosine(keys, cand)
            if fc > f:
                q, f = cand, fc
            else:
                step *= 0.97
            if step < 1e-6:
                break
        best = max(best, f)
    return best


def three_key_family(d: int, eps: float) -> np.ndarray:
    """k_i = e_1 + eps * u_i, with u_i unit vectors at 0, 120, 240 degrees in the (e_1, e_2) plane."""
    ang = np.deg2rad([0.0, 120.0, 240.0])
    keys = np.zeros((3, d))
    keys[:, 0] = 1.0 + eps * np.cos(ang)
    keys[:, 1] = eps * np.sin(ang)
    return keys


# ---------------------------------------------------------------------------------------------
# (a) the seed's dataset-level claim is false
# ---------------------------------------------------------------------------------------------


def test_counterexample_d2_exact_grid():
    keys = three_key_family(2, eps=0.1)
    mu = keys.mean(axis=0)
    np.testing.assert_allclose(mu, [1.0, 0.0], atol=1e-12)
    centered = keys - mu
    raw, raw_err = ceiling_2d(keys)
    cen, cen_err = ceiling_2d(centered)
    # The centered keys are eps * u_i: their ceiling is (1 + sqrt 3) / 3, attained at 15 degrees.
    assert cen == pytest.approx((1.0 + np.sqrt(3.0)) / 3.0, abs=1e-6)
    assert raw == pytest.approx(0.99725, abs=1e-4)
    # Rigorous: sup(centered) <= cen + cen_err < raw <= sup(uncentered).
    assert cen + cen_err + 0.08 < raw - raw_err


@pytest.mark.parametrize("d, cen_expected", [(3, 0.9428), (4, 0.9353)])
def test_counterexample_higher_d_search(d, cen_expected):
    rng = np.random.default_rng(20260501 + d)
    keys = three_key_family(d, eps=0.1)
    centered = keys - keys.mean(axis=0)
    raw = ceiling_search(keys, rng)
    cen = ceiling_search(centered, rng)
    # raw is attained (a lower bound on the uncentered sup); cen is the best centered value found.
    assert raw > 0.997
    assert cen == pytest.approx(cen_expected, abs=2e-3)
    assert cen + 0.05 < raw


def test_random_key_sets_go_both_ways():
    """On random Gaussian key sets with a nonzero mean, centering sometimes raises and sometimes lowers
    the ceiling: there is no general inequality in either direction."""
    rng = np.random.default_rng(7)
    lifts = []
    for d in (2, 3):
        for _ in range(4):
            mu = rng.standard_normal(d)
            keys = mu + rng.standard_normal((6, d))
            raw = ceiling_search(keys, rng, starts=8, iters=200)
            cen = ceiling_search(keys - keys.mean(axis=0), rng, starts=8, iters=200)
            lifts.append(cen - raw)
    lifts = np.array(lifts)
    assert lifts.max() > 0.005
    assert lifts.min() < -0.005


# ---------------------------------------------------------------------------------------------
# (b) what is proved in Lean, checked on random instances
# ---------------------------------------------------------------------------------------------


def householder(w: np.ndarray) -> np.ndarray:
    """Lean's `MoEGauge.householder w = 1 - (2 / (w . w)) * w w^T`."""
    return np.eye(w.shape[0]) - (2.0 / (w @ w)) * np.outer(w, w)


def sign_lattice_rotation(x: np.ndarray) -> np.ndarray:
    """The orthogonal matrix of `MoEGauge.exists_orthogonal_oneBitCosine_eq_one`: it maps x onto the
    constant vector with the same norm (or is the identity when x already is that vector)."""
    d = x.shape[0]
    y = np.full(d, np.sqrt(x @ x / d))
    return np.eye(d) if np.allclose(x, y) else householder(x - y)


def test_per_vector_ceiling_is_one():
    rng = np.random.default_rng(11)
    for d in (1, 2, 3, 5, 8, 64):
        for _ in range(20):
            x = rng.standard_normal(d) * rng.uniform(0.1, 10.0)
            r = sign_lattice_rotation(x)
            np.testing.assert_allclose(r @ r.T, np.eye(d), atol=1e-9)
            assert one_bit_cosine(r @ x) == pytest.approx(1.0, abs=1e-9)
            # no rotation beats 1 (Cauchy-Schwarz)
            q, _ = np.linalg.qr(rng.standard_normal((d, d)))
            assert one_bit_cosine(q @ x) <= 1.0 + 1e-12


def test_dc_decomposition_and_equal_per_vector_ceilings():
    rng = np.random.default_rng(12)
    for d in (2, 3, 4, 16):
        e = np.full(d, 1.0 / np.sqrt(d))
        for _ in range(20):
            v = rng.standard_normal(d)
            v -= v.mean()  # sum(v) = 0
            mu = rng.normal(scale=3.0)
            k = mu * e + v
            q, _ = np.linalg.qr(rng.standard_normal((d, d)))
            assert np.sum((q @ k) ** 2) == pytest.approx(mu**2 + np.sum((q @ v) ** 2), rel=1e-9)
            # both per-vector ceilings are attained at 1
            assert one_bit_cosine(sign_lattice_rotation(v) @ v) == pytest.approx(1.0, abs=1e-9)
            assert one_bit_cosine(sign_lattice_rotation(k) @ k) == pytest.approx(1.0, abs=1e-9)


def test_pure_dc_key_has_zero_centered_ceiling():
    """v = 0, mu != 0: the centered vector is 0 (one-bit cosine 0 under every rotation) while the
    uncentered key mu * e already has one-bit cosine 1; the hypothesis v != 0 cannot be dropped."""
    for d in (2, 3, 7):
        e = np.full(d, 1.0 / np.sqrt(d))
        assert one_bit_cosine(np.zeros(d)) == 0.0
        assert one_bit_cosine(2.5 * e) == pytest.approx(1.0)


def test_per_channel_energy_identity():
    rng = np.random.default_rng(13)
    for d in (2, 5):
        for n in (1, 3, 10):
            keys = rng.standard_normal((n, d)) + rng.standard_normal(d)
            mean = keys.mean(axis=0)
            q, _ = np.linalg.qr(rng.standard_normal((d, d)))
            lhs = np.sum(((keys - mean) @ q.T) ** 2)
            rhs = np.sum(keys**2) - n * np.sum(mean**2)
            assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)
