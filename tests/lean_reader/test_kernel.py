"""Kernel mode: the axiom-export consumer on recorded fixtures, and `bridge status` driving a fake
`lake` (a script on PATH that replays a recorded export), so the subprocess path is exercised."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.lean.kernel import (
    KernelExportError,
    KernelReport,
    demangle_private,
    parse_axiom_export,
)

KERNEL = Path(__file__).parent / "fixtures" / "kernel"


def test_parse_export_sorts_and_demangles():
    axioms, version = parse_axiom_export((KERNEL / "export_ok.json").read_text())
    assert version == "4.34.0"
    assert axioms["Demo.proved_thm"] == ("Classical.choice", "Quot.sound", "propext")
    assert axioms["Demo.priv"] == ("propext",)


def test_parse_export_skips_build_noise_before_the_json():
    text = "✔ [3/3] Built Demo\n" + (KERNEL / "export_ok.json").read_text()
    axioms, _ = parse_axiom_export(text)
    assert "Demo.no_axioms" in axioms


@pytest.mark.parametrize(
    "fixture, message",
    [("export_bad_version.json", "unsupported export version 99"), ("export_bad_entry.json", "no list of axiom names")],
)
def test_parse_export_rejects_what_it_does_not_understand(fixture, message):
    with pytest.raises(KernelExportError, match=message):
        parse_axiom_export((KERNEL / fixture).read_text())


def test_parse_export_rejects_non_json():
    with pytest.raises(KernelExportError):
        parse_axiom_export("error: unknown executable moegauge_axioms")


@pytest.mark.parametrize(
    "name, expected",
    [("_private.Mod.Sub.0.A.foo", "A.foo"), ("A.foo", "A.foo"), ("_private.Weird", "_private.Weird")],
)
def test_demangle_private(name, expected):
    assert demangle_private(name) == expected


def _fake_lake(bin_dir: Path, export: Path | None, build_exit: int = 0) -> None:
    """A `lake` that succeeds (or fails) at `build` and prints ``export`` for `exe moegauge_axioms`."""
    script = bin_dir / "lake"
    export_cmd = f"cat '{export}'" if export else "echo 'error: no export' >&2; exit 3"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  build) echo 'Building Demo'; [ {build_exit} -eq 0 ] || echo 'error: Demo/Basic.lean:3:0: unknown identifier'; exit {build_exit} ;;\n"
        f"  exe) {export_cmd} ;;\n"
        "  *) exit 9 ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _status(project: Path, out: Path, bin_dir: Path | None, *flags: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}:{env['PATH']}" if bin_dir else "/usr/bin:/bin"
    if bin_dir is None:
        env["PATH"] = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "lake").exists())
    return subprocess.run(
        [sys.executable, "-m", "bridge", "status", "--lean-dir", str(project / "lean"), "--out", str(out), *flags],
        capture_output=True, text=True, env=env, cwd=project,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dst = tmp_path / "project"
    shutil.copytree(KERNEL / "project", dst)
    return dst


def test_kernel_verdicts_from_a_recorded_export(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_lake(bin_dir, KERNEL / "export_ok.json")
    out = tmp_path / "status.json"
    proc = _status(project, out, bin_dir)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    d = {x["name"]: x for x in doc["declarations"]}
    assert doc["kernel_run"] == {"mode": "auto", "ran": True, "ok": True, "lean_version": "4.34.0",
                                 "reason": "lake build and axiom export succeeded"}
    assert d["Demo.proved_thm"]["kernel"]["status"] == "checked"
    assert d["Demo.no_axioms"]["kernel"]["status"] == "checked"
    assert d["Demo.priv"]["kernel"]["status"] == "checked"
    # The kernel overrules a clean-looking source: sorryAx means not proved, and users inherit it.
    assert d["Demo.hidden_sorry"]["status"] == "in_flight"
    assert d["Demo.hidden_sorry"]["kernel"]["status"] == "failed"
    assert "sorryAx" in d["Demo.hidden_sorry"]["kernel"]["reason"]
    assert d["Demo.uses_hidden"]["status"] == "in_flight"
    assert d["Demo.uses_hidden"]["blocked_by"] == ["Demo.hidden_sorry"]
    assert d["Demo.stub_thm"]["status"] == "stub"
    assert d["Demo.an_axiom"]["status"] == "axiom"
    assert d["Demo.an_axiom"]["kernel"]["reason"] == "is itself an axiom"
    assert d["Demo.uses_axiom"]["kernel"]["reason"] == "depends on non-standard axioms: Demo.an_axiom"
    assert d["Demo.native"]["kernel"]["status"] == "failed"
    assert "Lean.ofReduceBool" in d["Demo.native"]["kernel"]["reason"]
    assert d["Demo.not_exported"]["kernel"]["status"] == "unchecked"
    anon = [x for x in doc["declarations"] if x["anonymous"]]
    assert anon and anon[0]["kernel"]["status"] == "unchecked"
    assert doc["kernel_counts"]["checked"] == 3


def test_failed_build_marks_every_declaration_failed_and_exits_1(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_lake(bin_dir, KERNEL / "export_ok.json", build_exit=1)
    out = tmp_path / "status.json"
    proc = _status(project, out, bin_dir)
    assert proc.returncode == 1
    doc = json.loads(out.read_text())
    assert doc["kernel_run"]["ran"] and not doc["kernel_run"]["ok"]
    assert "lake build failed (exit 1)" in doc["kernel_run"]["reason"]
    assert "unknown identifier" in doc["kernel_run"]["reason"]
    assert {x["kernel"]["status"] for x in doc["declarations"]} == {"failed"}


def test_failed_export_is_reported(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_lake(bin_dir, None)
    out = tmp_path / "status.json"
    proc = _status(project, out, bin_dir)
    assert proc.returncode == 1
    assert "moegauge_axioms failed (exit 3)" in json.loads(out.read_text())["kernel_run"]["reason"]


def test_no_toolchain_is_unchecked_with_the_reason(project, tmp_path):
    out = tmp_path / "status.json"
    proc = _status(project, out, None)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert not doc["kernel_run"]["ran"]
    assert {x["kernel"]["status"] for x in doc["declarations"]} == {"unchecked"}
    assert "`lake` not found on PATH" in doc["declarations"][0]["kernel"]["reason"]


def test_kernel_required_without_toolchain_is_a_usage_error(project, tmp_path):
    out = tmp_path / "status.json"
    proc = _status(project, out, None, "--kernel")
    assert proc.returncode == 2
    assert "--kernel given but no Lean toolchain" in proc.stderr
    assert not out.exists()


def test_no_kernel_flag_skips_even_with_lake(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_lake(bin_dir, KERNEL / "export_ok.json", build_exit=1)
    out = tmp_path / "status.json"
    proc = _status(project, out, bin_dir, "--no-kernel")
    assert proc.returncode == 0
    assert json.loads(out.read_text())["kernel_run"]["reason"] == "kernel check disabled (--no-kernel)"


def test_kernel_report_skipped_has_no_axioms():
    r = KernelReport.skipped("why")
    assert (r.ran, r.ok, r.reason, r.axioms) == (False, False, "why", {})


def test_required_kernel_gate_refuses_sorry_outside_deferred_and_extra_axioms(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_lake(bin_dir, KERNEL / "export_ok.json")
    out = tmp_path / "status.json"
    proc = _status(project, out, bin_dir, "--kernel")
    assert proc.returncode == 1
    gate = [line for line in proc.stderr.splitlines() if "kernel gate" in line]
    flagged = {line.split(": ")[3] for line in gate}
    assert flagged == {"Demo.hidden_sorry", "Demo.uses_hidden", "Demo.stub_thm", "Demo.an_axiom",
                       "Demo.uses_axiom", "Demo.native"}
    assert any("Lean.ofReduceBool" in line for line in gate)
    assert out.exists()  # the tracker is still written


def test_required_kernel_gate_accepts_sorry_in_a_deferred_declaration(tmp_path):
    proj = tmp_path / "proj"
    (proj / "lean" / "Tiny").mkdir(parents=True)
    (proj / "lakefile.lean").write_text("import Lake\nopen Lake DSL\npackage tiny\n")
    (proj / "lean" / "Tiny" / "Basic.lean").write_text(
        "namespace Tiny\n\n"
        "theorem ok : 1 = 1 := rfl\n\n"
        "/-- A hard one.\nDeferred: needs a lemma Mathlib lacks. -/\n"
        "theorem later : 2 = 2 := by\n  sorry\n\n"
        "end Tiny\n")
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"schema": "moegauge.lean_axioms", "version": 1, "lean_version": "4.34.0",
                                  "declarations": [
                                      {"name": "Tiny.ok", "module": "Tiny.Basic", "axioms": ["propext"]},
                                      {"name": "Tiny.later", "module": "Tiny.Basic", "axioms": ["sorryAx"]}]}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_lake(bin_dir, export)
    out = tmp_path / "status.json"
    proc = _status(proj, out, bin_dir, "--kernel")
    assert proc.returncode == 0, proc.stderr
    assert "kernel gate" not in proc.stderr


CI_KERNEL_CHECK = Path(__file__).resolve().parents[2] / ".ci" / "kernel-check"


def test_ci_kernel_check_skips_and_says_why_without_lake():
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "lake").exists())
    env["PYTHON"] = sys.executable
    proc = subprocess.run([str(CI_KERNEL_CHECK)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "kernel check skipped" in proc.stdout and "`lake` is not on PATH" in proc.stdout


def test_ci_kernel_check_runs_the_gate_with_lake(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A lake whose export puts sorryAx in a proved declaration: the gate must fail CI.
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"schema": "moegauge.lean_axioms", "version": 1, "lean_version": "4.34.0",
                                  "declarations": [{"name": "MoEGauge.moment_ratio_le_one",
                                                    "module": "MoEGauge.JensenFloor", "axioms": ["sorryAx"]}]}))
    _fake_lake(bin_dir, export)
    repo = CI_KERNEL_CHECK.parents[1]
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".venv", ".git", "evidence", "site", "py", "tests",
                                                              "benchmarks", ".lake", "*.egg-info"))
    (copy / "site" / "_data").mkdir(parents=True)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["PYTHON"] = sys.executable
    proc = subprocess.run([str(copy / ".ci" / "kernel-check")], capture_output=True, text=True, env=env, cwd=copy)
    assert proc.returncode == 1
    assert "kernel gate" in proc.stderr and "MoEGauge.moment_ratio_le_one" in proc.stderr
