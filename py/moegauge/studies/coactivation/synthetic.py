"""Synthetic router traces with known structure, for tests and the size benchmark (never evidence).

* :func:`planted_teams`: experts form fixed teams; a token takes ``k / per_team`` experts from each
  of ``per_team`` teams, and the teams persist across consecutive tokens with probability
  ``stay`` (recency). Co-activation gain ≫ 1; a good placement co-locates the teams.
* :func:`independent_skewed`: each token draws k distinct experts from a Zipf-like popularity
  (Gumbel top-k), independently of every other token: skewed marginals, no pairwise structure.
"""

from __future__ import annotations

import numpy as np

from .trace import RouterTrace


def _documents(tokens: int, doc_tokens: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    sizes = [doc_tokens] * (tokens // doc_tokens) + ([tokens % doc_tokens] if tokens % doc_tokens else [])
    document = np.repeat(np.arange(len(sizes)), sizes)
    position = np.arange(tokens) - np.repeat(np.cumsum([0] + sizes[:-1]), sizes)
    return document, position, [{"domain": "synthetic", "name": f"doc{i}", "tokens": s} for i, s in enumerate(sizes)]


def planted_teams(tokens: int, n: int = 64, k: int = 8, team: int = 8, teams_per_token: int = 2, layers: int = 1,
                  stay: float = 0.9, seed: int = 0, doc_tokens: int = 4096) -> RouterTrace:
    rng = np.random.default_rng(seed)
    n_teams = n // team
    per = k // teams_per_token
    out = np.empty((layers, tokens, k), dtype=np.int16)
    members = np.arange(n).reshape(n_teams, team)
    for li in range(layers):
        perm = rng.permutation(n)  # which experts form the teams differs per layer
        cur = rng.choice(n_teams, teams_per_token, replace=False)
        switch = rng.random(tokens) > stay
        fresh = np.argsort(rng.random((tokens, n_teams)), axis=1)[:, :teams_per_token]
        # the team set persists until the next switch: index of the last switch at or before t
        last = np.maximum.accumulate(np.where(switch, np.arange(tokens), 0))
        chosen = fresh[last]
        chosen[~switch.cumsum().astype(bool)] = cur
        pick = np.argsort(rng.random((tokens, teams_per_token, team)), axis=2)[:, :, :per]
        ids = members[chosen][np.arange(tokens)[:, None, None], np.arange(teams_per_token)[None, :, None], pick]
        out[li] = perm[ids.reshape(tokens, k)]
    document, position, docs = _documents(tokens, doc_tokens)
    return RouterTrace(topk=out, document=document, position=position, documents=docs, num_experts=n,
                       layers=list(range(layers)), model="synthetic:planted_teams", source="<synthetic>")


def independent_skewed(tokens: int, n: int = 64, k: int = 8, layers: int = 1, zipf: float = 1.0, seed: int = 0,
                       doc_tokens: int = 4096, chunk: int = 262144) -> RouterTrace:
    rng = np.random.default_rng(seed)
    out = np.empty((layers, tokens, k), dtype=np.int16)
    logp = -zipf * np.log(np.arange(1, n + 1))
    for li in range(layers):
        perm = rng.permutation(n)
        for s in range(0, tokens, chunk):
            m = min(chunk, tokens - s)
            g = logp[None, :] + rng.gumbel(size=(m, n))
            out[li, s : s + m] = perm[np.argpartition(-g, k - 1, axis=1)[:, :k]]
    document, position, docs = _documents(tokens, doc_tokens)
    return RouterTrace(topk=out, document=document, position=position, documents=docs, num_experts=n,
                       layers=list(range(layers)), model="synthetic:independent_skewed", source="<synthetic>")
