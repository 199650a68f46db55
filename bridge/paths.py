"""Where the project's files live by default."""

from __future__ import annotations

from pathlib import Path


def project_root(start: Path | None = None) -> Path:
    """The MoEGauge checkout containing ``start`` (default: the cwd): the nearest ancestor with a
    ``pyproject.toml`` naming the ``moegauge`` project; the cwd itself when there is none."""
    here = (start or Path.cwd()).resolve()
    for cand in (here, *here.parents):
        pyproject = cand / "pyproject.toml"
        if pyproject.is_file() and 'name = "moegauge"' in pyproject.read_text(encoding="utf-8", errors="replace"):
            return cand
    return here


DEFAULT_STATUS_OUT = Path("site/_data/lean_status.json")
