"""Where the project's files live by default."""

from __future__ import annotations

from pathlib import Path

from moegauge.paths import find_repo_root as project_root  # noqa: F401 - the one repo-root finder

DEFAULT_STATUS_OUT = Path("site/_data/lean_status.json")
DEFAULT_READ_CACHE = Path(".cache/lean-read")
