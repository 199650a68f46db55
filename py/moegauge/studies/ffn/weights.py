"""Seed 003 Part E on the embedded model: the effective dimension of expert FFN weights (E0) and the
β-lift a learned rotation gives them (E1), with the seed's two trap cells.

Each expert e of an MoE layer has three weight matrices: gate and up (I × H: rows in the hidden
space) and down (H × I: columns in the hidden space).

* **E0, narrow-d.** Per matrix, the participation ratio of its squared singular values
  d_eff = (Σσ²)² / Σσ⁴ (``moments.participation_ratio``; 1 ≤ d_eff ≤ rank) and the rank at 90%
  energy. A matrix is *narrow* when d_eff ≤ ``NARROW_FRACTION`` × min(I, H).
* **E1, β-lift.** The hidden-space vectors of a layer (gate rows, up rows, down columns of every
  expert) are split by expert: even-numbered experts fit one learned L¹-max rotation R
  (``rotation.learn_rotation``, no centering), odd-numbered experts are scored.
  lift = β(R·w) − β(w) on the scored vectors (β pooled over all coordinates). Traps:
  a seeded random orthogonal rotation's lift (it must not reach the success gate: a gate a random
  rotation passes measures Gaussianisation, not structure), and the *off-rotation probe*: R
  learned on the quarter of experts with the lowest mean d_eff, applied to the quarter with the
  highest (the most diffuse), whose lift must stay below the held-out lift.
"""

from __future__ import annotations

import numpy as np
import torch

from ...moments import beta_moment_ratio, participation_ratio
from ...rotation import learn_rotation

NARROW_FRACTION = 0.25


def expert_matrices(model, layer: int) -> dict[str, torch.Tensor]:
    """{"gate": [E, I, H], "up": [E, I, H], "down_t": [E, I, H]} (down transposed: hidden-space rows)."""
    experts = model.model.layers[layer].mlp.experts
    gu = experts.gate_up_proj.detach().double()  # [E, 2I, H]
    inter = gu.shape[1] // 2
    return {"gate": gu[:, :inter], "up": gu[:, inter:], "down_t": experts.down_proj.detach().double().transpose(1, 2)}


def effective_dimensions(model, layers) -> list[dict]:
    rows = []
    for layer in layers:
        for kind, w in expert_matrices(model, layer).items():
            for e in range(w.shape[0]):
                s2 = torch.linalg.svdvals(w[e]) ** 2
                energy = torch.cumsum(s2, 0) / s2.sum()
                rows.append({"layer": layer, "expert": e, "matrix": kind, "d_eff": participation_ratio(s2),
                             "rank_90": int((energy < 0.9).sum()) + 1, "max_rank": int(min(w.shape[1:]))})
    return rows


def _beta(x: torch.Tensor) -> float:
    return float(beta_moment_ratio(x))


def _random_orthogonal(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))[None, :]


def beta_lift(model, layer: int, d_eff_rows: list[dict], steps: int, seed: int) -> dict:
    mats = expert_matrices(model, layer)
    n_exp = next(iter(mats.values())).shape[0]

    def vectors(experts) -> torch.Tensor:
        return torch.cat([mats[k][list(experts)].reshape(-1, mats[k].shape[-1]) for k in mats]).float()

    fit, scored = vectors(range(0, n_exp, 2)), vectors(range(1, n_exp, 2))
    rot = learn_rotation(fit, steps, seed, center=False).rotation.double()
    raw = _beta(scored.double())
    learned = _beta(scored.double() @ rot.T)
    q = _random_orthogonal(scored.shape[1], seed + 17)
    rand = _beta(scored.double() @ q.T)
    mean_deff = np.array([np.mean([r["d_eff"] for r in d_eff_rows if r["layer"] == layer and r["expert"] == e])
                          for e in range(n_exp)])
    order = np.argsort(mean_deff, kind="stable")
    quarter = max(1, n_exp // 4)
    concentrated, diffuse = order[:quarter], order[-quarter:]
    rot_c = learn_rotation(vectors(concentrated), steps, seed + 1, center=False).rotation.double()
    diff_vec = vectors(diffuse).double()
    off = _beta(diff_vec @ rot_c.T) - _beta(diff_vec)
    return {"layer": layer, "beta_raw": raw, "beta_learned": learned, "beta_random": rand, "lift": learned - raw,
            "random_lift": rand - raw, "off_rotation_lift": off, "scored_vectors": int(scored.shape[0])}
