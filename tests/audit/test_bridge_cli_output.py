"""`python -m bridge status` and `audit` are quiet by default: a summary line of counts, new findings
in full, acknowledged ones as a count; `-v` gives the details. Ctrl-C is one line, exit 130."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bridge.__main__ as bridge_main
from bridge.audit.findings import BASELINE_SCHEMA
from audit_fixture import CLEAN_CLAIMS, claim, field, make_project

CORPUS = Path(__file__).resolve().parents[1] / "lean_reader" / "fixtures" / "corpus"


def _status(capsys, *extra: str, out: Path) -> list[str]:
    # --no-cache: the summary says how many files came from the read cache, which would differ per run
    assert bridge_main.main(["status", "--no-kernel", "--no-cache", "--lean-dir", str(CORPUS), "--out", str(out),
                             *extra]) == 0
    return capsys.readouterr().out.splitlines()


def test_status_prints_one_line_by_default_and_the_table_with_verbose(tmp_path, capsys):
    quiet = _status(capsys, out=tmp_path / "a.json")
    assert len(quiet) == 1
    doc = json.loads((tmp_path / "a.json").read_text())
    n = len(doc["declarations"])
    assert quiet[0].startswith(f"lean status: {n} declarations")
    assert all(f"{k} {v}" in quiet[0] for k, v in doc["counts"].items()) and str(tmp_path / "a.json") in quiet[0]
    assert _status(capsys, "-q", out=tmp_path / "a.json") == quiet  # -q: the default, kept for scripts
    verbose = _status(capsys, "-v", out=tmp_path / "a.json")
    assert verbose[0] == quiet[0] and len(verbose) == 2 + n  # summary, header, one line per declaration


@pytest.fixture()
def project(tmp_path):
    return make_project(tmp_path / "proj")


def _audit(project, capsys, *extra: str) -> tuple[int, list[str]]:
    code = bridge_main.main(["audit", "--root", str(project.root), "--no-shadows", "--site-data", "-", *extra])
    return code, capsys.readouterr().out.splitlines()


def test_audit_prints_acknowledged_findings_as_a_count(project, capsys):
    # Two findings: an unknown theorem on a claim, acknowledged below, and a second one left new.
    project.write_claims([*CLEAN_CLAIMS,
                          claim("acked", "0.637", "beta", field("beta_srht"), theorems=("MoEGauge.no_such_a",)),
                          claim("fresh", "0.637", "beta", field("beta_srht"), theorems=("MoEGauge.no_such_b",))])
    acked = [e for e in _new_findings(project) if e["subject"] == "acked"]
    assert len(acked) == 1
    baseline = {"schema": BASELINE_SCHEMA, "schema_version": 1,
                "acknowledged": [{**e, "reason": "fixture: accepted on purpose"} for e in acked]}
    (project.root / "evidence" / "audit_baseline.json").write_text(json.dumps(baseline))

    code, quiet = _audit(project, capsys)
    assert code == 1  # the fresh finding is still new
    text = "\n".join(quiet)
    assert quiet[0].startswith("audit: ") and f"({len(acked)} acknowledged" in quiet[0]
    assert "no_such_b" in text and "no_such_a" not in text and "(acknowledged)" not in text
    assert quiet[-1].startswith(f"  (not shown: {len(acked)} acknowledged (-v lists them")

    code, verbose = _audit(project, capsys, "-v")
    vtext = "\n".join(verbose)
    assert "no_such_a" in vtext and "(acknowledged)" in vtext and "accepted because: fixture" in vtext
    assert "  lean: " in vtext and "not shown" not in vtext


def _new_findings(project) -> list[dict]:
    """Baseline entries for the errors and warnings the audit reports now."""
    from bridge.audit.findings import Baseline
    from bridge.audit.runner import AuditOptions, run_audit

    report = run_audit(AuditOptions(root=project.root, shadows=False))
    return [Baseline.entry(f, "x") for f, ack in report.findings if f.severity != "info" and ack is None]


def test_bridge_keyboard_interrupt_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    import bridge.status_cli as status_cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(status_cli, "run", interrupted)
    assert bridge_main.main(["status", "--no-kernel", "--lean-dir", str(CORPUS), "--out", str(tmp_path / "x.json")]) == 130
    assert capsys.readouterr().err == "bridge: interrupted\n"
    assert not (tmp_path / "x.json").exists()
