"""A real-text, multi-domain byte corpus that every machine with Python already has.

The seeds' lesson (seed 004) is that a Gaussian or random proxy input destroys the structure being
measured, so everything a claim rests on is measured on real text. No downloads: the domains are
read from the local Python installation and, where present, the system's licence texts.

Domains (each optional; at least three must be present):

* ``code``: the Python standard library's ``.py`` sources (tests excluded);
* ``prose``: the English documentation topics shipped in ``pydoc_data.topics``;
* ``legal``: licence texts from ``/usr/share/common-licenses`` plus Python's ``LICENSE.txt``;
* ``changelog``: IDLE's ``NEWS``/``HISTORY`` files (release notes in English prose).

A document is one file (or one pydoc topic). In a domain with many documents, whole documents are
held out, chosen by a hash of the domain and the document's name (about 1 in ``heldout_every``);
in a domain with few documents (fewer than ``DOC_SPLIT_MIN``: licences, changelogs) the last
1/``heldout_every`` of every document is held out, cut at a line boundary. Either way the split is
the same on every run and every machine that has the same files. Tokens are bytes (vocabulary 256). Every
document's SHA-256 is recorded, so an artifact can say exactly which text it was measured on —
and the audit can tell when the text under it changed (a different Python patch release ships
slightly different sources).
"""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import torch

DOMAINS = ("code", "prose", "legal", "changelog")
MIN_DOMAINS = 3
DOC_SPLIT_MIN = 20  # a domain with fewer documents is split inside each document
COMMON_LICENSES = Path("/usr/share/common-licenses")


@dataclass(frozen=True)
class Document:
    name: str  # stable name: path relative to its root, or "pydoc:<topic>"
    text: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text).hexdigest()


@dataclass
class DomainSplit:
    """One domain's documents, split into train and held-out byte streams."""

    domain: str
    train_docs: list[Document] = field(default_factory=list)
    heldout_docs: list[Document] = field(default_factory=list)

    @staticmethod
    def _join(docs: list[Document]) -> bytes:
        # Documents are separated by a NUL byte, which never occurs in the text itself.
        return b"\x00".join(d.text for d in docs)

    @property
    def train(self) -> bytes:
        return self._join(self.train_docs)

    @property
    def heldout(self) -> bytes:
        return self._join(self.heldout_docs)


@dataclass
class Corpus:
    domains: dict[str, DomainSplit]
    heldout_every: int
    max_bytes_per_domain: int

    def manifest(self) -> dict:
        """What the corpus is made of: per domain, every document's name, split and SHA-256, and
        one SHA-256 over the whole (the input hash artifacts record)."""
        out: dict = {"heldout_every": self.heldout_every, "max_bytes_per_domain": self.max_bytes_per_domain,
                     "domains": {}}
        digest = hashlib.sha256()
        for name in sorted(self.domains):
            split = self.domains[name]
            docs = [{"name": d.name, "split": "train", "sha256": d.sha256, "bytes": len(d.text)} for d in split.train_docs]
            docs += [{"name": d.name, "split": "heldout", "sha256": d.sha256, "bytes": len(d.text)}
                     for d in split.heldout_docs]
            docs.sort(key=lambda x: x["name"])
            for d in docs:
                digest.update(f"{name}\t{d['name']}\t{d['split']}\t{d['sha256']}\n".encode())
            out["domains"][name] = {
                "train_bytes": sum(len(d.text) for d in split.train_docs),
                "heldout_bytes": sum(len(d.text) for d in split.heldout_docs),
                "documents": docs,
            }
        out["sha256"] = digest.hexdigest()
        return out

    @property
    def sha256(self) -> str:
        return self.manifest()["sha256"]


def _stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _files(root: Path, pattern: str, skip_parts: frozenset[str] = frozenset()) -> list[Document]:
    docs = []
    for path in sorted(root.rglob(pattern)):
        rel = path.relative_to(root)
        if skip_parts & set(rel.parts) or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if data and b"\x00" not in data:
            docs.append(Document(rel.as_posix(), data))
    return docs


def discover_documents(domain: str) -> list[Document]:
    """The documents of ``domain`` on this machine, in a stable order (may be empty)."""
    std = _stdlib()
    if domain == "code":
        skip = frozenset({"test", "tests", "idlelib", "site-packages", "__pycache__", "lib2to3", "turtledemo"})
        return _files(std, "*.py", skip)
    if domain == "prose":
        try:
            from pydoc_data.topics import topics
        except ImportError:
            return []
        return [Document(f"pydoc:{k}", topics[k].encode("utf-8")) for k in sorted(topics) if topics[k].strip()]
    if domain == "legal":
        docs = _files(COMMON_LICENSES, "*") if COMMON_LICENSES.is_dir() else []
        docs = [Document(f"common-licenses/{d.name}", d.text) for d in docs]
        license_txt = std / "LICENSE.txt"
        if license_txt.is_file():
            docs.append(Document("python/LICENSE.txt", license_txt.read_bytes()))
        return docs
    if domain == "changelog":
        idle = std / "idlelib"
        names = ("NEWS.txt", "NEWS2x.txt", "HISTORY.txt", "CREDITS.txt")
        return [Document(f"idlelib/{n}", (idle / n).read_bytes()) for n in names if (idle / n).is_file()]
    raise ValueError(f"unknown domain {domain!r}; known: {', '.join(DOMAINS)}")


def _order_key(domain: str, doc: Document) -> str:
    return hashlib.sha256(f"{domain}/{doc.name}".encode()).hexdigest()


def _tail_split(doc: Document, heldout_every: int) -> tuple[Document, Document]:
    """Split a document into its head and its last 1/``heldout_every`` (at a line boundary)."""
    cut = len(doc.text) - len(doc.text) // heldout_every
    newline = doc.text.find(b"\n", cut)
    cut = newline + 1 if 0 <= newline < len(doc.text) - 1 else cut
    return Document(doc.name + "#head", doc.text[:cut]), Document(doc.name + "#tail", doc.text[cut:])


def build_corpus(max_bytes_per_domain: int = 2_000_000, heldout_every: int = 10) -> Corpus:
    """Build the corpus. Documents are taken in hash order until ``max_bytes_per_domain`` and split
    into train / held-out as the module docstring describes."""
    domains: dict[str, DomainSplit] = {}
    for domain in DOMAINS:
        docs = sorted(discover_documents(domain), key=lambda d: _order_key(domain, d))
        split = DomainSplit(domain)
        total = 0
        for doc in docs:
            if total >= max_bytes_per_domain:
                break
            total += len(doc.text)
            if len(docs) < DOC_SPLIT_MIN:
                head, tail = _tail_split(doc, heldout_every)
                split.train_docs.append(head)
                split.heldout_docs.append(tail)
            elif int(_order_key(domain, doc)[:8], 16) % heldout_every == 0:
                split.heldout_docs.append(doc)
            else:
                split.train_docs.append(doc)
        if split.train_docs and split.heldout_docs:
            domains[domain] = split
    if len(domains) < MIN_DOMAINS:
        raise RuntimeError(
            f"only {len(domains)} text domains found ({', '.join(domains) or 'none'}); need {MIN_DOMAINS}. "
            "The corpus reads the Python standard library, pydoc_data and /usr/share/common-licenses."
        )
    return Corpus(domains=domains, heldout_every=heldout_every, max_bytes_per_domain=max_bytes_per_domain)


def byte_tensor(data: bytes) -> torch.Tensor:
    """Bytes as a 1-D int64 token tensor (vocabulary 256)."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(torch.int64)


def windows(data: bytes, length: int, limit: int | None = None) -> torch.Tensor:
    """Non-overlapping windows of ``length`` tokens (the tail shorter than a window is dropped),
    at most ``limit`` of them, as an int64 tensor [n, length]."""
    tokens = byte_tensor(data)
    n = tokens.numel() // length
    if limit is not None:
        n = min(n, limit)
    return tokens[: n * length].view(n, length)
