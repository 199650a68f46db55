"""Check 7, ladders: every decision recomputed from its locked spec, its artifact and git history.

* a malformed spec is an error (``ladder.spec``);
* a spec without a lock, or with an uncommitted lock, is a warning (``ladder.unlocked``);
* a TAMPERED decision is an error (``ladder.tampered``), and so is a decision on disk that differs
  from its recomputation in verdict, trigger, observed values, artifact hash, round, spec hash or
  blocking rung (``ladder.mismatch``);
* a reported ladder's queue findings are warnings about its source (``ladder.reported_queue``).
"""

from __future__ import annotations

from pathlib import Path

from .findings import Finding

COMPARED = ("verdict", "trigger", "observed", "artifact_sha256", "round", "spec_sha256", "blocked_by")


def check_ladders(root: Path) -> list[Finding]:
    from ..ladder import engine
    from ..ladder.reported import check_reported
    from ..ladder.spec import SpecError, load_spec

    out: list[Finding] = []
    d = root / "ladders"
    specs = sorted(p for p in d.glob("*.json") if not p.name.endswith(".lock.json")) if d.is_dir() else []
    for path in specs:
        rel = path.relative_to(root).as_posix()
        name = path.stem
        try:
            spec = load_spec(path, rel)
        except SpecError as exc:
            where, _, ptr = exc.where.partition(":")
            out.append(Finding("ladder.spec", "error", rel, ptr if ptr.startswith("/") else "", exc.message, name))
            continue
        if spec["mode"] == "reported":
            for f in check_reported(spec):
                out.append(Finding("ladder.reported_queue", "warning", rel, f"/rungs/{f.index}",
                                   f"{f.rung}: {f.message}", f"{name}/{f.rung}"))
            continue
        lk = engine.read_lock(root, name)
        if lk is None or engine.committed_lock_commit(root, name, lk) is None:
            out.append(Finding("ladder.unlocked", "warning", rel, "",
                               "no committed lock: results of this ladder cannot be told from results made after them", name))
        for rung, disk, again in engine.recompute(root, name):
            drel = (engine.rung_dir(root, name, rung) / "decision.json").relative_to(root).as_posix()
            if again["verdict"] == "TAMPERED" or disk.get("verdict") == "TAMPERED":
                out.append(Finding("ladder.tampered", "error", drel, "/verdict",
                                   f"{rung}: TAMPERED ({again['trigger'] or disk.get('trigger')})", f"{name}/{rung}"))
                continue
            if again.get("ancestry_checked") is False:
                out.append(Finding("ladder.ancestry_unchecked", "info", drel, "/artifact_commit",
                                   f"{rung}: this checkout lacks the lock's or the result's commit (shallow clone?): "
                                   "the result-after-lock order was not checked here", f"{name}/{rung}"))
            diff = [k for k in COMPARED if disk.get(k) != again.get(k)]
            if diff:
                out.append(Finding("ladder.mismatch", "error", drel, f"/{diff[0]}",
                                   f"{rung}: {diff[0]} is {disk.get(diff[0])!r} on disk, {again.get(diff[0])!r} recomputed",
                                   f"{name}/{rung}"))
    return out
