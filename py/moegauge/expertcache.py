"""Expert caches with real eviction, and where experts sit: the pure core of the caches study.

A request stream is a sequence of expert ids (a token's top-k experts, in order). A cache of
capacity C holds at most C experts; a request hits when its expert is held. Policies:

- ``lru``: evict the least recently used expert;
- ``lfu``: evict the least frequently requested expert (counts over the whole stream so far; ties
  go to the least recently used);
- ``fifo``: evict the expert that entered first.

``MoEGauge.uniform_independent_hit_probability``: when requests are uniform over N experts and
independent of the cache's state, every policy hits with probability C/N — so a policy only beats
C/N by exploiting structure in the requests.

Placements map each expert to a device; ``distinct_devices_per_token`` counts the devices a token's
top-k experts touch (≤ min(k, D), ``MoEGauge.distinct_devices_le_min``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

CACHE_POLICIES = ("lru", "lfu", "fifo")


@dataclass(frozen=True)
class CacheResult:
    """Hits and requests of one simulated run (``hit_rate`` = hits / requests)."""

    hits: int
    requests: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.requests if self.requests else 0.0


def simulate_cache(requests: Iterable[int], capacity: int, policy: str) -> CacheResult:
    """Run one cache of ``capacity`` experts over ``requests`` with real eviction."""
    if policy not in CACHE_POLICIES:
        raise ValueError(f"policy must be one of {CACHE_POLICIES}, got {policy!r}")
    if capacity < 0:
        raise ValueError(f"capacity must be ≥ 0, got {capacity}")
    held: OrderedDict[int, None] = OrderedDict()  # order = recency (lru, lfu ties) or arrival (fifo)
    counts: dict[int, int] = {}
    hits = n = 0
    for raw in requests:
        e = int(raw)
        n += 1
        counts[e] = counts.get(e, 0) + 1
        if e in held:
            hits += 1
            if policy != "fifo":
                held.move_to_end(e)
            continue
        if capacity == 0:
            continue
        if len(held) >= capacity:
            if policy == "lfu":
                victim = min(held, key=lambda k: counts[k])  # first minimum = least recent among ties
            else:
                victim = next(iter(held))
            del held[victim]
        held[e] = None
    return CacheResult(hits=hits, requests=n)


def distinct_devices_per_token(topk: np.ndarray, placement: np.ndarray) -> np.ndarray:
    """Number of distinct devices each token's experts live on.

    ``topk``: (tokens, k) expert ids; ``placement``: (experts,) device id of each expert.
    """
    topk = np.asarray(topk)
    placement = np.asarray(placement)
    if topk.ndim != 2:
        raise ValueError(f"topk must be (tokens, k), got shape {topk.shape}")
    if topk.size and (topk.min() < 0 or topk.max() >= placement.shape[0]):
        raise ValueError("topk names an expert the placement does not place")
    devices = np.sort(placement[topk], axis=1)
    if devices.shape[1] == 0:
        return np.zeros(devices.shape[0], dtype=np.int64)
    return 1 + (np.diff(devices, axis=1) != 0).sum(axis=1)
