"""Provenance of an artifact, computed here rather than trusted from callers.

command line, whether it ran from the repo root, git commit and dirty flag, a hash of the
``moegauge`` sources, config, seed, package versions, sha256 of every input file, UTC time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from .paths import find_repo_root, repo_relative

PACKAGE_DIR = Path(__file__).resolve().parent
_HASH_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def code_sha256(package_dir: str | Path | None = None) -> str:
    """sha256 over the package's ``**/*.py`` files, sorted by package-relative POSIX path.

    For each file, in order: the path as UTF-8, a NUL byte, the byte length as 8-byte big-endian,
    then the bytes. ``__pycache__`` is skipped. Any edit, rename or new module changes the hash.
    """
    root = Path(package_dir) if package_dir is not None else PACKAGE_DIR
    files = sorted(
        (p.relative_to(root).as_posix(), p)
        for p in root.rglob("*.py")
        if "__pycache__" not in p.relative_to(root).parts
    )
    h = hashlib.sha256()
    for rel, p in files:
        data = p.read_bytes()
        h.update(rel.encode("utf-8") + b"\0" + len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


#: Paths whose changes do not make a tree dirty: the measurements and site data runs produce.
OUTPUT_PATHS = ("evidence", "site/_data")


def git_state(root: str | Path) -> tuple[str | None, bool | None]:
    """(HEAD commit, dirty?) of the checkout at ``root``; (None, None) when it is not one.

    Read-only: ``--no-optional-locks`` keeps ``git status`` from rewriting the index.
    """
    root = Path(root)
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return None, None
    # The evidence and site data that runs write are outputs, not code: a run must not make the
    # next stage's artifacts "dirty" by writing the previous stage's.
    status = _git(root, "status", "--porcelain", "--", ".", *(f":(exclude){p}" for p in OUTPUT_PATHS))
    return head.strip(), (None if status is None else bool(status.strip()))


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def package_versions() -> dict[str, str]:
    """Versions of python, torch, transformers, numpy, accelerate, safetensors, moegauge (metadata
    only: nothing imported)."""
    return {
        "python": platform.python_version(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "numpy": _version("numpy"),
        "accelerate": _version("accelerate"),
        "safetensors": _version("safetensors"),
        "moegauge": _version("moegauge"),
    }


def compute_environment() -> dict[str, Any]:
    """What decides floating-point rounding besides the code and inputs: the CPU kernel level torch
    dispatches to (``ATEN_CPU_CAPABILITY`` can lower it), torch's intra-op thread count, the machine."""
    import torch

    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }


def utc_now() -> str:
    """Current UTC time, ISO 8601 with a ``Z`` suffix, second precision."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_provenance(
    *,
    argv: Iterable[str] | None = None,
    config: Mapping[str, Any] | None = None,
    seed: int | None = None,
    inputs: Iterable[tuple[str | Path, str]] = (),
    root: str | Path | None = None,
) -> dict[str, Any]:
    """The ``provenance`` object of an artifact. ``inputs`` are (path, role) pairs; each file is hashed."""
    root_path = Path(root).resolve() if root is not None else find_repo_root()
    commit, dirty = git_state(root_path)
    return {
        "command": [str(a) for a in (sys.argv if argv is None else argv)],
        "cwd_relative": Path.cwd().resolve() == root_path,
        "git_commit": commit,
        "git_dirty": dirty,
        "code_sha256": code_sha256(),
        "config": dict(config or {}),
        "seed": None if seed is None else int(seed),
        "packages": package_versions(),
        "compute": compute_environment(),
        "inputs": [
            {"path": repo_relative(p, root_path), "sha256": sha256_file(p), "role": role}
            for p, role in inputs
        ],
        "created_utc": utc_now(),
    }
