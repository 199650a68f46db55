"""Test 2 — next-token prefetch hit rate: LFU against co-activation, no clustering, no chance model.

Both predictors are learned on the learn half and scored on consecutive eval-half token pairs
(t−1, t) of one document. At a budget of B experts:

* **LFU** prefetches the B experts most frequent in the learn half (the same set every token);
* **CO-ACT** prefetches the B experts with the largest ``Σ_{f ∈ S(t−1)} P(e fires | f fires)``,
  the conditional co-firing rates from the learn half (``P(f | f) = 1``, so the experts that just
  fired score high), ties broken by learn-half frequency.

Hit rate = |prefetched ∩ S(t)| / k, averaged over pairs. A cell (layer, budget) is *won* by
CO-ACT when its hit rate is strictly larger.
"""

from __future__ import annotations

import numpy as np

from .structure import coactivation_counts


def conditional_cofiring(a_learn: np.ndarray) -> np.ndarray:
    """P[f, e] = P(e fires | f fires) on the learn half (rows of never-firing experts are 0)."""
    c = coactivation_counts(a_learn)
    n = np.diag(c)
    return np.divide(c, n[:, None], out=np.zeros_like(c), where=n[:, None] > 0)


def top_b_mask(scores: np.ndarray, b: int, tiebreak_order: np.ndarray) -> np.ndarray:
    """Boolean [rows, N]: the b largest scores per row, ties to the earlier expert of ``tiebreak_order``."""
    n = scores.shape[1]
    perm = np.asarray(tiebreak_order)
    idx = np.argsort(-scores[:, perm], axis=1, kind="stable")[:, :b]
    out = np.zeros(scores.shape, dtype=bool)
    out[np.arange(scores.shape[0])[:, None], perm[idx]] = True
    assert out.sum(1).max(initial=0) <= min(b, n)
    return out


def prefetch_hit_rates(a_learn: np.ndarray, a_prev: np.ndarray, a_next: np.ndarray, budgets, k: int,
                       chunk: int = 65536) -> list[dict]:
    """Per budget: LFU and CO-ACT hit rates on the pairs (a_prev[i], a_next[i])."""
    freq = a_learn.sum(0)
    order = np.argsort(-freq, kind="stable")
    p = conditional_cofiring(a_learn).astype(np.float32)
    rows = []
    for b in budgets:
        lfu_set = np.zeros(a_learn.shape[1], dtype=bool)
        lfu_set[order[:b]] = True
        lfu_hits = float((a_next & lfu_set).sum())
        co_hits = 0.0
        for s in range(0, a_prev.shape[0], chunk):
            scores = a_prev[s : s + chunk].astype(np.float32) @ p
            co_hits += float((top_b_mask(scores, b, order) & a_next[s : s + chunk]).sum())
        pairs = a_prev.shape[0] * k
        rows.append({"budget": b, "lfu": lfu_hits / pairs, "coact": co_hits / pairs})
    return rows
