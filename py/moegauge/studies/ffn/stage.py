"""The ``ffn`` stage of ``moegauge run``, at the checkpoint (the first half of the MoE layers, as the
seed's kill ladder did). Four artifacts under ``evidence/ffn/``, each remade only when its inputs
changed:

* ``ffn_rotation_checkpoint.json`` — the ffn_rotation ladder's E0 (narrow-d) and E1 (β-lift);
* ``ffn_optimiser_probe.json`` — E2, Adam against RAdam over budgets, and the planted control
  (the ffn_optimiser_probe ladder);
* ``ffn_generation_probe.json`` — E3, first-token NLL with 1-bit expert weights (ffn_generation_probe);
* ``stiefel_frustration.json`` — seed 002 §3: shared against per-expert rotations, pseudo-experts,
  and the dense comparator (the stiefel_frustration ladder).
"""

from __future__ import annotations

import numpy as np

from ... import theorems as T
from ...artifacts import measure, table
from .weights import NARROW_FRACTION, beta_lift, effective_dimensions, expert_matrices

ARTIFACT = "ffn_rotation_checkpoint"


#: E3's prompts: bytes of context before the scored byte, and prompts per domain.
PROMPT_LEN = 128
PROMPTS_PER_DOMAIN = 64
#: Stiefel frustration: experts sampled per layer, and the budget of every rotation in it as a share
#: of E1's (one LU solve per group per step makes per-expert rotations the stage's dearest part).
FRUSTRATION_EXPERTS = 16
FRUSTRATION_STEPS_DIVISOR = 3


def checkpoint_layers(model) -> list[int]:
    return list(range(max(1, len(model.model.layers) // 2)))


def run_stage(study) -> None:
    model = study.model("trained")
    stage_rotation_checkpoint(study, model)
    stage_optimiser_probe(study, model)
    stage_generation_probe(study, model)
    stage_frustration(study, model)


def stage_rotation_checkpoint(study, model) -> None:
    cfg = study.cfg
    n_layers = len(model.model.layers)
    layers = checkpoint_layers(model)
    sc = {**study._stage_config("ffn", "trained"), "ffn": {"layers": layers, "narrow_fraction": NARROW_FRACTION,
                                                           "rotation_steps": cfg.rotation_steps}}
    path = study.evidence / "ffn" / f"{ARTIFACT}.json"
    if study._fresh(path, sc):
        study.log("  up to date")
        return
    rows = effective_dimensions(model, layers)
    narrow = [r["d_eff"] <= NARROW_FRACTION * r["max_rank"] for r in rows]
    lifts = []
    with study._bar(len(layers), "ffn: learned rotations of expert weights") as bar:
        for layer in layers:
            lifts.append(beta_lift(model, layer, rows, cfg.rotation_steps, cfg.seed))
            bar.update(1)

    def mean(k: str) -> float:
        return float(np.mean([x[k] for x in lifts]))

    study._write(
        "ffn", ARTIFACT, sc,
        description=(f"Seed 003 Part E at its checkpoint (MoE layers {layers} of {n_layers}): the effective dimension "
                     "of every expert weight matrix (participation ratio of squared singular values, rank at 90% energy; "
                     f"narrow = d_eff ≤ {NARROW_FRACTION:g} × max rank), and the β-lift of a learned L¹-max rotation on the "
                     "hidden-space weight vectors, fit on even experts and scored on odd ones, with a random rotation and "
                     "the off-rotation probe (a rotation learned on the most concentrated experts applied to the most "
                     "diffuse) as trap cells."),
        measures={
            "fraction_narrow": measure("fraction", float(np.mean(narrow)), "share of expert matrices with d_eff ≤ the narrow threshold"),
            "d_eff_median": measure("ratio", float(np.median([r["d_eff"] for r in rows])), "median d_eff over matrices"),
            "d_eff_median_over_max_rank": measure("fraction", float(np.median([r["d_eff"] / r["max_rank"] for r in rows])),
                                                  "median d_eff / max rank"),
            "lift_mean": measure("beta_difference", mean("lift"), "β-lift of the learned rotation (scored experts), mean over layers"),
            "random_lift_mean": measure("beta_difference", mean("random_lift"), "β change under a random rotation, mean over layers"),
            "off_rotation_lift_mean": measure("beta_difference", mean("off_rotation_lift"),
                                              "off-rotation probe: lift on the most diffuse experts, mean over layers"),
            "beta_raw_mean": measure("beta", mean("beta_raw"), "β of the raw weight vectors (scored experts)"),
            "beta_learned_mean": measure("beta", mean("beta_learned"), "β after the learned rotation"),
        },
        tables={
            "matrices": table("Every expert weight matrix: d_eff and rank at 90% energy.", {
                "layer": ("index", "MoE layer"), "expert": ("index", "expert"), "matrix": ("label", "gate, up or down (transposed)"),
                "d_eff": ("ratio", "participation ratio of σ²"), "rank_90": ("count", "rank at 90% energy"),
                "max_rank": ("count", "min(rows, columns)")}, rows),
            "lift": table("Per layer: β raw, learned, random, and the lifts.", {
                "layer": ("index", "MoE layer"), "beta_raw": ("beta", "raw"), "beta_learned": ("beta", "learned rotation"),
                "beta_random": ("beta", "random rotation"), "lift": ("beta_difference", "learned − raw"),
                "random_lift": ("beta_difference", "random − raw"),
                "off_rotation_lift": ("beta_difference", "off-rotation probe on the most diffuse experts"),
                "scored_vectors": ("count", "scored hidden-space vectors")}, lifts),
        },
        relies_on=(T.PARTICIPATION_RATIO_BOUNDS, T.MOMENT_RATIO_LE_ONE),
    )


def stage_optimiser_probe(study, model) -> None:
    from .probes import PLANTED_SIGMA, PLANTED_SOURCE_BETA, optimiser_probe, probe_summary

    cfg = study.cfg
    layers = checkpoint_layers(model)
    sc = {**study._stage_config("ffn", "trained"), "ffn_optimiser_probe": {
        "layers": layers, "base_steps": cfg.rotation_steps, "planted_sigma": PLANTED_SIGMA}}
    path = study.evidence / "ffn" / "ffn_optimiser_probe.json"
    if study._fresh(path, sc):
        study.log("  ffn_optimiser_probe up to date")
        return
    with study._bar(2 * len(layers) + 2, "ffn E2: Adam and RAdam over budgets") as bar:
        r = optimiser_probe(model, layers, cfg.rotation_steps, cfg.seed, progress=bar.update)
    s = probe_summary(r)
    top = r["budgets"][-1]
    lift = "beta_difference"
    share = "ratio_difference"  # (β_learned − β_raw) / (β_planted − β_raw): a ratio of lifts, any sign
    study._write(
        "ffn", "ffn_optimiser_probe", sc,
        description=(f"Seed 003 Part E's optimiser probe (E2) on MoE layers {layers}: the learned rotation of E1 (Cayley map, "
                     "one-bit-cosine objective, fit on the even experts' hidden-space vectors) optimised by Adam and by "
                     f"RAdam for {top} steps (4× E1's budget), the in-sample β-lift read at budgets {r['budgets']}, the "
                     "held-out lift (odd experts) beside it; and the planted control — uniform coordinates "
                     f"(β = {PLANTED_SOURCE_BETA}) hidden by a rotation exp(σ(G − Gᵀ)), σ = {PLANTED_SIGMA}, same shape "
                     "as a fit set, scored on a held-out set from the same basis — with the share of its planted lift each "
                     "optimiser recovers."),
        measures={
            "best_lift": measure(lift, s["best_lift"], f"best optimiser's in-sample lift at {top} steps, mean over layers"),
            "best_lift_growth": measure(lift, s["best_lift_growth"], "its gain over the last budget doubling"),
            "best_optimizer_is_radam": measure("fraction", s["best_optimizer_is_radam"], "1 if RAdam is the better optimiser, else 0"),
            "adam_lift": measure(lift, s["adam_lift"], f"Adam, in-sample lift at {top} steps"),
            "radam_lift": measure(lift, s["radam_lift"], f"RAdam, in-sample lift at {top} steps"),
            "adam_lift_base": measure(lift, s["adam_lift_base"], f"Adam, in-sample lift at E1's budget ({cfg.rotation_steps})"),
            "radam_lift_base": measure(lift, s["radam_lift_base"], f"RAdam, in-sample lift at E1's budget ({cfg.rotation_steps})"),
            "adam_lift_held_out": measure(lift, s["adam_lift_held_out"], f"Adam, held-out lift at {top} steps"),
            "radam_lift_held_out": measure(lift, s["radam_lift_held_out"], f"RAdam, held-out lift at {top} steps"),
            "best_lift_held_out": measure(lift, s["best_lift_held_out"], f"best optimiser's held-out lift at {top} steps"),
            "best_lift_held_out_growth": measure(lift, s["best_lift_held_out_growth"], "its gain over the last budget doubling"),
            "best_held_out_optimizer_is_radam": measure("fraction", s["best_held_out_optimizer_is_radam"],
                                                        "1 if RAdam has the better held-out lift, else 0"),
            "control_recovered_adam": measure(share, s["control_recovered_adam"],
                                              "planted control: share of the planted lift Adam recovers, held out"),
            "control_recovered_radam": measure(share, s["control_recovered_radam"], "the same for RAdam"),
            "control_recovered_adam_in_sample": measure(share, s["control_recovered_adam_in_sample"],
                                                        "Adam, in-sample (above 1 = overfitting past the planted β)"),
            "control_recovered_radam_in_sample": measure(share, s["control_recovered_radam_in_sample"], "RAdam, in-sample"),
        },
        tables={
            "budgets": table("Lift against budget, per layer and optimiser.", {
                "layer": ("index", "MoE layer"), "optimizer": ("label", "optimiser"), "steps": ("steps", "budget"),
                "lift_in_sample": (lift, "in-sample β-lift"), "lift_held_out": (lift, "held-out β-lift")}, r["budget_rows"]),
            "curves": table("In-sample β after every step.", {
                "layer": ("index", "MoE layer"), "optimizer": ("label", "optimiser"), "step": ("steps", "step"),
                "beta_in_sample": ("beta", "in-sample β")}, r["curves"]),
            "planted_control": table("The planted control.", {
                "optimizer": ("label", "optimiser"), "steps": ("steps", "budget"), "beta_raw": ("beta", "held-out β as planted (hidden)"),
                "beta_learned": ("beta", "held-out β after the learned rotation"), "beta_planted": ("beta", "β of the sources"),
                "recovered_share": (share, "share of the planted lift recovered, held out"),
                "recovered_share_in_sample": (share, "the same in-sample")}, r["control_rows"]),
        },
        relies_on=(T.MOMENT_RATIO_LE_ONE,),
    )


def stage_generation_probe(study, model) -> None:
    import torch

    from .probes import generation_probe

    cfg = study.cfg
    layers = checkpoint_layers(model)
    sc = {**study._stage_config("ffn", "trained"), "ffn_generation_probe": {
        "layers": layers, "prompt_len": PROMPT_LEN, "prompts_per_domain": PROMPTS_PER_DOMAIN,
        "rotation_steps": cfg.rotation_steps}}
    path = study.evidence / "ffn" / "ffn_generation_probe.json"
    if study._fresh(path, sc):
        study.log("  ffn_generation_probe up to date")
        return
    prompts, names = [], []
    for name, dom in sorted(study.corpus.domains.items()):
        w = study.encoder.windows(dom.heldout, PROMPT_LEN + 1, PROMPTS_PER_DOMAIN).tokens
        prompts.append(w)
        names += [name] * w.shape[0]
    study.log("  ffn E3: 1-bit expert weights, first-token NLL")
    r = generation_probe(model, layers, torch.cat(prompts), names, cfg.rotation_steps, cfg.seed, cfg.batch_size)
    nll = "nll"
    study._write(
        "ffn", "ffn_generation_probe", sc,
        description=(f"Seed 003 Part E's 1-bit generation probe (E3): every expert weight of MoE layers {layers} at one bit "
                     "(sign × the row's mean |w|, rows in the hidden space) in the basis of a learned rotation (E1's learner "
                     f"and budget, fit on all the layer's experts) and, as the trap cell, without one; first-token NLL = the "
                     f"NLL of the byte after each {PROMPT_LEN}-byte held-out prompt ({PROMPTS_PER_DOMAIN} per domain), "
                     "against full precision."),
        measures={
            "nll_full_precision": measure(nll, r["nll"]["full_precision"], "first-token NLL, full precision"),
            "nll_one_bit_rotated": measure(nll, r["nll"]["one_bit_rotated"], "first-token NLL, 1-bit experts, learned rotation"),
            "nll_one_bit_unrotated": measure(nll, r["nll"]["one_bit_unrotated"], "first-token NLL, 1-bit experts, no rotation"),
            "inflation_rotated": measure("relative_change", r["inflation_rotated"], "NLL(1-bit, rotated) / NLL(full) − 1"),
            "inflation_unrotated": measure("relative_change", r["inflation_unrotated"], "NLL(1-bit, no rotation) / NLL(full) − 1"),
        },
        tables={"domains": table("First-token NLL per domain.", {
            "domain": ("label", "domain"), "prompts": ("count", "prompts"),
            "nll_full_precision": (nll, "full precision"), "nll_one_bit_rotated": (nll, "1-bit, learned rotation"),
            "nll_one_bit_unrotated": (nll, "1-bit, no rotation")}, r["rows"])},
        relies_on=(T.ONE_BIT_SCALE_OPTIMAL,),
    )


def stage_frustration(study, model) -> None:
    from .frustration import dense_comparator, frustration, sample_experts

    cfg = study.cfg
    layers = checkpoint_layers(model)
    steps = max(1, cfg.rotation_steps // FRUSTRATION_STEPS_DIVISOR)
    sc = {**study._stage_config("ffn", "trained"), "stiefel_frustration": {
        "layers": layers, "experts_per_layer": FRUSTRATION_EXPERTS, "steps": steps}}
    path = study.evidence / "ffn" / "stiefel_frustration.json"
    if study._fresh(path, sc):
        study.log("  stiefel_frustration up to date")
        return
    n_exp = expert_matrices(model, layers[0])["gate"].shape[0]
    rows, dense_rows = [], []
    with study._bar(len(layers), "ffn: shared vs per-expert rotations") as bar:
        for layer in layers:
            experts = sample_experts(n_exp, FRUSTRATION_EXPERTS, cfg.seed + layer)
            f = frustration(model, layer, experts, steps, cfg.seed)
            shared = f.pop("shared_fit_rotation")
            rows.append(f)
            dense_rows.append(dense_comparator(model, layer, steps, cfg.seed, experts, shared))
            bar.update(1)

    def mean(rs, k: str) -> float:
        return float(np.mean([x[k] for x in rs]))

    b, db = "beta", "beta_difference"
    study._write(
        "ffn", "stiefel_frustration", sc,
        description=(f"Seed 002 §3's Stiefel frustration on MoE layers {layers}, {FRUSTRATION_EXPERTS} sampled experts each: "
                     "held-out β of the experts' hidden-space weight vectors (rotations fit on even units, scored on odd ones) "
                     "under one rotation shared by the sampled experts and under one rotation per expert (F = the "
                     "difference); the trap cell deals the same units at random into pseudo-experts of the same size; "
                     "in-sample β beside it. Dense "
                     "comparator: the attention q/k/v rows of the same layers (dense, same recipe and corpus, 3·H² = the "
                     "active expert parameters per token), one rotation fit on even rows and scored on odd rows, against the "
                     "experts' held-out shared-rotation lift, and one random rotation for both. "
                     f"Every rotation: Cayley map from I, Adam, {steps} steps."),
        measures={
            "held_out_frustration": measure(db, mean(rows, "held_out_frustration"),
                                            "F = β(per expert) − β(shared) on held-out units, mean over layers"),
            "pseudo_held_out_frustration": measure(db, mean(rows, "pseudo_held_out_frustration"),
                                                   "the same for random pseudo-experts (the trap cell)"),
            "frustration_in_sample": measure(db, mean(rows, "frustration"), "F in-sample (capacity and geometry)"),
            "beta_shared": measure(b, mean(rows, "beta_shared"), "β, one shared rotation"),
            "beta_per_expert": measure(b, mean(rows, "beta_per_expert"), "β, one rotation per expert"),
            "beta_raw": measure(b, mean(rows, "beta_raw"), "β, no rotation"),
            "dense_lift": measure(db, mean(dense_rows, "dense_lift"), "dense q/k/v rows: held-out learned-rotation lift"),
            "moe_lift": measure(db, mean(dense_rows, "moe_lift"), "expert vectors: held-out shared-rotation lift"),
            "lift_gap": measure(db, mean(dense_rows, "lift_gap"), "dense lift − expert lift"),
            "random_lift_gap": measure(db, mean(dense_rows, "random_lift_gap"), "the same gap under a random rotation"),
            "dense_beta_rotated": measure(b, mean(dense_rows, "dense_beta_rotated"), "dense rows, β after the rotation"),
            "moe_beta_rotated": measure(b, mean(dense_rows, "moe_beta_rotated"), "expert vectors, β after the shared rotation"),
            "dense_cosine_rotated": measure("one_bit_cosine", mean(dense_rows, "dense_cosine_rotated"),
                                            "dense rows, mean one-bit cosine after the rotation (the seed's scale)"),
            "moe_cosine_rotated": measure("one_bit_cosine", mean(dense_rows, "moe_cosine_rotated"),
                                          "expert vectors, mean one-bit cosine after the shared rotation"),
        },
        tables={
            "layers": table("Per layer: shared, per-expert and pseudo-expert rotations.", {
                "layer": ("index", "MoE layer"), "experts": ("count", "sampled experts"), "vectors": ("count", "vectors"),
                "beta_raw": (b, "no rotation"), "beta_shared": (b, "shared rotation"), "beta_per_expert": (b, "per-expert rotations"),
                "frustration": (db, "F in-sample"), "held_out_beta_shared": (b, "held out, shared"),
                "held_out_beta_per_expert": (b, "held out, per expert"), "held_out_frustration": (db, "F, held out"),
                "pseudo_held_out_beta_per_group": (b, "held out, per pseudo-expert"),
                "pseudo_held_out_frustration": (db, "F held out, pseudo-experts")}, rows),
            "dense": table("Per layer: the dense comparator.", {
                "layer": ("index", "MoE layer"), "dense_vectors": ("count", "q/k/v rows"), "moe_vectors": ("count", "expert vectors"),
                "dense_beta_raw": (b, "dense, raw"), "dense_beta_rotated": (b, "dense, learned"), "dense_beta_random": (b, "dense, random"),
                "moe_beta_raw": (b, "experts, raw"), "moe_beta_rotated": (b, "experts, learned"), "moe_beta_random": (b, "experts, random"),
                "dense_cosine_rotated": ("one_bit_cosine", "dense, cosine"), "moe_cosine_rotated": ("one_bit_cosine", "experts, cosine"),
                "dense_lift": (db, "dense lift"), "moe_lift": (db, "expert lift"), "lift_gap": (db, "gap"),
                "random_lift_gap": (db, "gap, random rotation")}, dense_rows),
        },
        relies_on=(T.MOMENT_RATIO_LE_ONE, T.COS_SIGN_QUANT_FORMULA),
    )
