"""Locks, the queue, verdicts, ``decision.json`` and ``postmortem.md``.

**Lock.** ``ladder lock NAME`` writes ``ladders/NAME.lock.json``: the spec's canonical text, its
SHA-256 and the round. A lock counts once it is *committed*: its commit is the first one in which
the lock file holds this round and hash. A result counts only if the commit recorded in its
artifact's provenance descends from the lock's commit (``git merge-base --is-ancestor``): a result
made before its lock, or a spec that differs from its lock, is TAMPERED. Changing a locked spec
after any verdict of its round opens a new round; the old round's decisions are kept beside the
new ones (``decision.round<k>.json``) and the lock lists every round.

**Queue.** Rungs run in spec order; a rung runs only when its preconditions PASSed and the queue has
not stopped. The queue stops at the first KILL, INCONCLUSIVE or TAMPERED; every later rung is
BLOCKED, naming the rung that blocked it. Per rung:

1. spec ≠ lock → TAMPERED (``spec_differs_from_lock``); nothing runs;
2. the command (``python`` as its first word means the interpreter running the engine) fails or
   writes no artifact → INCONCLUSIVE (``command_failed`` / ``no_artifact``);
3. the artifact's commit does not descend from the lock's → TAMPERED (``result_predates_lock``);
   a checkout without those commits (a shallow clone) cannot check the order: the decision says
   ``"ancestry_checked": false`` and the audit reports it as information, not as a pass;
4. an observed field is missing → INCONCLUSIVE (``missing_field``);
5. a trap's requirement fails → INCONCLUSIVE (``trap``) — a failed control voids the rung;
6. success gate only → PASS; kill gate only → KILL; neither → INCONCLUSIVE (``neither_gate``);
   both → INCONCLUSIVE (``both_gates``: the gates overlap).

Verdicts are a pure function of the locked spec, the artifact bytes and git history: the audit
recomputes every decision and reports any difference.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ..audit.expr import FormulaError, evaluate
from ..audit.interval import Interval
from ..jsonio import canonical_json, write_text_atomic
from .spec import SpecError, canonical_bytes, load_spec, parse_gate, spec_path, spec_sha256

LOCK_SCHEMA = "moegauge/ladder_lock"
DECISION_SCHEMA = "moegauge/ladder_decision"
STOPPING = ("KILL", "INCONCLUSIVE", "TAMPERED")
GENERATED_END = "<!-- generated:end — everything below this line is kept when the file is regenerated -->"
NOTES_HEADER = "## Notes (written by a person)\n\n_What this verdict means for the seed's claim, and what to try next._\n"


# --- git -------------------------------------------------------------------------------------------

def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def _known(root: Path, commit: str) -> bool:
    return _git(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


def is_ancestor(root: Path, older: str, newer: str) -> bool | None:
    """Whether ``older`` is an ancestor of (or equal to) ``newer``; None when this checkout does not
    hold both commits (a shallow clone), so the order cannot be checked here."""
    if not (_known(root, older) and _known(root, newer)):
        return None
    return _git(root, "merge-base", "--is-ancestor", older, newer).returncode == 0


def lock_path(root: Path, name: str) -> Path:
    return spec_path(root, name).with_suffix(".lock.json")


def committed_lock_commit(root: Path, name: str, lock: dict) -> str | None:
    """The first commit whose copy of the lock file holds this round and spec hash (None: the lock
    is not committed)."""
    rel = lock_path(root, name).relative_to(root).as_posix()
    log = _git(root, "log", "--reverse", "--format=%H", "--", rel)
    if log.returncode != 0:
        return None
    for commit in log.stdout.split():
        shown = _git(root, "show", f"{commit}:{rel}")
        if shown.returncode != 0:
            continue
        try:
            doc = json.loads(shown.stdout)
        except json.JSONDecodeError:
            continue
        if doc.get("round") == lock["round"] and doc.get("spec_sha256") == lock["spec_sha256"]:
            return commit
    return None


# --- lock ------------------------------------------------------------------------------------------

def read_lock(root: Path, name: str) -> dict | None:
    p = lock_path(root, name)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SpecError(f"{p}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}") from None


def rung_dir(root: Path, name: str, rung: str) -> Path:
    return spec_path(root, name).parent / name / rung


def lock(root: Path, name: str) -> tuple[dict, str]:
    """Write (or keep) the lock; returns (lock, what happened)."""
    spec = load_spec(spec_path(root, name))
    sha = spec_sha256(spec)
    old = read_lock(root, name)
    if old is not None and old["spec_sha256"] == sha:
        return old, f"already locked (round {old['round']}); nothing changed"
    rounds = list(old["rounds"]) if old else []
    decided = {}
    if old is not None:
        for rung in json.loads(old["spec_canonical"])["rungs"]:
            d = rung_dir(root, name, rung["id"]) / "decision.json"
            if d.is_file():
                decided[rung["id"]] = json.loads(d.read_text(encoding="utf-8"))
    if old is not None and decided:
        # a verdict exists: the edit opens a new round and the old round's decisions are kept
        k = old["round"]
        for rid in decided:
            for stem, suffix in (("decision", ".json"), ("postmortem", ".md")):
                src = rung_dir(root, name, rid) / f"{stem}{suffix}"
                if src.is_file():
                    src.replace(src.with_name(f"{stem}.round{k}{suffix}"))
        rounds[-1] = {**rounds[-1], "decisions": {rid: d["verdict"] for rid, d in sorted(decided.items())}}
        new_round, what = k + 1, f"round {k + 1} opened (round {k} had verdicts; they are kept as *.round{k}.*)"
    elif old is not None:
        new_round, what = old["round"], f"round {old['round']} relocked before any verdict"
        rounds = rounds[:-1]
    else:
        new_round, what = 1, "round 1 locked"
    rounds.append({"round": new_round, "spec_sha256": sha})
    doc = {"schema": LOCK_SCHEMA, "schema_version": 1, "ladder": name, "round": new_round, "spec_sha256": sha,
           "spec_canonical": canonical_bytes(spec).decode("utf-8"), "rounds": rounds}
    write_text_atomic(lock_path(root, name), canonical_json(doc))
    return doc, what + "; commit the lock before running the ladder"


# --- evaluation ------------------------------------------------------------------------------------

def _pointer(doc, ptr: str):
    node = doc
    for part in ptr.strip("/").split("/") if ptr not in ("", "/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _observe(doc: dict, observe: dict) -> tuple[dict, str | None]:
    out = {}
    for name, ptr in sorted(observe.items()):
        try:
            v = _pointer(doc, ptr)
        except (KeyError, IndexError, ValueError, TypeError):
            return out, f"{name} ({ptr})"
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return out, f"{name} ({ptr}) is not a number"
        out[name] = float(v)
    return out, None


def gate_holds(text: str, values: dict, where: str = "gate") -> bool:
    g = parse_gate(text, where)
    env = {k: Interval.point(v) for k, v in values.items()}
    try:
        lhs, rhs = evaluate(g.lhs, env), evaluate(g.rhs, env)
    except FormulaError as exc:
        raise SpecError(where, str(exc)) from None
    a, b = (lhs.lo + lhs.hi) / 2, (rhs.lo + rhs.hi) / 2
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[g.op]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decide(root: Path, name: str, spec: dict, rung: dict, lock: dict | None, lock_commit: str | None,
           earlier: dict[str, str], stopped_by: str | None, command_exit: int | None = None) -> dict:
    """The decision for one rung from the spec, the lock, the artifact on disk and git history."""
    base = {"schema": DECISION_SCHEMA, "schema_version": 1, "ladder": name, "rung": rung["id"],
            "round": lock["round"] if lock else None, "spec_sha256": spec_sha256(spec),
            "lock_commit": lock_commit, "hypothesis": rung["hypothesis"],
            "gates": {"success": rung["success_gate"], "kill": rung["kill_gate"]}, "observed": {},
            "gate_results": {"success": None, "kill": None}, "traps": [], "blocked_by": None, "trigger": None,
            "artifact": rung.get("artifact"), "artifact_sha256": None, "artifact_commit": None,
            "command_exit": command_exit, "ancestry_checked": None}

    def verdict(v: str, trigger: str | None, **kw) -> dict:
        return {**base, **kw, "verdict": v, "trigger": trigger}

    if lock is None or lock["spec_sha256"] != base["spec_sha256"]:
        return verdict("TAMPERED", "spec_differs_from_lock")
    if stopped_by is not None:
        return verdict("BLOCKED", "queue_stopped", blocked_by=stopped_by)
    for pre in rung.get("preconditions", []):
        if earlier.get(pre) != "PASS":
            return verdict("BLOCKED", "precondition", blocked_by=pre)
    if command_exit not in (None, 0):
        return verdict("INCONCLUSIVE", "command_failed")
    art = root / rung["artifact"]
    if not art.is_file():
        return verdict("INCONCLUSIVE", "no_artifact")
    base["artifact_sha256"] = _sha256(art)
    try:
        doc = json.loads(art.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return verdict("INCONCLUSIVE", "no_artifact")
    commit = (doc.get("provenance") or {}).get("git_commit") if isinstance(doc, dict) else None
    base["artifact_commit"] = commit
    order = is_ancestor(root, lock_commit, commit) if commit and lock_commit else False
    base["ancestry_checked"] = order is not None
    if order is False:
        return verdict("TAMPERED", "result_predates_lock")
    observed, missing = _observe(doc, rung["observe"])
    base["observed"] = observed
    if missing:
        return verdict("INCONCLUSIVE", "missing_field", missing=missing)
    traps, failed = [], False
    for trap in rung.get("traps", []):
        tv, tmiss = _observe(doc, trap["observe"])
        held = None if tmiss else gate_holds(trap["requires"], tv, f"{rung['id']}/traps/{trap['id']}")
        traps.append({"id": trap["id"], "requires": trap["requires"], "observed": tv, "held": held})
        failed |= held is not True
    base["traps"] = traps
    if failed:
        return verdict("INCONCLUSIVE", "trap")
    ok = gate_holds(rung["success_gate"], observed, f"{rung['id']}/success_gate")
    kill = gate_holds(rung["kill_gate"], observed, f"{rung['id']}/kill_gate")
    base["gate_results"] = {"success": ok, "kill": kill}
    if ok and kill:
        return verdict("INCONCLUSIVE", "both_gates")
    if ok:
        return verdict("PASS", "success_gate")
    if kill:
        return verdict("KILL", "kill_gate")
    return verdict("INCONCLUSIVE", "neither_gate")


# --- the queue -------------------------------------------------------------------------------------

def run(root: Path, name: str, *, stop: str | None = None, execute: bool = True,
        log: Callable[[str], None] = print) -> list[dict]:
    """Run (or, with ``execute=False``, only evaluate) the queue and write every decision."""
    spec = load_spec(spec_path(root, name))
    if spec["mode"] != "run":
        raise SpecError(str(spec_path(root, name)), "a reported ladder is checked (`ladder check`), not run")
    ids = [r["id"] for r in spec["rungs"]]
    if stop is not None and stop not in ids:
        raise SpecError("--stop", f"no rung {stop!r} in {name} (rungs: {', '.join(ids)})")
    lk = read_lock(root, name)
    if lk is None:
        raise SpecError(str(lock_path(root, name)), f"not locked: run `python -m bridge ladder lock {name}` and commit it")
    lock_commit = committed_lock_commit(root, name, lk)
    if lock_commit is None and lk["spec_sha256"] == spec_sha256(spec):
        raise SpecError(str(lock_path(root, name)), "the lock is not committed: commit it before any result exists")
    earlier: dict[str, str] = {}
    stopped_by = None
    out = []
    for rung in spec["rungs"]:
        code = None
        runnable = (lk["spec_sha256"] == spec_sha256(spec) and stopped_by is None
                    and all(earlier.get(p) == "PASS" for p in rung.get("preconditions", [])))
        if execute and runnable:
            argv = list(rung["command"])
            if argv[0] == "python":  # the interpreter running the engine (the project's venv), not PATH's
                argv[0] = sys.executable
            log(f"[{rung['id']}] {' '.join(rung['command'])}")
            code = subprocess.run(argv, cwd=root).returncode
        d = decide(root, name, spec, rung, lk, lock_commit, earlier, stopped_by, command_exit=code)
        write_decision(root, name, d, rung)
        log(f"[{rung['id']}] {d['verdict']}" + (f" ({d['trigger']})" if d["trigger"] else "")
            + (f", blocked by {d['blocked_by']}" if d["blocked_by"] else ""))
        out.append(d)
        earlier[rung["id"]] = d["verdict"]
        if d["verdict"] in STOPPING and stopped_by is None:
            stopped_by = rung["id"]
        if stop is not None and rung["id"] == stop:
            break
    return out


def write_decision(root: Path, name: str, d: dict, rung: dict) -> None:
    folder = rung_dir(root, name, d["rung"])
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "decision.json", canonical_json(d))
    pm = folder / "postmortem.md"
    kept = NOTES_HEADER
    if pm.is_file():
        text = pm.read_text(encoding="utf-8")
        if GENERATED_END in text:
            kept = text.split(GENERATED_END, 1)[1].lstrip("\n")
    write_text_atomic(pm, postmortem(d, rung) + GENERATED_END + "\n\n" + kept)


def _fmt(v) -> str:
    return "—" if v is None else ("yes" if v is True else "no" if v is False else f"{v:.6g}" if isinstance(v, float) else str(v))


def postmortem(d: dict, rung: dict) -> str:
    """The generated part of ``postmortem.md`` (from the decision only)."""
    lines = [f"<!-- generated by `python -m bridge ladder run` from decision.json: do not edit above the end marker -->",
             f"# {d['ladder']} / {d['rung']}: {d['verdict']} (round {d['round']})", "",
             f"**Hypothesis.** {d['hypothesis']}", "",
             f"**Verdict.** {d['verdict']}" + (f", trigger `{d['trigger']}`" if d["trigger"] else "")
             + (f", blocked by `{d['blocked_by']}`" if d["blocked_by"] else "") + ".", "",
             "| gate | condition | holds |", "|---|---|---|",
             f"| success | `{d['gates']['success']}` | {_fmt(d['gate_results']['success'])} |",
             f"| kill | `{d['gates']['kill']}` | {_fmt(d['gate_results']['kill'])} |", ""]
    if d["observed"]:
        lines += ["| observed | value | field |", "|---|---|---|"]
        lines += [f"| `{k}` | {_fmt(v)} | `{rung.get('observe', {}).get(k, '')}` |" for k, v in sorted(d["observed"].items())]
        lines.append("")
    if d["traps"]:
        lines += ["| trap | requires | observed | held |", "|---|---|---|---|"]
        lines += [f"| {t['id']} | `{t['requires']}` | {', '.join(f'{k} = {_fmt(v)}' for k, v in sorted(t['observed'].items()))} "
                  f"| {_fmt(t['held'])} |" for t in d["traps"]]
        lines.append("")
    lines += ["**Provenance.**", f"- artifact: `{d['artifact']}` (SHA-256 `{d['artifact_sha256']}`, commit `{d['artifact_commit']}`)",
              f"- lock commit: `{d['lock_commit']}`; spec SHA-256 `{d['spec_sha256']}`",
              f"- command exit status: {_fmt(d['command_exit'])}", ""]
    return "\n".join(lines) + "\n"


def recompute(root: Path, name: str) -> list[tuple[str, dict, dict | None]]:
    """(rung, decision on disk, recomputed decision or None when the rung has none) for the audit."""
    spec = load_spec(spec_path(root, name))
    lk = read_lock(root, name)
    lock_commit = committed_lock_commit(root, name, lk) if lk else None
    earlier: dict[str, str] = {}
    stopped_by = None
    out = []
    for rung in spec["rungs"]:
        p = rung_dir(root, name, rung["id"]) / "decision.json"
        if not p.is_file():
            break  # the queue did not reach it (or --stop ended before it)
        disk = json.loads(p.read_text(encoding="utf-8"))
        again = decide(root, name, spec, rung, lk, lock_commit, earlier, stopped_by, command_exit=disk.get("command_exit"))
        out.append((rung["id"], disk, again))
        earlier[rung["id"]] = again["verdict"]
        if again["verdict"] in STOPPING and stopped_by is None:
            stopped_by = rung["id"]
    return out


def run_ladders(root: Path) -> list[str]:
    """Names of every ``mode: run`` ladder under ``ladders/`` (for ``ladder run-all``)."""
    out = []
    for p in sorted((root / "ladders").glob("*.json")) if (root / "ladders").is_dir() else []:
        if p.name.endswith(".lock.json"):
            continue
        if json.loads(p.read_text(encoding="utf-8")).get("mode") == "run":
            out.append(p.stem)
    return out
