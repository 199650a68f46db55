"""Reading a directory of Lean sources (no lake project needed)."""

from __future__ import annotations

import gc
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from .errors import LeanSyntaxError
from .reader import LeanFile, read_bytes

_SKIP_DIRS = {".lake", "lake-packages", "build", ".git"}


def lean_files(lean_dir: Path) -> list[Path]:
    """Every ``*.lean`` file under ``lean_dir``, sorted, skipping build and hidden directories."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(lean_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if f.endswith(".lean"))
    return sorted(found)


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: reading builds millions of small acyclic objects, and
    the collector's repeated scans of them cost about a fifth of the read time on large trees."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Below this many bytes a process pool costs more (start-up, pickling) than it saves.
POOL_MIN_BYTES = 8_000_000
_CHUNK_BYTES = 2_000_000


def read_tree(lean_dir: Path, base: Path, workers: int | None = None) -> list[LeanFile]:
    """Read every Lean file under ``lean_dir``; report paths relative to ``base`` (POSIX style).

    Large trees are read by a process pool (``workers``, default: the CPUs this process may use);
    files are read in sorted order and results come back in that order, so the output and the
    error reported (the first bad file in sorted order) do not depend on the pool."""
    jobs = []
    for path in lean_files(lean_dir):
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            rel = path.as_posix()
        jobs.append((path, rel))
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    total = sum(_size(p) for p, _ in jobs) if workers > 1 else 0
    with gc_paused():
        if workers <= 1 or total < POOL_MIN_BYTES:
            return [_read_one(job) for job in jobs]
        chunks = _chunks(jobs)
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
            return [f for part in pool.map(_read_chunk, chunks) for f in part]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _chunks(jobs: list[tuple[Path, str]]) -> list[list[tuple[Path, str]]]:
    """Consecutive runs of files of about ``_CHUNK_BYTES`` each (order kept)."""
    chunks: list[list[tuple[Path, str]]] = [[]]
    size = 0
    for job in jobs:
        if size >= _CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(job)
        size += _size(job[0])
    return chunks


def _read_chunk(jobs: list[tuple[Path, str]]) -> list[LeanFile]:
    with gc_paused():
        return [_read_one(job) for job in jobs]


def _read_one(job: tuple[Path, str]) -> LeanFile:
    path, rel = job
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LeanSyntaxError(rel, 1, 1, f"cannot read file: {exc.strerror or exc}") from None
    return read_bytes(data, rel)
