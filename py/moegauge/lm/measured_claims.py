"""The repository's measured claims (``evidence/claims/measured.json``), written by code.

Every claim's value is read from the artifact it cites (or computed by the formula it states, in
the audit's formula language), and stated at the finest precision its run-to-run spread supports:
``spread`` (``moegauge.lm.spread``) reruns the study with other CPU kernels, one thread and other
seeds; a claim is stated with the finest number of decimals for which

    |value − stated| + spread ≤ half a unit of the last stated digit,

so a rerun on any of those variants still matches it. A claim whose spread leaves fewer than two
significant digits is *fragile*: it is stated as the range value ± spread, with a note saying so. Without a
spread artifact (or one made for another model) values are stated at three significant digits and
carry no spread; a value with no spread is written with at most four significant digits, and an
integer that does not move is written exactly. Sentences are templates filled from the data; wording that depends on a value
(e.g. whether centering lifts β) is chosen from the value, never typed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts import load_artifact
from ..atomic import atomic_write_text
from .. import theorems as T

SITE = ["site: index (the embedded model's run)"]
REAL_KEYS_NOTE = ("real keys are not Gaussian: the interpretation needs the general (deferred) floor theorem, "
                  "not its proved Gaussian case")
SIG_FIGS_WITHOUT_SPREAD = 3
MIN_SIG_FIGS = 2
MAX_SIG_FIGS = 4


@dataclass(frozen=True)
class Spec:
    """One measured claim: its id, sentence template, quantity and source.

    ``bindings`` name (artifact, pointer) pairs; ``formula`` combines them in the audit's language
    and ``compute`` is the same formula in Python (the audit recomputes the formula independently,
    so a mismatch between the two cannot pass). A spec with one binding and no formula cites it."""

    id: str
    sentence: Callable[[str, dict], str]  # (stated value, all bound values) → sentence
    quantity: str
    bindings: dict[str, tuple[str, str]]
    theorems: tuple[str, ...] = ()
    formula: str | None = None
    compute: Callable[[dict], float] | None = None
    asserts: str | None = None
    context: Callable[[dict], dict] | None = None  # (artifacts) → {"n", "d"}
    percent: bool = False
    integer: bool = False
    appears_in: tuple[str, ...] = tuple(SITE)
    extra: dict = field(default_factory=dict)


BETA = "evidence/beta/beta_table_trained.json"
BETA_RI = "evidence/beta/beta_table_random_init.json"
CONV = "evidence/convergence/convergence_trained.json"
PPL = "evidence/ppl/ppl_table_trained.json"
MEM = "evidence/memory/memory_budget.json"
CORPUS = "evidence/corpus/corpus.json"
COACT = "evidence/coactivation/coactivation_structure.json"
PREFETCH = "evidence/coactivation/coactivation_prefetch.json"
CACHES = "evidence/coactivation/expert_cache_replay.json"
PLACE = "evidence/coactivation/expert_placement.json"
PHASE = "evidence/coactivation/phase_collapse.json"
COACT_SITE = ("site: coactivation",)
KV_SITE = ("site: kvcache",)
KV = "evidence/kvcache/kv_methods.json"
KV_EQ = "evidence/kvcache/packed_equivalence.json"
VAB = "evidence/kvcache/v_ablation.json"


def _kv_best_sentence(v: str, b: dict) -> str:
    if b["ours"] == 1:
        return (f"Decoded token by token, our 1-bit K cache has the lowest held-out bits/byte of every cache at ≤ 1.25 "
                f"K bits per element: {v}.")
    return (f"Decoded token by token, a peer beats our 1-bit K cache at ≤ 1.25 K bits per element; ours reaches {v} "
            "bits/byte.")


def _m(path: str, name: str) -> tuple[str, str]:
    return (path, f"/measures/{name}/value")


def _beta_context(arts: dict) -> dict:
    m = arts[BETA]["measures"]["beta_srht"]
    return {"n": m["n"], "d": m["d"]}


def _centering_sentence(v: str, b: dict) -> str:
    verb = "lifts" if b["x"] > 0 else "does not lift"
    return f"DC-mean centering {verb} the learned rotation's β on this model: Δβ = {v}."


def _layers(n: int) -> dict[str, tuple[str, str]]:
    return {f"l{i}": (PPL, f"/tables/layer_ablation/rows/{i}/delta_bits_per_byte") for i in range(n)}


def specs(n_layers: int, layer0_cross_row: int | None) -> list[Spec]:
    """The claims, for a model with ``n_layers`` (the ablation claim names each layer)."""
    out = [
        Spec("m.corpus_domains", lambda v, b: f"The corpus has {v} real-text domains, read from pinned wheels.",
             "count", {"x": _m(CORPUS, "domains")}, integer=True),
        Spec("m.raw_beta", lambda v, b: f"Raw post-RoPE keys of the trained embedded OLMoE have β {v} "
             "(mean over layers, d = all KV heads).", "beta", {"x": _m(BETA, "beta_raw")},
             (T.MOMENT_RATIO_LE_ONE,)),
        Spec("m.srht_cos", lambda v, b: f"The SRHT brings the keys' mean one-bit cosine to {v} "
             "(the isotropic floor is √(2/π) ≈ 0.798).", "one_bit_cosine", {"x": _m(BETA, "cos_srht")},
             (T.SRHT_ACHIEVES_ISOTROPIC_FLOOR, T.COS_SIGN_QUANT_FORMULA), asserts="srht_floor",
             context=_beta_context, extra={"note": REAL_KEYS_NOTE}),
        Spec("m.srht_beta", lambda v, b: f"and their β to {v} (the floor is 2/π ≈ 0.637).", "beta",
             {"x": _m(BETA, "beta_srht")}, (T.SRHT_ACHIEVES_ISOTROPIC_FLOOR, T.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ),
             asserts="srht_floor", context=_beta_context, extra={"note": REAL_KEYS_NOTE}),
        Spec("m.learned_cos", lambda v, b: f"A learned L¹-max rotation (after DC-mean centering) lifts the "
             f"one-bit cosine to {v}.", "one_bit_cosine", {"x": _m(BETA, "cos_learned_centered")},
             (T.COS_SIGN_QUANT_FORMULA, T.MOMENT_RATIO_LE_ONE)),
        Spec("m.learned_beta", lambda v, b: f"Its β is {v}: the cosine and β are different scales.", "beta",
             {"x": _m(BETA, "beta_learned_centered")}, (T.MOMENT_RATIO_LE_ONE,)),
        Spec("m.centering_lift", _centering_sentence, "beta_difference", {"x": _m(BETA, "delta_beta")},
             (T.DC_PER_VECTOR_CEILINGS_EQ_ONE,), asserts="centering_lift"),
        Spec("m.random_init_cos", lambda v, b: f"A random-init model of the same architecture reaches a learned "
             f"cosine of {v}.", "one_bit_cosine", {"x": _m(BETA_RI, "cos_learned_centered")},
             (T.COS_SIGN_QUANT_FORMULA,)),
        Spec("m.gauge_logits", lambda v, b: f"The rotation alone (no quantization) changes logits on held-out text "
             f"by at most {v} (largest |Δ logit|).", "logit_delta", {"x": _m(PPL, "max_logit_delta_rotation_only")},
             (T.ATTENTION_SCORE_GAUGE_INVARIANCE, T.ROPE_FOLD_EXACT_IFF_COMMUTE), asserts="gauge_exact"),
        Spec("m.bpb_fp", lambda v, b: f"Full precision: {v} bits per byte on held-out text.", "bits_per_byte",
             {"x": _m(PPL, "bpb_fp")}),
        Spec("m.bpb_none", lambda v, b: f"1-bit K without a rotation: {v} bits per byte.", "bits_per_byte",
             {"x": _m(PPL, "bpb_1bit_none")}, (T.ONE_BIT_SCALE_OPTIMAL,)),
        Spec("m.bpb_srht", lambda v, b: f"1-bit K after the SRHT: {v} bits per byte.", "bits_per_byte",
             {"x": _m(PPL, "bpb_1bit_srht")}, (T.ONE_BIT_SCALE_OPTIMAL, T.ATTENTION_SCORE_GAUGE_INVARIANCE)),
        Spec("m.bpb_learned", lambda v, b: f"1-bit K after the learned rotation: {v} bits per byte.",
             "bits_per_byte", {"x": _m(PPL, "bpb_1bit_learned_centered")},
             (T.ONE_BIT_SCALE_OPTIMAL, T.ATTENTION_SCORE_GAUGE_INVARIANCE)),
        Spec("m.ppl_ratio", lambda v, b: f"The SRHT's perplexity is {v}× the learned rotation's.", "ratio",
             {"srht": _m(PPL, "ppl_1bit_srht"), "learned": _m(PPL, "ppl_1bit_learned_centered")},
             (T.ATTENTION_SCORE_GAUGE_INVARIANCE,), formula="srht / learned",
             compute=lambda b: b["srht"] / b["learned"]),
        Spec("m.ppl_degradation_ratio", lambda v, b: f"Its perplexity degradation is {v}× the learned rotation's.",
             "ratio", {"x": _m(PPL, "ppl_degradation_ratio_srht_over_learned")},
             (T.ATTENTION_SCORE_GAUGE_INVARIANCE,)),
        Spec("m.layer_ablation", lambda v, b: f"No single layer at 1 bit (learned rotation) costs more than {v} "
             "bits per byte.", "bits_per_byte", _layers(n_layers), (T.ONE_BIT_SCALE_OPTIMAL,),
             formula=_max_formula([f"l{i}" for i in range(n_layers)]),
             compute=lambda b: max(v for k, v in b.items() if k.startswith("l"))),
        Spec("m.kv_ratio_srht", lambda v, b: f"After 8192 tokens, 1-bit K + fp16 V holds {v}× less than fp16 K + V "
             "(SRHT: its metadata is a seed).", "ratio", {"x": _m(MEM, "kv_ratio_srht")}),
        Spec("m.kv_ratio_learned", lambda v, b: f"With the learned rotations stored in fp32 the ratio is {v}×.",
             "ratio", {"x": _m(MEM, "kv_ratio_learned")}),
        Spec("m.k_ratio", lambda v, b: f"Keys alone shrink {v}× (one bit per coordinate plus an fp16 scale per "
             "vector).", "ratio", {"x": _m(MEM, "k_ratio")}, (T.ONE_BIT_SCALE_OPTIMAL,)),
        Spec("m.metadata_fraction", lambda v, b: f"The means and rotations are {v} of the 1-bit cache at 8192 "
             "tokens.", "fraction", {"x": _m(MEM, "metadata_fraction")}, percent=True),
    ]
    out += [
        Spec("m.coact_gain", lambda v, b: f"On real router traces of the embedded model, the co-activation clustering "
             f"gain is {v} (mean over layers; learned on each document's first half, measured on its second).", "ratio",
             {"x": _m(COACT, "gain_mean")}, appears_in=COACT_SITE),
        Spec("m.coact_null", lambda v, b: f"The marginal-preserving shuffle null, re-clustered every time, gives {v}.",
             "ratio", {"x": _m(COACT, "null_mean")}, appears_in=COACT_SITE),
        Spec("m.coact_excess", lambda v, b: f"Excess over the null: {v} (mean over layers).", "ratio_difference",
             {"x": _m(COACT, "excess_mean")}, appears_in=COACT_SITE),
        Spec("m.coact_trap", lambda v, b: f"The seed's trap arm (Gaussian router inputs at the real input norm) gives a "
             f"gain of {v}.", "ratio", {"x": _m(COACT, "trap_gain_mean")}, appears_in=COACT_SITE),
        Spec("m.prefetch_cells", lambda v, b: f"Co-activation prefetch beats LFU in {v} of {int(b['cells'])} (layer, "
             "budget) cells.", "count", {"x": _m(PREFETCH, "cells_won"), "cells": _m(PREFETCH, "cells")},
             (T.UNIFORM_INDEPENDENT_HIT_PROBABILITY,), integer=True, appears_in=COACT_SITE),
        Spec("m.cache_lru_c16", lambda v, b: f"A 16-expert LRU cache misses {v} of expert activations "
             "(mean over layers).", "fraction", {"x": _m(CACHES, "lru_c16")},
             (T.UNIFORM_INDEPENDENT_HIT_PROBABILITY,), appears_in=COACT_SITE),
        Spec("m.cache_min_c16", lambda v, b: f"Belady's offline optimum at the same capacity misses {v}.", "fraction",
             {"x": _m(CACHES, "min_c16")}, appears_in=COACT_SITE),
        Spec("m.cache_lru_gap_c16", lambda v, b: f"LRU's gap to the optimum: {v}.", "fraction_difference",
             {"lru": _m(CACHES, "lru_c16"), "opt": _m(CACHES, "min_c16")}, formula="lru - opt",
             compute=lambda b: b["lru"] - b["opt"], appears_in=COACT_SITE),
        Spec("m.cache_coact_total_c16", lambda v, b: f"Co-activation prefetch at 16 experts loads {v} experts per "
             "activation, demand misses and prefetches together.", "ratio", {"x": _m(CACHES, "coact_total_c16")},
             appears_in=COACT_SITE),
        Spec("m.placement_cut_d8", lambda v, b: f"On 8 devices a load-capped co-activation placement changes distinct "
             f"devices per token by {v} against frequency-balanced placement.", "relative_change",
             {"x": _m(PLACE, "cut_load_capped_d8")}, (T.DISTINCT_DEVICES_LE_MIN,), percent=True, appears_in=COACT_SITE),
        Spec("m.placement_cv_d8", lambda v, b: f"Its load CV is {v}", "load_cv", {"x": _m(PLACE, "cv_load_capped_d8")},
             appears_in=COACT_SITE),
        Spec("m.placement_cv_freq_d8", lambda v, b: f"against {v} for frequency-balanced placement.", "load_cv",
             {"x": _m(PLACE, "cv_frequency_balanced_d8")}, appears_in=COACT_SITE),
        Spec("m.phase_eta_cells", lambda v, b: ("Keys cluster by the routing below them" if b["x"] >= 0.5 else
             "Keys do not cluster by the routing below them") + f": η² exceeds every label shuffle "
             f"in {v} of (layer, head) cells.", "fraction", {"x": _m(PHASE, "fraction_cells_above_null")},
             percent=True, appears_in=COACT_SITE),
        Spec("m.phase_retained", lambda v, b: f"sign(R·K) keeps at least {v} of the keys' linearly decodable routing "
             "signal in every layer (logistic regression).", "ratio_difference",
             {"x": _m(PHASE, "min_retained_learned")}, (T.COS_SIGN_QUANT_FORMULA,), appears_in=COACT_SITE),
        Spec("m.kv_best_low_bit", _kv_best_sentence, "bits_per_byte",
             {"x": _m(KV, "bpb_best_ours_low_bit"), "ours": _m(KV, "best_low_bit_is_ours")},
             (T.ATTENTION_SCORE_GAUGE_INVARIANCE, T.PACKED_SIGN_SCORE_BYTES), appears_in=KV_SITE),
        Spec("m.kv_fp16_decoded", lambda v, b: f"The fp16 cache decodes the same windows at {v} bits/byte.",
             "bits_per_byte", {"x": _m(KV, "bpb_fp16")}, appears_in=KV_SITE),
        Spec("m.kv_ratio_packed", lambda v, b: f"The packed 1-bit K cache (learned, centered; fp32 rotations) holds {v}× "
             "less than fp16 K + V after the memory window.", "ratio",
             {"x": _m(KV, "kv_ratio_1bit_learned_centered")}, (T.ONE_BIT_SCALE_OPTIMAL,), appears_in=KV_SITE),
        Spec("m.kv_ratio_fp16_rotations", lambda v, b: f"With its rotations stored in fp16 the ratio is {v}×.", "ratio",
             {"x": _m(KV, "kv_ratio_1bit_learned_centered_fp16r")}, appears_in=KV_SITE),
        Spec("m.kv_packed_exact", lambda v, b: f"In float64 the packed decode path matches the dequantize path to {v} "
             "(largest |Δ logit|).", "logit_delta", {"x": _m(KV_EQ, "max_logit_delta_float64")},
             (T.ATTENTION_SCORE_GAUGE_INVARIANCE, T.PACKED_SIGN_SCORE_BYTES), appears_in=KV_SITE),
        Spec("m.v_1bit_combined", lambda v, b: f"Measured from stored bytes, 1-bit K with 1-bit V compresses the KV "
             f"cache {v}× (the seed's ~3.5×).", "ratio", {"x": _m(VAB, "combined_ratio_1bit_v")},
             (T.ONE_BIT_SCALE_OPTIMAL,), appears_in=KV_SITE),
        Spec("m.v_1bit_bpb", lambda v, b: f"Its best 1-bit V (of no rotation, SRHT and two learned R_V) costs {v} "
             "bits/byte over 1-bit K with fp16 V.", "bits_per_byte",
             {"x": _m(VAB, "bpb_increase_best_1bit_v")}, appears_in=KV_SITE),
        Spec("m.v_2bit_bpb", lambda v, b: f"The best 2-bit V costs {v} bits/byte.", "bits_per_byte",
             {"x": _m(VAB, "bpb_increase_best_2bit_v")}, appears_in=KV_SITE),
        Spec("m.v_2bit_combined", lambda v, b: f"1-bit K with 2-bit V compresses the KV cache {v}×.", "ratio",
             {"x": _m(VAB, "combined_ratio_2bit_v")}, appears_in=KV_SITE),
    ]
    if layer0_cross_row is not None:
        out.append(Spec(
            "m.layer0_step_090", lambda v, b: f"Layer 0's centered rotation first reaches cosine 0.90 on held-out "
            f"keys at step {v}.", "steps", {"x": (CONV, f"/tables/first_crossing/rows/{layer0_cross_row}/step")},
            (T.BETA_LAST_MILE_QUADRATIC_HARDNESS,), integer=True))
    return out


def _max_formula(names: list[str]) -> str:
    expr = names[0]
    for n in names[1:]:
        expr = f"max({expr}, {n})"
    return expr


def _resolve(doc: dict, pointer: str):
    node = doc
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def state(value: float, spread: float | None, *, percent: bool = False, integer: bool = False) -> tuple[str, bool]:
    """(value as a claim string, fragile?) — the finest robust precision, as the module says.

    A value whose spread leaves fewer than ``MIN_SIG_FIGS`` significant digits (or, for integers,
    more than half a unit) is fragile and is stated as the range value ± spread, rounded outward,
    which the audit reads as a range."""
    scale = 100.0 if percent else 1.0
    v, s = value * scale, (spread or 0.0) * scale
    magnitude = math.floor(math.log10(abs(v))) if v else 0
    if spread is None:
        decimals = 0 if integer and float(v).is_integer() else SIG_FIGS_WITHOUT_SPREAD - 1 - magnitude
    else:
        decimals = MAX_SIG_FIGS - 1 - magnitude  # no claim is written with more digits than this
        while decimals > -6:
            if abs(v - round(v, decimals)) + s <= 0.5 * 10.0 ** (-decimals):
                break
            decimals -= 1
    if integer:
        decimals = min(decimals, 0)
    sig = magnitude + 1 + decimals
    suffix = "%" if percent else ""
    if decimals >= 0 and (sig >= MIN_SIG_FIGS or (integer and abs(v - round(v)) + s <= 0.5)):
        return f"{round(v, decimals):.{decimals}f}{suffix}", False
    wider = math.floor(math.log10(max(abs(v), s))) if max(abs(v), s) > 0 else 0
    shown = 0 if integer else max(MIN_SIG_FIGS - 1 - wider, 0)
    step = 10.0 ** (-shown)
    lo = math.floor((v - s) / step) * step
    hi = math.ceil((v + s) / step) * step
    if v >= 0 > lo:
        lo = 0.0  # the quantities stated as non-negative values stay non-negative
    return f"{lo:.{shown}f}–{hi:.{shown}f}{suffix}", True


def _spread_values(spread_doc: dict | None) -> dict[tuple[str, str], dict[str, float]]:
    """(artifact, pointer) → {"main": v, variant: v, ...} from the spread artifact."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    if spread_doc is None:
        return out
    variants = [r["variant"] for r in spread_doc["tables"]["variants"]["rows"]]
    for name, tab in spread_doc["tables"].items():
        if not name.startswith("fields_"):
            continue
        for row in tab["rows"]:
            out[(row["artifact"], row["pointer"])] = {k: row[k] for k in ("main", *variants)}
    return out


def build_claims(root: Path, evidence: Path) -> dict:
    """The measured-claims document for the artifacts under ``evidence``."""
    def art(rel: str) -> dict:
        return load_artifact(root / rel)

    arts = {rel: art(rel) for rel in (BETA, BETA_RI, CONV, PPL, MEM, CORPUS, COACT, PREFETCH, CACHES, PLACE, PHASE, KV, KV_EQ, VAB)
            if (root / rel).is_file()}
    spread_path = evidence / "spread" / "spread.json"
    spread_doc = load_artifact(spread_path) if spread_path.is_file() else None
    if spread_doc is not None and BETA in arts and (
            spread_doc["provenance"]["config"].get("model") != arts[BETA]["provenance"]["config"].get("model")):
        spread_doc = None  # measured for another model: says nothing about these numbers
    by_field = _spread_values(spread_doc)
    n_layers = len(arts[PPL]["tables"].get("layer_ablation", {}).get("rows", [])) if PPL in arts else 0
    cross = None
    if CONV in arts:
        for i, r in enumerate(arts[CONV]["tables"]["first_crossing"]["rows"]):
            if r["layer"] == 0 and r["variant"] == "learned_centered" and abs(r["threshold"] - 0.9) < 1e-9 \
                    and r["crossed"] == "yes":
                cross = i
    claims = []
    for spec in specs(n_layers, cross):
        if any(path not in arts for path, _ in spec.bindings.values()):
            continue
        bound = {k: float(_resolve(arts[p], ptr)) for k, (p, ptr) in spec.bindings.items()}
        value = spec.compute(bound) if spec.compute else bound["x"]
        spread = None
        if spread_doc is not None and all((p, ptr) in by_field for p, ptr in spec.bindings.values()):
            per = {k: by_field[(p, ptr)] for k, (p, ptr) in spec.bindings.items()}
            variants = [v for v in next(iter(per.values())) if v != "main"]
            def at(vname: str) -> float:
                b = {k: per[k][vname] for k in per}
                return spec.compute(b) if spec.compute else b["x"]
            spread = max(abs(at(v) - at("main")) for v in variants) if variants else 0.0
        text, fragile = state(value, spread, percent=spec.percent, integer=spec.integer)
        claim = {"id": spec.id, "sentence": spec.sentence(text, bound), "value": text, "quantity": spec.quantity,
                 "theorems": list(spec.theorems), "appears_in": list(spec.appears_in), "paper_facing": False}
        if spec.formula:
            claim["source"] = {"formula": spec.formula,
                               "bindings": {k: {"artifact": p, "pointer": ptr} for k, (p, ptr) in spec.bindings.items()}}
        else:
            p, ptr = spec.bindings["x"]
            claim["source"] = {"artifact": p, "pointer": ptr}
        if spec.asserts:
            claim["asserts"] = spec.asserts
        if spec.context:
            claim["context"] = spec.context(arts)
        claim.update(spec.extra)
        if spread is not None:
            claim["spread"] = {"value": spread, "artifact": "evidence/spread/spread.json"}
            if fragile:
                fragile_note = (f"fragile: its run-to-run spread (±{spread:.3g}) leaves fewer than "
                                f"{MIN_SIG_FIGS} significant digits, so it is stated as a range")
                claim["note"] = f"{claim['note']}; {fragile_note}" if claim.get("note") else fragile_note
        claims.append(claim)
    claims += [
        {"id": "m.lean_proved", "sentence": "Lean declarations proved (source level; see the kernel column): {}.",
         "lean": "/counts/proved"},
        {"id": "m.lean_deferred", "sentence": "Deferred, each with its reason: {}.", "lean": "/counts/deferred"},
    ]
    claims += _ladder_claims(root)
    lean_path = root / "site" / "_data" / "lean_status.json"
    lean = json.loads(lean_path.read_text()) if lean_path.is_file() else None
    out = []
    for c in claims:
        if "lean" in c:
            if lean is None:
                continue
            n = _resolve(lean, c["lean"])
            out.append({"id": c["id"], "sentence": c["sentence"].format(n), "value": str(n), "quantity": "count",
                        "source": {"lean_status": c["lean"]}, "theorems": [], "appears_in": ["site: lean"],
                        "paper_facing": False})
        else:
            out.append(c)
    return {"schema": "moegauge/claims", "schema_version": 1, "set": "measured",
            "description": "What this repository states about its own measurements on the embedded model; "
                           "generated by moegauge.lm.measured_claims from the artifacts (do not edit by hand). "
                           "Each value is stated at the precision its run-to-run spread supports.",
            "claims": out}


#: Rung verdicts the repository states: (ladder, rung, theorems the rung's artifact relies on,
#: sentence per verdict).
LADDER_CLAIMS = (
    ("gauge_g", "G1", (T.GAUGE_SCALE_COVARIANCE,), {
        "PASS": "Seed 000's gauge G ranks the 1-bit damage of the heads (ladder gauge_g, rung G1: {v}).",
        "KILL": "Seed 000's gauge G does not rank the 1-bit damage of the heads (ladder gauge_g, rung G1: {v}).",
        "INCONCLUSIVE": "Seed 000's gauge G is void as a predictor here (ladder gauge_g, rung G1: {v}; see its trigger).",
    }),
    ("gauge_kappa", "K1", (T.GAUGE_SCALE_COVARIANCE,), {
        "PASS": "The scale-invariant κ ranks the 1-bit damage of the heads (ladder gauge_kappa, rung K1: {v}).",
        "KILL": "The scale-invariant κ does not rank the 1-bit damage of the heads either (ladder gauge_kappa, rung K1: {v}).",
        "INCONCLUSIVE": "The scale-invariant κ is void as a predictor here (ladder gauge_kappa, rung K1: {v}).",
    }),
    ("ffn_rotation", "E0", (T.PARTICIPATION_RATIO_BOUNDS,), {
        "PASS": "Expert FFN weights are narrow at the checkpoint (ladder ffn_rotation, rung E0: {v}).",
        "KILL": "Expert FFN weights are not narrow at the checkpoint (ladder ffn_rotation, rung E0: {v}).",
    }),
    ("ffn_optimiser_probe", "E2", (T.MOMENT_RATIO_LE_ONE,), {
        "PASS": "A better search lifts expert-weight β to E1's gate: the ceiling was the search (ladder ffn_optimiser_probe, rung E2: {v}).",
        "KILL": "Neither Adam nor RAdam, at 4× the budget, lifts expert-weight β: a structure ceiling for this learner (ladder ffn_optimiser_probe, rung E2: {v}).",
        "INCONCLUSIVE": "Search or structure is not decided for expert-weight β-lift (ladder ffn_optimiser_probe, rung E2: {v}; see its trigger).",
    }),
    ("ffn_generation_probe", "E3", (T.ONE_BIT_SCALE_OPTIMAL,), {
        "PASS": "1-bit expert weights with a learned rotation keep first-token NLL within 10% (ladder ffn_generation_probe, rung E3: {v}).",
        "KILL": "1-bit expert weights inflate first-token NLL by more than 50% even with a learned rotation (ladder ffn_generation_probe, rung E3: {v}).",
        "INCONCLUSIVE": "The 1-bit generation probe does not decide (ladder ffn_generation_probe, rung E3: {v}; see its trigger).",
    }),
    ("stiefel_frustration", "F1", (T.MOMENT_RATIO_LE_ONE,), {
        "PASS": "Expert banks are frustrated: per-expert rotations beat a shared one, held out (ladder stiefel_frustration, rung F1: {v}).",
        "KILL": "No Stiefel frustration here: per-expert rotations do not beat a shared one, held out (ladder stiefel_frustration, rung F1: {v}).",
        "INCONCLUSIVE": "Stiefel frustration is not decided here (ladder stiefel_frustration, rung F1: {v}; see its trigger).",
    }),
)


def _ladder_claims(root: Path) -> list[dict]:
    out = []
    for ladder, rung, theorems, sentences in LADDER_CLAIMS:
        path = root / "ladders" / ladder / rung / "decision.json"
        if not path.is_file():
            continue
        verdict = json.loads(path.read_text(encoding="utf-8"))["verdict"]
        sentence = sentences.get(verdict, f"Ladder {ladder}, rung {rung}: {{v}}.").format(v=verdict)
        out.append({"id": f"m.ladder.{ladder}.{rung.lower()}", "sentence": sentence, "value": verdict,
                    "quantity": "verdict", "source": {"ladder": ladder, "rung": rung},
                    "theorems": list(theorems), "appears_in": ["site: ladders"], "paper_facing": False})
    return out


def write_measured_claims(root: Path, evidence: Path) -> Path:
    path = evidence / "claims" / "measured.json"
    atomic_write_text(path, json.dumps(build_claims(root, evidence), indent=1, ensure_ascii=False) + "\n")
    return path
