"""Expert-cache replays: hand-checked tiny traces, reference loops, and MIN against exhaustive search."""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moegauge.studies.coactivation.caches import (belady_min_misses, coact_prefetch_loads, lfu_misses,
                                                  lru_misses)
from moegauge.studies.coactivation.structure import firing_matrix


def lru_reference(trace, n, c):
    """Batched LRU by a plain loop: recency = (last token, lower id more recent)."""
    last = {}
    cache = set()
    misses = 0
    for t, req in enumerate(trace):
        req = set(int(x) for x in req)
        misses += len(req - cache)
        cache |= req
        for e in req:
            last[e] = t
        while len(cache) > c:
            victim = min(cache - req, key=lambda e: (last[e], -e))
            cache.remove(victim)
    return misses


def optimal_reference(trace, n, c):
    """Fewest demand misses over every eviction choice (exhaustive search over cache states)."""
    trace = [frozenset(int(x) for x in r) for r in trace]

    @lru_cache(maxsize=None)
    def best(t, cache):
        if t == len(trace):
            return 0
        req = trace[t]
        miss = len(req - cache)
        full = cache | req
        if len(full) <= c:
            return miss + best(t + 1, full)
        extra = len(full) - c
        others = sorted(full - req)
        return miss + min(best(t + 1, full - frozenset(ev)) for ev in itertools.combinations(others, extra))

    return best(0, frozenset())


def test_lru_hand_checked():
    # k = 1, C = 2 over experts 0..2: 0 1 2 0 1 → all misses (the classic LRU worst case)
    t = np.array([[0], [1], [2], [0], [1]])
    assert lru_misses(t, 3, [1, 2, 3]) == {1: 5, 2: 5, 3: 3}
    # k = 2, C = 2: each token replaces the cache; repeated token hits
    t = np.array([[0, 1], [0, 1], [2, 3], [0, 1]])
    assert lru_misses(t, 4, [2]) == {2: 6}
    # C = 3: token 2 evicts 1 (0 and 1 tie on recency; the higher id goes first), token 3 reloads 1
    assert lru_misses(t, 4, [3])[3] == 5 == lru_reference(t, 4, 3)


def test_min_hand_checked():
    # k = 1, C = 2: 0 1 2 0 1 → MIN evicts 1 at token 2 (next use 4 is farther than 0's 3): 4 misses
    t = np.array([[[0], [1], [2], [0], [1]]])
    assert belady_min_misses(t, 3, [1, 2, 3])[:, 0].tolist() == [5, 4, 3]


def test_lfu_hand_checked():
    learn_freq = np.array([10, 5, 1, 0])
    t = np.array([[0, 1], [2, 3], [0, 2]])
    out = lfu_misses(t, 4, [2, 3, 4], learn_freq)
    assert out["lfu_pinned_c"] == {2: 3, 3: 1, 4: 0}  # pinned {0,1} / {0,1,2} / all
    assert out["lfu_static"] == {2: 6, 3: 4, 4: 3}  # pinned {} / {0} / {0,1}, k = 2 staging slots


traces = st.integers(2, 6).flatmap(lambda n: st.integers(1, min(3, n)).flatmap(lambda k: st.tuples(
    st.just(n), st.just(k), st.lists(st.permutations(list(range(n))).map(lambda p: sorted(p[:k])),
                                     min_size=1, max_size=12))))


@settings(max_examples=120)
@given(traces, st.data())
def test_lru_matches_reference_and_min_is_optimal(tnk, data):
    n, k, trace = tnk
    c = data.draw(st.integers(k, n))
    arr = np.array(trace)
    lru = lru_misses(arr, n, [c])[c]
    assert lru == lru_reference(arr, n, c)
    opt = int(belady_min_misses(arr[None], n, [c], chunk=data.draw(st.integers(1, 5)))[0, 0])
    assert opt == optimal_reference(arr, n, c)
    assert opt <= lru
    co_demand, co_loads = (int(x[0, 0]) for x in coact_prefetch_loads(arr[None], n, [c], [firing_matrix(arr, n)]))
    # every policy must load at least MIN's loads (prefetching cannot beat the demand-paging optimum)
    assert co_demand + co_loads >= opt


def test_min_le_lru_le_lfu_on_a_recency_trace():
    rng = np.random.default_rng(0)
    n, k, c = 16, 2, 6
    # phases: a working set of 6 experts at a time, drifting; LFU over the whole stream cannot follow
    rows = []
    for phase in range(40):
        ws = rng.choice(n, size=6, replace=False)
        for _ in range(25):
            rows.append(sorted(rng.choice(ws, size=k, replace=False)))
    arr = np.array(rows)
    a = firing_matrix(arr, n)
    opt = belady_min_misses(arr[None], n, [c])[0, 0]
    lru = lru_misses(arr, n, [c])[c]
    lfu = lfu_misses(arr, n, [c], a.sum(0))["lfu_static"][c]
    assert opt <= lru <= lfu
    assert lru < 0.5 * lfu


def test_bad_capacity_is_refused():
    with pytest.raises(ValueError, match="capacity 1"):
        lru_misses(np.array([[0, 1]]), 4, [1])
