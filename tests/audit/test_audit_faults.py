"""Planted faults: one fixture per fault class proves its check fires; the clean fixture proves none
fires falsely."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bridge.audit.findings import Baseline
from bridge.audit.runner import AuditOptions, BadInput, run_audit
from moegauge import theorems as T

from audit_fixture import ART, claim, field


def audit(project, **kw):
    opts = AuditOptions(root=project.root, shadows=False, check_corpus=False, **kw)
    return run_audit(opts)


def rules(report, severities=("error", "warning")) -> set[tuple[str, str]]:
    return {(f.rule, f.subject) for f, ack in report.findings if f.severity in severities and ack is None}


def test_clean_project_has_no_findings(project):
    report = audit(project)
    assert rules(report, ("error", "warning", "info")) == set()
    assert report.exit_code == 0
    status = {c["id"]: c["status"] for c in report.claims}
    assert status == {"beta_srht": "consistent", "cos_srht": "consistent", "ppl_srht": "consistent",
                      "ppl_learned": "consistent", "gap": "consistent", "layer_cos_range": "consistent",
                      "residual": "consistent"}


# 1. schema validity ------------------------------------------------------------------------------
def test_malformed_artifact_json_is_bad_input(project):
    project.artifact_path.write_text('{"schema": "moegauge/artifact",\n  "oops": }')
    with pytest.raises(BadInput) as err:
        audit(project)
    assert err.value.problems == [f"{ART}:2:11: invalid JSON: Expecting value"]


def test_artifact_schema_violation_names_the_pointer(project):
    project.edit_artifact(lambda d: d["measures"]["beta_srht"].pop("quantity"))
    with pytest.raises(BadInput) as err:
        audit(project)
    (problem,) = err.value.problems
    assert problem.startswith(f"{ART}: /measures/beta_srht") and "quantity" in problem


def test_claim_schema_violation_names_the_pointer(project):
    claims = project.claims()
    del claims[2]["appears_in"]
    project.write_claims(claims)
    with pytest.raises(BadInput) as err:
        audit(project)
    assert any(p.startswith("evidence/claims/claims.json: /claims/2") and "appears_in" in p for p in err.value.problems)


def test_cli_exits_2_on_bad_input(project):
    project.artifact_path.write_text("not json")
    proc = subprocess.run([sys.executable, "-m", "bridge", "audit", "--root", str(project.root), "--no-shadows",
                           "--site-data", "-"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"bad input: {ART}:1:1: invalid JSON" in proc.stderr


# 2. theorems -------------------------------------------------------------------------------------
def test_unknown_theorem(project):
    project.write_claims([claim("x", "0.637", "beta", field("beta_srht"), theorems=("MoEGauge.no_such_theorem",))])
    assert ("theorem.unknown", "x") in rules(audit(project))


@pytest.mark.parametrize("paper_facing, severity", [(True, "error"), (False, "warning")])
def test_claim_on_unproved_theorem(project, paper_facing, severity):
    project.write_claims([claim("x", "0.798", "one_bit_cosine", field("cos_srht"),
                                theorems=(T.SRHT_ACHIEVES_ISOTROPIC_FLOOR,), paper_facing=paper_facing)])
    report = audit(project)
    (f,) = [f for f, _ in report.findings if f.rule == "theorem.not_proved"]
    assert f.severity == severity and "deferred: needs a CLT" in f.message


def test_artifact_relying_on_unproved_theorem_warns(project):
    project.edit_artifact(lambda d: d["relies_on"].append(T.SRHT_ACHIEVES_ISOTROPIC_FLOOR))
    report = audit(project)
    (f,) = [f for f, _ in report.findings if f.rule == "theorem.not_proved"]
    assert (f.severity, f.file, f.pointer) == ("warning", ART, "/relies_on/1")


# 3. recomputation --------------------------------------------------------------------------------
def test_value_that_does_not_match_its_source(project):
    project.write_claims([claim("x", "0.64", "beta", field("beta_srht"))])  # 0.6371 is not in [0.635, 0.645]? it is
    assert rules(audit(project)) == set()
    project.write_claims([claim("x", "0.640", "beta", field("beta_srht"))])  # [0.6395, 0.6405] misses 0.6371
    assert ("claim.recompute", "x") in rules(audit(project))


def test_derived_value_is_checked_with_its_inputs_rounding(project):
    claims = project.claims()
    gap = next(c for c in claims if c["id"] == "gap")
    gap["value"] = "36.7"  # 942/25.7 with rounding spans [36.56, 36.75]: 36.7 meets it
    project.write_claims(claims)
    assert ("claim.recompute", "gap") not in rules(audit(project))
    gap["value"] = "36.9"
    project.write_claims(claims)
    assert ("claim.recompute", "gap") in rules(audit(project))


def test_unresolvable_source(project):
    project.write_claims([claim("x", "0.64", "beta", {"artifact": ART, "pointer": "/measures/nope/value"})])
    report = audit(project)
    (f,) = [f for f, _ in report.findings if f.rule == "claim.unresolved"]
    assert "has no /measures/nope/value" in f.message and f.pointer == "/claims/0/source"


def test_formula_cannot_run_code(project):
    project.write_claims([claim("x", "1", "ratio", {"formula": "__import__('os').system('false')", "bindings": {}},
                                theorems=())])
    assert ("claim.unresolved", "x") in rules(audit(project))


# 4. ranges and implications ----------------------------------------------------------------------
def test_value_outside_its_quantity_range(project):
    project.write_claims([claim("x", "1.2", "beta")])
    report = audit(project)
    assert ("claim.range", "x") in rules(report) and ("claim.implication", "x") in rules(report)


def test_beta_stated_where_the_field_is_a_cosine(project):
    project.write_claims([claim("x", "0.798", "beta", field("cos_srht"))])
    (f,) = [f for f, _ in audit(project).findings if f.rule == "claim.unit_conflation"]
    assert "source field is a one_bit_cosine" in f.message


def test_floor_stated_as_beta_with_its_cosine_value(project):
    project.write_claims([claim("x", "0.7979", "beta", None,
                                theorems=(T.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ,), asserts="gaussian_floor")])
    (f,) = [f for f, _ in audit(project).findings if f.rule == "claim.unit_conflation"]
    assert "√(2/π)" in f.message


def test_residual_energy_must_be_one_minus_cos_squared(project):
    claims = project.claims()
    residual = next(c for c in claims if c["id"] == "residual")
    residual["value"] = "20%"
    del residual["source"]  # a bare statement: only the theorem's implication can catch it
    project.write_claims(claims)
    (f,) = [f for f, _ in audit(project).findings if f.rule == "claim.implication"]
    assert "1 − c²" in f.message


def test_positive_centering_lift_cannot_rest_on_the_theorem(project):
    project.write_claims([claim("lift", "+0.1", "beta_difference", None,
                                theorems=(T.DC_CENTERING_LIFTS_ROTATIONAL_CEILING,), asserts="centering_lift")])
    assert ("claim.implication", "lift") in rules(audit(project))


def test_artifact_field_outside_its_range(project):
    project.edit_artifact(lambda d: d["measures"]["beta_srht"].__setitem__("value", 1.5))
    report = audit(project)
    assert ("artifact.range", "beta_demo") in rules(report)


# 5. provenance -----------------------------------------------------------------------------------
def test_stale_code(project):
    project.edit_artifact(lambda d: d["provenance"].__setitem__("code_sha256", "0" * 64))
    assert ("provenance.stale_code", "beta_demo") in rules(audit(project))


def test_stale_and_missing_inputs(project):
    (project.root / "data" / "keys.bin").write_bytes(b"other keys")
    report = audit(project)
    (f,) = [f for f, _ in report.findings if f.rule == "provenance.stale_input"]
    assert "changed" in f.message and f.pointer == "/provenance/inputs/0"
    (project.root / "data" / "keys.bin").unlink()
    (f,) = [f for f, _ in audit(project).findings if f.rule == "provenance.stale_input"]
    assert "no longer exists" in f.message


def test_absent_capture_intermediates_are_not_findings_but_changed_ones_are(project):
    """Capture shards are git-ignored: absent on a fresh clone (fine), but once a run remade them
    they must match what the artifact was computed from."""
    shard = project.root / "evidence" / "captures" / "shard-00000.safetensors"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"captured keys")
    from moegauge.provenance import sha256_file
    project.edit_artifact(lambda d: d["provenance"]["inputs"].append(
        {"path": "evidence/captures/shard-00000.safetensors", "sha256": sha256_file(shard), "role": "capture"}))
    assert not [f for f, _ in audit(project).findings if f.rule == "provenance.stale_input"]
    shard.write_bytes(b"other keys")
    (f,) = [f for f, _ in audit(project).findings if f.rule == "provenance.stale_input"]
    assert "changed" in f.message and f.pointer == "/provenance/inputs/1"
    shard.unlink()
    assert not [f for f, _ in audit(project).findings if f.rule == "provenance.stale_input"]


def test_claim_stated_finer_than_its_spread(project):
    claims = project.claims()
    claims[0]["spread"] = {"value": 0.002, "artifact": "evidence/spread/spread.json"}  # "0.637" is ±0.0005
    project.write_claims(claims)
    assert ("claim.spread", "beta_srht") in rules(audit(project), ("warning",))
    claims[0]["spread"]["value"] = 0.0001
    project.write_claims(claims)
    assert ("claim.spread", "beta_srht") not in rules(audit(project), ("warning",))


def test_dirty_tree(project):
    project.edit_artifact(lambda d: d["provenance"].update(git_dirty=True, git_commit="ab" * 20))
    assert ("provenance.dirty", "beta_demo") in rules(audit(project))


def test_orphan_artifact(project):
    project.write_claims([])
    report = audit(project)
    assert ("provenance.orphan", "beta_demo") in rules(report, ("info",))
    assert report.exit_code == 0  # an orphan is information, not a violation


# baseline ----------------------------------------------------------------------------------------
def test_baseline_acknowledges_and_reports_unused_entries(project):
    project.write_claims([claim("x", "0.640", "beta", field("beta_srht"))])
    report = audit(project)
    assert report.exit_code == 1
    (new,) = report.new
    baseline = project.root / "evidence" / "audit_baseline.json"
    stale = {"fingerprint": "0" * 16, "rule": "claim.recompute", "reason": "fixed long ago"}
    baseline.write_text(json.dumps({"schema": "moegauge/audit_baseline", "schema_version": 1,
                                    "acknowledged": [Baseline.entry(new, "rounded on purpose in the abstract"), stale]}))
    report = audit(project)
    assert report.exit_code == 0
    assert report.unused_baseline == [stale]
    assert [ack for f, ack in report.findings if f.rule == "claim.recompute"] == ["rounded on purpose in the abstract"]


def test_baseline_entry_needs_a_reason(project):
    baseline = project.root / "evidence" / "audit_baseline.json"
    baseline.write_text(json.dumps({"schema": "moegauge/audit_baseline", "schema_version": 1,
                                    "acknowledged": [{"fingerprint": "x", "rule": "r", "reason": " "}]}))
    with pytest.raises(BadInput) as err:
        audit(project)
    assert "/acknowledged/0/reason" in err.value.problems[0]


def test_quantity_vocabularies_agree():
    """The producer's quantity names and the auditor's ranges describe the same vocabulary."""
    from bridge.audit.quantities import QUANTITIES as AUDITED
    from moegauge.quantities import QUANTITIES as PRODUCED

    assert set(PRODUCED) == set(AUDITED)


def test_deprecated_theorem_name_is_pointed_to_its_truthful_name(project):
    project.write_claims([claim("old", "1", "count", None, theorems=(T.DC_CENTERING_LIFTS_ROTATIONAL_CEILING,))])
    report = audit(project)
    (f,) = [f for f, _ in report.findings if f.rule == "claim.deprecated_theorem"]
    assert f.severity == "info" and T.DC_PER_VECTOR_CEILINGS_EQ_ONE in f.message and f.pointer.endswith("/theorems/0")


def _audit_cli(project, *extra):
    return subprocess.run([sys.executable, "-m", "bridge", "audit", "--root", str(project.root), "--no-shadows",
                           "--site-data", "-", *extra], capture_output=True, text=True)


def test_deeply_nested_json_is_bad_input_naming_the_file(project):
    project.artifact_path.write_text("[" * 100_000 + "]" * 100_000)
    proc = _audit_cli(project)
    assert proc.returncode == 2
    assert f"bad input: {ART}: JSON nested too deeply to read" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_claims_file_that_is_an_array_gives_a_short_message(project):
    path = project.root / "evidence" / "claims" / "claims.json"
    path.write_text(json.dumps([{"padding": "x" * 200} for _ in range(50)]))
    proc = _audit_cli(project)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines and all(len(line) <= 400 for line in lines)
    assert "evidence/claims/claims.json: /: " in proc.stderr


def test_closed_stdout_is_quiet(project):
    cmd = [sys.executable, "-m", "bridge", "audit", "--root", str(project.root), "--no-shadows", "--site-data", "-",
           "--all"]
    # `true` exits at once without reading: every write of the audit meets a closed pipe.
    proc = subprocess.run(f"{' '.join(cmd)} | true; exit ${{PIPESTATUS[0]}}", shell=True,
                          executable="/bin/bash", capture_output=True, text=True)
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr
