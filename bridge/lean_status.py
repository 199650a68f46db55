"""The ``lean_status.json`` document: build it from a Lean tree, validate it, load it.

Schema: ``bridge/schemas/lean_status.v1.schema.json`` (``schema: moegauge/lean_status``, version 1).
The document is deterministic: no timestamps, sorted keys and declarations, so the same sources
give byte-identical output.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from functools import lru_cache
from importlib import resources
from itertools import groupby
from pathlib import Path

import fastjsonschema
import jsonschema
import orjson

from moegauge.atomic import atomic_path

from . import __version__
from .jsonio import canonical_json, short_message
from .lean.kernel import KernelReport
from .lean.read_cache import ReadCache
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
        head, statuses = status_document_parts(files, lean_dir_label, kernel, mode, warnings)
        head["declarations"] = [_declaration_json(r) for r in statuses]
        return head


def status_document_parts(files: list[LeanFile], lean_dir_label: str, kernel: KernelReport, mode: str,
                          warnings: list[str] | None = None, progress: Callable[[int], None] | None = None,
                          cache: ReadCache | None = None) -> tuple[dict, list[DeclarationStatus]]:
    """The document without its declarations (``"declarations": []``), and the statuses they are
    made of: ``write_status_document`` turns them into JSON one at a time, so a tree the size of
    Mathlib never holds its 250,000 declaration objects and their text at once. ``cache``: where
    resolved uses are looked up and stored (``compute_statuses``)."""
    with gc_paused():
        return _status_document_parts(files, lean_dir_label, kernel, mode, warnings, progress, cache)


def _status_document_parts(files: list[LeanFile], lean_dir_label: str, kernel: KernelReport, mode: str,
                           warnings: list[str] | None, progress: Callable[[int], None] | None = None,
                           cache: ReadCache | None = None) -> tuple[dict, list[DeclarationStatus]]:
    statuses = compute_statuses(files, kernel, warnings, progress, cache)
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
        "declarations": [],
    }, statuses


def status_json_bytes(doc: dict) -> bytes:
    """The document as UTF-8 bytes, byte-identical to the bridge's ``canonical_json`` (sorted keys,
    2-space indent, trailing newline; a test checks the two agree) but written by orjson:
    ``json.dumps`` with an indent runs the pure-Python encoder (7.5 s on Mathlib). Kept as bytes:
    on Mathlib a ``str`` copy of the 250 MB document costs up to 1 GB (astral characters make
    Python store 4 bytes per character)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
_EMPTY_DECLARATIONS = b'\n  "declarations": [],\n'
_BATCH = 2000


def declaration_documents(statuses: list[DeclarationStatus]) -> Iterator[dict]:
    """The document's ``declarations`` entries, one at a time."""
    return map(_declaration_json, statuses)


def validation_memo_key() -> str:
    """What a remembered verdict of the declaration validator depends on: the schema's text and
    the validator's version."""
    text = resources.files("bridge").joinpath("schemas/lean_status.v1.schema.json").read_bytes()
    return hashlib.sha256(b"%s\0fastjsonschema %s" % (text, fastjsonschema.VERSION.encode())).hexdigest()


def _digest(item: bytes) -> bytes:
    return hashlib.blake2b(item, digest_size=16).digest()


def write_status_document(path: Path, head: dict, statuses: list[DeclarationStatus], source: str,
                          progress: Callable[[int], None] | None = None,
                          known_valid: set[bytes] | None = None) -> set[bytes]:
    """Validate and write the document atomically, streaming its declarations a file at a time:
    the bytes are those of ``status_json_bytes`` on the whole document (a test checks it). Each
    declaration is checked against the schema's ``declaration`` definition, the rest against the
    whole schema; on the first violation (``StatusDocumentError``, naming its JSON pointer)
    nothing is written. ``progress`` is called with the number of declarations written, about
    ``_BATCH`` at a time.

    Each file's entries are serialized by one orjson call (a list, re-indented by one ``replace``):
    a call per entry cost 1.1 s more on Mathlib. ``known_valid``: digests (BLAKE2b-128) of such
    serialized lists that an earlier run validated against this schema (``validation_memo_key``):
    a file's entries with the same bytes are not validated again (validation is a pure function of
    the bytes; on Mathlib it is 2.7 s of a warm run). Returns the digests of this document's
    lists (all valid), to remember."""
    if head.get("declarations") != []:
        raise ValueError("write_status_document: head must have an empty declarations list")
    validate_status_document(head, source)
    skeleton = orjson.dumps(head, option=_OPTIONS)
    cut = skeleton.find(_EMPTY_DECLARATIONS)
    if cut < 0:  # the schema fixes the keys; sorted, `declarations` is never first or last
        raise ValueError("write_status_document: unexpected document layout")
    check = _declaration_checker()
    seen: set[bytes] = set()
    known = known_valid or set()
    with gc_paused(), atomic_path(path) as tmp, open(tmp, "wb") as fh:
        if not statuses:
            fh.write(skeleton)
            return seen
        fh.write(skeleton[:cut] + b'\n  "declarations": [\n')
        batch: list[bytes] = []
        pending = 0  # declarations in ``batch``
        k = 0  # index of the run's first declaration in the document
        for _, run in groupby(statuses, key=lambda r: r.decl.file):  # sorted by file: one run each
            entries = [_declaration_json(r) for r in run]
            # b'[\n  {\n    "anonymous": …\n  },\n  {…}\n]': entries two spaces in, two short of
            # the document's four
            listed = orjson.dumps(entries, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            digest = _digest(listed)
            if digest not in known:
                for j, d in enumerate(entries):
                    if not check.is_valid_fast(d):
                        _raise_first_error(d, source, _declaration_schema(), f"/declarations/{k + j}")
            seen.add(digest)
            batch.append(b"  " + listed[2:-2].replace(b"\n", b"\n  "))
            pending += len(entries)
            k += len(entries)
            if pending >= _BATCH:
                fh.write((b",\n" if k > pending else b"") + b",\n".join(batch))
                batch = []
                if progress is not None:
                    progress(pending)
                pending = 0
        if batch:
            fh.write((b",\n" if k > pending else b"") + b",\n".join(batch))
            if progress is not None:
                progress(pending)
        fh.write(b"\n  ],\n" + skeleton[cut + len(_EMPTY_DECLARATIONS):])
    return seen


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


def _declaration_schema() -> dict:
    schema = status_schema()
    return {"$defs": schema["$defs"], **schema["$defs"]["declaration"]}


@lru_cache(maxsize=1)
def _declaration_checker():
    from .audit.schema_check import SchemaChecker

    return SchemaChecker(_declaration_schema())


def _raise_first_error(doc: object, source: str, schema: dict | None = None, prefix: str = "") -> None:
    """Raise the reference validator's first error (sorted by pointer) of ``doc`` against
    ``schema`` (default: the whole document's), its pointer prefixed with ``prefix``."""
    validator = jsonschema.Draft202012Validator(schema or status_schema())
    errors = sorted(validator.iter_errors(doc),
                    key=lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in e.absolute_path])
    if errors:
        err = errors[0]
        pointer = prefix + "/" + "/".join(str(p) for p in err.absolute_path)
        raise StatusDocumentError(f"{source}: {pointer.rstrip('/') or '/'}: {short_message(err.message)}")


def validate_status_document(doc: object, source: str = "<lean_status>") -> None:
    """Raise ``StatusDocumentError`` naming the JSON pointer of the first violation.

    A validator compiled from the schema (``fastjsonschema``) checks first — on Mathlib the
    reference ``jsonschema`` validator alone took 30 s; only a document it rejects goes to
    ``jsonschema``, whose first error (sorted by pointer) is the one reported."""
    if _checker().is_valid_fast(doc):
        return
    _raise_first_error(doc, source)


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
