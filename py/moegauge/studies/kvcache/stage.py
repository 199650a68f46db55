"""The ``kvcache`` stage of ``moegauge run``: three artifacts under ``evidence/kvcache/``.

* ``kv_methods.json`` — every cache on the same held-out windows, decoded token by token: K and V
  bits per element and bytes after ``memory_seq_len`` tokens (counted from stored tensors), and
  held-out bits/byte per domain. Rows: fp16; transformers' QuantizedCache with HQQ (1/2/4 bits)
  and quanto (2/4 bits), each recorded with its error if it cannot run here; KIVI-style and
  QJL-style (our implementations); and ours, 1-bit K on packed bits (SRHT, learned, learned +
  centered, learned + centered with fp16 rotations, per-head learned rotations), V fp16.
* ``packed_equivalence.json`` — the packed decode path against the dequantize path it replaces:
  the largest |Δ logit| on held-out windows, float32 and float64, per transform and scope.
* ``v_ablation.json`` — seed 001 §S8: V at 1 and 2 bits with no rotation, the SRHT, a learned
  R_V (one-bit cosine) and a learned R_V fit to the attention-output error, with fp16 K and with
  1-bit learned K; bits/byte per domain and the combined KV compression measured from bytes.

Decode speed and peak memory are machine facts, not evidence: ``benchmarks/bench_decode.py``
measures them, as ratios to fp16 in one run.
"""

from __future__ import annotations

import copy
import math

import torch

from ... import theorems as T
from ...artifacts import measure, table
from ...cache.packed import PackedOneBitKCache, packed_attention
from ...lm.kcache import Fp16Cache, KeyTransform, OneBitKCache
from ...lm.model import cache_kwargs, kv_geometry
from ...lm.perplexity import LN2, score_windows
from .methods import Method, decode_score, kv_bits, record_kv, stored_bytes_after

#: The "lowest bits/byte" comparison is among caches with at most this many K bits per element,
#: compared at two decimals: QJL with m = d stores 1 bit + an fp16 norm per 64 = 1.25 bits plus an
#: 8-byte seed per layer (1.2501), and a seed must not be what keeps a peer out of the comparison.
LOW_K_BITS = 1.25
LOW_K_BITS_DECIMALS = 2


def at_low_k_bits(k_bits: float) -> bool:
    return round(k_bits, LOW_K_BITS_DECIMALS) <= LOW_K_BITS


def run_stage(study) -> None:
    model = study.model("trained")
    stage_methods(study, model)
    stage_packed_equivalence(study, model)
    stage_values(study, model)


# -- shared --------------------------------------------------------------------------------------
def decode_windows(study) -> tuple[list[str], torch.Tensor, dict[str, float]]:
    """Held-out windows of ``kv_decode_len`` tokens, ``kv_decode_windows`` per domain, stacked; and
    the bytes each domain's predicted tokens cover."""
    cfg = study.cfg
    names, parts, covered = [], [], {}
    for name, dom in sorted(study.corpus.domains.items()):
        w = study.encoder.windows(dom.heldout, cfg.kv_decode_len, cfg.kv_decode_windows)
        if w.tokens.shape[0] < cfg.kv_decode_windows:
            raise RuntimeError(f"domain {name} has fewer than {cfg.kv_decode_windows} held-out windows of "
                               f"{cfg.kv_decode_len} tokens")
        names += [name] * w.tokens.shape[0]
        parts.append(w.tokens)
        predicted = w.tokens.shape[0] * (w.tokens.shape[1] - 1)
        covered[name] = w.covered_bytes * predicted / w.tokens.numel()
    return names, torch.cat(parts), covered


def per_head_transforms(study, arm: str = "trained") -> list[KeyTransform]:
    """One learned, centered rotation per KV head (scope ``head_dim``), fit on the calibration keys
    of each head with the beta stage's learner and budget."""
    from ...lm.capture import load_capture
    from ...rotation import learn_rotation

    memo = getattr(study, "_kvcache_per_head", None)
    if memo is not None:
        return memo
    cfg = study.cfg
    layers, kv_heads, head_dim = kv_geometry(study.model(arm).config)
    out = []
    for layer in range(layers):
        calib = load_capture(study._capture_dir(arm, "calibration"), "k_post_rope", layer).to(torch.float64)
        calib = calib.reshape(calib.shape[0], kv_heads, head_dim)
        rots, means = [], []
        for h in range(kv_heads):
            res = learn_rotation(calib[:, h].float(), steps=cfg.rotation_steps, seed=cfg.seed + 1000 * (layer + 1) + h,
                                 center=True, parametrization=cfg.parametrization, lr=cfg.rotation_lr,
                                 batch_size=cfg.rotation_batch)
            rots.append(res.rotation.float())
            means.append(res.mean.float())
        out.append(KeyTransform(mean=torch.stack(means), rotation=torch.stack(rots), scope="head_dim",
                                label="learned_centered_per_head"))
    study._kvcache_per_head = out
    return out


def fp16_rotations(transforms: list[KeyTransform]) -> list[KeyTransform]:
    return [KeyTransform(mean=t.mean.half(), rotation=t.rotation.half(), scope=t.scope, label=f"{t.label}_fp16")
            for t in transforms]


def methods(study, model) -> list[Method]:
    """Every cache of the comparison, in table order."""
    from ...cache.hf_peers import PEER_SPECS, try_peer
    from ...cache.peers import KiviCache, QjlCache

    layers, kv_heads, head_dim = kv_geometry(model.config)
    out = [Method("fp16", "baseline", "fp16 K and V", lambda: Fp16Cache(layers))]
    for label, backend, nbits in PEER_SPECS:
        factory, error = try_peer(backend, nbits, model)
        out.append(Method(label, "peer", f"transformers QuantizedCache, {backend} backend, {nbits}-bit K and V "
                                         "(residual window of 128 fp tokens)", factory, error=error))
    out.append(Method("kivi_2bit", "peer", "KIVI-style (ours): 2-bit K per channel in groups of 32 tokens, 2-bit V "
                                           "per token, fp16 window of the last 128 tokens",
                      lambda: KiviCache(layers, bits=2, group_size=32, residual_length=128)))
    for factor in (1, 2):
        out.append(Method(f"qjl_m{factor}d", "peer",
                          f"QJL-style (ours): sign(S k) with S Gaussian {factor * head_dim}×{head_dim}, ‖k‖ in fp16, "
                          "V fp16",
                          (lambda m: lambda: QjlCache(layers, head_dim, m=m, seed=study.cfg.seed))(factor * head_dim)))
    ours = {
        "1bit_srht": (study._transforms("trained", "srht"), "1-bit K after the SRHT, V fp16"),
        "1bit_learned": (study._transforms("trained", "learned_uncentered"), "1-bit K after the learned rotation, V fp16"),
        "1bit_learned_centered": (study._transforms("trained", "learned_centered"),
                                  "1-bit K after DC-mean centering and the learned rotation, V fp16"),
    }
    ours["1bit_learned_centered_fp16r"] = (fp16_rotations(ours["1bit_learned_centered"][0]),
                                           "as 1bit_learned_centered with the rotations and means stored in fp16")
    ours["1bit_learned_centered_per_head"] = (per_head_transforms(study),
                                              "1-bit K, one learned centered rotation per KV head (d = head_dim)")
    ours["1bit_learned_centered_per_head_fp16r"] = (fp16_rotations(per_head_transforms(study)),
                                                    "as 1bit_learned_centered_per_head with its rotations and means in fp16")
    for label, (transforms, what) in ours.items():
        out.append(Method(label, "ours", f"{what} (packed decode path)",
                          (lambda t: lambda: PackedOneBitKCache(t))(transforms), context=packed_attention))
    return out


# -- kv_methods ----------------------------------------------------------------------------------
def stage_methods(study, model) -> None:
    cfg = study.cfg
    sc = {**study._stage_config("kvcache", "trained"), "kvcache": {"low_k_bits": LOW_K_BITS,
                                                                           "low_k_bits_decimals": LOW_K_BITS_DECIMALS}}
    path = study.evidence / "kvcache" / "kv_methods.json"
    if study._fresh(path, sc):
        study.log("  kv_methods: up to date")
        return
    layers, kv_heads, head_dim = kv_geometry(model.config)
    names, windows, covered = decode_windows(study)
    domains = sorted(covered)
    long = memory_window(study)
    kv = record_kv(model, long)
    ms = methods(study, model)
    runnable = [m for m in ms if m.factory is not None]
    rows, error_rows = [], []
    with study._bar(len(runnable) * windows.shape[0] * (windows.shape[1] - 1), "kvcache: decode, method by method") as bar:
        for m in ms:
            if m.factory is None:
                error_rows.append({"method": m.label, "what": m.what, "error": m.error})
                study.log(f"  {m.label}: cannot run here: {m.error}")
                continue
            parts = stored_bytes_after(kv, m)
            k_bits, v_bits = kv_bits(parts, long.shape[1], layers, kv_heads, head_dim)
            nll = decode_score(model, windows, m, progress=bar.update)
            row = {"method": m.label, "family": m.family, "what": m.what, "k_bits": k_bits, "v_bits": v_bits,
                   "bytes": sum(parts.values())}
            total = 0.0
            for d in domains:
                s = float(sum(float(nll[i]) for i, n in enumerate(names) if n == d))
                row[f"bpb_{d}"] = s / LN2 / covered[d]
                total += s
            row["bpb_all"] = total / LN2 / sum(covered.values())
            rows.append(row)
            study.log(f"  {m.label}: K {k_bits:.3f} bits, V {v_bits:.3f} bits, {row['bytes']} bytes, "
                      f"{row['bpb_all']:.4f} bits/byte")
    fp16 = next(r for r in rows if r["method"] == "fp16")
    for r in rows:
        r["kv_ratio"] = fp16["bytes"] / r["bytes"]
    low = [r for r in rows if at_low_k_bits(r["k_bits"])]
    best = min(low, key=lambda r: r["bpb_all"])
    best_ours = min((r for r in low if r["family"] == "ours"), key=lambda r: r["bpb_all"])
    low_peers = [r for r in low if r["family"] == "peer"]
    measures = {
        "decode_tokens": measure("count", windows.shape[0] * (windows.shape[1] - 1), "tokens predicted per method"),
        "memory_tokens": measure("count", long.shape[1], "tokens in the cache when bytes are counted"),
        "methods_run": measure("count", len(rows), "caches measured"),
        "methods_failed": measure("count", len(error_rows), "caches that could not run here (see table errors)"),
        "bpb_fp16": measure("bits_per_byte", fp16["bpb_all"], "fp16 cache, decoded, all domains"),
        "best_low_bit_is_ours": measure("count", int(best["family"] == "ours"),
                                        f"1 if the lowest bits/byte at ≤ {LOW_K_BITS} K bits per element is ours"),
        "bpb_best_ours_low_bit": measure("bits_per_byte", best_ours["bpb_all"],
                                         f"our best row at ≤ {LOW_K_BITS} K bits ({best_ours['method']})"),
    }
    for r in rows:
        measures[f"bpb_{r['method']}"] = measure("bits_per_byte", r["bpb_all"], f"{r['method']}: all domains, decoded")
        measures[f"k_bits_{r['method']}"] = measure("bits_per_element", r["k_bits"], f"{r['method']}: K bits per element")
        measures[f"kv_ratio_{r['method']}"] = measure("ratio", r["kv_ratio"], f"{r['method']}: fp16 KV bytes / its KV bytes")
    if low_peers:
        best_peer = min(low_peers, key=lambda r: r["bpb_all"])
        measures["bpb_best_peer_low_bit"] = measure("bits_per_byte", best_peer["bpb_all"],
                                                    f"the best peer at ≤ {LOW_K_BITS} K bits ({best_peer['method']})")
    cols = {"method": ("label", "cache"), "family": ("label", "ours, peer or baseline"),
            "what": ("label", "what it stores"),
            "k_bits": ("bits_per_element", "K bits per element, from stored tensors (all metadata included)"),
            "v_bits": ("bits_per_element", "V bits per element, from stored tensors"),
            "bytes": ("bytes", f"K + V bytes stored after {long.shape[1]} tokens"),
            "kv_ratio": ("ratio", "fp16 bytes / this cache's bytes")}
    for d in domains:
        cols[f"bpb_{d}"] = ("bits_per_byte", f"held-out bits/byte, {d}, decoded token by token")
    cols["bpb_all"] = ("bits_per_byte", "held-out bits/byte, all domains")
    tables = {"methods": table(
        f"Every cache on the same held-out windows ({cfg.kv_decode_windows} per domain × {cfg.kv_decode_len} tokens), "
        "decoded one token at a time; bytes after one prefill of the memory window.", cols, rows)}
    tables["errors"] = table("Caches that could not run on this machine, with the error they raised.", {
        "method": ("label", "cache"), "what": ("label", "what it would store"), "error": ("label", "error")}, error_rows)
    study._write(
        "kvcache", "kv_methods", sc,
        description=("The 1-bit K cache against its peers, measured side by side: K/V bits per element and bytes "
                     "from stored tensors, held-out bits/byte per domain under token-by-token decode."),
        measures=measures, tables=tables,
        relies_on=[T.ATTENTION_SCORE_GAUGE_INVARIANCE, T.PACKED_SIGN_SCORE_BYTES, T.ONE_BIT_SCALE_OPTIMAL,
                   T.QJL_SIGN_ESTIMATOR_MEAN],
        inputs=[(study._rotations_path("trained"), "rotation")])


def memory_window(study) -> torch.Tensor:
    """One window of ``memory_seq_len`` tokens (the memory stage's text), for byte counts."""
    text = b"\n".join(dom.heldout + dom.train for _, dom in sorted(study.corpus.domains.items()))
    w = study.encoder.windows(text, study.cfg.memory_seq_len, 1)
    if w.tokens.shape[0] == 0:
        raise RuntimeError(f"the corpus has fewer than {study.cfg.memory_seq_len} tokens")
    return w.tokens


# -- packed_equivalence --------------------------------------------------------------------------
@torch.no_grad()
def _max_logit_delta(model, windows: torch.Tensor, transforms: list[KeyTransform]) -> float:
    ref = model(input_ids=windows, **cache_kwargs(model, OneBitKCache(transforms))).logits
    with packed_attention(model):
        got = model(input_ids=windows, **cache_kwargs(model, PackedOneBitKCache(transforms))).logits
    return float((got.double() - ref.double()).abs().max())


def stage_packed_equivalence(study, model) -> None:
    sc = study._stage_config("kvcache_equivalence", "trained")
    path = study.evidence / "kvcache" / "packed_equivalence.json"
    if study._fresh(path, sc):
        study.log("  packed_equivalence: up to date")
        return
    layers, kv_heads, head_dim = kv_geometry(model.config)
    windows = torch.cat([study.encoder.windows(dom.heldout, study.cfg.seq_len, 1).tokens
                         for _, dom in sorted(study.corpus.domains.items())])
    cases = {
        ("identity", "all_kv_heads"): study._transforms("trained", "none"),
        ("srht", "all_kv_heads"): study._transforms("trained", "srht"),
        ("learned_centered", "all_kv_heads"): study._transforms("trained", "learned_centered"),
        ("identity", "head_dim"): [KeyTransform.identity(head_dim, "head_dim") for _ in range(layers)],
        ("srht", "head_dim"): [KeyTransform(mean=torch.zeros(head_dim), srht_seed=study.cfg.srht_seed, scope="head_dim",
                                            label="srht") for _ in range(layers)],
        ("learned_centered_per_head", "head_dim"): per_head_transforms(study),
    }
    double = copy.deepcopy(model).to(torch.float64)
    rows = []
    for (kind, scope), transforms in cases.items():
        d64 = [KeyTransform(mean=t.mean.double(), rotation=None if t.rotation is None else t.rotation.double(),
                            srht_seed=t.srht_seed, scope=t.scope, label=t.label) for t in transforms]
        rows.append({"transform": kind, "scope": scope,
                     "max_logit_delta_float32": _max_logit_delta(model, windows, transforms),
                     "max_logit_delta_float64": _max_logit_delta(double, windows, d64)})
    del double
    worst32 = max(r["max_logit_delta_float32"] for r in rows)
    worst64 = max(r["max_logit_delta_float64"] for r in rows)
    study._write(
        "kvcache", "packed_equivalence", sc,
        description=("The packed decode path (query rotated, scores from packed sign bits) against the dequantize "
                     f"path it replaces, on {windows.shape[0]} held-out windows of {windows.shape[1]} tokens: the "
                     "largest |Δ logit|. In float32 the two orders of summation can flip a near-tied MoE routing "
                     "decision at isolated positions; float64 shows the identity itself."),
        measures={"max_logit_delta_float32": measure("logit_delta", worst32, "largest |Δ logit| over cases, float32"),
                  "max_logit_delta_float64": measure("logit_delta", worst64, "largest |Δ logit| over cases, float64")},
        tables={"cases": table("Per transform and scope.", {
            "transform": ("label", "key transform"), "scope": ("label", "vectors the transform acts on"),
            "max_logit_delta_float32": ("logit_delta", "model and caches in float32"),
            "max_logit_delta_float64": ("logit_delta", "model and caches in float64")}, rows)},
        relies_on=[T.ATTENTION_SCORE_GAUGE_INVARIANCE, T.PACKED_SIGN_SCORE_BYTES, T.PACKED_SIGN_SCORE],
        inputs=[(study._rotations_path("trained"), "rotation")])


# -- v_ablation ----------------------------------------------------------------------------------
#: V ablation: calibration windows per domain whose attention inputs (queries, keys, values, and the
#: causal attention probabilities) the value rotations are fit on; the attention-error fit takes this
#: share of the key rotations' step budget (each of its steps costs a full pass over P·V).
V_CALIB_WINDOWS_PER_DOMAIN = 2
V_ATTENTION_STEPS_DIVISOR = 3


def stage_values(study, model) -> None:
    from ...cache.values import VAblationCalibration, calibrate_v_ablation, kv_compression, v_ablation_configs

    cfg = study.cfg
    sc = {**study._stage_config("kvcache_values", "trained"),
          "v_ablation": {"calibration_windows_per_domain": V_CALIB_WINDOWS_PER_DOMAIN,
                         "attention_steps": cfg.rotation_steps // V_ATTENTION_STEPS_DIVISOR, "heldout_windows_per_domain": cfg.gauge_ppl_windows}}
    path = study.evidence / "kvcache" / "v_ablation.json"
    if study._fresh(path, sc):
        study.log("  v_ablation: up to date")
        return
    calib = study._split_windows("calibration", cfg.calib_windows)
    per = cfg.calib_windows
    calib = torch.cat([calib[i * per : i * per + V_CALIB_WINDOWS_PER_DOMAIN] for i in range(len(study.corpus.domains))])
    fit = calibrate_v_ablation(model, calib, scope=cfg.scope, seed=cfg.seed, key_steps=1,
                               cosine_steps=cfg.rotation_steps,
                               attention_steps=cfg.rotation_steps // V_ATTENTION_STEPS_DIVISOR,
                               cosine_lr=cfg.rotation_lr, attention_lr=cfg.rotation_lr, log=study.log)
    # K uses the beta stage's learned, centered rotations (the ones every other 1-bit row uses).
    fit = VAblationCalibration(key_transforms=study._transforms("trained", "learned_centered"),
                               value_cosine=fit.value_cosine, value_attention=fit.value_attention, records=fit.records)
    configs = v_ablation_configs(fit, model.config, scope=cfg.scope, srht_seed=cfg.srht_seed)
    domains = sorted(study.corpus.domains)
    windows = {d: study.encoder.windows(study.corpus.domains[d].heldout, cfg.seq_len, cfg.gauge_ppl_windows)
               for d in domains}
    long = memory_window(study)
    layers, kv_heads, head_dim = kv_geometry(model.config)
    rows = []
    scored = {c.name: {} for c in configs}
    with study._bar(len(configs) * sum(w.tokens.numel() for w in windows.values()), "kvcache: V ablation") as bar:
        for c in configs:
            for d in domains:
                w = windows[d]
                s = score_windows(model, w.tokens, cfg.batch_size, c.cache,
                                  progress=lambda n: bar.update(n * w.tokens.shape[1]))
                scored[c.name][d] = (s.nll, w.covered_bytes * s.tokens / max(w.tokens.numel(), 1))
    kv = record_kv(model, long)
    for c in configs:
        cache = c.cache()
        with torch.no_grad():
            for i, (k, v) in enumerate(kv):
                cache.update(k, v, i)
        comp = kv_compression(cache)
        k_bits, v_bits = kv_bits(cache.stored_nbytes(), long.shape[1], layers, kv_heads, head_dim)
        row = {"config": c.name, "key": c.key, "value": c.value, "value_bits": c.value_bits,
               "k_bits": k_bits, "v_bits": v_bits, "kv_ratio": comp["kv_compression"]}
        nll = sum(scored[c.name][d][0] for d in domains)
        nbytes = sum(scored[c.name][d][1] for d in domains)
        for d in domains:
            row[f"bpb_{d}"] = scored[c.name][d][0] / LN2 / scored[c.name][d][1]
        row["bpb_all"] = nll / LN2 / nbytes
        rows.append(row)
        study.log(f"  {c.name}: K {k_bits:.3f} bits, V {v_bits:.3f} bits, KV ×{comp['kv_compression']:.2f}, "
                  f"{row['bpb_all']:.4f} bits/byte")
    by = {r["config"]: r for r in rows}
    base = by["K_1bit_learned__V_fp16"]
    fit_rows = []
    for key, rec in sorted(fit.records.items()):
        if isinstance(rec, dict):
            layer, what = key.split(".", 1)
            fit_rows.append({"layer": int(layer[len("layer"):]), "fit": what, **{k: float(v) for k, v in rec.items()}})

    def best(bits: int) -> dict:
        return min((r for r in rows if r["key"] == "1bit_learned" and r["value_bits"] == bits), key=lambda r: r["bpb_all"])

    measures = {
        "bpb_k1_vfp16": measure("bits_per_byte", base["bpb_all"], "1-bit learned K, fp16 V: all domains"),
        "bpb_kfp16_vfp16": measure("bits_per_byte", by["K_fp16__V_fp16"]["bpb_all"], "fp16 K and V: all domains"),
        "memory_tokens": measure("count", long.shape[1], "tokens in the cache when bytes are counted"),
    }
    for bits in (1, 2):
        b = best(bits)
        measures[f"bpb_best_{bits}bit_v"] = measure("bits_per_byte", b["bpb_all"], f"best {bits}-bit V with 1-bit K ({b['config']})")
        measures[f"bpb_increase_best_{bits}bit_v"] = measure(
            "bits_per_byte", b["bpb_all"] - base["bpb_all"], f"its bits/byte minus 1-bit K with fp16 V")
        measures[f"combined_ratio_{bits}bit_v"] = measure(
            "ratio", b["kv_ratio"], f"fp16 K+V bytes / 1-bit K + {bits}-bit V bytes ({b['config']}), from stored tensors")
    measures["combined_ratio_fp16_v"] = measure("ratio", base["kv_ratio"], "fp16 K+V bytes / 1-bit K + fp16 V bytes")
    cols = {"config": ("label", "K × V storage"), "key": ("label", "K: fp16 or 1-bit learned centered"),
            "value": ("label", "V: fp16 or bits × transform"), "value_bits": ("count", "V bits (16 = fp16)"),
            "k_bits": ("bits_per_element", "K bits per element, stored tensors"),
            "v_bits": ("bits_per_element", "V bits per element, stored tensors"),
            "kv_ratio": ("ratio", f"fp16 K+V bytes / this cache's bytes after {long.shape[1]} tokens")}
    for d in domains:
        cols[f"bpb_{d}"] = ("bits_per_byte", f"held-out bits/byte, {d}")
    cols["bpb_all"] = ("bits_per_byte", "held-out bits/byte, all domains")
    fit_cols = {"layer": ("index", "decoder layer"), "fit": ("label", "R_V fit to the attention-output error")}
    for k in sorted({k for r in fit_rows for k in r} - {"layer", "fit"}):
        fit_cols[k] = ("orthogonality_error" if k == "orthogonality_error" else "variance",
                       k.replace("_", " ") + (" (E‖P(V − V̂)‖² on calibration windows)" if k.startswith("error") else ""))
    study._write(
        "kvcache", "v_ablation", sc,
        description=("Seed 001 §S8's V-cache ablation: V at 1 and 2 bits with no rotation, the SRHT, a learned R_V "
                     "(one-bit cosine) and a learned R_V fit to the attention-output error (straight-through), with fp16 K "
                     "and with 1-bit learned K; held-out bits/byte per domain (prefill) and the combined KV compression "
                     "counted from stored bytes."),
        measures=measures,
        tables={"configs": table("Every K × V configuration.", cols, rows),
                "attention_fit": table("The attention-output fits of R_V per layer and bit width.", fit_cols, fit_rows)},
        relies_on=[T.ONE_BIT_SCALE_OPTIMAL, T.ATTENTION_SCORE_GAUGE_INVARIANCE],
        inputs=[(study._rotations_path("trained"), "rotation")])
