"""Numeric shadows: every registered shadow holds and matches its Lean statement; stale and failing
shadows are reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

from bridge.audit import shadows as S
from bridge.audit.runner import AuditOptions, run_audit
from bridge.lean.kernel import KernelReport
from bridge.lean_status import status_document_for

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = S.load_shadows()


@pytest.fixture(scope="module")
def statuses() -> dict:
    doc = status_document_for(ROOT / "lean", ROOT, KernelReport.skipped("test"), "off")
    return {d["name"]: d for d in doc["declarations"]}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_shadow_holds(name):
    result = S.run_shadow(REGISTRY[name], 25)
    assert result.outcome == "passed", result.detail


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_shadow_matches_the_current_lean_statement(name, statuses):
    assert name in statuses, f"{name} is not declared in lean/"
    assert REGISTRY[name].statement_sha256 == statuses[name]["statement_sha256"], (
        f"the statement of {name} changed: re-read the shadow against it and update its hash")


def test_every_load_bearing_theorem_has_a_shadow():
    from moegauge import theorems as T

    assert set(T.ALL_THEOREMS) <= set(REGISTRY)


def test_stale_and_failing_shadows_are_reported(project, monkeypatch):
    def false_property(n):
        assert n < 5

    fake = {
        "MoEGauge.moment_ratio_le_one": S.Shadow("MoEGauge.moment_ratio_le_one", "0" * 64, "stale hash",
                                                 lambda n: None, (st.integers(),)),
        "MoEGauge.cos_sign_quant_formula": S.Shadow("MoEGauge.cos_sign_quant_formula", "x", "false",
                                                    false_property, (st.integers(0, 10),)),
    }
    monkeypatch.setattr(S, "load_shadows", lambda: fake)
    report = run_audit(AuditOptions(root=project.root, shadows=True, shadow_examples=20, check_corpus=False))
    found = {(f.rule, f.subject): f for f, _ in report.findings}
    assert ("shadow.stale", "MoEGauge.moment_ratio_le_one") in found
    ce = found[("shadow.counterexample", "MoEGauge.cos_sign_quant_formula")]
    assert ce.severity == "error" and "counterexample_cos_sign_quant_formula.json" in ce.message
    saved = project.root / "evidence" / "shadow" / "counterexample_cos_sign_quant_formula.json"
    from moegauge.artifacts import load_artifact

    doc = load_artifact(saved)
    assert doc["relies_on"] == ["MoEGauge.cos_sign_quant_formula"]
    assert any("n=5" in row["line"] for row in doc["tables"]["falsifying_example"]["rows"])
    # Load-bearing theorems with no shadow are listed.
    assert ("shadow.missing", "MoEGauge.srht_achieves_isotropic_floor") in found


def test_a_shadow_can_run_twice_with_different_budgets():
    s = REGISTRY["MoEGauge.moment_ratio_le_one"]
    assert S.run_shadow(s, 5).outcome == "passed"
    assert S.run_shadow(s, 7).outcome == "passed"
