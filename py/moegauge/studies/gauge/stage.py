"""The ``gauge`` stage of ``moegauge run``: ``evidence/gauge/gauge_predictor.json``."""

from __future__ import annotations

from ... import theorems as T
from ...artifacts import measure, table
from .predictor import SCALE_C, measure as measure_predictor

ARTIFACT = "gauge_predictor"


def run_stage(study) -> None:
    cfg = study.cfg
    sc = {**study._stage_config("gauge", "trained"), "gauge": {"ppl_windows_per_domain": cfg.gauge_ppl_windows,
                                                               "moment_windows_per_domain": cfg.heldout_windows,
                                                               "scale_c": SCALE_C}}
    path = study.evidence / "gauge" / f"{ARTIFACT}.json"
    if study._fresh(path, sc):
        study.log("  up to date")
        return
    import torch

    model = study.model("trained")
    enc = study.encoder
    doms = sorted(study.corpus.domains.items())
    moment = torch.cat([enc.windows(d.heldout, cfg.seq_len, cfg.heldout_windows).tokens for _, d in doms])
    ppl = torch.cat([enc.windows(d.heldout, cfg.seq_len, cfg.gauge_ppl_windows).tokens for _, d in doms])
    from ...lm.model import kv_geometry

    layers, heads, _ = kv_geometry(model.config)
    with study._bar(layers * heads + layers, "gauge: 1-bit one head / one layer at a time") as bar:
        r = measure_predictor(model, moment, ppl, cfg.batch_size, progress=bar.update)
    head_cols = {"layer": ("index", "layer"), "head": ("index", "KV head"), "variance": ("variance", "σ² of the head's keys"),
                 "excess_kurtosis": ("excess_kurtosis", "κ of the head's keys"),
                 "gauge": ("gauge", "G = max(0, κ/σ²)"),
                 # a difference of bits/byte, any sign
                 "delta_bits_per_byte": ("ratio_difference", "Δ bits/byte with this head's keys at 1 bit (no rotation)")}
    layer_cols = {"layer": ("index", "layer"), "gauge": ("gauge", "G_ℓ = mean over heads"),
                  "excess_kurtosis": ("excess_kurtosis", "mean κ over heads"),
                  "delta_bits_per_byte": ("ratio_difference", "Δ bits/byte with the layer's keys at 1 bit (no rotation)")}
    study._write(
        "gauge", ARTIFACT, sc,
        description=("Seed 000's gauge G (per head: max(0, κ/σ²) of held-out post-RoPE keys) against the damage of "
                     "quantizing that head alone to 1 bit (Δ bits/byte, no rotation), with the scale-invariant "
                     "alternative κ; and the scale symmetry measured on the real model: keys × 1/c and queries × c "
                     f"before RoPE (c = {SCALE_C:g}, via the q/k norms) leave the logits unchanged but move G."),
        measures={
            "spearman_g_head": measure("ratio_difference", r["spearman_g_head"], "Spearman ρ(G, Δ bits/byte) over heads"),
            "spearman_kappa_head": measure("ratio_difference", r["spearman_kappa_head"], "Spearman ρ(κ, Δ bits/byte) over heads"),
            "spearman_g_layer": measure("ratio_difference", r["spearman_g_layer"], "Spearman ρ(G_ℓ, Δ bits/byte) over layers"),
            "spearman_kappa_layer": measure("ratio_difference", r["spearman_kappa_layer"],
                                            "Spearman ρ(mean κ, Δ bits/byte) over layers"),
            "bpb_fp": measure("bits_per_byte", r["bpb_fp"], "full-precision bits per byte on these windows"),
            "scale_c": measure("ratio", r["scale_c"], "the symmetry's scale c"),
            "max_logit_delta_scaled": measure("logit_delta", r["max_logit_delta_scaled"],
                                              "largest |Δ logit| under the scale symmetry (float rounding if exact)"),
            "g_ratio_scaled": measure("ratio", r["g_ratio_scaled"], "mean over heads of G(scaled) / G (c² if G is covariant)"),
            "g_scale_deviation": measure("ratio_difference", abs(r["g_ratio_scaled"] - 1.0),
                                         "|G(scaled)/G − 1|: 0 for a predictor the symmetry leaves alone"),
            "kappa_scale_deviation": measure("ratio_difference", r["kappa_ratio_scaled_max_dev"],
                                             "largest |κ(scaled)/κ − 1| over heads"),
            "variance_ratio_scaled": measure("ratio", r["variance_ratio_scaled"], "mean σ²(scaled)/σ² (1/c² expected)"),
        },
        tables={"heads": table("Per head: moments, G and the 1-bit damage.", head_cols, r["rows"]),
                "layers": table("Per layer: G_ℓ, mean κ and the 1-bit damage of the whole layer.", layer_cols,
                                r["layer_rows"])},
        relies_on=(T.GAUGE_SCALE_COVARIANCE, T.ATTENTION_SCORE_GAUGE_INVARIANCE),
    )
