"""Seed 002 §3, "Stiefel frustration": can one rotation serve a whole expert bank, or does each
expert want its own?

Per MoE layer, a sample of experts; each expert's hidden-space vectors (gate rows, up rows, down
columns) are what a weight quantizer rotates. Three rotations, all the same learner (Cayley map,
Adam, the one-bit-cosine objective of E1) with the same budget:

* **shared**: one R fit to all the sampled experts' vectors together;
* **per expert**: one R_e fit to each expert's own vectors;
* **pseudo-experts** (the trap cell): the same units (a unit = one intermediate neuron's gate row,
  up row and down column) dealt at random into groups of the experts' size. A per-group advantage
  that random groups also show is the extra fitting freedom of more rotations, not the geometry of
  the experts.

β is pooled over every rotated coordinate of a set of vectors. The frustration index is
F = β(per expert) − β(shared), measured **held out**: every rotation is fit on the even-numbered
units of its group and scored on the odd-numbered ones. In-sample β (rotations fit to the very
matrices they rotate, as a weight quantizer deploys them) is kept beside it, but with ~100 vectors
per expert in 256 dimensions a per-expert rotation has more free parameters than its expert has
numbers, so in-sample F measures capacity as much as geometry.

The dense comparator is the same model's attention input projections (q, k and v rows, rows in the
hidden space): dense matrices trained with the same recipe on the same corpus, and at exactly the
active parameters of one token's experts (3 × H × H = top-k × 3 × I × H here, H = 256 = 8 × 32).
Its lift is held out too (fit on even rows, scored on odd rows), against the expert bank's shared
rotation scored on held-out units.
"""

from __future__ import annotations

import torch

from ...moments import beta_moment_ratio, one_bit_cosine
from ...rotation import cayley
from .weights import expert_matrices


def learn_group_rotations(groups: list[torch.Tensor], steps: int, lr: float = 1e-3) -> list[torch.Tensor]:
    """One rotation per group (each [n_g, d]), learned jointly but independently: the objective is the
    sum over groups of their mean one-bit cosine, and Adam's per-parameter steps do not couple them.
    Same parametrisation and optimiser as :func:`moegauge.rotation.learn_rotation` (Cayley map from
    the identity, Adam, full batch: deterministic), so one group gives the same learner. Returns
    float64 rotations."""
    d = groups[0].shape[1]
    ws = [torch.zeros(d, d, requires_grad=True) for _ in groups]
    opt = torch.optim.Adam(ws, lr=lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        # one solve per group: batched LU (stacked 256×256 systems) fails in this torch build's MKL
        loss = -sum(one_bit_cosine(x @ cayley(w - w.T).T).mean() for x, w in zip(groups, ws))
        loss.backward()
        opt.step()
    return [cayley((w - w.T).detach().double()) for w in ws]


def _beta_rotated(groups: list[torch.Tensor], rotations: list[torch.Tensor]) -> float:
    return float(beta_moment_ratio(torch.cat([x.double() @ r.T for x, r in zip(groups, rotations)])))


def expert_unit_vectors(model, layer: int, expert: int) -> torch.Tensor:
    """[I, 3, H]: for each intermediate unit, its gate row, up row and down column."""
    m = expert_matrices(model, layer)
    return torch.stack([m["gate"][expert], m["up"][expert], m["down_t"][expert]], dim=1).float()


def frustration(model, layer: int, experts: list[int], steps: int, seed: int) -> dict:
    """F on one layer for the sampled ``experts``, in-sample and held out (units split by parity),
    with the pseudo-expert trap."""
    units = [expert_unit_vectors(model, layer, e) for e in experts]  # each [I, 3, H]
    full = [u.reshape(-1, u.shape[-1]) for u in units]
    fit = [u[0::2].reshape(-1, u.shape[-1]) for u in units]
    held = [u[1::2].reshape(-1, u.shape[-1]) for u in units]
    raw = float(beta_moment_ratio(torch.cat(full).double()))

    shared = learn_group_rotations([torch.cat(full)], steps)[0]
    per = learn_group_rotations(full, steps)
    b_shared, b_per = _beta_rotated(full, [shared] * len(full)), _beta_rotated(full, per)

    shared_fit = learn_group_rotations([torch.cat(fit)], steps)[0]
    per_fit = learn_group_rotations(fit, steps)
    ho_shared, ho_per = _beta_rotated(held, [shared_fit] * len(held)), _beta_rotated(held, per_fit)

    # pseudo-experts: whole units dealt at random into groups of the experts' size, split by parity
    gen = torch.Generator().manual_seed(int(seed) + layer)
    pool = torch.cat(units)  # [E·I, 3, H]
    perm = torch.randperm(pool.shape[0], generator=gen)
    size = units[0].shape[0]
    pseudo = [pool[perm[i * size : (i + 1) * size]] for i in range(len(units))]
    p_fit = [u[0::2].reshape(-1, u.shape[-1]) for u in pseudo]
    p_held = [u[1::2].reshape(-1, u.shape[-1]) for u in pseudo]
    p_shared = learn_group_rotations([torch.cat(p_fit)], steps)[0]
    p_per = learn_group_rotations(p_fit, steps)
    ps_shared, ps_per = _beta_rotated(p_held, [p_shared] * len(p_held)), _beta_rotated(p_held, p_per)
    return {"layer": layer, "experts": len(experts), "vectors": int(sum(x.shape[0] for x in full)),
            "beta_raw": raw, "beta_shared": b_shared, "beta_per_expert": b_per, "frustration": b_per - b_shared,
            "held_out_beta_shared": ho_shared, "held_out_beta_per_expert": ho_per,
            "held_out_frustration": ho_per - ho_shared,
            "pseudo_held_out_beta_per_group": ps_per, "pseudo_held_out_frustration": ps_per - ps_shared,
            "shared_fit_rotation": shared_fit}


def dense_comparator(model, layer: int, steps: int, seed: int, experts: list[int], moe_rotation: torch.Tensor) -> dict:
    """Held-out lift of one learned rotation for the layer's attention q/k/v rows (fit on the even
    rows, scored on the odd ones; the same learner and budget) against ``moe_rotation``, the shared
    rotation fit on the sampled experts' even units (from :func:`frustration`), scored on their odd
    units; and one seeded random rotation applied to both held-out sets."""
    attn = model.model.layers[layer].self_attn
    dense = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]).detach().float()
    dense_fit, dense_ho = dense[0::2], dense[1::2]
    moe_ho = torch.cat([expert_unit_vectors(model, layer, e)[1::2].reshape(-1, dense.shape[1]) for e in experts])
    r_dense = learn_group_rotations([dense_fit], steps)[0]
    gen = torch.Generator().manual_seed(int(seed) + 7919 + layer)
    q, rr = torch.linalg.qr(torch.randn(dense.shape[1], dense.shape[1], generator=gen, dtype=torch.float64))
    rand = q * torch.sign(torch.diagonal(rr))[None, :]

    def b(x: torch.Tensor, r: torch.Tensor | None = None) -> float:
        x = x.double()
        return float(beta_moment_ratio(x if r is None else x @ r.T))

    def c(x: torch.Tensor, r: torch.Tensor) -> float:
        return float(one_bit_cosine(x.double() @ r.T).mean())

    out = {"layer": layer, "dense_vectors": int(dense_ho.shape[0]), "moe_vectors": int(moe_ho.shape[0]),
           "dense_beta_raw": b(dense_ho), "dense_beta_rotated": b(dense_ho, r_dense), "dense_beta_random": b(dense_ho, rand),
           "moe_beta_raw": b(moe_ho), "moe_beta_rotated": b(moe_ho, moe_rotation), "moe_beta_random": b(moe_ho, rand),
           "dense_cosine_rotated": c(dense_ho, r_dense), "moe_cosine_rotated": c(moe_ho, moe_rotation)}
    out["dense_lift"] = out["dense_beta_rotated"] - out["dense_beta_raw"]
    out["moe_lift"] = out["moe_beta_rotated"] - out["moe_beta_raw"]
    out["lift_gap"] = out["dense_lift"] - out["moe_lift"]
    out["random_lift_gap"] = (out["dense_beta_random"] - out["dense_beta_raw"]) - (out["moe_beta_random"] - out["moe_beta_raw"])
    return out


def sample_experts(n_experts: int, count: int, seed: int) -> list[int]:
    """``count`` distinct experts, seeded, in increasing order."""
    gen = torch.Generator().manual_seed(int(seed))
    return sorted(torch.randperm(n_experts, generator=gen)[: min(count, n_experts)].tolist())
