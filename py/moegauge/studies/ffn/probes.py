"""Seed 003 Part E's two secondary probes, which the seed ran beside its gated sequence.

* **E2, the optimiser probe.** Is the β-lift ceiling of expert weights a *search* problem (a better
  optimiser or a bigger budget finds a better rotation) or a *structure* problem (no rotation does
  much better)? The same objective and parametrisation as E1 (Cayley, one-bit cosine, fit on the
  even-numbered experts' hidden-space vectors) is optimised by Adam and by RAdam
  (``torch.optim.RAdam``, variance-rectified warm-up) for 4× E1's budget, and the lift is read at
  every budget, held out (odd experts, as E1) and in-sample. In-sample lift mixes structure with
  overfitting (round 1 of the ladder gated on it, and passed on overfitting alone), so the gates
  read the held-out lift.

  A plateau only says "structure" if the search would have found structure that was there. The
  **planted control** checks that: vectors whose coordinates are i.i.d. uniform (β = 3/4) in a basis
  a small rotation exp(σ(G − Gᵀ)) away from the standard one (so their β is lower), of the same
  shape as one layer's fit set, and a held-out set from the same basis. The share of the planted lift
  each optimiser recovers on the held-out set is recorded (in-sample beside it; it can exceed 1).

* **E3, the 1-bit generation probe.** Every expert weight matrix of the checkpoint layers is
  quantized to one bit per weight — sign times the row's mean |w|, the L²-optimal scale
  (``MoEGauge.one_bit_scale_optimal``) — in the basis of a learned rotation of its hidden-space
  vectors (and, as the trap cell, without a rotation), and the first-token NLL is compared with full
  precision: the NLL of the byte that follows each held-out prompt.
"""

from __future__ import annotations

import copy

import torch

from ...moments import beta_moment_ratio
from ...rotation import learn_rotation
from .weights import expert_matrices

#: The planted control's source β (uniform coordinates) and the angle scale σ of its hiding rotation.
PLANTED_SOURCE_BETA = 0.75
PLANTED_SIGMA = 0.02


def hidden_vectors(model, layer: int, experts) -> torch.Tensor:
    """The hidden-space vectors (gate rows, up rows, down columns) of ``experts``, float32 [n, H]."""
    mats = expert_matrices(model, layer)
    idx = list(experts)
    return torch.cat([mats[k][idx].reshape(-1, mats[k].shape[-1]) for k in mats]).float()


def planted_vectors(n: int, d: int, seed: int, sigma: float = PLANTED_SIGMA) -> tuple[torch.Tensor, float]:
    """n vectors whose coordinates in a hidden basis are i.i.d. uniform on [−√3, √3]; the basis is
    exp(σ(G − Gᵀ)) with G standard normal. Returns (vectors float32 [n, d], β of the sources)."""
    gen = torch.Generator().manual_seed(int(seed))
    sources = (torch.rand(n, d, generator=gen, dtype=torch.float64) * 2 - 1) * 3 ** 0.5
    g = torch.randn(d, d, generator=gen, dtype=torch.float64)
    hide = torch.linalg.matrix_exp(sigma * (g - g.T))
    return (sources @ hide.T).float(), float(beta_moment_ratio(sources))


def _lift_curve(fit: torch.Tensor, held_out: torch.Tensor, steps: int, budgets, optimizer: str, seed: int):
    """One run of ``steps``: the in-sample lift after each budget (from the trace) and the held-out
    lift of the rotation snapshot at each budget; and the in-sample β at every step."""
    raw_ho = float(beta_moment_ratio(held_out.double()))
    res = learn_rotation(fit, steps, seed, center=False, optimizer=optimizer, snapshot_steps=tuple(budgets))
    trace = {e.step: e.beta for e in res.trace}
    raw = trace[0]  # step 0 is R₀ = I: β of the fit set, on the trace's own arithmetic
    rows = [{"optimizer": optimizer, "steps": b, "lift_in_sample": trace[b] - raw,
             "lift_held_out": float(beta_moment_ratio(held_out.double() @ res.snapshots[b].double().T)) - raw_ho}
            for b in budgets]
    curve = [{"optimizer": optimizer, "step": e.step, "beta_in_sample": e.beta} for e in res.trace]
    return rows, curve


def optimiser_probe(model, layers, base_steps: int, seed: int, *, progress=None) -> dict:
    """E2 on ``layers``: Adam and RAdam lift curves at budgets base/4 … 4×base, and the planted control."""
    budgets = sorted({max(1, base_steps // 4), max(1, base_steps // 2), base_steps, 2 * base_steps, 4 * base_steps})
    top = budgets[-1]
    budget_rows, curves, control_rows = [], [], []
    for layer in layers:
        n_exp = expert_matrices(model, layer)["gate"].shape[0]
        fit = hidden_vectors(model, layer, range(0, n_exp, 2))
        held = hidden_vectors(model, layer, range(1, n_exp, 2))
        for opt in ("adam", "radam"):
            rows, curve = _lift_curve(fit, held, top, budgets, opt, seed + layer)
            budget_rows += [{"layer": layer, **r} for r in rows]
            curves += [{"layer": layer, **c} for c in curve]
            if progress:
                progress(1)
    # the planted control: a fit set of the first layer's shape, and a held-out set of the same shape
    # drawn from the same hidden basis; recovery is scored held out (in-sample, overfitting alone
    # can pass the planted β)
    n, d = hidden_vectors(model, layers[0], range(0, expert_matrices(model, layers[0])["gate"].shape[0], 2)).shape
    planted, source_beta = planted_vectors(2 * n, d, seed + 1000)
    p_fit, p_held = planted[:n], planted[n:]
    held_raw = float(beta_moment_ratio(p_held.double()))
    for opt in ("adam", "radam"):
        res = learn_rotation(p_fit, top, seed, center=False, optimizer=opt)
        fit_raw, fit_got = res.trace[0].beta, res.trace[-1].beta
        held_got = float(beta_moment_ratio(p_held.double() @ res.rotation.double().T))
        control_rows.append({"optimizer": opt, "steps": top, "beta_raw": held_raw, "beta_learned": held_got,
                             "beta_planted": source_beta,
                             "recovered_share": (held_got - held_raw) / (source_beta - held_raw),
                             "recovered_share_in_sample": (fit_got - fit_raw) / (source_beta - fit_raw)})
        if progress:
            progress(1)
    return {"budgets": budgets, "budget_rows": budget_rows, "curves": curves, "control_rows": control_rows}


def probe_summary(result: dict) -> dict[str, float]:
    """The gate values of E2: the best in-sample lift at the top budget, its growth over the last
    budget doubling, both optimisers' lifts, and the planted control's recovered fractions."""
    budgets = result["budgets"]
    top, prev = budgets[-1], budgets[-2]
    rows = result["budget_rows"]

    def mean_lift(opt: str, steps: int, key: str = "lift_in_sample") -> float:
        vals = [r[key] for r in rows if r["optimizer"] == opt and r["steps"] == steps]
        return float(sum(vals) / len(vals))

    lifts = {opt: mean_lift(opt, top) for opt in ("adam", "radam")}
    best = max(lifts, key=lambda o: (lifts[o], o == "adam"))
    ho = {opt: mean_lift(opt, top, "lift_held_out") for opt in ("adam", "radam")}
    best_ho = max(ho, key=lambda o: (ho[o], o == "adam"))
    control = {r["optimizer"]: r for r in result["control_rows"]}
    return {
        "best_lift": lifts[best], "best_optimizer_is_radam": float(best == "radam"),
        "best_lift_growth": lifts[best] - mean_lift(best, prev),
        "best_lift_held_out": ho[best_ho], "best_held_out_optimizer_is_radam": float(best_ho == "radam"),
        "best_lift_held_out_growth": ho[best_ho] - mean_lift(best_ho, prev, "lift_held_out"),
        "adam_lift": lifts["adam"], "radam_lift": lifts["radam"],
        "adam_lift_base": mean_lift("adam", budgets[2]), "radam_lift_base": mean_lift("radam", budgets[2]),
        "adam_lift_held_out": mean_lift("adam", top, "lift_held_out"),
        "radam_lift_held_out": mean_lift("radam", top, "lift_held_out"),
        "control_recovered_adam": control["adam"]["recovered_share"],
        "control_recovered_radam": control["radam"]["recovered_share"],
        "control_recovered_adam_in_sample": control["adam"]["recovered_share_in_sample"],
        "control_recovered_radam_in_sample": control["radam"]["recovered_share_in_sample"],
    }


# -- E3 -------------------------------------------------------------------------------------------

def one_bit_rows(w: torch.Tensor, rotation: torch.Tensor | None) -> torch.Tensor:
    """Each row of ``w`` (…, H) at one bit in the basis R: Rᵀ(sign(Rw)·mean|Rw|); R = I when None.
    A zero coordinate takes the sign +1."""
    y = w if rotation is None else w @ rotation.T
    q = torch.where(y >= 0, 1.0, -1.0).to(y.dtype) * y.abs().mean(dim=-1, keepdim=True)
    return q if rotation is None else q @ rotation


def quantize_experts(model, layers, rotations: dict[int, torch.Tensor] | None) -> torch.nn.Module:
    """A copy of ``model`` whose expert weights in ``layers`` are at one bit per weight (rows in the
    hidden space, in the basis of ``rotations[layer]``, or the standard basis when None)."""
    out = copy.deepcopy(model)
    with torch.no_grad():
        for layer in layers:
            ex = out.model.layers[layer].mlp.experts
            rot = None if rotations is None else rotations[layer].to(torch.float64)
            gu = ex.gate_up_proj.detach().double()  # [E, 2I, H]: rows in the hidden space
            ex.gate_up_proj.copy_(one_bit_rows(gu, rot).to(ex.gate_up_proj.dtype))
            dn = ex.down_proj.detach().double().transpose(1, 2)  # [E, I, H]
            ex.down_proj.copy_(one_bit_rows(dn, rot).transpose(1, 2).to(ex.down_proj.dtype))
    return out


@torch.no_grad()
def first_token_nll(model, prompts: torch.Tensor, batch_size: int) -> torch.Tensor:
    """NLL (nats) of ``prompts[:, -1]`` given ``prompts[:, :-1]``, one value per prompt."""
    out = []
    for i in range(0, prompts.shape[0], batch_size):
        b = prompts[i : i + batch_size]
        logits = model(input_ids=b[:, :-1]).logits[:, -1].float()
        out.append(torch.nn.functional.cross_entropy(logits, b[:, -1], reduction="none"))
    return torch.cat(out)


def generation_probe(model, layers, prompts: torch.Tensor, domains: list[str], rotation_steps: int, seed: int,
                     batch_size: int) -> dict:
    """E3: first-token NLL at full precision, with the checkpoint layers' expert weights at one bit
    in a learned rotation's basis (fit on all the layer's experts, E1's objective and budget), and
    at one bit without a rotation (the trap cell). ``domains[i]`` names prompt i's domain."""
    rotations = {}
    for layer in layers:
        n_exp = expert_matrices(model, layer)["gate"].shape[0]
        rotations[layer] = learn_rotation(hidden_vectors(model, layer, range(n_exp)), rotation_steps, seed + layer,
                                          center=False).rotation
    nll = {"full_precision": first_token_nll(model, prompts, batch_size),
           "one_bit_rotated": first_token_nll(quantize_experts(model, layers, rotations), prompts, batch_size),
           "one_bit_unrotated": first_token_nll(quantize_experts(model, layers, None), prompts, batch_size)}
    rows = []
    for dom in sorted(set(domains)):
        mask = torch.tensor([d == dom for d in domains])
        rows.append({"domain": dom, "prompts": int(mask.sum()),
                     **{f"nll_{k}": float(v[mask].mean()) for k, v in nll.items()}})
    means = {k: float(v.mean()) for k, v in nll.items()}
    return {"rows": rows, "nll": means,
            "inflation_rotated": means["one_bit_rotated"] / means["full_precision"] - 1.0,
            "inflation_unrotated": means["one_bit_unrotated"] / means["full_precision"] - 1.0}
