"""The ``lean_status.json`` document: build it from a Lean tree, validate it, load it.

Schema: ``bridge/schemas/lean_status.v1.schema.json`` (``schema: moegauge/lean_status``, version 1).
The document is deterministic: no timestamps, sorted keys and declarations, so the same sources
give byte-identical output.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema
import orjson

from . import __version__
from .jsonio import canonical_json, short_message
from .lean.kernel import KernelReport
from .lean.reader import LeanFile
from .lean.status import STATUSES, DeclarationStatus, compute_statuses
from .lean.tree import gc_paused, read_tree

SCHEMA_ID = "moegauge/lean_status"
SCHEMA_VERSION = 1


class StatusDocumentError(ValueError):
    """A lean_status document that does not satisfy its schema (message names file and pointer)."""


@lru_cache(maxsize=1)
def status_schema() -> dict:
    text = resources.files("bridge").joinpath("schemas/lean_status.v1.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _declaration_json(r: DeclarationStatus) -> dict:
    d = r.decl
    return {
        "name": d.name,
        "kind": d.kind,
        "status": r.status,
        "file": d.file,
        "line": d.line,
        "column": d.column,
        "statement": d.statement,
        "statement_sha256": d.statement_sha256,
        "doc": d.doc,
        "deferred_reason": d.deferred_reason,
        "uses": list(r.uses),
        "blocked_by": list(r.blocked_by),
        "kernel": r.kernel,
        "sorries": [{"line": ln, "column": col} for ln, col in d.sorries],
        "modifiers": list(d.modifiers),
        "attributes": list(d.attributes),
        "anonymous": d.anonymous,
        "parent": d.parent,
        "notes": list(r.notes),
    }


def build_status_document(
    files: list[LeanFile], lean_dir_label: str, kernel: KernelReport, mode: str, warnings: list[str] | None = None
) -> dict:
    """The document; tree-level warnings (duplicate names) go to ``warnings`` when given.

    Built with the cyclic collector paused: the document is millions of acyclic objects, whose
    repeated scans cost 8 s on Mathlib (40% of building it)."""
    with gc_paused():
        return _build_status_document(files, lean_dir_label, kernel, mode, warnings)


def _build_status_document(files: list[LeanFile], lean_dir_label: str, kernel: KernelReport, mode: str,
                           warnings: list[str] | None) -> dict:
    statuses = compute_statuses(files, kernel, warnings)
    counts = {s: 0 for s in STATUSES}
    kernel_counts = {"checked": 0, "failed": 0, "unchecked": 0}
    for r in statuses:
        counts[r.status] += 1
        kernel_counts[r.kernel["status"]] += 1
    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "generator": {"tool": "python -m bridge status", "version": __version__},
        "lean_dir": lean_dir_label,
        "sources": [
            {"file": f.path, "sha256": f.sha256, "declarations": len(f.declarations)}
            for f in sorted(files, key=lambda f: f.path)
        ],
        "kernel_run": {
            "mode": mode,
            "ran": kernel.ran,
            "ok": kernel.ok,
            "reason": kernel.reason,
            "lean_version": kernel.lean_version,
        },
        "counts": counts,
        "kernel_counts": kernel_counts,
        "declarations": [_declaration_json(r) for r in statuses],
    }


def status_json_bytes(doc: dict) -> bytes:
    """The document as UTF-8 bytes, byte-identical to the bridge's ``canonical_json`` (sorted keys,
    2-space indent, trailing newline; a test checks the two agree) but written by orjson:
    ``json.dumps`` with an indent runs the pure-Python encoder (7.5 s on Mathlib). Kept as bytes:
    on Mathlib a ``str`` copy of the 250 MB document costs up to 1 GB (astral characters make
    Python store 4 bytes per character)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def status_json(doc: dict) -> str:
    """``status_json_bytes`` as text."""
    return status_json_bytes(doc).decode("utf-8")


def lean_dir_label(lean_dir: Path, base: Path) -> str:
    try:
        return lean_dir.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return lean_dir.as_posix()


def status_document_for(lean_dir: Path, base: Path, kernel: KernelReport, mode: str) -> dict:
    """Read ``lean_dir`` and build its status document (paths relative to ``base``)."""
    return build_status_document(read_tree(lean_dir, base), lean_dir_label(lean_dir, base), kernel, mode)


@lru_cache(maxsize=1)
def _checker():
    from .audit.schema_check import SchemaChecker

    return SchemaChecker(status_schema())


def validate_status_document(doc: object, source: str = "<lean_status>") -> None:
    """Raise ``StatusDocumentError`` naming the JSON pointer of the first violation.

    A validator compiled from the schema (``fastjsonschema``) checks first — on Mathlib the
    reference ``jsonschema`` validator alone took 30 s; only a document it rejects goes to
    ``jsonschema``, whose first error (sorted by pointer) is the one reported."""
    if _checker().is_valid_fast(doc):
        return
    validator = jsonschema.Draft202012Validator(status_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        pointer = "/" + "/".join(str(p) for p in err.absolute_path)
        raise StatusDocumentError(f"{source}: {pointer}: {short_message(err.message)}")


def load_status_document(path: Path) -> dict:
    """Load and validate a lean_status.json file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise StatusDocumentError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StatusDocumentError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise StatusDocumentError(f"{path}: JSON nested too deeply to read") from None
    validate_status_document(doc, str(path))
    return doc
