"""The reader on real library files (Mathlib, Batteries, …) fetched into the git-ignored cache.

``.cache/lean-corpus/<library>/`` holds checkouts fetched by hand (nothing from them is committed;
see benchmarks/bench_lean_reader.py --real for the whole-tree figures). The test takes a
deterministic sample of a few hundred files, and skips cleanly when the cache is absent.

On real, compiling libraries the reader must: reject no file; warn about nothing but unknown
commands (notes); find every declaration a line regex finds in the masked code; and, in
libraries without ``sorry``, report every declaration proved (no bound variable or unknown
command may make one ``in_flight``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.lean.commands import VERSO_DOCUMENT
from bridge.lean.reader import read_bytes
from bridge.lean.status import compute_statuses
from bridge.lean.tokens import LeanSource
from bridge.lean.tree import lean_files

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "lean-corpus"
SAMPLE = 150  # files per library
_DECL = re.compile(
    r"^(?:@\[[^\n]*\]\s*)?(?:(?:private|protected|noncomputable|partial|unsafe|nonrec|public|meta)\s+)*"
    r"(?:theorem|lemma|def|abbrev|instance|example|axiom|opaque|structure|class|inductive)(?=\s)",
    re.MULTILINE,
)
_KINDS = {"theorem", "lemma", "def", "abbrev", "instance", "example", "axiom", "opaque", "structure", "class",
          "inductive"}


def libraries() -> list[Path]:
    if not CACHE.is_dir():
        return []
    return sorted(p for p in CACHE.iterdir() if p.is_dir() and any(p.rglob("*.lean")))


def sample(root: Path) -> list[Path]:
    files = [p for p in lean_files(root) if "Test" not in p.relative_to(root).parts[0]]
    step = max(1, len(files) // SAMPLE)
    return files[::step][:SAMPLE]


@pytest.mark.skipif(not libraries(), reason="no real Lean corpus in .cache/lean-corpus/ (fetch one to run this)")
@pytest.mark.parametrize("library", [p.name for p in libraries()] or ["none"])
def test_real_library_sample(library):
    root = CACHE / library
    read = []
    for path in sample(root):
        data = path.read_bytes()
        f = read_bytes(data, path.relative_to(root).as_posix())  # raises on any rejected file
        warnings = [d for d in f.diagnostics if d[2] == "warning"]
        assert not warnings, f.diagnostic_lines()[:5]
        masked = LeanSource(data.decode("utf-8").lstrip("\ufeff"), f.path, markup=VERSO_DOCUMENT).code
        verso = VERSO_DOCUMENT.search(masked)  # a Verso document's body is markup (README)
        masked = masked[: verso.start()] if verso else masked
        found = sum(1 for d in f.declarations if d.kind in _KINDS and d.parent is None)
        assert found >= len(_DECL.findall(masked)), f.path
        read.append(f)
    results = compute_statuses(read)
    causes = [r for r in results if r.decl.sorries or r.decl.kind == "axiom" or r.status == "stub"]
    if not causes:  # nothing in the sample is unproved on its own, so nothing may be unproved at all
        assert [r.decl.name for r in results if r.status != "proved"] == []
