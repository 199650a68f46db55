"""The ``coactivation`` stage of ``moegauge run``: trace, the four tests, the trap arm, phase collapse.

Writes under ``evidence/coactivation/``: ``coactivation_structure``, ``coactivation_prefetch``,
``expert_cache_replay``, ``expert_placement`` (its maps: ``evidence/placements/eplb_<policy>_d<D>.json``),
``phase_collapse`` and ``coactivation_vs_seed``. The router trace itself (real text, every corpus
domain's held-out documents) is an intermediate under ``evidence/captures/trained/router_trace/``
in the documented format (:mod:`.trace`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ... import theorems as T
from ...artifacts import measure, table
from ...atomic import atomic_write_text
from ...errors import InputError
from . import phase, report
from .analysis import CoactivationConfig, analyse
from .routing import capture_trace, gaussian_trace, router_row_alignment, select_documents
from .trace import META, TENSORS, load_trace, save_trace

ARTIFACTS = ("coactivation_structure", "coactivation_prefetch", "expert_cache_replay", "expert_placement",
             "phase_collapse", "coactivation_vs_seed")
PHASE_REPRESENTATIONS = ("k", "sign_k", "sign_srht_k", "sign_learned_k", "sign_learned_centered_k")
#: Decoders of the phase-collapse test; the first is primary (its verdict is the headline).
DECODERS = {"logistic": phase.logistic_accuracy, "centroid": phase.nearest_centroid_accuracy}
NULL_FITS = {"logistic": 1, "centroid": 3}  # label-shuffled fits per representation (chance)


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def trace_for(study, cfg: CoactivationConfig) -> tuple[Path, "RouterTrace"]:  # noqa: F821
    """The trained model's router trace, captured once per (model, corpus, code, config)."""
    out = study.captures / "trained" / "router_trace"
    key = _key({"model": study.model_identity(), "corpus": study.corpus.sha256, "code": study._code,
                "tokens_per_domain": cfg.tokens_per_domain, "seq_len": cfg.seq_len})
    meta = out / META
    if not study.force and meta.is_file():
        try:
            if json.loads(meta.read_text()).get("key") == key:
                study.log("  router trace: up to date")
                return out, load_trace(out)
        except (json.JSONDecodeError, InputError):
            pass
    lm = study.loaded()
    docs = select_documents(study.corpus, study.encoder, cfg.tokens_per_domain)
    total = sum(m["tokens"] for m, _ in docs)
    with study._bar(total, "router trace") as bar:
        trace = capture_trace(lm.model, docs, cfg.seq_len, cfg.batch_size, lm.source, progress=bar.update)
    save_trace(trace, out, extra={"key": key})
    study.log(f"  router trace: {trace.tokens} tokens, {len(trace.documents)} documents → {out.relative_to(study.root)}")
    return out, trace


def phase_collapse(study, shuffles: int, seed: int) -> dict:
    """η² per (layer ≥ 1, head) and the decodability of the routing label (logistic regression and
    nearest centroid) from K and its 1-bit forms, each against label-shuffled fits."""
    from ...lm.capture import load_capture
    from ...lm.model import kv_geometry

    arm = "trained"
    n_layers, heads, head_dim = kv_geometry(study.model(arm).config)
    if study.cfg.scope != "all_kv_heads":
        raise InputError("config", "phase collapse needs scope all_kv_heads (one rotation over every KV head)")
    srht = study._transforms(arm, "srht")
    learned = study._transforms(arm, "learned_uncentered")
    centered = study._transforms(arm, "learned_centered")
    rng = np.random.default_rng(seed)
    eta_rows, decode_rows, retained_rows = [], [], []
    for layer in range(1, n_layers):
        data = {}
        for split in ("calibration", "heldout"):
            k = study._keys(arm, split, layer)  # [n, H·hd] float64
            lab = load_capture(study._capture_dir(arm, split), "router_topk", layer - 1)[:, 0].numpy().astype(np.int64)
            kf = k.to(torch.float32)
            reps = {"k": k.numpy(), "sign_k": np.sign(k.numpy()),
                    "sign_srht_k": np.sign(srht[layer].forward(kf).numpy()),
                    "sign_learned_k": np.sign(learned[layer].forward(kf).numpy()),
                    "sign_learned_centered_k": np.sign(centered[layer].forward(kf).numpy())}
            data[split] = (reps, lab)
        reps_h, lab_h = data["heldout"]
        kh = reps_h["k"].reshape(-1, heads, head_dim)
        for h in range(heads):
            e = phase.eta_squared(kh[:, h], lab_h)
            null = np.array([phase.eta_squared(kh[:, h], rng.permutation(lab_h)) for _ in range(shuffles)])
            eta_rows.append({"layer": layer, "head": h, "eta2": e, "null_mean": float(null.mean()),
                             "null_max": float(null.max()), "eta2_over_null": e / float(null.mean())})
        reps_c, lab_c = data["calibration"]
        majority = float((lab_h == np.bincount(lab_c).argmax()).mean())
        acc: dict[tuple[str, str], tuple[float, float]] = {}
        for name in PHASE_REPRESENTATIONS:
            row = {"layer": layer, "representation": name, "majority_accuracy": majority}
            for dec, fn in DECODERS.items():
                a = fn(reps_c[name], lab_c, reps_h[name], lab_h)
                null = float(np.mean([fn(reps_c[name], rng.permutation(lab_c), reps_h[name], lab_h)
                                      for _ in range(NULL_FITS[dec])]))
                acc[(dec, name)] = (a, null)
                row[f"{dec}_accuracy"], row[f"{dec}_null_accuracy"] = a, null
            decode_rows.append(row)
        for dec in DECODERS:
            fa, fn0 = acc[(dec, "k")]
            span = fa - fn0

            def kept(name, dec=dec, span=span):
                a, null = acc[(dec, name)]
                return (a - null) / span if span > 0 else 0.0

            retained_rows.append({"layer": layer, "decoder": dec, "retained_sign": kept("sign_k"),
                                  "retained_srht": kept("sign_srht_k"), "retained_learned": kept("sign_learned_k"),
                                  "retained_learned_centered": kept("sign_learned_centered_k"),
                                  "float_accuracy_over_null": span})
    verdict = {dec: phase.verdicts(eta_rows, [r for r in retained_rows if r["decoder"] == dec]) for dec in DECODERS}
    return {"eta": eta_rows, "decode": decode_rows, "retained": retained_rows, "verdict": verdict}


def phase_artifact(write, res: dict, shuffles: int, inputs=()) -> Path:
    v = res["verdict"]["logistic"]
    vc = res["verdict"]["centroid"]
    return write(
        "phase_collapse",
        description=("Seed 000's phase-collapse thesis, made falsifiable on the trained embedded model. Label of a token "
                     "at layer ℓ ≥ 1: its top-1 expert at layer ℓ − 1. η² = between-label share of each head's key "
                     f"variance (held-out keys) against {shuffles} label shuffles; decodability = held-out accuracy "
                     "(fit on calibration tokens) of logistic regression (primary) and nearest centroid from K and its "
                     "1-bit forms, against the same classifier fit on shuffled labels. Verdict rules fixed in "
                     "moegauge.studies.coactivation.phase. Verdict (logistic regression): " + v["sentence"]
                     + " With the nearest-centroid decoder instead: " + vc["sentence"]),
        measures={
            "fraction_cells_above_null": measure("fraction", v["fraction_cells_above_null"],
                                                 "(layer, head) cells whose η² exceeds every label shuffle"),
            "median_eta2_over_null": measure("ratio", v["median_eta2_over_null"], "median over cells of η² / null mean"),
            "phase_collapse_present": measure("count", int(v["phase_collapse_present"]), "1 if the presence rule holds"),
            "min_retained_learned": measure("ratio_difference", v["min_retained_learned"],
                                            "smallest share (over layers) of the float keys' decodable routing signal kept by sign(R·K)"),
            "max_retained_learned": measure("ratio_difference", v["max_retained_learned"],
                                            "largest share kept by sign(R·K)"),
            "one_bit_destroys_routing_falsified": measure("count", int(v["one_bit_destroys_routing"] == "falsified"),
                                                          "1 if the falsification rule holds"),
            "one_bit_destroys_routing_supported": measure("count", int(v["one_bit_destroys_routing"] == "supported"),
                                                          "1 if the support rule holds"),
            "centroid_min_retained_learned": measure("ratio_difference", vc["min_retained_learned"],
                                                     "nearest-centroid decoder: smallest share kept by sign(R·K)"),
            "centroid_one_bit_destroys_routing_falsified": measure(
                "count", int(vc["one_bit_destroys_routing"] == "falsified"), "nearest-centroid decoder: 1 if falsified"),
        },
        tables={
            "eta_squared": table("η² of each head's held-out keys by the previous layer's top-1 expert.", {
                "layer": ("index", "layer ℓ (label from ℓ − 1)"), "head": ("index", "KV head"),
                "eta2": ("fraction", "η²"), "null_mean": ("fraction", "label-shuffle η², mean"),
                "null_max": ("fraction", "label-shuffle η², largest"), "eta2_over_null": ("ratio", "η² / null mean")},
                res["eta"]),
            "decoding": table("Held-out accuracy of decoding the previous layer's top-1 expert.", {
                "layer": ("index", "layer ℓ"), "representation": ("label", "what the classifier sees"),
                "logistic_accuracy": ("fraction", "logistic regression"),
                "logistic_null_accuracy": ("fraction", "logistic regression fit on shuffled labels (measured chance)"),
                "centroid_accuracy": ("fraction", "nearest centroid"),
                "centroid_null_accuracy": ("fraction", "nearest centroid fit on shuffled labels"),
                "majority_accuracy": ("fraction", "always the most frequent calibration label")}, res["decode"]),
            "retained": table("Share of the float keys' decodable signal (accuracy above its null) that each 1-bit form keeps.", {
                "layer": ("index", "layer ℓ"), "decoder": ("label", "classifier"), "retained_sign": ("ratio_difference", "sign(K)"),
                "retained_srht": ("ratio_difference", "sign(SRHT K)"), "retained_learned": ("ratio_difference", "sign(R K)"),
                "retained_learned_centered": ("ratio_difference", "sign(R (K − μ))"),
                "float_accuracy_over_null": ("fraction_difference", "float K: accuracy − null accuracy")}, res["retained"]),
        },
        relies_on=(T.COS_SIGN_QUANT_FORMULA, T.ATTENTION_SCORE_GAUGE_INVARIANCE), inputs=inputs)


def _maps_current(maps_dir: Path, placement_artifact: Path) -> bool:
    """The EPLB maps exist and were written by the run that wrote the placement artifact."""
    maps = sorted(maps_dir.glob("eplb_*.json"))
    try:
        prov = json.loads(placement_artifact.read_text())["provenance"]
        return bool(maps) and all(json.loads(m.read_text()).get("provenance") == prov for m in maps)
    except (OSError, ValueError, KeyError):
        return False


def run_stage(study) -> None:
    cfg = CoactivationConfig(seed=study.cfg.seed, seq_len=study.cfg.seq_len, batch_size=study.cfg.batch_size,
                             tokens_per_domain=study.cfg.coactivation_tokens_per_domain,
                             shuffles=study.cfg.coactivation_shuffles)
    sc = {**study._stage_config("coactivation", "trained"), "coactivation": cfg.as_dict()}
    out_dir = study.evidence / "coactivation"
    reported = study.root / "evidence" / "claims" / "reported.json"  # the seeds' numbers, when this is the repo
    paths = [out_dir / f"{a}.json" for a in ARTIFACTS if a != "coactivation_vs_seed" or reported.is_file()]
    # the trace is a git-ignored intermediate: (re)make it first (a fresh clone reproduces it byte for
    # byte), so the artifacts' input hashes can say whether the tests need rerunning
    trace_dir, trace = trace_for(study, cfg)
    if all(study._fresh(p, sc) for p in paths) and _maps_current(study.evidence / "placements", paths[3]):
        study.log("  up to date")
        return
    trace_inputs = [(trace_dir / META, "capture_manifest"), (trace_dir / TENSORS, "capture")]
    study.log(f"  tests 1–4 on {trace.tokens} tokens × {len(trace.layers)} layers")
    res = analyse(trace, cfg)
    study.log("  Gaussian trap arm")
    trap = analyse(gaussian_trace(study.loaded().model, trace, seed=cfg.seed + 7), cfg, tests=("structure",))
    align = router_row_alignment(study.loaded().model, trace.layers)
    hidden = study.loaded().model.config.hidden_size
    for row, a in zip(trap["structure"], align):
        row["router_row_abs_cos"] = a
        row["random_rows_abs_cos"] = float(np.sqrt(2.0 / (np.pi * hidden)))

    def write(artifact_id, **kw):
        kw["inputs"] = list(kw.get("inputs", ()))
        return study._write("coactivation", artifact_id, sc, **kw)

    report.structure_artifact(write, res, trap, cfg.shuffles, inputs=trace_inputs)
    report.prefetch_artifact(write, res, inputs=trace_inputs)
    report.cache_artifact(write, res, inputs=trace_inputs)
    placement_path = report.placement_artifact(write, res, inputs=trace_inputs)
    from ...artifacts import load_artifact

    prov = load_artifact(placement_path)["provenance"]
    maps_dir = study.evidence / "placements"
    maps_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in report.eplb_documents(res, trace.layers, trace.num_experts,
                                           str(placement_path.relative_to(study.root)), prov).items():
        atomic_write_text(maps_dir / name, json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
    study.log("  phase collapse (keys by routing group; 1-bit decodability)")
    pc = phase_collapse(study, cfg.shuffles, cfg.seed)
    rot = [(study._rotations_path("trained"), "rotation")] + study._capture_inputs("trained")
    phase_artifact(write, pc, cfg.shuffles, inputs=rot)
    if reported.is_file():
        report.seed_comparison_artifact(write, res, reported, inputs=trace_inputs)
    else:
        study.log(f"  no {reported.relative_to(study.root)}: the seed side-by-side is not written")
    study.log("  " + pc["verdict"]["logistic"]["sentence"])
