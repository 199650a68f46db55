"""Where the repository is: the root holds ``pyproject.toml`` declaring ``name = "moegauge"``."""

from __future__ import annotations

import re
from pathlib import Path

_NAME_LINE = re.compile(r'^\s*name\s*=\s*"moegauge"\s*$', re.MULTILINE)


def find_repo_root(start: str | Path | None = None) -> Path:
    """Walk up from ``start`` (default: the cwd) to the first directory whose ``pyproject.toml``
    declares ``name = "moegauge"``; fall back to ``start`` itself when there is none."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        pyproject = candidate / "pyproject.toml"
        try:
            text = pyproject.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if _NAME_LINE.search(text):
            return candidate
    return here


def repo_relative(path: str | Path, root: Path | None = None) -> str:
    """``path`` relative to the repo root (POSIX form) when inside it, else its absolute path."""
    root = (root or find_repo_root()).resolve()
    p = Path(path).resolve()
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def evidence_dir(root: Path | None = None) -> Path:
    """The default artifact directory, ``<repo root>/evidence``."""
    return (root or find_repo_root()) / "evidence"
