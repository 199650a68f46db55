"""Atomic file writes: a temp file in the target's directory, fsync, then ``os.replace``.

Readers see either the old file or the complete new one, never a half-written file, and a failed
write leaves nothing behind. Every file moegauge writes goes through here. The temp file is created
with mode 0o666 filtered by the umask (like ``open(..., "w")``), so results are not left private.
"""

from __future__ import annotations

import contextlib
import re
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def _create_temp(directory: Path, name: str) -> Path:
    for _ in range(100):
        tmp = directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"could not create a temporary file in {directory}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on clean exit it is fsynced and renamed onto ``path``.

    For writers that want a file name (e.g. ``safetensors.torch.save_file``). On any exception the
    temp file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path.parent, path.name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (``\\n`` line endings); returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


# Names of temporaries: ours (``_create_temp``: ``.<name>.<pid>.<hex>.tmp``) and the ones writers
# we call create beside their target (``safetensors`` and ``tempfile``: ``.tmp<random>``).
_OUR_TEMP = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$")
_FOREIGN_TEMP = re.compile(r"^\.tmp[A-Za-z0-9_]+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(root: str | Path, *, exclusive: bool = False) -> list[Path]:
    """Delete temporaries left under ``root`` by writers that died (SIGKILL, power loss).

    One of ours is stale when the process named in it is gone. A foreign ``.tmp*`` file carries no
    owner, so it is removed only when ``exclusive`` is set — the caller holds the lock that makes it
    the only writer under ``root`` (``run_lock``). Returns what was removed."""
    removed = []
    root = Path(root)
    if not root.is_dir():
        return removed
    for path in sorted(root.rglob(".*")):
        if not path.is_file():
            continue
        m = _OUR_TEMP.match(path.name)
        stale = (m is not None and (exclusive or not _alive(int(m.group(1))))) or (
            exclusive and _FOREIGN_TEMP.match(path.name) is not None)
        if stale:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def run_lock(directory: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``directory/.moegauge-run.lock`` for the duration (one writer at a
    time). Raises ``BlockingIOError`` at once if another live process holds it; a dead holder's lock
    is released by the kernel, so a killed run never blocks the next."""
    import fcntl

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / ".moegauge-run.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield lock
    finally:
        os.close(fd)
