"""``python -m bridge ladder``: lock a ladder spec, run its queue, show its state, check a reported one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .paths import project_root
from .pipes import print_quietly


def _say(line: str) -> None:
    print_quietly(print, line)

DESCRIPTION = """\
Pre-registered kill ladders (specs under ladders/<name>.json, schema moegauge/ladder v1; see
bridge/ladder/spec.py for the format). Each rung has a hypothesis, a command and its artifact,
preconditions, a success gate and a kill gate (comparisons in the audit's formula language over
artifact fields named by JSON pointer) and trap cells (controls with a required outcome).

  lock NAME     write ladders/NAME.lock.json (the spec's canonical bytes, SHA-256, round). Commit it
                before any result exists: results whose commit does not descend from the lock's
                commit are TAMPERED. Editing a spec after a verdict opens a new round; the old
                round's decisions are kept.
  run NAME      run the queue in order (each command only if its preconditions PASSed), stopping at
                the first KILL or INCONCLUSIVE; later rungs are BLOCKED. Writes decision.json and
                postmortem.md per rung under ladders/NAME/<rung>/ (the postmortem's notes section,
                below its end marker, is kept on every regeneration). --stop RUNG ends after RUNG;
                --no-exec evaluates the artifacts already on disk without running commands.
  run-all       run every ladder of mode "run" (what `make run` does; finished stages are skipped).
  status NAME   the rungs, their verdicts and the round.
  check NAME    a reported ladder (mode "reported"): its queue semantics against the engine's rules.

Verdicts: PASS / KILL / INCONCLUSIVE / BLOCKED / TAMPERED. The audit (check 7) recomputes every
decision. Exit status: 0 done; 1 a TAMPERED verdict or a reported ladder with queue findings;
2 bad input (a malformed spec or gate is named with its file and JSON pointer).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ladder", help="pre-registered kill ladders: lock, run, status, check",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("lock", "run", "run-all", "status", "check"))
    p.add_argument("name", nargs="?", default=None, help="the ladder (ladders/<name>.json); run-all takes none")
    p.add_argument("--stop", default=None, help="run: end after this rung")
    p.add_argument("--no-exec", action="store_true", help="run: evaluate existing artifacts, run no command")
    p.add_argument("--root", type=Path, default=None, help="project root (default: the checkout containing the cwd)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from .ladder import engine
    from .ladder.reported import check_reported
    from .ladder.spec import SpecError, load_spec, spec_path

    root = (args.root or project_root()).resolve()
    if (args.name is None) != (args.action == "run-all"):
        print(f"bridge ladder: error: {args.action} {'takes no NAME' if args.action == 'run-all' else 'needs a NAME'}",
              file=sys.stderr)
        return 2
    try:
        if args.action == "run-all":
            tampered = False
            for name in engine.run_ladders(root):
                _say(f"== {name}")
                tampered |= any(d["verdict"] == "TAMPERED" for d in engine.run(root, name, log=_say))
            return 1 if tampered else 0
        if args.action == "lock":
            lk, what = engine.lock(root, args.name)
            _say(f"{engine.lock_path(root, args.name).relative_to(root)}: {what}")
            return 0
        if args.action == "check":
            spec = load_spec(spec_path(root, args.name))
            findings = check_reported(spec) if spec["mode"] == "reported" else []
            for f in findings:
                _say(f"{spec_path(root, args.name).relative_to(root)}:/rungs/{f.index}: {f.rung}: {f.rule}: {f.message}")
            _say(f"{args.name}: {len(spec['rungs'])} rungs, {len(findings)} queue findings")
            return 1 if findings else 0
        if args.action == "status":
            spec = load_spec(spec_path(root, args.name))
            lk = engine.read_lock(root, args.name)
            _say(f"{args.name}: {spec['title']} — round {lk['round'] if lk else 'unlocked'}")
            import json

            for rung in spec["rungs"]:
                d = engine.rung_dir(root, args.name, rung["id"]) / "decision.json"
                verdict = json.loads(d.read_text())["verdict"] if d.is_file() else rung.get("status", "not run")
                _say(f"  {rung['id']:<10} {verdict}")
            return 0
        decisions = engine.run(root, args.name, stop=args.stop, execute=not args.no_exec, log=_say)
        return 1 if any(d["verdict"] == "TAMPERED" for d in decisions) else 0
    except SpecError as exc:
        print(f"bridge ladder: error: {exc.where}: {exc.message}", file=sys.stderr)
        return 2
