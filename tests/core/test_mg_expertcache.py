"""Expert caches (real eviction) and device placement counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moegauge.expertcache import CACHE_POLICIES, CacheResult, distinct_devices_per_token, simulate_cache


def test_lru_evicts_the_least_recently_used():
    # capacity 2: 0 1 0 2 → 2 evicts 1 (0 was used more recently); then 0 hits, 1 misses.
    assert simulate_cache([0, 1, 0, 2, 0, 1], 2, "lru") == CacheResult(hits=2, requests=6)


def test_fifo_evicts_the_oldest_arrival_even_if_recently_used():
    # 0 1 0 2 → 2 evicts 0 (first in); then 0 misses.
    assert simulate_cache([0, 1, 0, 2, 0], 2, "fifo") == CacheResult(hits=1, requests=5)


def test_lfu_keeps_the_frequent_expert():
    # 0 0 0 1 2: 2 evicts 1 (count 1 < 3); then 0 hits, 1 misses.
    assert simulate_cache([0, 0, 0, 1, 2, 0, 1], 2, "lfu") == CacheResult(hits=3, requests=7)


def test_bad_policy_and_capacity_are_refused():
    with pytest.raises(ValueError, match="policy"):
        simulate_cache([1], 1, "belady")
    with pytest.raises(ValueError, match="capacity"):
        simulate_cache([1], -1, "lru")


@given(st.lists(st.integers(0, 9), max_size=200), st.integers(0, 12), st.sampled_from(CACHE_POLICIES))
def test_cache_invariants(requests, capacity, policy):
    r = simulate_cache(requests, capacity, policy)
    assert r.requests == len(requests)
    distinct = len(set(requests))
    # Every distinct expert misses at least once (its first request); a cache that holds all of them misses only then.
    assert r.hits <= len(requests) - distinct
    if capacity >= distinct:
        assert r.hits == len(requests) - distinct
    if capacity == 0:
        assert r.hits == 0


@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 10), st.integers(0, 2**31 - 1))
def test_distinct_devices_matches_set_size(n_experts, k, n_devices, seed):
    k = min(k, n_experts)
    rng = np.random.default_rng(seed)
    topk = np.stack([rng.choice(n_experts, size=k, replace=False) for _ in range(20)])
    placement = rng.integers(0, n_devices, size=n_experts)
    got = distinct_devices_per_token(topk, placement)
    assert got.tolist() == [len(set(placement[t].tolist())) for t in topk]
    assert got.max() <= min(k, n_devices)


def test_distinct_devices_refuses_unplaced_experts():
    with pytest.raises(ValueError, match="does not place"):
        distinct_devices_per_token(np.array([[0, 5]]), np.array([0, 1, 0]))
