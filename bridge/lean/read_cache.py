"""A content-addressed cache of what the reader found in each file, so an unchanged file is not
read again (on Mathlib, reading is two thirds of ``bridge status``; a warm run loads it in ~2 s).

An entry is valid only for the exact bytes of the file, its reported path and the reader's own
code: its key is the SHA-256 of the reader version (the source bytes of every module of
``bridge.lean`` and the Python ``major.minor``, since entries are pickles), the path and the
file's SHA-256. So a cached run returns what a cold run would return, byte for byte; an edit to
the reader invalidates every entry. There is one entry per path (its file name is the hash of the
path), so the cache holds at most one entry per file of the trees it has seen: a changed file
replaces its entry. Entries are written atomically (temp file + ``os.replace``); an entry that is
unreadable, truncated or of another key is a miss, never an error.

Entries are pickles: the cache directory is trusted like the code (it lives in the project's
git-ignored ``.cache/``). Files with a lexical error are never cached (they are read again, and
report their error again).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from .reader import LeanFile

FORMAT = "lean-read-cache/1"
PICKLE_PROTOCOL = 5


@lru_cache(maxsize=1)
def reader_version() -> str:
    """Hash of everything that decides what the reader returns for a file."""
    h = hashlib.sha256(f"{FORMAT}\0python {sys.version_info[0]}.{sys.version_info[1]}\0".encode())
    here = Path(__file__).parent
    for module in sorted(here.glob("*.py")):
        h.update(module.name.encode() + b"\0" + module.read_bytes() + b"\0")
    return h.hexdigest()


def entry_key(rel: str, file_sha256: str) -> str:
    """The key an entry for ``rel`` with these contents must carry."""
    return hashlib.sha256(f"{reader_version()}\0{rel}\0{file_sha256}".encode()).hexdigest()


class ReadCache:
    """The entries under ``directory`` (created on first write)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.hits = 0  # entries this process loaded

    def _entry_path(self, rel: str) -> Path:
        return self.directory / f"{hashlib.sha256(rel.encode()).hexdigest()}.pickle"

    def load(self, rel: str, data: bytes) -> LeanFile | None:
        """The cached reading of ``data`` (the file's bytes) reported as ``rel``, or None."""
        try:
            raw = self._entry_path(rel).read_bytes()
        except OSError:
            return None
        sha = hashlib.sha256(data).hexdigest()
        key = entry_key(rel, sha)
        # The key is the entry's first bytes: a stale entry is refused before it is unpickled.
        if raw[:64] != key.encode():
            return None
        try:
            found = pickle.loads(raw[64:])
        except Exception:  # a truncated or corrupt entry: read the file again
            return None
        if not isinstance(found, LeanFile) or found.path != rel or found.sha256 != sha:
            return None
        self.hits += 1
        return found

    def store(self, lean_file: LeanFile, blob: bytes | None = None) -> bool:
        """Write the entry for ``lean_file`` atomically (``blob``: its pickle, when the caller has
        it already); False, and nothing changed, if the directory cannot be written."""
        target = self._entry_path(lean_file.path)
        if blob is None:
            blob = pickle.dumps(lean_file, protocol=PICKLE_PROTOCOL)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".entry.", suffix=".tmp")
        except OSError:
            return False
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(entry_key(lean_file.path, lean_file.sha256).encode())
                fh.write(blob)
            os.replace(tmp, target)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        return True

    def writable(self) -> str | None:
        """None if entries can be written here, else why not."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".probe.", suffix=".tmp")
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            return exc.strerror or str(exc)
        return None
