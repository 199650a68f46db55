"""Artifacts: build, validate, write (atomically) and load measurement JSON files.

The contract is ``schemas/artifact.v1.schema.json`` (JSON Schema 2020-12). On top of the schema,
this module refuses what JSON Schema cannot express: non-finite numbers (NaN/inf are not JSON and
are never turned into null), table rows whose keys differ from the table's columns, label columns
holding numbers (or numeric columns holding strings), theorem names not in :mod:`moegauge.theorems`,
and an ``artifact_id`` that is not the file stem. Errors name the file and the JSON pointer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .errors import ArtifactError
from .paths import evidence_dir
from .provenance import build_provenance
from .theorems import ALL_THEOREMS

SCHEMA_ID = "moegauge/artifact"
SCHEMA_VERSION = 1
SCHEMA_FILE = "artifact.v1.schema.json"


@lru_cache(maxsize=1)
def artifact_schema() -> dict:
    """The artifact JSON Schema, loaded from the package."""
    text = (Path(__file__).resolve().parent / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _plain(value: Any) -> Any:
    """Tensors / numpy scalars / tuples → plain JSON-able Python values (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        return value.item()  # 0-dim tensor or numpy scalar
    if hasattr(value, "tolist") and callable(value.tolist) and getattr(value, "ndim", 0) > 0:
        return _plain(value.tolist())  # tensor or array
    return value


def measure(
    quantity: str,
    value: float,
    description: str,
    *,
    n: int | None = None,
    d: int | None = None,
    dim_meaning: str | None = None,
) -> dict[str, Any]:
    """One entry of ``measures``: a number typed by its quantity."""
    out: dict[str, Any] = {"quantity": quantity, "value": _plain(value), "description": description}
    if n is not None:
        out["n"] = int(n)
    if d is not None:
        out["d"] = int(d)
    if dim_meaning is not None:
        out["dim_meaning"] = dim_meaning
    return out


def table(
    description: str, columns: Mapping[str, tuple[str, str]], rows: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """One entry of ``tables``; ``columns`` maps name → (quantity, description)."""
    return {
        "description": description,
        "columns": {k: {"quantity": q, "description": desc} for k, (q, desc) in columns.items()},
        "rows": [{k: _plain(v) for k, v in row.items()} for row in rows],
    }


def _nonfinite(obj: Any, parts: list[Any]) -> tuple[list[Any], float] | None:
    if isinstance(obj, float) and not math.isfinite(obj):
        return parts, obj
    if isinstance(obj, Mapping):
        for k in sorted(obj):
            hit = _nonfinite(obj[k], [*parts, k])
            if hit:
                return hit
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            hit = _nonfinite(v, [*parts, i])
            if hit:
                return hit
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@lru_cache(maxsize=1)
def _reference_validator():
    import jsonschema

    return jsonschema.Draft202012Validator(artifact_schema())


def schema_error(doc: Any) -> tuple[str, str] | None:
    """(JSON pointer, message) of the violation ``jsonschema`` reports first, or None."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_reference_validator().iter_errors(doc))
    return None if error is None else (_pointer(error.absolute_path), error.message)


def validate_artifact(
    doc: Any,
    path: str | Path = "<artifact>",
    *,
    schema_check: Callable[[Any], tuple[str, str] | None] = schema_error,
) -> None:
    """Raise :class:`ArtifactError` (file + JSON pointer) unless ``doc`` meets the contract: the
    JSON Schema (``schema_check``, by default ``jsonschema``; an auditor checking thousands of
    documents may pass a compiled equivalent) and what a schema cannot say (finite numbers, known
    theorem names, rows matching their columns)."""
    hit = _nonfinite(doc, [])
    if hit:
        parts, v = hit
        raise ArtifactError(path, _pointer(parts), f"non-finite number {v!r} refused (NaN/inf are not JSON)")
    error = schema_check(doc)
    if error is not None:
        raise ArtifactError(path, *error)
    for i, name in enumerate(doc["relies_on"]):
        if name not in ALL_THEOREMS:
            raise ArtifactError(
                path, f"/relies_on/{i}", f"unknown theorem {name!r} (not in moegauge.theorems)"
            )
    for tname, tab in doc["tables"].items():
        cols = tab["columns"]
        for r, row in enumerate(tab["rows"]):
            base = ["tables", tname, "rows", r]
            if set(row) != set(cols):
                missing, extra = sorted(set(cols) - set(row)), sorted(set(row) - set(cols))
                raise ArtifactError(
                    path, _pointer(base), f"row keys differ from columns (missing {missing}, extra {extra})"
                )
            for c, v in row.items():
                is_label = cols[c]["quantity"] == "label"
                if is_label and not isinstance(v, str):
                    raise ArtifactError(path, _pointer([*base, c]), "label column holds a non-string")
                if not is_label and not _is_number(v):
                    raise ArtifactError(
                        path, _pointer([*base, c]), f"{cols[c]['quantity']} column holds a non-number"
                    )


def build_artifact(
    *,
    kind: str,
    artifact_id: str,
    description: str,
    measures: Mapping[str, Mapping[str, Any]],
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    relies_on: Iterable[str] = (),
    config: Mapping[str, Any] | None = None,
    seed: int | None = None,
    inputs: Iterable[tuple[str | Path, str]] = (),
    argv: Iterable[str] | None = None,
    root: str | Path | None = None,
) -> dict[str, Any]:
    """A complete, validated artifact document; provenance is computed here (see
    :func:`moegauge.provenance.build_provenance`). ``relies_on`` is de-duplicated, order kept."""
    doc = {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "artifact_id": artifact_id,
        "kind": kind,
        "description": description,
        "relies_on": list(dict.fromkeys(relies_on)),
        "measures": _plain(dict(measures)),
        "tables": _plain(dict(tables or {})),
        "provenance": _plain(
            build_provenance(argv=argv, config=_plain(dict(config or {})), seed=seed, inputs=inputs, root=root)
        ),
    }
    validate_artifact(doc, f"<artifact {artifact_id}>")
    return doc


def dumps(doc: Mapping[str, Any]) -> str:
    """Canonical text: sorted keys, indent 2, UTF-8, trailing newline; NaN refused."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def artifact_path(
    kind: str, artifact_id: str, out: str | Path | None = None, root: str | Path | None = None
) -> Path:
    """Where an artifact goes: ``out`` if it names a ``.json`` file, ``out/<id>.json`` if it is a
    directory, else ``<repo root>/evidence/<kind>/<id>.json``."""
    if out is not None:
        out = Path(out)
        return out if out.suffix == ".json" else out / f"{artifact_id}.json"
    return evidence_dir(Path(root) if root is not None else None) / kind / f"{artifact_id}.json"


def write_artifact(doc: Mapping[str, Any], path: str | Path) -> Path:
    """Validate ``doc`` (its id must equal the file stem), then write it atomically."""
    path = Path(path)
    validate_artifact(doc, path)
    if doc["artifact_id"] != path.stem:
        raise ArtifactError(path, "/artifact_id", f"{doc['artifact_id']!r} is not the file stem {path.stem!r}")
    atomic_write_text(path, dumps(doc))
    return path


def _reject_constant(token: str) -> Any:
    raise ValueError(f"non-finite number {token} is not JSON")


def load_artifact(path: str | Path) -> dict[str, Any]:
    """Read and validate an artifact; :class:`ArtifactError` names the file and JSON pointer."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(path, "", f"cannot read: {exc}") from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ArtifactError(path, "", f"not valid JSON: {exc}") from None
    validate_artifact(doc, path)
    if doc["artifact_id"] != path.stem:
        raise ArtifactError(path, "/artifact_id", f"{doc['artifact_id']!r} is not the file stem {path.stem!r}")
    return doc
