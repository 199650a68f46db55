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

One more entry holds what each declaration of each file *uses* (``status.use_context``): name
resolution depends on the file's own bytes and, from the rest of the tree, only on which names
each file declares (and whether privately), its imports and exports. The entry is keyed by a
digest of that context and holds each file's uses with the file's SHA-256, so an edit that
changes no declaration's name or privacy anywhere (a proof, a statement, a comment) leaves every
other file's uses valid.

And one file, ``validated.bin``, remembers which declaration entries (by a digest of their JSON
bytes) the schema validator accepted, keyed by the schema and the validator's version, so the
same bytes are not validated again.

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


def entry_key(rel: str, file_sha256: str, kind: str = "read", context: str = "") -> str:
    """The key an entry of ``kind`` for ``rel`` with these contents (and, for ``uses``, this
    resolution context) must carry."""
    return hashlib.sha256(f"{reader_version()}\0{kind}\0{rel}\0{file_sha256}\0{context}".encode()).hexdigest()


# What a file's declarations use, in their order: for each, the (name, file) of every use.
Uses = list[tuple[tuple[str, str], ...]]


class ReadCache:
    """The entries under ``directory`` (created on first write)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.hits = 0  # readings this process loaded
        self.use_hits = 0  # files whose uses this process took from the cache (set by ``status``)

    def _entry_path(self, rel: str, kind: str = "read") -> Path:
        return self.directory / f"{hashlib.sha256(f'{kind}{chr(0)}{rel}'.encode()).hexdigest()}.pickle"

    def _load(self, rel: str, key: str, kind: str) -> object | None:
        try:
            raw = self._entry_path(rel, kind).read_bytes()
        except OSError:
            return None
        # The key is the entry's first bytes: a stale entry is refused before it is unpickled.
        if raw[:64] != key.encode():
            return None
        try:
            return pickle.loads(raw[64:])
        except Exception:  # a truncated or corrupt entry: a miss
            return None

    def load(self, rel: str, data: bytes) -> LeanFile | None:
        """The cached reading of ``data`` (the file's bytes) reported as ``rel``, or None."""
        sha = hashlib.sha256(data).hexdigest()
        found = self._load(rel, entry_key(rel, sha), "read")
        if not isinstance(found, LeanFile) or found.path != rel or found.sha256 != sha:
            return None
        self.hits += 1
        return found

    def load_uses(self, context: str) -> dict[str, tuple[str, Uses]]:
        """The uses stored for this resolution context: path → (the file's SHA-256, its uses);
        empty if there are none (or they were stored for another context)."""
        found = self._load("", entry_key("", "", "uses", context), "uses")
        return found if isinstance(found, dict) else {}

    def store_uses(self, context: str, table: dict[str, tuple[str, Uses]]) -> bool:
        """Replace the stored uses (one entry for the tree: the context is the tree's)."""
        return self._write(self._entry_path("", "uses"), entry_key("", "", "uses", context),
                           pickle.dumps(table, protocol=PICKLE_PROTOCOL))

    def load_validated(self, key: str, size: int = 16) -> set[bytes]:
        """Digests (``size`` bytes each) of document entries validated under ``key`` (the schema
        and validator, ``lean_status.validation_memo_key``); empty when there are none."""
        try:
            raw = (self.directory / "validated.bin").read_bytes()
        except OSError:
            return set()
        body = raw[64:]
        if raw[:64] != key.encode() or len(body) % size:
            return set()
        return {body[k : k + size] for k in range(0, len(body), size)}

    def store_validated(self, key: str, digests: set[bytes]) -> bool:
        """Remember ``digests`` (of one document's entries, all valid) under ``key``."""
        return self._write(self.directory / "validated.bin", key, b"".join(sorted(digests)))

    def store(self, lean_file: LeanFile, blob: bytes | None = None) -> bool:
        """Write the entry for ``lean_file`` atomically (``blob``: its pickle, when the caller has
        it already); False, and nothing changed, if the directory cannot be written."""
        if blob is None:
            blob = pickle.dumps(lean_file, protocol=PICKLE_PROTOCOL)
        return self._write(self._entry_path(lean_file.path), entry_key(lean_file.path, lean_file.sha256), blob)

    def _write(self, target: Path, key: str, blob: bytes) -> bool:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".entry.", suffix=".tmp")
        except OSError:
            return False
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.encode())
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
