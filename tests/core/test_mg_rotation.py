"""Learned L¹-max rotation: orthogonality, determinism, the trace and its threshold crossings."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from moegauge.moments import beta_moment_ratio, one_bit_cosine
from moegauge.rotation import (
    COSINE_THRESHOLDS,
    TraceEntry,
    cayley,
    first_step_crossing,
    initial_rotation,
    learn_rotation,
    orthogonal_map,
    orthogonality_error,
)
from moegauge.synthetic import low_rank_keys


@settings(max_examples=25)
@given(st.integers(2, 24), st.floats(1e-3, 10.0), st.integers(0, 10_000), st.sampled_from(["cayley", "matrix_exp"]))
def test_parametrisations_are_orthogonal(d, scale, seed, kind):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, d, generator=g, dtype=torch.float64) * scale
    r = orthogonal_map(w - w.T, kind)
    assert orthogonality_error(r) < 1e-10
    assert torch.linalg.det(r) == pytest.approx(1.0, abs=1e-8)  # both maps land in SO(d)


def test_cayley_of_zero_is_identity_and_unknown_map_raises():
    assert torch.equal(cayley(torch.zeros(4, 4, dtype=torch.float64)), torch.eye(4, dtype=torch.float64))
    with pytest.raises(ValueError):
        orthogonal_map(torch.zeros(2, 2), "householder")


@pytest.mark.parametrize("init", ["identity", "srht", "random"])
def test_initial_rotations_are_orthogonal(init):
    assert orthogonality_error(initial_rotation(24, init, seed=3)) < 1e-12
    with pytest.raises(ValueError):
        initial_rotation(4, "bogus", 0)


@pytest.fixture(scope="module")
def calib():
    keys = low_rank_keys(640, 32, rank=3, seed=4)
    return keys[:512], keys[512:]


@pytest.mark.parametrize("parametrization", ["cayley", "matrix_exp"])
def test_learned_rotation_improves_the_cosine(calib, parametrization):
    train, held = calib
    res = learn_rotation(train, 12, seed=0, held_out=held, parametrization=parametrization)
    assert res.rotation.shape == (32, 32) and res.rotation.dtype == torch.float32
    assert res.orthogonality_error < 1e-6
    assert res.orthogonality_error == orthogonality_error(res.rotation)
    assert res.centering == "per_channel" and res.trace_split == "held_out"
    assert torch.allclose(res.mean, train.mean(0))
    assert [e.step for e in res.trace] == list(range(13))
    assert res.trace[-1].one_bit_cosine > res.trace[0].one_bit_cosine + 0.05
    # The last trace entry is the returned rotation measured on the held-out keys.
    y = res.apply(held)
    assert torch.allclose(y, (held - res.mean) @ res.rotation.T)
    assert res.trace[-1].one_bit_cosine == pytest.approx(float(one_bit_cosine(y).mean()), rel=1e-6)
    assert res.trace[-1].beta == pytest.approx(float(beta_moment_ratio(y)), rel=1e-6)
    # Step 0 is the initial rotation (identity) on the centered held-out keys.
    c0 = held - res.mean
    assert res.trace[0].one_bit_cosine == pytest.approx(float(one_bit_cosine(c0).mean()), rel=1e-6)
    assert res.first_step_crossing == first_step_crossing(res.trace)
    assert set(res.first_step_crossing) == set(COSINE_THRESHOLDS)


def test_learned_rotation_is_deterministic_under_seed(calib):
    train, _ = calib
    kw = dict(batch_size=128, init="random")
    a = learn_rotation(train, 4, seed=5, **kw)
    b = learn_rotation(train, 4, seed=5, **kw)
    c = learn_rotation(train, 4, seed=6, **kw)
    assert torch.equal(a.rotation, b.rotation) and a.trace == b.trace
    assert not torch.equal(a.rotation, c.rotation)


def test_learned_rotation_without_centering_and_full_batch_trace(calib):
    train, _ = calib
    res = learn_rotation(train, 5, seed=1, center=False)
    assert res.centering == "none" and res.trace_split == "calibration"
    assert torch.equal(res.mean, torch.zeros(32))
    assert torch.allclose(res.apply(train), train @ res.rotation.T)
    # Full batch, no held-out split: trace entry t is R_t on all calibration keys.
    r0 = learn_rotation(train, 0, seed=1, center=False)
    assert r0.trace[0] == res.trace[0]
    assert torch.equal(r0.rotation, torch.eye(32))
    pv = learn_rotation(train, 2, seed=1, center="per_vector")
    assert pv.centering == "per_vector"
    assert torch.allclose(pv.apply(train).sum(-1) * 0, torch.zeros(512))  # runs; offsets are per vector


def test_first_step_crossing_semantics():
    trace = [TraceEntry(0, 0.5, 0.80), TraceEntry(1, 0.6, 0.86), TraceEntry(2, 0.7, 0.91), TraceEntry(3, 0.7, 0.905)]
    assert first_step_crossing(trace) == {0.85: 1, 0.90: 2, 0.92: None}


def test_learn_rotation_rejects_bad_shapes():
    with pytest.raises(ValueError):
        learn_rotation(torch.randn(4, 3, 2), 1, 0)
    with pytest.raises(ValueError):
        learn_rotation(torch.randn(8, 4), 1, 0, held_out=torch.randn(3, 5))
    with pytest.raises(ValueError):
        learn_rotation(torch.randn(8, 4), -1, 0)
    with pytest.raises(ValueError):
        learn_rotation(torch.randn(8, 4), 1, 0, parametrization="householder")


def test_callback_sees_every_entry_and_can_stop_early(calib):
    train, _ = calib
    seen = []
    full = learn_rotation(train, 6, seed=2, callback=seen.append)
    assert seen == list(full.trace)
    stopped = learn_rotation(train, 6, seed=2, callback=lambda e: e.step == 3)
    assert stopped.steps == 3 and [e.step for e in stopped.trace] == [0, 1, 2, 3]
    assert stopped.trace == full.trace[:4]
    assert stopped.orthogonality_error < 1e-6


def test_cayley_matches_exp_to_second_order():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(12, 12, generator=g, dtype=torch.float64)
    for eps in (1e-2, 1e-3):
        a = eps * (w - w.T)
        err = (cayley(a) - torch.linalg.matrix_exp(a)).abs().max()
        assert err < 0.1 * float(a.abs().max()) ** 3 * 12**2
