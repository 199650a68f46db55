"""Everything the site is built from, read once and hashed: site/_data, evidence, claims, ladders.

Each file read is recorded with its sha256 (the pages' provenance). Malformed input is collected as
``FILE:LINE: POINTER: message`` problems and raised together as :class:`SiteInputError`; the CLI
prints them and exits 2 before anything is written. Missing inputs are not errors: the pages that
need them show an empty state (no ladder, no co-activation study, no audit report yet).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from moegauge.artifacts import ArtifactError, validate_artifact
from moegauge.provenance import git_state

from ..audit.artifacts import discover_artifacts
from ..audit.claims import claims_validator
from ..lean_status import status_schema
from .jsonpos import pointer_line

AUDIT_SCHEMA_ID = "moegauge/audit_report"
#: What each audit finding and claim row must carry for the pages (the audit writes them).
AUDIT_FINDING_KEYS = ("severity", "rule", "file", "pointer", "message", "subject", "acknowledged", "fingerprint")
AUDIT_CLAIM_KEYS = ("id", "file", "status", "value", "sentence")


class SiteInputError(Exception):
    """Bad input: every problem names the file, the line and the JSON pointer of the field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ClaimSet:
    """One claims file: its set name ("reported" = the seeds' numbers, "measured" = ours)."""

    path: str
    set: str
    description: str
    claims: list[dict]


@dataclass
class Ladder:
    """A ladder spec found under ladders/ (any JSON with a ``rungs`` list), with the decision and
    postmortem files found beside it."""

    path: str
    doc: dict
    decisions: dict[str, dict] = field(default_factory=dict)
    postmortems: dict[str, str] = field(default_factory=dict)


@dataclass
class Inputs:
    root: Path
    files: dict[str, str] = field(default_factory=dict)
    site_data: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, dict] = field(default_factory=dict)
    claim_sets: list[ClaimSet] = field(default_factory=list)
    lean_status: dict | None = None
    lean_sources: dict[str, str] = field(default_factory=dict)
    audit: dict | None = None
    ladders: list[Ladder] = field(default_factory=list)
    ladder_files: list[str] = field(default_factory=list)
    git_commit: str | None = None
    git_dirty: bool | None = None

    def artifact(self, rel: str) -> dict | None:
        return self.artifacts.get(rel)

    def artifacts_of_kind(self, kind: str) -> dict[str, dict]:
        return {rel: doc for rel, doc in sorted(self.artifacts.items()) if doc["kind"] == kind}

    def digest(self) -> str:
        """One hash over every input file's path and hash (the build's data identity)."""
        h = hashlib.sha256()
        for rel, sha in sorted(self.files.items()):
            h.update(f"{rel}\0{sha}\n".encode())
        return h.hexdigest()


class _Reader:
    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self.problems: list[str] = []

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def text(self, path: Path) -> str | None:
        rel = self.rel(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.problems.append(f"{rel}:1: cannot read: {exc.strerror or exc}")
            return None
        self.files[rel] = hashlib.sha256(data).hexdigest()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            self.problems.append(f"{rel}:{line}: not UTF-8 text ({exc.reason})")
            return None
        self.texts[rel] = text
        return text

    def json(self, path: Path) -> Any:
        text = self.text(path)
        if text is None:
            return None
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            self.problems.append(f"{self.rel(path)}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})")
        except ValueError as exc:
            self.problems.append(f"{self.rel(path)}:1: {exc}")
        return None

    def problem(self, rel: str, pointer: str, message: str) -> None:
        line = pointer_line(self.texts.get(rel, ""), pointer) or 1
        self.problems.append(f"{rel}:{line}: {pointer or '/'}: {message}")

    def schema(self, rel: str, doc: Any, schema: dict) -> bool:
        validator = jsonschema.Draft202012Validator(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
        if error is None:
            return True
        pointer = "".join(f"/{p}" for p in error.absolute_path)
        self.problem(rel, pointer, error.message)
        return False


def _refuse_constant(token: str):
    raise ValueError(f"non-finite number {token} (NaN/Infinity are not JSON)")


def load_inputs(root: Path) -> Inputs:
    """Read and check every input under ``root``; raises :class:`SiteInputError` on bad input."""
    root = root.resolve()
    r = _Reader(root)
    out = Inputs(root=root)
    out.git_commit, out.git_dirty = git_state(root)

    data_dir = root / "site" / "_data"
    for path in sorted(data_dir.glob("*.json")) if data_dir.is_dir() else []:
        doc = r.json(path)
        if doc is not None:
            out.site_data[path.stem] = doc
    _check_lean_status(r, out, data_dir / "lean_status.json")
    _check_audit(r, out, data_dir / "audit.json")

    evidence = root / "evidence"
    if evidence.is_dir():
        for path in discover_artifacts(evidence):
            doc = r.json(path)
            if doc is None:
                continue
            rel = r.rel(path)
            try:
                validate_artifact(doc, rel)
            except ArtifactError as exc:
                where = f"{exc.pointer or '/'}: "
                r.problem(rel, exc.pointer, exc.message.removeprefix(where))
                continue
            out.artifacts[rel] = doc
        validator_schema = claims_validator().schema
        for path in sorted((evidence / "claims").glob("*.json")):
            doc = r.json(path)
            rel = r.rel(path)
            if doc is not None and r.schema(rel, doc, validator_schema):
                out.claim_sets.append(ClaimSet(rel, doc["set"], doc.get("description", ""), doc["claims"]))

    if out.lean_status is not None:
        for src in out.lean_status["sources"]:
            path = root / src["file"]
            if path.is_file():
                text = r.text(path)
                if text is not None:
                    out.lean_sources[src["file"]] = text

    _load_ladders(r, out, root / "ladders")
    if r.problems:
        raise SiteInputError(r.problems)
    out.files = r.files
    return out


def _check_lean_status(r: _Reader, out: Inputs, path: Path) -> None:
    doc = out.site_data.get("lean_status")
    if doc is None:
        return
    rel = r.rel(path)
    if r.schema(rel, doc, status_schema()):
        out.lean_status = doc


def _check_audit(r: _Reader, out: Inputs, path: Path) -> None:
    doc = out.site_data.get("audit")
    if doc is None:
        return
    rel = r.rel(path)
    if not isinstance(doc, dict) or doc.get("schema") != AUDIT_SCHEMA_ID:
        r.problem(rel, "/schema", f"expected schema {AUDIT_SCHEMA_ID!r} (written by `python -m bridge audit`)")
        return
    ok = True
    for key, keys in (("findings", AUDIT_FINDING_KEYS), ("claims", AUDIT_CLAIM_KEYS)):
        rows = doc.get(key)
        if not isinstance(rows, list):
            r.problem(rel, f"/{key}", "missing or not a list")
            ok = False
            continue
        for i, row in enumerate(rows):
            missing = [k for k in keys if not isinstance(row, dict) or k not in row]
            if missing:
                r.problem(rel, f"/{key}/{i}", f"missing field(s) {', '.join(missing)}")
                ok = False
                break
    for key in ("summary", "lean"):
        if not isinstance(doc.get(key), dict):
            r.problem(rel, f"/{key}", "missing or not an object")
            ok = False
    if ok:
        out.audit = doc


def _load_ladders(r: _Reader, out: Inputs, ladders: Path) -> None:
    """Ladder specs: JSON files with a ``rungs`` list. ``decision.json`` files below a spec's folder
    are matched to rungs by their ``rung`` field, and a ``postmortem.md`` beside a decision belongs
    to the same rung. Every file under ladders/ is hashed into the provenance."""
    if not ladders.is_dir():
        return
    specs: list[tuple[Path, Ladder]] = []
    decisions: list[tuple[Path, dict]] = []
    for path in sorted(p for p in ladders.rglob("*") if p.is_file()):
        rel = r.rel(path)
        out.ladder_files.append(rel)
        if path.suffix != ".json":
            r.text(path)
            continue
        doc = r.json(path)
        if not isinstance(doc, dict):
            continue
        if path.name == "decision.json":
            if not isinstance(doc.get("rung"), str):
                r.problem(rel, "/rung", "a decision names its rung (a string)")
                continue
            decisions.append((path, doc))
        elif "rungs" in doc:
            if not isinstance(doc["rungs"], list) or not all(isinstance(x, dict) and isinstance(x.get("id"), str)
                                                              for x in doc["rungs"]):
                r.problem(rel, "/rungs", "a list of rungs, each an object with a string id")
                continue
            specs.append((path, Ladder(rel, doc)))
    for path, doc in decisions:
        owner = _owning_spec(path, specs)
        if owner is None:
            continue
        owner.decisions[doc["rung"]] = doc
        pm = path.with_name("postmortem.md")
        if pm.is_file():
            owner.postmortems[doc["rung"]] = r.texts.get(r.rel(pm), "")
    out.ladders = [ladder for _, ladder in specs]


def _owning_spec(decision: Path, specs: list[tuple[Path, Ladder]]) -> Ladder | None:
    """The spec whose folder (or stem-named folder) holds ``decision``; the deepest wins."""
    best, depth = None, -1
    for path, ladder in specs:
        for base in (path.parent / path.stem, path.parent):
            if base in decision.parents and len(base.parts) > depth:
                best, depth = ladder, len(base.parts)
    return best
