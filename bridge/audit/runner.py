"""The audit: load everything, run the six check families, match the baseline, build the report.

1. schema validity of artifacts and claims (violations are bad input: exit 2);
2. theorems: every ``relies_on`` and claim theorem exists in lean_status; a claim resting on a
   theorem that is not proved is an error when paper-facing, a warning otherwise;
3. claims recomputed from their sources at their stated precision (interval arithmetic);
4. quantity ranges and what the theorems imply (floors, unit conflation, residual energy, ...);
5. provenance: stale code or inputs, dirty trees, orphan artifacts no claim uses;
6. numeric shadows (budgeted, derandomised): counterexamples, stale statements, missing shadows.

The report is deterministic and independent of file order (everything is sorted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from moegauge import theorems as T

from .. import __version__
from ..lean.kernel import KernelReport
from ..lean_status import StatusDocumentError, load_status_document, status_document_for
from .artifacts import (
    ProvenanceContext,
    check_provenance,
    check_ranges,
    check_theorems,
    discover_artifacts,
    load_artifacts,
)
from .claims import Resolver, evaluate_claims, load_claim_files
from .findings import Baseline, Finding
from .implications import check_implications

REPORT_SCHEMA = "moegauge/audit_report"


class BadInput(Exception):
    """Inputs the audit cannot judge (unreadable, not JSON, or not matching their schema)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class AuditOptions:
    root: Path
    evidence: Path | None = None
    claims: list[Path] | None = None
    lean_dir: Path | None = None
    lean_status: Path | None = None
    baseline: Path | None = None
    shadows: bool = True
    shadow_examples: int = 40
    check_corpus: bool = True
    save_counterexamples: bool = True

    def __post_init__(self):
        self.evidence = self.evidence or self.root / "evidence"
        self.lean_dir = self.lean_dir or self.root / "lean"
        if self.baseline is None:
            self.baseline = self.evidence / "audit_baseline.json"


@dataclass
class AuditReport:
    findings: list[tuple[Finding, str | None]]
    unused_baseline: list[dict]
    claims: list[dict]
    artifacts: list[dict]
    shadows: list[dict]
    lean: dict
    inputs: dict = field(default_factory=dict)

    @property
    def new(self) -> list[Finding]:
        return [f for f, ack in self.findings if ack is None and f.severity in ("error", "warning")]

    @property
    def exit_code(self) -> int:
        return 1 if self.new else 0

    def to_json(self) -> dict:
        counts = {s: 0 for s in ("error", "warning", "info")}
        for f, _ in self.findings:
            counts[f.severity] += 1
        return {
            "schema": REPORT_SCHEMA, "schema_version": 1,
            "generator": {"tool": "python -m bridge audit", "version": __version__},
            "summary": {**counts, "acknowledged": sum(1 for _, a in self.findings if a is not None),
                        "new": len(self.new), "unused_baseline": len(self.unused_baseline),
                        "claims": len(self.claims), "artifacts": len(self.artifacts),
                        "shadows": len(self.shadows), "exit_code": self.exit_code},
            "findings": [f.to_json(ack) for f, ack in self.findings],
            "unused_baseline": self.unused_baseline,
            "claims": self.claims, "artifacts": self.artifacts, "shadows": self.shadows, "lean": self.lean,
            "inputs": self.inputs,
        }


def _lean_statuses(opts: AuditOptions, findings: list[Finding]) -> dict:
    """lean_status from the tracker file when it matches the sources, else read fresh (static)."""
    base = opts.lean_dir.parent
    fresh = status_document_for(opts.lean_dir, base, KernelReport.skipped("audit: static read"), "off")
    path = opts.lean_status or opts.root / "site" / "_data" / "lean_status.json"
    if path.is_file():
        try:
            doc = load_status_document(path)
        except StatusDocumentError as exc:
            raise BadInput([str(exc)]) from None
        if doc["sources"] == fresh["sources"]:
            return doc
        findings.append(Finding("lean_status.stale", "warning", _rel(path, opts.root), "/sources",
                                "lean_status.json does not match the Lean sources: run `python -m bridge status`",
                                "lean_status"))
    return fresh


def run_audit(opts: AuditOptions) -> AuditReport:
    root = opts.root
    findings: list[Finding] = []
    problems: list[str] = []
    lean = _lean_statuses(opts, findings)
    statuses = {d["name"]: d for d in lean["declarations"]}

    artifact_paths = discover_artifacts(opts.evidence) if opts.evidence.is_dir() else []
    artifacts, bad = load_artifacts(artifact_paths, root)
    problems += bad
    claim_paths = opts.claims if opts.claims is not None else sorted((opts.evidence / "claims").glob("*.json"))
    claims, bad = load_claim_files(claim_paths, root)
    problems += bad
    try:
        baseline = Baseline.load(opts.baseline)
    except ValueError as exc:
        problems.append(str(exc))
        baseline = Baseline(opts.baseline)
    if problems:
        raise BadInput(sorted(problems))

    # 3, 4: claims
    resolver = Resolver(root, artifacts, lean, claims)
    findings += evaluate_claims(claims, resolver)
    findings += check_implications(claims)
    # 2: theorems cited by claims and artifacts
    for rec in claims.values():
        findings += check_theorems(rec.file, f"{rec.pointer}/theorems", rec.data["theorems"], statuses, rec.id,
                                   rec.data["paper_facing"])
    used = set().union(*(rec.artifacts for rec in claims.values())) if claims else set()
    # 5: artifacts
    ctx = ProvenanceContext.current(root)
    if opts.check_corpus and any(isinstance(d["provenance"]["config"], dict)
                                 and d["provenance"]["config"].get("corpus_sha256") for d in artifacts.values()):
        from moegauge.lm.corpus import build_corpus

        ctx.corpus_sha256 = build_corpus().sha256
    inputs_of_others = {i["path"] for d in artifacts.values() for i in d["provenance"]["inputs"]}
    artifact_rows = []
    for rel, doc in sorted(artifacts.items()):
        findings += check_ranges(rel, doc)
        findings += check_theorems(rel, "/relies_on", doc["relies_on"], statuses, doc["artifact_id"], None)
        prov = check_provenance(rel, doc, ctx)
        findings += prov
        orphan = rel not in used and rel not in inputs_of_others
        if orphan:
            findings.append(Finding("provenance.orphan", "info", rel, "", "no claim uses this artifact",
                                    doc["artifact_id"]))
        artifact_rows.append({"path": rel, "kind": doc["kind"], "artifact_id": doc["artifact_id"],
                              "relies_on": doc["relies_on"], "stale": any(f.rule.startswith("provenance.stale") for f in prov),
                              "dirty": bool(doc["provenance"].get("git_dirty")), "orphan": orphan,
                              "used_by": sorted(r.id for r in claims.values() if rel in r.artifacts)})
    # 5b: expert-placement maps (data for serving engines, not artifacts)
    from .placements import check_placements

    if opts.evidence.is_dir():
        findings += check_placements(opts.evidence, root)
    # 7: ladders (decisions recomputed from their locked specs; reported ladders' queues)
    from .ladders import check_ladders

    findings += check_ladders(root)
    # 6: shadows
    shadow_rows = _shadows(opts, statuses, findings, root) if opts.shadows else []

    findings = sorted(set(findings), key=Finding.sort_key)
    claim_rows = [{
        "id": r.id, "file": r.file, "pointer": r.pointer, "sentence": r.data["sentence"], "value": r.data["value"],
        "quantity": r.quantity, "true_quantity": r.true_quantity, "computed": r.computed_text or None,
        "status": r.status, "paper_facing": r.data["paper_facing"], "appears_in": r.data["appears_in"],
        "theorems": [{"name": t, "status": statuses.get(t, {}).get("status", "unknown"),
                      "kernel": statuses.get(t, {}).get("kernel", {}).get("status", "unknown")}
                     for t in r.data["theorems"]],
    } for r in sorted(claims.values(), key=lambda r: (r.file, r.id))]
    return AuditReport(
        findings=[(f, baseline.reason(f)) for f in findings],
        unused_baseline=baseline.unused(findings),
        claims=claim_rows, artifacts=artifact_rows, shadows=shadow_rows,
        lean={"counts": lean["counts"], "kernel_counts": lean["kernel_counts"], "kernel_run": lean["kernel_run"]},
        inputs={"claim_files": sorted(_rel(p, root) for p in claim_paths),
                "baseline": _rel(opts.baseline, root) if opts.baseline else None},
    )


def _shadows(opts: AuditOptions, statuses: dict[str, dict], findings: list[Finding], root: Path) -> list[dict]:
    from .shadows import load_shadows, run_shadow

    registry = load_shadows()
    rows = []
    where = "bridge/audit/shadows/properties.py"
    for name, s in sorted(registry.items()):
        decl = statuses.get(name)
        row = {"theorem": name, "description": s.description, "examples": opts.shadow_examples,
               "statement_sha256": s.statement_sha256, "stale": False, "outcome": "not_run", "detail": ""}
        if decl is None:
            findings.append(Finding("shadow.unknown_theorem", "error", where, f"/{name}",
                                    f"the shadow names {name}, which is not in lean_status", name))
        elif decl["statement_sha256"] != s.statement_sha256:
            row["stale"] = True
            findings.append(Finding("shadow.stale", "warning", where, f"/{name}",
                                    "the Lean statement changed since the shadow was written "
                                    f"(now {decl['statement_sha256'][:12]}…): re-read it against the new statement", name))
        result = run_shadow(s, opts.shadow_examples)
        row["outcome"], row["detail"] = result.outcome, result.detail
        if result.outcome != "passed":
            rule = "shadow.counterexample" if result.outcome == "counterexample" else "shadow.error"
            saved = _save_counterexample(opts, name, result) if opts.save_counterexamples else None
            where_saved = f" (saved to {_rel(saved, root)})" if saved else ""
            findings.append(Finding(rule, "error", where, f"/{name}",
                                    f"{result.detail.splitlines()[-1] if result.detail else result.outcome}{where_saved}",
                                    name))
        rows.append(row)
    shadowed = set(registry)
    for name in sorted(set(T.ALL_THEOREMS) - shadowed):
        findings.append(Finding("shadow.missing", "info", "bridge/audit/shadows/properties.py", f"/{name}",
                                "this load-bearing theorem has no numeric shadow", name))
    for name, d in sorted(statuses.items()):
        if name not in shadowed and d["kind"] in ("theorem", "lemma") and name not in T.ALL_THEOREMS:
            rows.append({"theorem": name, "description": "", "examples": 0, "statement_sha256": d["statement_sha256"],
                         "stale": False, "outcome": "no_shadow", "detail": ""})
    return rows


def _save_counterexample(opts: AuditOptions, theorem: str, result) -> Path | None:
    """Save a shadow's counterexample as an evidence artifact linked to the theorem."""
    from moegauge.artifacts import build_artifact, measure, table, write_artifact

    aid = "counterexample_" + theorem.split(".")[-1].lower()
    doc = build_artifact(
        kind="shadow", artifact_id=aid,
        description=f"Counterexample found by the numeric shadow of {theorem}.",
        measures={"examples_budget": measure("count", result.examples, "Hypothesis examples allowed")},
        tables={"falsifying_example": table("Hypothesis's report of the falsifying example.",
                                            {"line": ("label", "report line")},
                                            [{"line": ln} for ln in result.detail.splitlines()[:200]])},
        relies_on=[theorem] if theorem in T.ALL_THEOREMS else [],
        config={"theorem": theorem, "examples": result.examples}, root=opts.root,
    )
    path = opts.evidence / "shadow" / f"{aid}.json"
    write_artifact(doc, path)
    return path


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()
