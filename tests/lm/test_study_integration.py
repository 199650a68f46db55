"""Integration: the main job's stages on the embedded model, scaled down (about a minute)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from moegauge.artifacts import load_artifact
from moegauge.lm.kcache import KeyTransform, OneBitKCache
from moegauge.lm.model import EMBEDDED_DIR, load_model
from moegauge.lm.study import STAGES, RunConfig, Study

pytestmark = [pytest.mark.slow]

SMALL = RunConfig(calib_windows=4, heldout_windows=4, ppl_windows=4, rotation_steps=40, rotation_batch=2048,
                  memory_seq_len=1024, batch_size=8, coactivation_tokens_per_domain=2048, coactivation_shuffles=20,
                  kv_decode_len=40, kv_decode_windows=1)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    (root / "pyproject.toml").write_text('[project]\nname = "moegauge"\n')
    s = Study(SMALL, root, log=lambda m: None, progress=False, argv=["moegauge", "run", "(test)"])
    s.timings = s.run(STAGES)
    return s


def artifact(study, rel: str) -> dict:
    return load_artifact(study.evidence / rel)


def test_every_stage_wrote_valid_artifacts(study):
    for rel in ("corpus/corpus.json", "beta/beta_table_trained.json", "beta/beta_table_random_init.json",
                "convergence/convergence_trained.json", "ppl/ppl_table_trained.json",
                "ppl/ppl_table_random_init.json", "memory/memory_budget.json", "summary/paper_table.json"):
        doc = artifact(study, rel)
        assert doc["provenance"]["code_sha256"] and doc["provenance"]["config"]["run"]["rotation_steps"] == 40


def test_coactivation_stage_on_the_embedded_model(study):
    s = artifact(study, "coactivation/coactivation_structure.json")
    assert s["measures"]["shuffles"]["value"] == 20
    for row in s["tables"]["layers"]["rows"]:
        assert abs(row["null_mean"] - 1.0) < 0.05 and row["null_min"] <= row["null_mean"] <= row["null_max"]
    cache = artifact(study, "coactivation/expert_cache_replay.json")["tables"]["cells"]["rows"]
    assert all(r["min"] <= r["lru"] for r in cache)
    phase = artifact(study, "coactivation/phase_collapse.json")
    assert sorted({r["layer"] for r in phase["tables"]["retained"]["rows"]}) == [1, 2, 3]
    maps = sorted((study.evidence / "placements").glob("eplb_*.json"))
    assert len(maps) == 12  # 4 placements × D ∈ {2, 4, 8}
    from bridge.audit.placements import check_placements

    assert check_placements(study.evidence, study.root) == []


def test_beta_table_respects_the_theorems(study):
    rows = artifact(study, "beta/beta_table_trained.json")["tables"]["layers"]["rows"]
    for row in rows:
        for key, value in row.items():
            if key.startswith(("beta_", "cos_")):
                assert 0 < value <= 1, (key, value)  # moment_ratio_le_one
        # SRHT drives coordinates to the Gaussian floor: one-bit cosine √(2/π) at d = 256.
        assert abs(row["cos_srht"] - math.sqrt(2 / math.pi)) < 0.02
        assert row["orthogonality_error"] < 1e-4


def test_perplexity_table_is_ordered_sensibly(study):
    m = artifact(study, "ppl/ppl_table_trained.json")["measures"]
    assert m["bpb_fp"]["value"] < m["bpb_1bit_none"]["value"]
    ablation = artifact(study, "ppl/ppl_table_trained.json")["tables"]["layer_ablation"]["rows"]
    assert [r["layer"] for r in ablation] == [0, 1, 2, 3]
    rand = artifact(study, "ppl/ppl_table_random_init.json")["measures"]
    assert rand["bpb_fp"]["value"] > 7.0  # an untrained byte model predicts ~8 bits/byte


def test_memory_budget_is_read_from_stored_tensors(study):
    doc = artifact(study, "memory/memory_budget.json")
    m = doc["measures"]
    parts = {(r["cache"], r["part"]): r["bytes"] for r in doc["tables"]["parts"]["rows"]}
    fp16 = parts[("fp16", "keys")] + parts[("fp16", "values")]
    learned = sum(v for (cache, _), v in parts.items() if cache == "1bit_learned_centered")
    assert m["kv_ratio_learned"]["value"] == pytest.approx(fp16 / learned)
    assert 14 < m["k_ratio"]["value"] <= 16  # 16× on keys, less the per-vector fp16 scale
    # Per token (metadata aside), d = 256: (2·256·2) / (256/8 + 2 + 256·2) = 1.875.
    per_token = fp16 / (learned - parts[("1bit_learned_centered", "metadata")])
    assert per_token == pytest.approx(1024 / 546)
    # At 1024 tokens the fp32 rotations are not negligible: the full ratio is visibly lower.
    assert m["metadata_fraction"]["value"] > 0.1


def test_rerun_skips_every_stage(study):
    before = {p: p.read_bytes() for p in study.evidence.rglob("*.json") if "captures" not in p.parts}
    again = Study(SMALL, study.root, log=lambda m: None, progress=False, argv=["moegauge", "run", "(test)"])
    timings = again.run(STAGES)
    after = {p: p.read_bytes() for p in study.evidence.rglob("*.json") if "captures" not in p.parts}
    assert after == before
    assert sum(timings.values()) < sum(study.timings.values()) / 3


def test_changed_rotations_make_later_stages_stale(study):
    """The rotations are an input of ppl and memory: swapping in another arm's reruns them."""
    rot = study.evidence / "rotations" / "rotations_trained.safetensors"
    original = rot.read_bytes()
    try:
        rot.write_bytes((study.evidence / "rotations" / "rotations_random_init.safetensors").read_bytes())
        logs: list[str] = []
        Study(SMALL, study.root, log=logs.append, progress=False).run(("ppl", "memory"))
        assert "  trained: up to date" not in logs and "  up to date" not in logs
    finally:
        rot.write_bytes(original)
        Study(SMALL, study.root, log=lambda m: None, progress=False).run(("ppl", "memory"))


def test_provenance_records_kernels_threads_and_intermediates(study):
    prov = artifact(study, "beta/beta_table_trained.json")["provenance"]
    assert prov["compute"]["threads"] == SMALL.threads and prov["compute"]["cpu_capability"]
    roles = {i["role"] for i in prov["inputs"]}
    assert {"capture", "capture_manifest", "rotation", "model_weights"} <= roles


def test_claims_stage_states_what_the_artifacts_say(study):
    import json

    from bridge.audit.claims import claims_validator

    study.run(("claims",))
    doc = json.loads((study.evidence / "claims" / "measured.json").read_text())
    claims_validator().validate(doc)
    by_id = {c["id"]: c for c in doc["claims"]}
    bpb = artifact(study, "ppl/ppl_table_trained.json")["measures"]["bpb_fp"]["value"]
    assert abs(float(by_id["m.bpb_fp"]["value"]) - bpb) <= 0.005  # no spread: three significant digits


def test_changed_config_reruns_the_stage(study):
    changed = dataclasses.replace(SMALL, ppl_windows=2)
    logs: list[str] = []
    Study(changed, study.root, log=logs.append, progress=False).run(("ppl",))
    assert "  trained: up to date" not in logs
    assert artifact(study, "ppl/ppl_table_trained.json")["provenance"]["config"]["run"]["ppl_windows"] == 2


def test_rotation_alone_leaves_the_embedded_models_logits_unchanged():
    """Before quantization, a (centered) orthogonal rotation of post-RoPE keys is a gauge: logits agree."""
    model = load_model(None).model
    ids = torch.tensor([list(b"def rotation_alone(x):\n    return x  # gauge invariance\n" * 3)])
    d = model.config.num_key_value_heads * (model.config.hidden_size // model.config.num_attention_heads)
    g = torch.Generator().manual_seed(0)
    transforms = []
    for _ in range(model.config.num_hidden_layers):
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
        transforms.append(KeyTransform(mean=torch.randn(d, generator=g), rotation=q.float()))
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits
        rot = model(input_ids=ids, past_key_values=OneBitKCache(transforms, quantize_keys=False,
                                                                value_dtype=torch.float32), use_cache=True).logits
    torch.testing.assert_close(rot, ref, atol=5e-5, rtol=1e-5)
    assert (EMBEDDED_DIR / "config.json").is_file()


def test_ffn_stage_writes_the_four_part_e_and_frustration_artifacts(study):
    probe = artifact(study, "ffn/ffn_optimiser_probe.json")
    budgets = sorted({r["steps"] for r in probe["tables"]["budgets"]["rows"]})
    assert budgets == [10, 20, 40, 80, 160]  # base/4 … 4 × base, base = rotation_steps
    assert {r["optimizer"] for r in probe["tables"]["planted_control"]["rows"]} == {"adam", "radam"}
    gen = artifact(study, "ffn/ffn_generation_probe.json")["measures"]
    assert gen["nll_full_precision"]["value"] > 0
    assert gen["inflation_rotated"]["value"] == gen["nll_one_bit_rotated"]["value"] / gen["nll_full_precision"]["value"] - 1
    fr = artifact(study, "ffn/stiefel_frustration.json")
    for row in fr["tables"]["layers"]["rows"]:
        assert row["experts"] == 16 and row["vectors"] == 16 * 32 * 3
        assert 0 < row["held_out_beta_shared"] <= 1 and 0 < row["held_out_beta_per_expert"] <= 1
    assert fr["provenance"]["config"]["stiefel_frustration"]["steps"] == 13


def test_kvcache_stage_measures_every_cache_from_stored_tensors(study):
    kv = artifact(study, "kvcache/kv_methods.json")
    rows = {r["method"]: r for r in kv["tables"]["methods"]["rows"]}
    failed = {r["method"] for r in kv["tables"]["errors"]["rows"]}
    expected = {"fp16", "kivi_2bit", "qjl_m1d", "qjl_m2d", "1bit_srht", "1bit_learned", "1bit_learned_centered",
                "1bit_learned_centered_fp16r", "1bit_learned_centered_per_head",
                "1bit_learned_centered_per_head_fp16r"}
    assert expected <= set(rows)
    # transformers' QuantizedCache backends: measured, or recorded with the error that stopped them
    assert {"hf_hqq_1bit", "hf_hqq_2bit", "hf_hqq_4bit", "hf_quanto_2bit", "hf_quanto_4bit"} <= set(rows) | failed
    assert kv["measures"]["methods_run"]["value"] + kv["measures"]["methods_failed"]["value"] == len(rows) + len(failed)
    assert rows["fp16"]["k_bits"] == rows["fp16"]["v_bits"] == 16.0
    # per layer: 1 sign bit per element, an fp16 scale per 256-vector, the (zero) fp32 mean and an 8-byte seed
    t, d = SMALL.memory_seq_len, 256
    assert rows["1bit_srht"]["k_bits"] == 8 * (t * d / 8 + 2 * t + 4 * d + 8) / (t * d)
    assert rows["1bit_srht"]["v_bits"] == 16.0
    # at 1,024 tokens the rotations are a visible share: dense fp32 > dense fp16 > per head fp32 > per head fp16
    order = ["1bit_learned_centered", "1bit_learned_centered_fp16r", "1bit_learned_centered_per_head",
             "1bit_learned_centered_per_head_fp16r"]
    assert [rows[m]["k_bits"] for m in order] == sorted((rows[m]["k_bits"] for m in order), reverse=True)
    data = rows["1bit_srht"]["bytes"] - 4 * (4 * d + 8)  # signs, scales and fp16 V of 4 layers
    # fp16 rotations and means: exactly half the metadata of fp32 ones, the rest unchanged
    assert rows["1bit_learned_centered"]["bytes"] - data == 2 * (rows["1bit_learned_centered_fp16r"]["bytes"] - data)
    assert kv["measures"]["decode_tokens"]["value"] == 6 * 39
    eq = artifact(study, "kvcache/packed_equivalence.json")["measures"]
    assert eq["max_logit_delta_float64"]["value"] < 1e-8
    v = artifact(study, "kvcache/v_ablation.json")
    configs = {r["config"] for r in v["tables"]["configs"]["rows"]}
    assert len(configs) >= 9
    assert v["measures"]["combined_ratio_1bit_v"]["value"] > v["measures"]["combined_ratio_2bit_v"]["value"] > 1
