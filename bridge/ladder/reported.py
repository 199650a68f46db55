"""Reported ladders: a ladder someone else ran, encoded as data, checked for queue semantics.

The engine's own rules applied to the reported statuses, rung by rung in queue order:

* after the first KILL or INCONCLUSIVE the queue has stopped, so every later rung must be
  BLOCKED (a status starting with ``BLOCKED``); a later rung reported as run (PASS / KILL /
  INCONCLUSIVE) is *run after the queue stopped* — a rung added after the result, or a retry that
  should have been a new round;
* a KILL whose kill gate reads "already passed" contradicts itself (the kill gate is what a KILL
  met);
* a BLOCKED rung needs a reason: an earlier stop or a precondition that did not PASS;
* statuses outside PASS / KILL / INCONCLUSIVE / BLOCKED… are findings too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueFinding:
    rung: str
    index: int
    rule: str
    message: str


def _kind(status: str) -> str:
    s = status.strip().upper()
    for v in ("PASS", "KILL", "INCONCLUSIVE", "TAMPERED"):
        if s == v:
            return v
    return "BLOCKED" if s.startswith("BLOCKED") else "UNKNOWN"


def check_reported(spec: dict) -> list[QueueFinding]:
    out = []
    stopped_by = None
    status = {}
    for i, rung in enumerate(spec["rungs"]):
        kind = _kind(rung["status"])
        status[rung["id"]] = kind
        if kind == "UNKNOWN":
            out.append(QueueFinding(rung["id"], i, "status", f"status {rung['status']!r} is not a ladder verdict"))
        if stopped_by is not None and kind in ("PASS", "KILL", "INCONCLUSIVE"):
            out.append(QueueFinding(rung["id"], i, "ran_after_stop",
                                    f"reported {kind} although the queue stopped at {stopped_by}: a rung run after a "
                                    "stop is a new hypothesis, which needs a new round and a new lock"))
        if kind == "KILL" and rung["kill_gate"].strip().lower().rstrip(".") == "already passed":
            out.append(QueueFinding(rung["id"], i, "kill_gate_already_passed",
                                    "a KILL whose kill gate reads 'already passed': the gate a KILL met is not stated"))
        if kind == "BLOCKED" and stopped_by is None and all(status.get(p) == "PASS" for p in rung.get("preconditions", [])):
            out.append(QueueFinding(rung["id"], i, "blocked_without_cause", "BLOCKED with no earlier stop and no failed precondition"))
        if kind in ("KILL", "INCONCLUSIVE", "TAMPERED") and stopped_by is None:
            stopped_by = rung["id"]
    return out
