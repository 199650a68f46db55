"""Test 1 — co-activation structure, the clustering gain, and the marginal-preserving shuffle null.

Notation, per layer: ``A`` is the [T, N] boolean firing matrix (``A[t, e]``: token t routed to
expert e), ``n_e = Σ_t A[t, e]`` the marginals, ``C = AᵀA`` the co-activation counts.

* **Gini** of the co-activation matrix: the Gini coefficient of the N(N−1)/2 off-diagonal counts
  ``C[i, j]``, i < j (0: every pair co-fires equally often; → 1: a few pairs hold all co-firing).
* **Affinity** ``a[i, j] = C[i, j] − n_i·n_j / T`` (co-firing beyond what independent experts with
  these marginals would show), zero on the diagonal.
* **Groups** (:func:`equal_size_groups`): N/g groups of exactly g experts, grown greedily on the
  affinity and refined by pairwise swaps (the agglomeration).
* **Clustering gain** of a grouping on a trace: ``Σ_{i<j same group} C[i, j]`` divided by
  ``Σ_{i<j same group} n_i·n_j / T`` — observed within-group co-firing over what the marginals
  alone predict. 1 means the groups co-fire no more than independent experts would.
* The honest protocol: groups are learned on the learn half, the gain is measured on the eval half.
* **Shuffle null**: permute each expert's column of ``A`` independently (separately within each
  half), which keeps every marginal exactly and destroys all pairwise co-firing; then *re-learn the
  groups* on the shuffled learn half and measure on the shuffled eval half, so the clustering's own
  optimism stays in the null. ``excess = gain − mean(null)``. (The shuffled counts are drawn
  directly, :func:`shuffled_counts`, with the same distribution.)
"""

from __future__ import annotations

import numpy as np


def firing_matrix(topk: np.ndarray, num_experts: int) -> np.ndarray:
    """[T, k] expert ids → [T, N] boolean firing matrix."""
    t = topk.shape[0]
    a = np.zeros((t, num_experts), dtype=bool)
    a[np.arange(t)[:, None], topk.astype(np.int64)] = True
    return a


def coactivation_counts(a: np.ndarray) -> np.ndarray:
    """C = AᵀA as float64 (exact for counts below 2⁵³)."""
    f = a.astype(np.float32)
    return (f.T @ f).astype(np.float64) if a.shape[0] < (1 << 24) else a.T.astype(np.float64) @ a.astype(np.float64)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal)."""
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = x.size
    if n == 0 or x.sum() == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float((2.0 * (i * x).sum()) / (n * x.sum()) - (n + 1.0) / n)


def coactivation_gini(c: np.ndarray) -> float:
    """Gini of the off-diagonal co-activation counts (upper triangle)."""
    iu = np.triu_indices(c.shape[0], 1)
    return gini(c[iu])


def affinity(c: np.ndarray, tokens: int) -> np.ndarray:
    """a[i, j] = C[i, j] − n_i n_j / T, diagonal zero (see the module docstring)."""
    n = np.diag(c).copy()
    a = c - np.outer(n, n) / max(tokens, 1)
    np.fill_diagonal(a, 0.0)
    return a


def equal_size_groups(aff: np.ndarray, n_groups: int, order: np.ndarray, *, load: np.ndarray | None = None,
                      cap: float | None = None, max_swaps: int = 10_000) -> np.ndarray:
    """Group labels (N,) for ``n_groups`` groups whose sizes differ by at most one.

    Growth: group g is seeded with the g-th expert of ``order`` (by convention the most frequent
    first); then, round-robin over the groups that still have room, each takes the unassigned
    expert with the largest summed affinity to its members (ties: earlier in ``order``). With a
    ``cap``, an expert may join only if the group's summed ``load`` stays ≤ cap (if none fits, the
    lightest unassigned expert joins). Refinement: the single best swap of two experts between two
    groups that raises the total within-group affinity (and keeps both groups ≤ cap) is applied,
    until none does. Deterministic for given inputs.
    """
    n = aff.shape[0]
    if not 1 <= n_groups <= n:
        raise ValueError(f"n_groups must be in [1, {n}], got {n_groups}")
    sizes = np.full(n_groups, n // n_groups) + (np.arange(n_groups) < n % n_groups)
    rank = np.empty(n, dtype=np.int64)
    rank[np.asarray(order)] = np.arange(n)
    load = np.zeros(n) if load is None else np.asarray(load, dtype=np.float64)
    labels = np.full(n, -1, dtype=np.int64)
    group_load = np.zeros(n_groups)
    for g in range(n_groups):
        e = int(order[g])
        labels[e] = g
        group_load[g] += load[e]
    member_aff = np.zeros((n, n_groups))  # Σ affinity of expert x to group g's members
    for g in range(n_groups):
        member_aff[:, g] += aff[:, int(order[g])]
    count = np.ones(n_groups, dtype=np.int64)
    tiebreak = -rank * 1e-12 * (np.abs(aff).max() + 1.0)
    while (labels < 0).any():
        for g in range(n_groups):
            if count[g] >= sizes[g] or not (labels < 0).any():
                continue
            free = labels < 0
            score = np.where(free, member_aff[:, g] + tiebreak, -np.inf)
            if cap is not None:
                fits = free & (group_load[g] + load <= cap + 1e-9)
                if fits.any():
                    score = np.where(fits, score, -np.inf)
                else:
                    score = np.where(free, -load + tiebreak, -np.inf)
            e = int(np.argmax(score))
            labels[e] = g
            count[g] += 1
            group_load[g] += load[e]
            member_aff[:, g] += aff[:, e]
    return refine_by_swaps(aff, labels, load=load, cap=cap, max_swaps=max_swaps)


def within_group(matrix: np.ndarray, labels: np.ndarray) -> float:
    """Σ over pairs i < j in the same group of ``matrix[i, j]``."""
    same = labels[:, None] == labels[None, :]
    return float(np.triu(np.where(same, matrix, 0.0), 1).sum())


def clustering_gain(c: np.ndarray, tokens: int, labels: np.ndarray) -> float:
    """Observed within-group co-firing / what the marginals predict (module docstring)."""
    n = np.diag(c)
    expected = within_group(np.outer(n, n) / tokens, labels)
    return within_group(c, labels) / expected if expected > 0 else float("nan")


def learn_groups(a_learn: np.ndarray, group_size: int) -> np.ndarray:
    """Groups of ``group_size`` learned from a firing matrix (most frequent experts seed first)."""
    return groups_from_counts(coactivation_counts(a_learn), a_learn.shape[0], group_size)


def groups_from_counts(c: np.ndarray, tokens: int, group_size: int) -> np.ndarray:
    order = np.argsort(-np.diag(c), kind="stable")
    return equal_size_groups(affinity(c, tokens), max(1, c.shape[0] // group_size), order)


def column_shuffle(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Permute each expert's column independently: marginals kept, co-firing destroyed."""
    return rng.permuted(a, axis=0)


def shuffled_counts(marginals: np.ndarray, tokens: int, rng: np.random.Generator) -> np.ndarray:
    """Co-activation counts of a column-shuffled firing matrix, drawn directly: permuting a column
    with n_e ones puts them on a uniformly random n_e-subset of the tokens, so each column is such a
    subset (``Generator.choice`` without replacement) and C = popcounts of the pairwise ANDs of the
    bit-packed columns. Same distribution as :func:`column_shuffle`, without touching T × N floats."""
    n = marginals.shape[0]
    words = -(-tokens // 64)
    bits = np.zeros((n, words * 64), dtype=bool)
    for e, m in enumerate(marginals.astype(np.int64)):
        bits[e, rng.choice(tokens, int(m), replace=False)] = True
    packed = np.packbits(bits, axis=1).view(np.uint64)
    c = np.empty((n, n))
    for i in range(n):
        c[i] = np.bitwise_count(packed[i] & packed).sum(axis=1)
    return c


def structure_of_layer(a_learn: np.ndarray, a_eval: np.ndarray, group_size: int, shuffles: int,
                       rng: np.random.Generator) -> dict:
    """Gini, gain, shuffle null (mean, std, min, max over ``shuffles``) and excess for one layer."""
    labels = learn_groups(a_learn, group_size)
    c_eval = coactivation_counts(a_eval)
    gain = clustering_gain(c_eval, a_eval.shape[0], labels)
    n_learn, n_eval = a_learn.sum(0), a_eval.sum(0)
    null = []
    for _ in range(shuffles):
        c_learn = shuffled_counts(n_learn, a_learn.shape[0], rng)
        c_shuf = shuffled_counts(n_eval, a_eval.shape[0], rng)
        null.append(clustering_gain(c_shuf, a_eval.shape[0], groups_from_counts(c_learn, a_learn.shape[0], group_size)))
    null = np.asarray(null)
    return {"gini": coactivation_gini(c_eval), "gain": gain, "null_mean": float(null.mean()),
            "null_std": float(null.std(ddof=1)) if null.size > 1 else 0.0, "null_min": float(null.min()),
            "null_max": float(null.max()), "excess": gain - float(null.mean()), "labels": labels}


def refine_by_swaps(aff: np.ndarray, labels: np.ndarray, *, load: np.ndarray | None = None,
                    cap: float | None = None, max_swaps: int = 10_000) -> np.ndarray:
    """Apply the best within-group-affinity-raising swap of two experts between two groups until
    none raises it (with a ``cap``, only swaps leaving both groups' summed ``load`` ≤ cap)."""
    n = aff.shape[0]
    labels = np.array(labels, dtype=np.int64)
    n_groups = int(labels.max()) + 1
    load = np.zeros(n) if load is None else np.asarray(load, dtype=np.float64)
    group_load = np.bincount(labels, weights=load, minlength=n_groups)
    for _ in range(max_swaps):
        onehot = np.eye(n_groups)[labels]  # [N, G]
        m = aff @ onehot  # m[x, g] = Σ_{y in g} a[x, y]
        own = m[np.arange(n), labels]
        # Δ[i, j]: change of the within-group total when i and j trade groups
        mi_to_gj = m[:, labels]  # [i, j] = Σ a[i, group(j)]
        delta = mi_to_gj - own[:, None] + mi_to_gj.T - own[None, :] - 2.0 * aff
        same = labels[:, None] == labels[None, :]
        delta[same] = -np.inf
        if cap is not None:
            new_i = group_load[labels][:, None] - load[:, None] + load[None, :]  # group(i) after the swap
            new_j = group_load[labels][None, :] - load[None, :] + load[:, None]
            delta[(new_i > cap + 1e-9) | (new_j > cap + 1e-9)] = -np.inf
        i, j = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[i, j] > 1e-9 * (np.abs(aff).max() + 1.0):
            break
        gi, gj = labels[i], labels[j]
        group_load[gi] += load[j] - load[i]
        group_load[gj] += load[i] - load[j]
        labels[i], labels[j] = gj, gi
    return labels
