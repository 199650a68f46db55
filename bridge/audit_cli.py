"""``python -m bridge audit``: cross-check every claim and artifact against the Lean theorems."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from pathlib import Path

from .jsonio import canonical_json, short_message, write_text_atomic
from .pipes import print_quietly
from .lean.errors import LeanSyntaxError
from .lean.status import STATUSES
from .paths import project_root

DESCRIPTION = """\
Audit the evidence: every claim (evidence/claims/*.json) is recomputed from the artifact fields or
formula it names, compared at the precision it is stated at (interval arithmetic), checked against
its quantity's range and what its theorems imply (β ≤ 1, the 2/π floor and its cosine form √(2/π),
residual = 1 − cos², ...), and its theorems' status is checked in lean_status (a paper-facing claim
on an unproved theorem is an error). Artifacts are checked for schema, ranges, stale code or inputs,
dirty trees and orphans; each theorem's numeric shadow (a Hypothesis property) is run.

Findings reviewed and accepted by a person go into the baseline (evidence/audit_baseline.json),
each with its reason; they are still reported but do not fail the audit.

Exit status: 0 every error and warning is acknowledged; 1 new findings; 2 bad input or usage
(a malformed artifact, claim or baseline file is named with its position).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="check every claim and artifact against the theorems",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=None, help="project root (default: the checkout containing the cwd)")
    p.add_argument("--evidence", type=Path, default=None, help="evidence directory (default: <root>/evidence)")
    p.add_argument("--claims", type=Path, nargs="*", default=None,
                   help="claim files (default: <evidence>/claims/*.json)")
    p.add_argument("--lean-dir", type=Path, default=None, help="Lean sources (default: <root>/lean)")
    p.add_argument("--lean-status", type=Path, default=None,
                   help="lean_status.json to use when it matches the sources (default: site/_data/lean_status.json)")
    p.add_argument("--baseline", type=Path, default=None,
                   help="acknowledged findings (default: <evidence>/audit_baseline.json)")
    p.add_argument("--json", dest="json_out", type=Path, default=None, help="also write the full report here")
    p.add_argument("--site-data", type=Path, default=None,
                   help="where the site's audit data goes (default: <root>/site/_data/audit.json; '-' to skip)")
    p.add_argument("--no-shadows", action="store_true", help="skip the numeric shadows")
    p.add_argument("--shadow-examples", type=int, default=40,
                   help="Hypothesis examples per shadow (default 40; derandomised)")
    p.add_argument("--print-baseline", action="store_true",
                   help="print baseline entries for the new findings (fill in each reason before adding them)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also list acknowledged findings (with the reason each was accepted) and the Lean counts")
    p.add_argument("--all", action="store_true", help="list information findings too")
    p.set_defaults(func=run)


def _print_report(report, show_all: bool, out=None, verbose: bool = False) -> None:
    """A summary line, then every new error and warning in full; acknowledged findings and the Lean
    counts only with ``verbose``, information findings only with ``show_all``."""
    out = out if out is not None else sys.stdout
    width = shutil.get_terminal_size((120, 20)).columns
    doc = report.to_json()
    s = doc["summary"]
    print(f"audit: {s['claims']} claims, {s['artifacts']} artifacts, {s['shadows']} shadow rows; "
          f"{s['error']} errors, {s['warning']} warnings, {s['info']} infos "
          f"({s['acknowledged']} acknowledged, {s['new']} new)", file=out)
    if verbose:
        lean = doc["lean"]
        print("  lean: " + " · ".join(f"{k} {lean['counts'][k]}" for k in STATUSES)
              + f"; kernel: {lean['kernel_run']['reason']}", file=out)
    # New errors and warnings are always shown; acknowledged ones (marked, with the reason they were
    # accepted) with --verbose; information with --all.
    shown = [(f, ack) for f, ack in report.findings if show_all or f.severity != "info"]
    rows = [(f, ack) for f, ack in shown if verbose or not ack]
    for f, ack in rows:
        where = f"{f.file}{('#' + f.pointer) if f.pointer else ''}"
        tag = {"error": "ERROR", "warning": "WARN", "info": "info"}[f.severity] + (" (acknowledged)" if ack else "")
        print(f"  {tag:<7} {f.rule:<24} {where}", file=out)
        msg = f.message if len(f.message) <= 300 else f.message[:297] + "…"
        for line in textwrap.wrap(msg, max(40, width - 10)):
            print(f"          {line}", file=out)
        if ack:
            for line in textwrap.wrap(f"accepted because: {ack}", max(40, width - 10)):
                print(f"          {line}", file=out)
    for e in report.unused_baseline:
        print(f"  baseline entry no longer fires: {e['fingerprint']} {e['rule']} {e.get('file', '')}"
              f"{('#' + e['pointer']) if e.get('pointer') else ''}", file=out)
    acknowledged, hidden = len(shown) - len(rows), len(report.findings) - len(shown)
    not_shown = ([f"{acknowledged} acknowledged (-v lists them with their reasons)"] if acknowledged else []) + (
        [f"{hidden} information (--all lists them)"] if hidden else [])
    if not_shown:
        print(f"  (not shown: {'; '.join(not_shown)})", file=out)


def run(args: argparse.Namespace) -> int:
    from .audit.findings import Baseline
    from .audit.runner import AuditOptions, BadInput, run_audit

    root = (args.root or project_root()).resolve()
    if args.shadow_examples < 1:
        print("bridge audit: error: --shadow-examples must be at least 1", file=sys.stderr)
        return 2
    opts = AuditOptions(root=root, evidence=args.evidence, claims=args.claims, lean_dir=args.lean_dir,
                        lean_status=args.lean_status, baseline=args.baseline, shadows=not args.no_shadows,
                        shadow_examples=args.shadow_examples)
    if not opts.lean_dir.is_dir():
        print(f"bridge audit: error: {opts.lean_dir}: not a directory of Lean sources", file=sys.stderr)
        return 2
    try:
        report = run_audit(opts)
    except BadInput as exc:
        for line in exc.problems:
            print(f"bridge audit: bad input: {short_message(line)}", file=sys.stderr)
        return 2
    except LeanSyntaxError as exc:
        print(f"bridge audit: bad input: {exc}", file=sys.stderr)
        return 2
    doc = report.to_json()
    text = canonical_json(doc)
    if args.json_out:
        write_text_atomic(args.json_out, text)
    site = args.site_data if args.site_data is not None else root / "site" / "_data" / "audit.json"
    if str(site) != "-":
        write_text_atomic(site, text)
    print_quietly(_print_report, report, args.all, None, args.verbose)
    if args.print_baseline:
        entries = [Baseline.entry(f, "TODO: why this finding is accepted") for f in report.new]
        print_quietly(print, json.dumps(entries, indent=2, ensure_ascii=False))
    return report.exit_code
