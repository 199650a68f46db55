"""Test 3 — a capacity-C expert cache replayed on the eval trace, against Belady's optimum.

A token needs all k of its experts resident at once (the layer cannot run otherwise), so a cache
of capacity C ≥ k serves a token in one step: its missing experts are loaded (*demand misses*),
evicting only experts the token does not use. Policies (all vectorised; the replay order is the
trace order of the eval half):

* ``lru``: evict the least recently used (ties inside one token: the higher expert id first).
  Exact identity used: the cache after token t is the C largest keys ``(last use, −id)`` among the
  experts used so far, so a use hits iff fewer than C experts are more recent than its previous use
  (its stack depth, :func:`lru_stack_depths`, computed once for every capacity).
* ``lfu_static``: pin the C − k experts most frequent in the learn half; the k remaining slots
  stage each token's other experts (nothing is retained). A real capacity-C cache.
* ``lfu_pinned_c``: the seed's LFU-static, pinning C experts and streaming misses through memory
  outside the cache (it needs up to C + k slots, so it is not a capacity-C cache; shown for
  comparison with the seed only).
* ``coact_prefetch``: after each token the cache loads the k experts it predicts for the next token
  (largest co-activation score ``Σ_{f ∈ S(t)} P(e | f)``, learned on the learn half; ties by
  frequency), evicting the resident experts with the lowest score; a demand miss evicts the same
  way. Demand misses are counted, and so is every prefetch load — its bandwidth is not hidden.
* ``min``: Belady's offline optimum — on a miss, evict the resident experts the current token does
  not use whose next use is farthest in the future (never used again counts as infinitely far;
  ties: the higher expert id). For set requests this is still optimal: Belady's exchange
  argument only swaps an eviction of y for one of x when x's next use is no earlier than y's, and
  an expert of the current token is never a candidate. No online policy has fewer demand misses;
  the tests check it against exhaustive search on small traces.

Every count starts from an empty cache (``lfu_*`` from their pinned set, loaded before the trace
and not counted).
"""

from __future__ import annotations

import numpy as np

from .prefetch import conditional_cofiring
from .structure import firing_matrix

POLICIES = ("lru", "lfu_static", "lfu_pinned_c", "coact_prefetch", "min")


def _check_capacities(capacities, k: int, n: int) -> list[int]:
    caps = [int(c) for c in capacities]
    for c in caps:
        if not k <= c <= n:
            raise ValueError(f"capacity {c} must be in [k, N] = [{k}, {n}]: a token needs its {k} experts at once")
    return caps


def _previous_use(topk: np.ndarray, n: int) -> np.ndarray:
    """[T, k]: the token index of each use's previous use of the same expert (−1: none), from one
    stable (radix) sort of the uses by expert, which keeps each expert's uses in token order."""
    t_total, k = topk.shape
    flat = topk.ravel()
    order = np.argsort(flat, kind="stable")
    e_sorted = flat[order]
    t_sorted = order // k
    prev = np.full(flat.shape, -1, dtype=np.int64)
    same = e_sorted[1:] == e_sorted[:-1]
    prev_sorted = np.full(flat.shape, -1, dtype=np.int64)
    prev_sorted[1:][same] = t_sorted[:-1][same]
    prev[order] = prev_sorted
    return prev.reshape(t_total, k)


def lru_stack_depths(topk: np.ndarray, num_experts: int) -> np.ndarray:
    """[T, k]: each use's LRU stack depth — how many experts are more recent than its previous use
    (the distinct experts used strictly between, plus the lower-id experts of the previous use's own
    token, per the tie rule); −1 for a first use. A use hits a capacity-C LRU cache iff 0 ≤ depth < C.

    Token sets are 64-bit masks (N ≤ 64) and the distinct experts of a range of tokens are the
    popcount of its OR, read from a sparse table of range ORs (T·log T words), so no loop runs over
    tokens or activations."""
    t_total, k = topk.shape
    if num_experts > 64:
        raise ValueError("lru_stack_depths packs a token's experts into 64 bits (N ≤ 64)")
    ids = topk.astype(np.uint64)
    masks = np.bitwise_or.reduce(np.left_shift(np.uint64(1), ids), axis=1)
    table = [masks]
    while (1 << len(table)) <= t_total:
        h = 1 << (len(table) - 1)
        prev = table[-1]
        table.append(prev[:-h] | prev[h:])
    offsets = np.cumsum([0] + [len(x) for x in table[:-1]])
    flat = np.concatenate(table)
    prev_use = _previous_use(topk, num_experts)
    lo = prev_use + 1
    hi = np.arange(t_total, dtype=np.int64)[:, None] - 1
    length = hi - lo + 1  # tokens strictly between the previous use and this one
    level = np.frexp(np.maximum(length, 1).astype(np.float64))[1].astype(np.int64) - 1  # floor(log2)
    base = offsets[level]
    a = flat[base + np.clip(lo, 0, t_total - 1)]
    b = flat[base + np.clip(hi - (np.int64(1) << level) + 1, 0, t_total - 1)]
    between = np.where(length > 0, a | b, np.uint64(0))
    lower = (np.left_shift(np.uint64(1), ids) - np.uint64(1)) & masks[np.maximum(prev_use, 0)]
    depth = np.where(prev_use >= 0, np.bitwise_count(between | lower).astype(np.int64), -1)
    return depth


def lru_misses(topk: np.ndarray, num_experts: int, capacities) -> dict[int, int]:
    """Demand misses of LRU at each capacity on one layer's [T, k] trace (from the stack depths)."""
    t_total, k = topk.shape
    caps = _check_capacities(capacities, k, num_experts)
    depth = lru_stack_depths(topk, num_experts)
    return {c: int(topk.size - ((depth >= 0) & (depth < c)).sum()) for c in caps}


def lfu_misses(topk: np.ndarray, num_experts: int, capacities, learn_freq: np.ndarray) -> dict[str, dict[int, int]]:
    """``lfu_static`` (C − k pinned + k staging slots) and ``lfu_pinned_c`` (C pinned) misses."""
    t_total, k = topk.shape
    caps = _check_capacities(capacities, k, num_experts)
    order = np.argsort(-np.asarray(learn_freq), kind="stable")
    rank = np.empty(num_experts, dtype=np.int64)
    rank[order] = np.arange(num_experts)
    r = rank[topk.astype(np.int64)]
    return {"lfu_static": {c: int((r >= c - k).sum()) for c in caps},
            "lfu_pinned_c": {c: int((r >= c).sum()) for c in caps}}


def _fire_chunk(topk: np.ndarray, s: int, chunk: int, n: int) -> np.ndarray:
    """[layers, S, N] firing of tokens s … s + chunk of a [layers, T, k] trace."""
    part = topk[:, s : s + chunk].astype(np.int64)
    n_layers = part.shape[0]
    a = np.zeros((n_layers, part.shape[1], n), dtype=bool)
    a[np.arange(n_layers)[:, None, None], np.arange(part.shape[1])[None, :, None], part] = True
    return a


def _evict_lowest(cache: np.ndarray, keep: np.ndarray, key: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Drop, per (capacity, layer), the resident experts outside ``keep`` with the smallest ``key``
    until at most ``caps`` remain (keys are unique per row)."""
    over = cache.sum(-1) - caps
    if over.max() <= 0:
        return cache
    n = cache.shape[-1]
    cand = np.where(cache & ~keep, key, np.iinfo(np.int64).max)
    srt = np.sort(cand, axis=-1)
    thr = np.take_along_axis(srt, (np.clip(over, 1, n) - 1)[..., None], -1)
    return cache & ~((cand <= thr) & (over > 0)[..., None] & (cand < np.iinfo(np.int64).max))


def coact_prefetch_loads(topk: np.ndarray, num_experts: int, capacities, a_learn_per_layer: list[np.ndarray],
                         chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(demand misses, prefetch loads), each [capacities, layers], of the co-activation prefetcher
    on a [layers, T, k] trace: after each token it loads the k experts it predicts for the next
    token (largest ``Σ_{f ∈ S(t)} P(e | f)``, ties by learn-half frequency), evicting the resident
    experts with the lowest predicted score; a demand miss evicts the same way. One pass over the
    tokens, vectorised over layers and capacities."""
    n_layers, t_total, k = topk.shape
    caps = np.asarray(_check_capacities(capacities, k, num_experts), dtype=np.int64)[:, None]
    n = num_experts
    p = np.stack([conditional_cofiring(a) for a in a_learn_per_layer])  # [L, N, N]
    tie = np.empty((n_layers, n), dtype=np.int64)  # higher = more frequent (kept on ties)
    for li, a in enumerate(a_learn_per_layer):
        tie[li, np.argsort(-a.sum(0), kind="stable")] = np.arange(n)[::-1]
    quantum = float(1 << 20)

    def keys(score: np.ndarray) -> np.ndarray:  # unique int64 per row, ordered like the score
        t = tie if score.ndim == 2 else tie[:, None, :]
        return np.round(score * quantum).astype(np.int64) * n + t

    cache = np.zeros((caps.shape[0], n_layers, n), dtype=bool)
    demand = np.zeros((caps.shape[0], n_layers), dtype=np.int64)
    loads = np.zeros_like(demand)
    key = keys(np.stack([a.sum(0) / max(a.shape[0], 1) for a in a_learn_per_layer]))  # prior: frequency
    for s in range(0, t_total, chunk):
        a = _fire_chunk(topk, s, chunk, n)
        nxt_all = keys(np.einsum("lsn,lnm->lsm", a.astype(np.float64), p))  # score of the token after each
        for i in range(a.shape[1]):
            req = a[:, i]
            demand += (req & ~cache).sum(-1)
            cache = _evict_lowest(cache | req, req, key, caps)
            key = nxt_all[:, i]
            thr = np.sort(key, axis=-1)[:, n - k][:, None]
            pred = key >= thr  # the k best-scored experts for the next token
            loads += (pred & ~cache).sum(-1)
            cache = _evict_lowest(cache | pred, pred, key, caps)
    return demand, loads


def belady_min_misses(topk: np.ndarray, num_experts: int, capacities, chunk: int = 4096) -> np.ndarray:
    """Demand misses of Belady's MIN, [capacities, layers], for a [layers, T, k] trace.

    One pass over the tokens, each step vectorised over every layer and capacity at once."""
    n_layers, t_total, k = topk.shape
    caps = np.asarray(_check_capacities(capacities, k, num_experts), dtype=np.int64)[:, None]
    n = num_experts
    big = np.int64(t_total + 1)
    starts = list(range(0, t_total, chunk))

    def fire(s: int) -> np.ndarray:
        return _fire_chunk(topk, s, chunk, n)

    first_at = np.full((len(starts) + 1, n_layers, n), big, dtype=np.int64)  # first use at/after chunk start
    for ci in range(len(starts) - 1, -1, -1):
        s = starts[ci]
        a = fire(s)
        t_idx = np.where(a, np.arange(s, s + a.shape[1])[None, :, None], big).min(axis=1)
        first_at[ci] = np.minimum(t_idx, first_at[ci + 1])
    cache = np.zeros((caps.shape[0], n_layers, n), dtype=bool)
    misses = np.zeros((caps.shape[0], n_layers), dtype=np.int64)
    eid = np.arange(n, dtype=np.int64)
    for ci, s in enumerate(starts):
        a = fire(s)
        idx = np.where(a, np.arange(s, s + a.shape[1])[None, :, None], big)
        stacked = np.concatenate([idx, first_at[ci + 1][:, None, :]], axis=1)[:, ::-1]
        nxt = np.minimum.accumulate(stacked, axis=1)[:, ::-1][:, 1:]  # next use strictly after each token
        pri = nxt * n + eid  # larger = evicted first
        for i in range(a.shape[1]):
            req = a[:, i]
            misses += (req & ~cache).sum(-1)
            cache |= req
            over = cache.sum(-1) - caps
            if over.max() <= 0:
                continue
            cand = np.where(cache & ~req, pri[:, i], -1)
            srt = np.sort(cand, axis=-1)
            thr = np.take_along_axis(srt, (n - np.clip(over, 1, n))[..., None], -1)
            cache &= ~((cand >= thr) & (over > 0)[..., None] & (cand >= 0))
    return misses


def replay(topk_eval: np.ndarray, num_experts: int, capacities, a_learn_per_layer: list[np.ndarray]) -> list[dict]:
    """Rows (layer, capacity, policy → misses / loads) for a [layers, T, k] eval trace."""
    n_layers, t_total, k = topk_eval.shape
    caps = _check_capacities(capacities, k, num_experts)
    opt = belady_min_misses(topk_eval, num_experts, caps)
    co_demand, co_loads = coact_prefetch_loads(topk_eval, num_experts, caps, a_learn_per_layer)
    rows = []
    for li in range(n_layers):
        a_learn = a_learn_per_layer[li]
        lru = lru_misses(topk_eval[li], num_experts, caps)
        lfu = lfu_misses(topk_eval[li], num_experts, caps, a_learn.sum(0))
        for ci, c in enumerate(caps):
            rows.append({"layer_index": li, "capacity": c, "activations": t_total * k, "lru": lru[c],
                         "lfu_static": lfu["lfu_static"][c], "lfu_pinned_c": lfu["lfu_pinned_c"][c],
                         "coact_demand": int(co_demand[ci, li]), "coact_prefetch_loads": int(co_loads[ci, li]),
                         "min": int(opt[ci, li])})
    return rows
