"""Artifact-side checks: discovery and validation (bad input), field ranges, theorem status,
provenance (code and input hashes, dirty trees) and orphans."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moegauge.artifacts import ArtifactError, validate_artifact
from moegauge.provenance import code_sha256, sha256_file

from ..jsonio import read_json_file
from .findings import Finding
from .interval import Interval
from .quantities import QUANTITIES

# Under evidence/: what is not an artifact.
NON_ARTIFACT_DIRS = ("claims", "captures", "placements")  # placements: bridge.audit.placements
NON_ARTIFACT_FILES = ("audit_baseline.json",)
# the spread stage's reruns (git-ignored): intermediates summarised by evidence/spread/spread.json
NON_ARTIFACT_PREFIXES = ("spread/runs/",)


def discover_artifacts(evidence: Path) -> list[Path]:
    out = []
    for path in sorted(evidence.rglob("*.json")):
        rel = path.relative_to(evidence)
        if (rel.parts[0] in NON_ARTIFACT_DIRS or rel.as_posix() in NON_ARTIFACT_FILES
                or rel.as_posix().startswith(NON_ARTIFACT_PREFIXES)):
            continue
        out.append(path)
    return out


def load_artifacts(paths: list[Path], root: Path) -> tuple[dict[str, dict], list[str]]:
    """Artifacts by repo-relative path, and bad-input messages (file + position)."""
    docs: dict[str, dict] = {}
    problems: list[str] = []
    for path in paths:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        doc, problem = read_json_file(path, rel)
        if problem:
            problems.append(problem)
            continue
        try:
            validate_artifact(doc, rel, schema_check=_fast_schema_check)
        except ArtifactError as exc:
            problems.append(str(exc))
            continue
        docs[rel] = doc
    return docs, problems


def _fast_schema_check(doc) -> tuple[str, str] | None:
    from importlib import resources

    from .schema_check import checker

    text = resources.files("moegauge").joinpath("schemas/artifact.v1.schema.json").read_text(encoding="utf-8")
    return checker(text).first_error(doc)


def check_ranges(rel: str, doc: dict) -> list[Finding]:
    out = []
    for name, m in sorted(doc["measures"].items()):
        spec = QUANTITIES.get(m["quantity"])
        problem = spec.violation(Interval.point(m["value"])) if spec else None
        if problem:
            out.append(Finding("artifact.range", "error", rel, f"/measures/{name}/value", problem, doc["artifact_id"]))
    for tname, tab in sorted(doc["tables"].items()):
        for col, spec_col in sorted(tab["columns"].items()):
            spec = QUANTITIES.get(spec_col["quantity"])
            if spec is None or spec.name == "label":
                continue
            for i, row in enumerate(tab["rows"]):
                problem = spec.violation(Interval.point(row[col]))
                if problem:
                    out.append(Finding("artifact.range", "error", rel, f"/tables/{tname}/rows/{i}/{col}", problem,
                                       doc["artifact_id"]))
                    break  # one finding per column
    return out


@dataclass
class ProvenanceContext:
    root: Path
    code_sha256: str
    corpus_sha256: str | None = None
    _hashes: dict[str, str | None] | None = None

    @classmethod
    def current(cls, root: Path) -> "ProvenanceContext":
        return cls(root=root, code_sha256=code_sha256(), _hashes={})

    def file_sha256(self, rel: str) -> str | None:
        if rel not in self._hashes:
            p = self.root / rel
            self._hashes[rel] = sha256_file(p) if p.is_file() else None
        return self._hashes[rel]


#: Input roles of intermediates that are never committed (``evidence/captures/``): when absent they
#: are not findings; when present they must still match.
REGENERATED_ROLES = frozenset({"capture", "capture_manifest"})


def check_provenance(rel: str, doc: dict, ctx: ProvenanceContext) -> list[Finding]:
    prov = doc["provenance"]
    aid = doc["artifact_id"]
    out = []
    if prov["code_sha256"] != ctx.code_sha256:
        out.append(Finding("provenance.stale_code", "warning", rel, "/provenance/code_sha256",
                           "made by other code than py/moegauge now holds: rerun the stage that makes it", aid))
    for i, item in enumerate(prov["inputs"]):
        current = ctx.file_sha256(item["path"])
        if current is None and item["role"] in REGENERATED_ROLES:
            continue  # a git-ignored intermediate, absent until a run remakes it (then it is checked)
        if current is None:
            out.append(Finding("provenance.stale_input", "warning", rel, f"/provenance/inputs/{i}",
                               f"input {item['path']} no longer exists", aid))
        elif current != item["sha256"]:
            out.append(Finding("provenance.stale_input", "warning", rel, f"/provenance/inputs/{i}",
                               f"input {item['path']} changed since the artifact was made", aid))
    corpus = prov["config"].get("corpus_sha256") if isinstance(prov["config"], dict) else None
    if corpus and ctx.corpus_sha256 and corpus != ctx.corpus_sha256:
        out.append(Finding("provenance.stale_input", "warning", rel, "/provenance/config/corpus_sha256",
                           "measured on a corpus that differs from this machine's (another Python release?)", aid))
    if prov.get("git_dirty"):
        out.append(Finding("provenance.dirty", "warning", rel, "/provenance/git_dirty",
                           f"made from a working tree with uncommitted changes (commit {prov.get('git_commit')})", aid))
    return out


def check_theorems(rel: str, pointer: str, names: list[str], statuses: dict[str, dict], subject: str,
                   paper_facing: bool | None) -> list[Finding]:
    """Every cited theorem exists; citing one that is not proved is an error (paper-facing claims)
    or a warning (other claims, and artifacts' ``relies_on``)."""
    out = []
    for i, name in enumerate(names):
        d = statuses.get(name)
        where = f"{pointer}/{i}"
        if d is None:
            out.append(Finding("theorem.unknown", "error", rel, where, f"{name} is not a declaration in lean_status",
                               subject))
        elif d["status"] != "proved":
            severity = "error" if paper_facing else "warning"
            reason = f": {d['deferred_reason']}" if d.get("deferred_reason") else ""
            blockers = f" (blocked by {', '.join(d['blocked_by'])})" if d.get("blocked_by") else ""
            out.append(Finding("theorem.not_proved", severity, rel, where,
                               f"rests on {name}, which is {d['status']}{blockers}{reason}", subject))
    return out
