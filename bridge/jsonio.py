"""Canonical JSON text for everything the bridge emits; writes go through moegauge's atomic writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moegauge.atomic import atomic_write_text


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, 2-space indent, UTF-8 text, trailing newline; NaN refused."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_text_atomic(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never a half-written one."""
    atomic_write_text(path, text)
