"""Artifacts of the co-activation study, from :func:`analysis.analyse` results (no numbers typed here).

Every artifact is ``kind = "coactivation"``; ``write(artifact_id, description=…, measures=…,
tables=…, relies_on=…)`` is supplied by the caller (the main job writes under ``evidence/``, the
CLI under ``runs/``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ... import theorems as T
from ...artifacts import measure, table

Writer = Callable[..., Path]

STRUCT_COLS = {"layer": ("index", "MoE layer of the model"),
               "gini": ("fraction", "Gini of the off-diagonal co-activation counts (eval half)"),
               "gain": ("ratio", "clustering gain: within-group co-firing / marginal prediction (groups from the learn half)"),
               "null_mean": ("ratio", "shuffle null: mean gain over the column shuffles (re-clustered each time)"),
               "null_std": ("ratio_difference", "shuffle null: sample std of the gain over the shuffles (a spread, ≥ 0)"),
               "null_min": ("ratio", "shuffle null: smallest gain"),
               "null_max": ("ratio", "shuffle null: largest gain"),
               "excess": ("ratio_difference", "gain − null mean")}

GAIN_DEFINITION = (
    "Clustering gain: experts are grouped into equal groups of {g} by greedy growth on the affinity "
    "C[i,j] − n_i n_j / T (learn half) refined by swaps; gain = Σ_{{i<j same group}} C_eval[i,j] / "
    "Σ_{{i<j same group}} n_i n_j / T_eval. Shuffle null: each expert's firing column permuted "
    "independently within each half ({s} shuffles), groups re-learned on the shuffled learn half.")


def _mean(rows, key):
    return float(np.mean([r[key] for r in rows]))


def structure_artifact(write: Writer, res: dict, trap: dict | None, shuffles: int, inputs=()) -> Path:
    rows = res["structure"]
    measures = {
        "gain_mean": measure("ratio", _mean(rows, "gain"), "clustering gain, mean over layers"),
        "gain_min": measure("ratio", min(r["gain"] for r in rows), "clustering gain, smallest layer"),
        "gain_max": measure("ratio", max(r["gain"] for r in rows), "clustering gain, largest layer"),
        "null_mean": measure("ratio", _mean(rows, "null_mean"), "shuffle-null gain, mean over layers"),
        "excess_mean": measure("ratio_difference", _mean(rows, "excess"), "gain − null, mean over layers"),
        "excess_min": measure("ratio_difference", min(r["excess"] for r in rows), "gain − null, smallest layer"),
        "gini_mean": measure("fraction", _mean(rows, "gini"), "co-activation Gini, mean over layers"),
        "learn_tokens": measure("count", res["learn_tokens"], "tokens in the learn halves"),
        "eval_tokens": measure("count", res["eval_tokens"], "tokens in the eval halves"),
        "shuffles": measure("count", shuffles, "shuffle-null repetitions per layer"),
        "group_size": measure("count", res["group_size"], "experts per co-activation group"),
    }
    tables = {"layers": table("Per layer: co-activation Gini, clustering gain, shuffle null and excess "
                              "(real router traces).", STRUCT_COLS, rows)}
    if trap is not None:
        trows = trap["structure"]
        measures["trap_gain_mean"] = measure("ratio", _mean(trows, "gain"),
                                             "Gaussian trap arm: clustering gain, mean over layers (the seed's wrong negative)")
        measures["trap_excess_mean"] = measure("ratio_difference", _mean(trows, "excess"),
                                               "Gaussian trap arm: gain − null, mean over layers")
        cols = dict(STRUCT_COLS)
        if trows and "router_row_abs_cos" in trows[0]:
            cols["router_row_abs_cos"] = ("fraction", "mean |cos| between the router's expert rows (what Gaussian inputs can see)")
            cols["random_rows_abs_cos"] = ("fraction", "the same for i.i.d. random rows, √(2/(π d))")
            measures["trap_router_row_abs_cos_mean"] = measure(
                "fraction", _mean(trows, "router_row_abs_cos"), "mean |cos| between router rows, mean over layers")
        tables["gaussian_trap"] = table("The seed's trap arm: the same routers fed i.i.d. Gaussian inputs at each "
                                        "router's real input RMS norm. The seed saw gain ≈ 1 there; isotropic inputs "
                                        "co-route only experts whose router rows are aligned.", cols, trows)
    return write("coactivation_structure",
                 description="Test 1 of seed 004 on real router traces: co-activation structure, clustering gain "
                             "and the marginal-preserving shuffle null. "
                             + GAIN_DEFINITION.format(g=res["group_size"], s=shuffles),
                 measures=measures, tables=tables, relies_on=(), inputs=inputs)


def prefetch_summary(res: dict) -> tuple[list[dict], list[dict]]:
    """(every (layer, budget) cell with its Δ and win, the means over layers per budget)."""
    rows = [{**r, "delta": r["coact"] - r["lfu"], "coact_wins": int(r["coact"] > r["lfu"])} for r in res["prefetch"]]
    per_budget = []
    for b in res["budgets"]:
        sel = [r for r in rows if r["budget"] == b]
        per_budget.append({"budget": b, "lfu": _mean(sel, "lfu"), "coact": _mean(sel, "coact"),
                           "delta": _mean(sel, "delta"), "layers_won": sum(r["coact_wins"] for r in sel)})
    return rows, per_budget


def prefetch_artifact(write: Writer, res: dict, inputs=()) -> Path:
    rows, per_budget = prefetch_summary(res)
    cols = {"budget": ("count", "prefetch budget B (experts)"), "lfu": ("fraction", "LFU hit rate"),
            "coact": ("fraction", "CO-ACT hit rate"), "delta": ("fraction_difference", "CO-ACT − LFU")}
    won = sum(r["coact_wins"] for r in rows)
    return write("coactivation_prefetch",
                 description="Test 2 of seed 004: next-token prefetch hit rate (|prefetched ∩ next token's experts| / k) "
                             "of LFU against co-activation prefetch, learned on each document's first half and scored "
                             "on consecutive token pairs of its second half. Uniform independent requests would give "
                             "B/N to every predictor.",
                 measures={"cells_won": measure("count", won, "(layer, budget) cells where CO-ACT beats LFU"),
                           "cells": measure("count", len(rows), "(layer, budget) cells"),
                           "pairs": measure("count", res["pairs"], "eval token pairs scored")},
                 tables={"budgets": table("Mean over layers, per budget.", {**cols, "layers_won": ("count", "layers won by CO-ACT")},
                                          per_budget),
                         "cells": table("Every (layer, budget) cell.", {"layer": ("index", "MoE layer"), **cols,
                                        "coact_wins": ("count", "1 if CO-ACT beats LFU")}, rows)},
                 relies_on=(T.UNIFORM_INDEPENDENT_HIT_PROBABILITY,), inputs=inputs)


CACHE_COLS = {"capacity": ("count", "cache capacity C (experts resident)"),
              "lru": ("fraction", "LRU demand misses / activations"),
              "lfu_static": ("fraction", "LFU-static (C − k pinned + k staging) misses / activations"),
              "lfu_pinned_c": ("fraction", "seed-style LFU-static, C pinned, misses streamed outside the cache"),
              "coact_demand": ("fraction", "co-activation prefetch: demand misses / activations"),
              "coact_total": ("ratio", "co-activation prefetch: (demand misses + prefetch loads) / activations"),
              "min": ("fraction", "Belady's MIN (offline optimum) misses / activations"),
              "lru_gap_to_min": ("fraction_difference", "LRU − MIN"),
              "lfu_static_gap_to_min": ("fraction_difference", "LFU-static − MIN"),
              "coact_total_gap_to_min": ("ratio_difference", "co-activation total loads − MIN")}


def cache_summary(res: dict) -> tuple[list[dict], list[dict]]:
    """(every (layer, capacity) cell as rates per activation, the means over layers per capacity)."""
    rows = []
    for r in res["caches"]:
        act = r["activations"]
        row = {"layer": r["layer"], "capacity": r["capacity"], "lru": r["lru"] / act, "lfu_static": r["lfu_static"] / act,
               "lfu_pinned_c": r["lfu_pinned_c"] / act, "coact_demand": r["coact_demand"] / act,
               "coact_total": (r["coact_demand"] + r["coact_prefetch_loads"]) / act, "min": r["min"] / act}
        row["lru_gap_to_min"] = row["lru"] - row["min"]
        row["lfu_static_gap_to_min"] = row["lfu_static"] - row["min"]
        row["coact_total_gap_to_min"] = row["coact_total"] - row["min"]
        rows.append(row)
    means = []
    for c in res["capacities"]:
        sel = [r for r in rows if r["capacity"] == c]
        means.append({"capacity": c, **{k: _mean(sel, k) for k in CACHE_COLS if k != "capacity"}})
    return rows, means


def cache_artifact(write: Writer, res: dict, inputs=()) -> Path:
    rows, means = cache_summary(res)
    measures = {}
    for m in means:
        c = m["capacity"]
        for k in ("lru", "lfu_static", "coact_demand", "coact_total", "min", "lru_gap_to_min"):
            q = CACHE_COLS[k][0]
            measures[f"{k}_c{c}"] = measure(q, m[k], f"capacity {c}, mean over layers: {CACHE_COLS[k][1]}")
    return write("expert_cache_replay",
                 description="Test 3 of seed 004: a capacity-C expert cache replayed on the eval trace (every token needs "
                             "its k experts resident at once). LRU, LFU-static, co-activation prefetch (its prefetch loads "
                             "counted) and Belady's offline optimum MIN, which evicts the resident experts the current "
                             "token does not use whose next use is farthest; no policy loads fewer experts than MIN.",
                 measures=measures,
                 tables={"capacities": table("Mean over layers, per capacity.", CACHE_COLS, means),
                         "cells": table("Every (layer, capacity) cell.", {"layer": ("index", "MoE layer"), **CACHE_COLS}, rows)},
                 relies_on=(T.UNIFORM_INDEPENDENT_HIT_PROBABILITY,), inputs=inputs)


def placement_summary(res: dict) -> list[dict]:
    """Per device count, the means over layers of every placement's devices per token and load CV."""
    rows = res["placement"]
    means = []
    for d in res["devices"]:
        def m(policy, key, d=d):
            return _mean([r for r in rows if r["devices"] == d and r["policy"] == policy], key)
        fb = m("frequency_balanced", "devices_per_token")
        means.append({"devices": d, "random": m("random", "devices_per_token"), "frequency_balanced": fb,
                      "coact_unconstrained": m("coact_unconstrained", "devices_per_token"),
                      "coact_load_capped": m("coact_load_capped", "devices_per_token"),
                      "cut_unconstrained": m("coact_unconstrained", "devices_per_token") / fb - 1.0,
                      "cut_load_capped": m("coact_load_capped", "devices_per_token") / fb - 1.0,
                      "cv_frequency_balanced": m("frequency_balanced", "load_cv"),
                      "cv_unconstrained": m("coact_unconstrained", "load_cv"),
                      "cv_load_capped": m("coact_load_capped", "load_cv")})
    return means


def placement_artifact(write: Writer, res: dict, inputs=()) -> Path:
    rows = res["placement"]
    means = placement_summary(res)
    cols = {"devices": ("count", "devices D"),
            "random": ("devices_per_token", "random placement: distinct devices per token"),
            "frequency_balanced": ("devices_per_token", "frequency-balanced (greedy LPT): devices per token"),
            "coact_unconstrained": ("devices_per_token", "co-activation, unconstrained: devices per token"),
            "coact_load_capped": ("devices_per_token", "co-activation, load-capped: devices per token"),
            "cut_unconstrained": ("relative_change", "unconstrained vs frequency-balanced devices per token"),
            "cut_load_capped": ("relative_change", "load-capped vs frequency-balanced devices per token"),
            "cv_frequency_balanced": ("load_cv", "frequency-balanced load CV"),
            "cv_unconstrained": ("load_cv", "unconstrained load CV"),
            "cv_load_capped": ("load_cv", "load-capped load CV")}
    measures = {}
    for r in means:
        d = r["devices"]
        measures[f"cut_load_capped_d{d}"] = measure("relative_change", r["cut_load_capped"],
                                                    f"D = {d}: load-capped co-activation vs frequency-balanced devices/token")
        measures[f"cut_unconstrained_d{d}"] = measure("relative_change", r["cut_unconstrained"],
                                                      f"D = {d}: unconstrained co-activation vs frequency-balanced devices/token")
        measures[f"cv_frequency_balanced_d{d}"] = measure("load_cv", r["cv_frequency_balanced"], f"D = {d}: frequency-balanced load CV")
        measures[f"cv_load_capped_d{d}"] = measure("load_cv", r["cv_load_capped"], f"D = {d}: load-capped load CV")
        measures[f"cv_unconstrained_d{d}"] = measure("load_cv", r["cv_unconstrained"], f"D = {d}: unconstrained load CV")
    return write("expert_placement",
                 description="Test 4 of seed 004: static expert placement for expert-parallel inference (N/D experts per "
                             "device, learned on the learn half, scored on the eval half) by distinct devices per token "
                             "(≤ min(k, D)) and load CV. The load-capped placement may not exceed the frequency-balanced "
                             "placement's largest device load. Every placement is also written as a DeepSeek-EPLB expert-location map (phy2log, log2phy, logcnt) under evidence/placements/.",
                 measures=measures,
                 tables={"devices": table("Mean over layers, per device count.", cols, means),
                         "cells": table("Every (layer, D, policy) cell.", {
                             "layer": ("index", "MoE layer"), "devices": ("count", "devices D"),
                             "policy": ("label", "placement"), "devices_per_token": ("devices_per_token", "distinct devices per token"),
                             "load_cv": ("load_cv", "per-device load CV")}, rows)},
                 relies_on=(T.DISTINCT_DEVICES_LE_MIN,), inputs=inputs)


def eplb_documents(res: dict, layers: list[int], num_experts: int, source_artifact: str, provenance: dict) -> dict[str, dict]:
    """{file name: document} of every placement in DeepSeek EPLB's map form (schema expert_placement v1)."""
    from .placement import eplb_maps

    out = {}
    for (policy, d), per_layer in sorted(res["placements"].items()):
        maps = eplb_maps(per_layer, d)
        out[f"eplb_{policy}_d{d}.json"] = {
            "schema": "moegauge/expert_placement", "schema_version": 1, "format": "deepseek-eplb", "policy": policy,
            "num_devices": d, "layers": list(layers), "num_logical_experts": num_experts,
            "num_physical_experts": num_experts, **maps, "source_artifact": source_artifact, "provenance": provenance}
    return out


# --- seed side by side -------------------------------------------------------------------------------

def _seed_value(text: str) -> float | None:
    """The number a seed claim states ('+0.57', '−12.4%' → -0.124); None for ranges."""
    t = text.strip().replace("+", "").replace("−", "-")
    scale = 0.01 if t.endswith("%") else 1.0
    try:
        return float(t.rstrip("%")) * scale
    except ValueError:
        return None


def seed_pairs(res: dict, struct_rows: list[dict]) -> list[tuple[str, str, str, float]]:
    """(seed claim id, what, quantity, this model's value) for every seed number with a counterpart.

    The seed's per-layer Test-1 rows are OLMoE-1B-7B layers 0 … 15; this model's first and last MoE
    layers stand beside the seed's first (0) and last (15); the seed's other tables are means over
    layers, beside this model's means over all its layers."""
    first, last = struct_rows[0], struct_rows[-1]
    out = []
    for seed_layer, ours in (("l0", first), ("l15", last)):
        for key, q in (("gini", "fraction"), ("gain", "ratio"), ("null", "ratio"), ("excess", "ratio_difference")):
            ours_key = "null_mean" if key == "null" else key
            out.append((f"s004.t1.{seed_layer}.{key}", f"Test 1, {'first' if seed_layer == 'l0' else 'last'} layer: {key}",
                        q, ours[ours_key]))
    prefetch = {r["budget"]: r for r in prefetch_summary(res)[1]}
    for b in (12, 16, 24, 32):
        if b in prefetch:
            for key in ("lfu", "coact"):
                out.append((f"s004.t2.b{b}.{key}", f"Test 2, budget {b}: {key} hit rate (mean over layers)", "fraction", prefetch[b][key]))
            out.append((f"s004.t2.b{b}.delta", f"Test 2, budget {b}: CO-ACT − LFU", "fraction_difference", prefetch[b]["delta"]))
    caches = {r["capacity"]: r for r in cache_summary(res)[1]}
    for c in (16, 24, 32):
        if c in caches:
            for key, ours in (("lru", "lru"), ("lfu", "lfu_pinned_c"), ("coact", "coact_demand")):
                out.append((f"s004.t3.c{c}.{key}", f"Test 3, capacity {c}: {key} miss rate (mean over layers)", "fraction",
                            caches[c][ours]))
            out.append((f"s004.t3.c{c}.coact_total", f"Test 3, capacity {c}: CO-ACT demand + prefetch loads", "ratio",
                        caches[c]["coact_total"]))
    for r in placement_summary(res):
        d = r["devices"]
        if d not in (2, 4, 8):
            continue
        for key, ours, q, what in (
                ("freq", "frequency_balanced", "devices_per_token", "frequency-balanced devices/token"),
                ("uncon", "coact_unconstrained", "devices_per_token", "unconstrained devices/token"),
                ("uncon_cv", "cv_unconstrained", "load_cv", "unconstrained load CV"),
                ("capped", "coact_load_capped", "devices_per_token", "load-capped devices/token"),
                ("delta", "cut_load_capped", "relative_change", "load-capped vs frequency-balanced devices/token"),
                ("cv_freq", "cv_frequency_balanced", "load_cv", "frequency-balanced load CV"),
                ("cv_capped", "cv_load_capped", "load_cv", "load-capped load CV")):
            out.append((f"s004.t4.d{d}.{key}", f"Test 4, D = {d}: {what}", q, r[ours]))
    return out


def seed_comparison_artifact(write: Writer, res: dict, reported_path: Path, inputs=()) -> Path:
    """Every seed-004 number with a counterpart here, side by side (seed value read from the claims file)."""
    claims = {c["id"]: c for c in json.loads(reported_path.read_text(encoding="utf-8"))["claims"]}
    by_q: dict[str, list[dict]] = {}
    for cid, what, q, ours in seed_pairs(res, res["structure"]):
        c = claims.get(cid)
        seed = None if c is None else _seed_value(c["value"])
        if seed is None:
            continue
        by_q.setdefault(q, []).append({"claim": cid, "what": what, "seed": seed, "this_model": ours,
                                       "difference": ours - seed})
    tables = {}
    for q, rows in sorted(by_q.items()):
        diff_q = "fraction_difference" if q in ("fraction", "fraction_difference") else "ratio_difference"
        tables[q] = table(f"Seed 004 (OLMoE-1B-7B) beside this model: {q}.", {
            "claim": ("label", "seed claim id (evidence/claims/reported.json)"), "what": ("label", "what is compared"),
            "seed": (q, "the seed's number"), "this_model": (q, "measured here"),
            "difference": (diff_q, "this model − seed")}, rows)
    n = sum(len(r) for r in by_q.values())
    return write("coactivation_vs_seed",
                 description="Seed 004's numbers beside this model's, row by row. The seed measured OLMoE-1B-7B "
                             "(16 layers); its first and last layers stand beside this model's first and last, its "
                             "layer means beside this model's layer means. Different model, different corpus: the "
                             "rows show where the seed's qualitative findings do and do not carry over.",
                 measures={"rows": measure("count", n, "seed numbers with a counterpart here")},
                 tables=tables, relies_on=(), inputs=[(reported_path, "claims"), *inputs])
