"""A pinned, multi-domain, real-text byte corpus: the same bytes on every machine.

The seeds' lesson (seed 004) is that a Gaussian or random proxy input destroys the structure being
measured, so everything a claim rests on is measured on real text. The text is read at run time
from files inside exactly pinned (``==``) pure-Python wheels that the project's own install pulls
in (see ``pyproject.toml``). A ``py3-none-any`` wheel is the same bytes on every OS and every Python
version, so nothing here depends on the machine: no standard-library sources, no ``sysconfig``, no
``/usr/share``. Every file read is checked against the SHA-256 its wheel's ``RECORD`` lists, and the
package version against the pin; a missing or altered package is an error naming it, never a
smaller corpus. No third-party text is committed to this repository.

Domains (``SOURCES``; one document per file):

* ``code``: Django's Python sources (locale and migration files excluded);
* ``prose``: English technical prose — the docstrings of NetworkX (algorithm descriptions);
* ``math``: mathematical writing — the docstrings of SymPy (definitions, formulas, doctests);
* ``translations``: human-written, non-English natural language — the translated strings
  (``msgstr``) of Django's gettext catalogues, one document per catalogue, ~95 languages;
* ``web``: Django's own HTML templates, CSS and JavaScript (vendored and minified files excluded);
* ``legal``: licence texts of the SPDX licence list, as shipped by the ``spdx`` package.

Docstrings and ``msgstr`` strings are extracted by this module's own byte-level scanners (never by
``ast`` or ``tokenize``, whose output can change between Python releases). Documents are taken in
the order of a hash of their name until ``max_bytes_per_domain``; about 1 in ``heldout_every`` whole
documents is held out, chosen by the same hash (a domain with fewer than ``DOC_SPLIT_MIN`` documents
holds out the tail of each instead). Tokens are bytes (vocabulary 256). Every document's SHA-256 is
recorded; ``EXPECTED_SHA256`` is the manifest hash of the default corpus, checked by the tests.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import torch

from ..errors import InputError

MIN_DOMAINS = 6
DOC_SPLIT_MIN = 20  # a domain with fewer documents is split inside each document
MIN_DOCUMENT_BYTES = 64  # extracted documents shorter than this are dropped (empty catalogues, stubs)
DEFAULT_MAX_BYTES_PER_DOMAIN = 1_000_000
DEFAULT_HELDOUT_EVERY = 10

#: Manifest SHA-256 of ``build_corpus()`` with the defaults above and the pins in ``SOURCES``.
EXPECTED_SHA256 = "9038544126c21d8ab483c615a5690790308e4ca74ecc6134075c720f649d3024"


@dataclass(frozen=True)
class Source:
    """Where one domain's text comes from: files of one pinned distribution, and how to read them."""

    domain: str
    package: str  # distribution name as pip knows it
    version: str  # the exact pin (must equal pyproject.toml's)
    licence: str
    include: tuple[str, ...]  # fnmatch patterns over RECORD paths ('*' crosses '/')
    exclude: tuple[str, ...] = ()
    extract: str = "raw"  # raw | docstrings | po_msgstr
    description: str = ""


SOURCES: tuple[Source, ...] = (
    Source("code", "django", "5.2.19", "BSD-3-Clause", ("django/*.py",),
           ("*/locale/*", "*/migrations/*", "*/conf/app_template/*", "*/conf/project_template/*"),
           description="Django's Python sources"),
    Source("prose", "networkx", "3.6.1", "BSD-3-Clause", ("networkx/*.py",), ("*/tests/*",), "docstrings",
           description="docstrings of NetworkX (English technical prose)"),
    Source("math", "sympy", "1.14.0", "BSD-3-Clause", ("sympy/*.py",), ("*/tests/*", "*/benchmarks/*"), "docstrings",
           description="docstrings of SymPy (mathematical writing)"),
    Source("translations", "django", "5.2.19", "BSD-3-Clause", ("django/*/locale/*/LC_MESSAGES/*.po",),
           ("*/locale/en/*", "*/locale/en_*"), "po_msgstr",
           description="translated strings of Django's gettext catalogues (non-English)"),
    Source("web", "django", "5.2.19", "BSD-3-Clause", ("django/*.html", "django/*.css", "django/*.js"),
           ("*.min.js", "*/locale/*", "*/vendor/*"),
           description="Django's own templates, CSS and JavaScript (vendored libraries excluded)"),
    Source("legal", "spdx", "2.5.1", "CC0-1.0 (package); each text its own licence", ("spdx/data/*.txt",),
           description="licence texts of the SPDX licence list"),
)
DOMAINS = tuple(s.domain for s in SOURCES)


class CorpusSourceError(InputError):
    """A corpus source package that is missing, at the wrong version, or altered."""


@dataclass(frozen=True)
class Document:
    name: str  # stable name: "<package>/<path in the wheel>" (+ "#head"/"#tail" for tail splits)
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
    sources: dict[str, Source] = field(default_factory=dict)

    def manifest(self) -> dict:
        """What the corpus is made of: per domain its source, every document's name, split and
        SHA-256, and one SHA-256 over the whole (the input hash artifacts record)."""
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
            src = self.sources.get(name)
            out["domains"][name] = {
                "source": source_record(src) if src else None,
                "train_bytes": sum(len(d.text) for d in split.train_docs),
                "heldout_bytes": sum(len(d.text) for d in split.heldout_docs),
                "documents": docs,
            }
        out["sha256"] = digest.hexdigest()
        return out

    @property
    def sha256(self) -> str:
        return self.manifest()["sha256"]


def source_record(src: Source) -> dict:
    """How a domain's source is described in manifests and artifacts."""
    return {"package": f"{src.package}=={src.version}", "licence": src.licence,
            "include": list(src.include), "exclude": list(src.exclude), "extract": src.extract,
            "description": src.description}


# -- reading pinned distributions -------------------------------------------------------------------

def _distribution(package: str, version: str, search_path: list[str] | None) -> metadata.Distribution:
    dists = list(metadata.distributions(name=package, path=search_path)) if search_path is not None else []
    if not dists:
        try:
            dists = [metadata.distribution(package)] if search_path is None else []
        except metadata.PackageNotFoundError:
            dists = []
    if not dists:
        raise CorpusSourceError(package, f"corpus source package is not installed; the corpus needs "
                                f"{package}=={version} (`make run` installs it, or `pip install {package}=={version}`)")
    return dists[0]


def _record_digest(hash_field: str | None) -> str | None:
    """RECORD's ``sha256=<urlsafe base64>`` as hex (None when RECORD lists no hash)."""
    if not hash_field or not hash_field.startswith("sha256="):
        return None
    raw = hash_field.removeprefix("sha256=")
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).hex()


def _matches(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def source_files(src: Source, search_path: list[str] | None = None) -> list[tuple[str, Callable[[], bytes]]]:
    """The files ``src`` selects, as (path in the wheel, reader), sorted by path.

    The reader returns the file's bytes after checking them against RECORD's SHA-256. A version
    other than the pin, a missing RECORD, or a file whose bytes differ is a ``CorpusSourceError``."""
    dist = _distribution(src.package, src.version, search_path)
    if dist.version != src.version:
        raise CorpusSourceError(src.package, f"corpus source is version {dist.version}; the corpus needs "
                                f"{src.package}=={src.version} (`pip install {src.package}=={src.version}`)")
    files = dist.files
    if not files:
        raise CorpusSourceError(src.package, f"{src.package}=={src.version} has no RECORD: install it from "
                                "its wheel with pip, so its files can be checked")
    selected = []
    for f in files:
        rel = f.as_posix()
        if not _matches(rel, src.include) or _matches(rel, src.exclude):
            continue
        expected = _record_digest(f.hash.mode + "=" + f.hash.value if f.hash else None)

        def read(f=f, rel=rel, expected=expected) -> bytes:
            where = Path(str(dist.locate_file(f)))
            try:
                data = where.read_bytes()
            except OSError as exc:
                raise CorpusSourceError(where, f"file of {src.package}=={src.version} is unreadable: "
                                        f"{exc.strerror or exc}") from None
            if expected is None or hashlib.sha256(data).hexdigest() != expected:
                raise CorpusSourceError(where, f"file of {src.package}=={src.version} differs from its wheel's "
                                        f"RECORD (altered installation); reinstall: "
                                        f"`pip install --force-reinstall {src.package}=={src.version}`")
            return data

        selected.append((rel, read))
    selected.sort(key=lambda x: x[0])
    if not selected:
        raise CorpusSourceError(src.package, f"{src.package}=={src.version} has no file matching "
                                f"{list(src.include)}: the corpus cannot be built")
    return selected


# -- extraction -------------------------------------------------------------------------------------

# A triple-quoted string that starts a line (statement position: docstrings), with an optional
# r/u prefix. The body is matched lazily up to the same closing quotes; escaped quotes inside are
# rare in docstrings and at worst end a string early.
_DOCSTRING = re.compile(rb'(?m)^[ \t]*[rRuU]?("""|\'\'\')(.*?)\1', re.DOTALL)


def _dedent(block: bytes) -> bytes:
    """Strip surrounding blank lines and the common indentation of the lines after the first."""
    lines = block.replace(b"\r\n", b"\n").split(b"\n")
    rest = [ln for ln in lines[1:] if ln.strip()]
    indent = min((len(ln) - len(ln.lstrip(b" \t")) for ln in rest), default=0)
    out = [lines[0].strip()] + [ln[indent:].rstrip() for ln in lines[1:]]
    return b"\n".join(out).strip(b"\n")


def extract_docstrings(source: bytes) -> bytes:
    """The docstring-like triple-quoted blocks of a Python file, dedented, blank-line separated."""
    blocks = [_dedent(m.group(2)) for m in _DOCSTRING.finditer(source)]
    return b"\n\n".join(b for b in blocks if b.strip())


_PO_ESCAPES = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\"}


def _po_string(line: bytes) -> bytes:
    """The content of one quoted .po string line (``"..."``), unescaped."""
    start, end = line.find(b'"'), line.rfind(b'"')
    if start < 0 or end <= start:
        return b""
    body = line[start + 1 : end]
    return re.sub(rb"\\(.)", lambda m: _PO_ESCAPES.get(m.group(1), m.group(1)), body)


def extract_po_msgstr(source: bytes) -> bytes:
    """The translated strings (``msgstr``, plural forms included) of a gettext catalogue, one per
    line. The header entry (the translation of the empty msgid) is metadata and is skipped, as are
    comments and obsolete (``#~``) entries."""
    out: list[bytes] = []
    msgid: list[bytes] = []
    msgstrs: list[list[bytes]] = []
    current: list[bytes] | None = None

    def finish() -> None:
        if msgstrs and b"".join(msgid):
            out.extend(b"".join(parts).strip() for parts in msgstrs)

    for raw in source.split(b"\n"):
        line = raw.strip()
        if line.startswith(b"msgid "):
            finish()
            msgid, msgstrs = [_po_string(line)], []
            current = msgid
        elif line.startswith((b"msgid_plural", b"msgctxt")):
            current = []  # read, not kept
        elif line.startswith(b"msgstr"):
            current = [_po_string(line)]
            msgstrs.append(current)
        elif line.startswith(b'"') and current is not None:
            current.append(_po_string(line))
        else:  # comment, blank line or anything else ends a string
            current = None
    finish()
    return b"\n".join(s for s in out if s)


EXTRACTORS: dict[str, Callable[[bytes], bytes]] = {
    "raw": lambda b: b,
    "docstrings": extract_docstrings,
    "po_msgstr": extract_po_msgstr,
}


def discover_documents(src: Source, search_path: list[str] | None = None,
                       limit_bytes: int | None = None) -> list[Document]:
    """The documents of one source in hash order, read until ``limit_bytes`` (None: all)."""
    files = sorted(source_files(src, search_path), key=lambda x: _order_key(src.domain, x[0]))
    docs, total = [], 0
    for rel, read in files:
        if limit_bytes is not None and total >= limit_bytes:
            break
        text = EXTRACTORS[src.extract](read())
        if len(text) < MIN_DOCUMENT_BYTES or b"\x00" in text:
            continue
        docs.append(Document(f"{src.package}/{rel}", text))
        total += len(text)
    return docs


def _order_key(domain: str, name: str) -> str:
    return hashlib.sha256(f"{domain}/{name}".encode()).hexdigest()


def _tail_split(doc: Document, heldout_every: int) -> tuple[Document, Document]:
    """Split a document into its head and its last 1/``heldout_every`` (at a line boundary)."""
    cut = len(doc.text) - len(doc.text) // heldout_every
    newline = doc.text.find(b"\n", cut)
    cut = newline + 1 if 0 <= newline < len(doc.text) - 1 else cut
    return Document(doc.name + "#head", doc.text[:cut]), Document(doc.name + "#tail", doc.text[cut:])


def build_corpus(max_bytes_per_domain: int = DEFAULT_MAX_BYTES_PER_DOMAIN,
                 heldout_every: int = DEFAULT_HELDOUT_EVERY, sources: Iterable[Source] = SOURCES,
                 search_path: list[str] | None = None) -> Corpus:
    """Build the corpus from ``sources`` (default: the pinned ones), split as the module says.

    ``search_path`` replaces ``sys.path`` for finding the source distributions (tests)."""
    sources = tuple(sources)
    domains: dict[str, DomainSplit] = {}
    for src in sources:
        docs = discover_documents(src, search_path, max_bytes_per_domain)
        split = DomainSplit(src.domain)
        for doc in docs:
            if len(docs) < DOC_SPLIT_MIN:
                head, tail = _tail_split(doc, heldout_every)
                split.train_docs.append(head)
                split.heldout_docs.append(tail)
            elif int(_order_key(src.domain, doc.name.split("/", 1)[1])[:8], 16) % heldout_every == 0:
                split.heldout_docs.append(doc)
            else:
                split.train_docs.append(doc)
        if not (split.train_docs and split.heldout_docs):
            raise CorpusSourceError(src.package, f"domain {src.domain!r} has no train or no held-out text "
                                    f"({len(docs)} documents from {src.package}=={src.version})")
        domains[src.domain] = split
    return Corpus(domains=domains, heldout_every=heldout_every, max_bytes_per_domain=max_bytes_per_domain,
                  sources={s.domain: s for s in sources})


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
