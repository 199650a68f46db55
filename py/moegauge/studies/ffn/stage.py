"""The ``ffn`` stage of ``moegauge run``: ``evidence/ffn/ffn_rotation_checkpoint.json`` (the ffn_rotation
ladder's E0 and E1 at its checkpoint, the first half of the MoE layers, as the seed's kill ladder did)."""

from __future__ import annotations

import numpy as np

from ... import theorems as T
from ...artifacts import measure, table
from .weights import NARROW_FRACTION, beta_lift, effective_dimensions

ARTIFACT = "ffn_rotation_checkpoint"


def run_stage(study) -> None:
    cfg = study.cfg
    model = study.model("trained")
    n_layers = len(model.model.layers)
    layers = list(range(max(1, n_layers // 2)))
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
