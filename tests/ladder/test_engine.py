"""The ladder engine in a real git repository: locks, tampering, traps, the queue, rounds, bad specs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.__main__ import main as bridge_main
from bridge.audit.ladders import check_ladders
from bridge.ladder import engine
from bridge.ladder.reported import check_reported

WRITER = ("import json, os, subprocess, sys; "
          "c = subprocess.check_output(['git', 'rev-parse', 'HEAD'], text=True).strip(); "
          "os.makedirs(os.path.dirname(sys.argv[3]), exist_ok=True); "
          "json.dump({'provenance': {'git_commit': c}, 'measures': {'x': {'value': float(sys.argv[1])}, "
          "'c': {'value': float(sys.argv[2])}}}, open(sys.argv[3], 'w'))")


def _rung(rid, x, c, pre=()):
    art = f"evidence/ladder/{rid}.json"
    return {"id": rid, "hypothesis": f"{rid} clears its gate", "command": [sys.executable, "-c", WRITER, str(x), str(c), art],
            "artifact": art, "preconditions": list(pre), "observe": {"x": "/measures/x/value"},
            "success_gate": "x >= 1", "kill_gate": "x < 0.5",
            "traps": [{"id": "control", "description": "the control must stay below 1", "observe": {"c": "/measures/c/value"},
                       "requires": "c < 1"}]}


def _spec(*rungs):
    return {"schema": "moegauge/ladder", "schema_version": 1, "name": "demo", "title": "A demo ladder", "mode": "run",
            "rungs": list(rungs)}


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "test")
    (tmp_path / "README").write_text("x\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "init")
    return tmp_path


def _write_spec(root, spec):
    (root / "ladders").mkdir(exist_ok=True)
    (root / "ladders" / "demo.json").write_text(json.dumps(spec, indent=1))


def _lock_and_commit(root, msg="lock"):
    engine.lock(root, "demo")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", msg)


def _verdicts(ds):
    return [(d["rung"], d["verdict"], d["trigger"], d["blocked_by"]) for d in ds]


def test_queue_stops_at_kill_and_blocks_the_rest(repo):
    _write_spec(repo, _spec(_rung("R1", 1.5, 0.2), _rung("R2", 0.2, 0.2, ["R1"]), _rung("R3", 2, 0.2, ["R2"])))
    _lock_and_commit(repo)
    ds = engine.run(repo, "demo", log=lambda s: None)
    assert _verdicts(ds) == [("R1", "PASS", "success_gate", None), ("R2", "KILL", "kill_gate", None),
                             ("R3", "BLOCKED", "queue_stopped", "R2")]
    assert not (repo / "evidence/ladder/R3.json").exists()  # a blocked rung's command never runs
    assert check_ladders(repo) == []


def test_failed_trap_gives_inconclusive(repo):
    _write_spec(repo, _spec(_rung("R1", 1.5, 2.0), _rung("R2", 1.5, 0.2, ["R1"])))
    _lock_and_commit(repo)
    ds = engine.run(repo, "demo", log=lambda s: None)
    assert _verdicts(ds)[0] == ("R1", "INCONCLUSIVE", "trap", None)
    assert ds[0]["traps"][0]["held"] is False and ds[1]["verdict"] == "BLOCKED"


def test_edited_spec_after_lock_is_tampered(repo):
    spec = _spec(_rung("R1", 0.7, 0.2))
    _write_spec(repo, spec)
    _lock_and_commit(repo)
    spec["rungs"][0]["success_gate"] = "x >= 0.6"  # moving the gate after seeing x = 0.7
    _write_spec(repo, spec)
    ds = engine.run(repo, "demo", log=lambda s: None)
    assert _verdicts(ds) == [("R1", "TAMPERED", "spec_differs_from_lock", None)]
    assert not (repo / "evidence/ladder/R1.json").exists()
    assert [f.rule for f in check_ladders(repo)] == ["ladder.tampered"]


def test_result_made_before_its_lock_is_tampered(repo):
    spec = _spec(_rung("R1", 1.5, 0.2))
    subprocess.run(spec["rungs"][0]["command"], cwd=repo, check=True)  # the result exists first …
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "result")
    _write_spec(repo, spec)
    _lock_and_commit(repo)  # … and the lock comes after
    ds = engine.run(repo, "demo", execute=False, log=lambda s: None)
    assert _verdicts(ds) == [("R1", "TAMPERED", "result_predates_lock", None)]


def test_a_new_round_keeps_the_old_decision(repo):
    spec = _spec(_rung("R1", 0.7, 0.2))
    _write_spec(repo, spec)
    _lock_and_commit(repo)
    (d1,) = engine.run(repo, "demo", log=lambda s: None)
    assert d1["verdict"] == "INCONCLUSIVE" and d1["round"] == 1
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "round 1 result")
    spec["rungs"][0]["success_gate"] = "x >= 0.6"
    _write_spec(repo, spec)
    lk, what = engine.lock(repo, "demo")
    assert lk["round"] == 2 and "round 2 opened" in what
    assert lk["rounds"][0] == {"round": 1, "spec_sha256": d1["spec_sha256"], "decisions": {"R1": "INCONCLUSIVE"}}
    old = json.loads((repo / "ladders/demo/R1/decision.round1.json").read_text())
    assert old == d1
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "round 2 lock")
    (d2,) = engine.run(repo, "demo", log=lambda s: None)
    assert d2["verdict"] == "PASS" and d2["round"] == 2
    assert (repo / "ladders/demo/R1/decision.round1.json").is_file()


def test_unlocked_or_uncommitted_ladders_do_not_run(repo, capsys):
    _write_spec(repo, _spec(_rung("R1", 1.5, 0.2)))
    assert bridge_main(["ladder", "run", "demo", "--root", str(repo)]) == 2
    assert "not locked" in capsys.readouterr().err
    engine.lock(repo, "demo")
    assert bridge_main(["ladder", "run", "demo", "--root", str(repo)]) == 2
    assert "not committed" in capsys.readouterr().err


@pytest.mark.parametrize("edit, where, words", [
    (lambda s: s["rungs"][0].update(success_gate="x >> 1"), "/rungs/0/success_gate", "one comparison"),
    (lambda s: s["rungs"][0].update(kill_gate="x < (1"), "/rungs/0/kill_gate", "cannot parse"),
    (lambda s: s["rungs"][0].update(kill_gate="y < 1"), "/rungs/0/kill_gate", "'observe' does not define"),
    (lambda s: s["rungs"][0].update(preconditions=["R9"]), "/rungs/0/preconditions/0", "not an earlier rung"),
    (lambda s: s["rungs"][0].pop("command"), "/rungs/0", "'command' is a required property"),
    (lambda s: s.update(mode="sometimes"), "/mode", "is not one of"),
])
def test_malformed_specs_exit_2_with_file_and_pointer(repo, capsys, edit, where, words):
    spec = _spec(_rung("R1", 1.5, 0.2))
    edit(spec)
    _write_spec(repo, spec)
    assert bridge_main(["ladder", "lock", "demo", "--root", str(repo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"demo.json:{where}" in err and words in err


def test_invalid_json_names_line_and_column(repo, capsys):
    (repo / "ladders").mkdir()
    (repo / "ladders" / "demo.json").write_text('{\n  "schema": "moegauge/ladder",\n  "rungs": [,]\n}\n')
    assert bridge_main(["ladder", "lock", "demo", "--root", str(repo)]) == 2
    assert "demo.json:3:" in capsys.readouterr().err


def test_verdicts_are_deterministic_and_the_notes_survive(repo):
    _write_spec(repo, _spec(_rung("R1", 1.5, 0.2), _rung("R2", 0.2, 0.2, ["R1"])))
    _lock_and_commit(repo)
    engine.run(repo, "demo", log=lambda s: None)
    first = {p: p.read_bytes() for p in sorted((repo / "ladders/demo").rglob("decision.json"))}
    pm = repo / "ladders/demo/R2/postmortem.md"
    pm.write_text(pm.read_text() + "The kill stands: x was far below the gate.\n")
    engine.run(repo, "demo", log=lambda s: None)
    assert {p: p.read_bytes() for p in first} == first
    text = pm.read_text()
    assert "The kill stands" in text and text.count(engine.GENERATED_END) == 1 and "| kill | `x < 0.5` | yes |" in text


def test_the_audit_recomputes_decisions(repo):
    _write_spec(repo, _spec(_rung("R1", 0.2, 0.2), _rung("R2", 2, 0.2, ["R1"])))
    _lock_and_commit(repo)
    engine.run(repo, "demo", log=lambda s: None)
    p = repo / "ladders/demo/R1/decision.json"
    d = json.loads(p.read_text())
    d["verdict"] = "PASS"  # a decision edited by hand
    p.write_text(json.dumps(d))
    (f, *_rest) = check_ladders(repo)
    assert f.rule == "ladder.mismatch" and f.pointer == "/verdict" and "'PASS' on disk, 'KILL' recomputed" in f.message


def test_reported_ladder_queue_semantics():
    spec = {"mode": "reported", "rungs": [
        {"id": "A", "status": "PASS", "kill_gate": "already passed"},
        {"id": "B", "status": "KILL", "kill_gate": "x > 1"},
        {"id": "C", "status": "KILL", "kill_gate": "already passed"},
        {"id": "D", "status": "BLOCKED_NO_PASS", "kill_gate": "y > 2"}]}
    rules = [(f.rung, f.rule) for f in check_reported(spec)]
    assert rules == [("C", "ran_after_stop"), ("C", "kill_gate_already_passed")]


def test_a_shallow_clone_reports_unchecked_ancestry_not_tampering(repo, tmp_path_factory):
    _write_spec(repo, _spec(_rung("R1", 1.5, 0.2)))
    _lock_and_commit(repo)
    _git(repo, "commit", "-q", "--allow-empty", "-m", "after the lock")
    engine.run(repo, "demo", log=lambda s: None)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "results")
    shallow = tmp_path_factory.mktemp("shallow") / "c"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)], check=True)
    findings = check_ladders(shallow)
    assert [(f.rule, f.severity) for f in findings] == [("ladder.ancestry_unchecked", "info")]
    assert check_ladders(repo) == []


def test_claims_citing_a_rung_verdict_are_checked(repo):
    from bridge.audit.claims import Resolver, evaluate_claims, load_claim_files

    _write_spec(repo, _spec(_rung("R1", 0.2, 0.2)))
    _lock_and_commit(repo)
    engine.run(repo, "demo", log=lambda s: None)

    def claim(cid, value):
        return {"id": cid, "sentence": f"R1 is {value}.", "value": value, "quantity": "verdict",
                "source": {"ladder": "demo", "rung": "R1"}, "theorems": [], "appears_in": ["test"], "paper_facing": False}

    path = repo / "claims.json"
    path.write_text(json.dumps({"schema": "moegauge/claims", "schema_version": 1, "set": "t", "description": "t",
                                "claims": [claim("a.right", "KILL"), claim("a.wrong", "PASS")]}))
    records, problems = load_claim_files([path], repo)
    assert problems == []
    findings = evaluate_claims(records, Resolver(repo, {}, {"declarations": []}, records))
    assert [(f.subject, f.rule) for f in findings] == [("a.wrong", "claim.recompute")]
    assert records["a.right"].status == "consistent"
