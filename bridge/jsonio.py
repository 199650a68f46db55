"""Canonical JSON text for everything the bridge emits; writes go through moegauge's atomic writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moegauge.atomic import atomic_write_bytes, atomic_write_text


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, 2-space indent, UTF-8 text, trailing newline; NaN refused."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def read_json_file(path: Path, label: str) -> tuple[Any, str | None]:
    """(document, None), or (None, a one-line problem naming ``label`` and the position).

    NaN and Infinity are refused: they are not JSON, and no number the project checks may be one."""
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant), None
    except OSError as exc:
        return None, f"{label}: cannot read: {exc.strerror or exc}"
    except json.JSONDecodeError as exc:
        return None, f"{label}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"
    except RecursionError:
        return None, f"{label}: JSON nested too deeply to read"
    except ValueError as exc:
        return None, f"{label}: {exc}"


def short_message(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters (a validator's message can quote a whole document)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _refuse_constant(token: str):
    raise ValueError(f"non-finite number {token} (NaN/Infinity are not JSON)")


def write_text_atomic(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never a half-written one."""
    atomic_write_text(path, text)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """``write_text_atomic`` for text already encoded (a large document is never copied to ``str``)."""
    atomic_write_bytes(path, data)
