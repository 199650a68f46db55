"""The repository's own evidence, claims and baseline audit clean — checked every time.

If this fails, read the report: new code may have made the evidence stale (rerun `make run`), a
claim may no longer match what was measured, or a Lean statement may have changed under a shadow.
"""

from __future__ import annotations

from pathlib import Path

from bridge.audit.runner import AuditOptions, run_audit

ROOT = Path(__file__).resolve().parents[2]


def test_repository_audit_is_clean():
    report = run_audit(AuditOptions(root=ROOT, shadows=True, shadow_examples=10, save_counterexamples=False))
    new = [f"{f.rule} {f.file}#{f.pointer}: {f.message}" for f in report.new]
    assert report.exit_code == 0, "new audit findings:\n" + "\n".join(new)
    assert not report.unused_baseline, f"baseline entries that no longer fire: {report.unused_baseline}"
    assert report.to_json()["summary"]["claims"] >= 100
