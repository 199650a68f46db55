"""A copy of the repository's site inputs in a temporary project root, to build from and to break."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_root(tmp: Path, *, data: bool = True) -> Path:
    """``tmp/project`` with site/templates, site/static and (``data``) site/_data, evidence, lean."""
    root = tmp / "project"
    (root / "site").mkdir(parents=True)
    for d in ("templates", "static"):
        shutil.copytree(REPO / "site" / d, root / "site" / d)
    if data:
        shutil.copytree(REPO / "site" / "_data", root / "site" / "_data")
        shutil.copytree(REPO / "evidence", root / "evidence", ignore=shutil.ignore_patterns("captures"))
        shutil.copytree(REPO / "lean", root / "lean")
    return root


def edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def tree_bytes(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
