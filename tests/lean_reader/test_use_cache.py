"""The cached resolution of uses and the remembered validator verdicts: statuses computed with the
cache are exactly those computed without it, whatever edits happened between runs — including
edits that change which names exist, their privacy, imports and exports (the resolution
context), and names declared twice in one file."""

from __future__ import annotations

import pickle
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

import bridge.lean.status as status
import bridge.lean_status as lean_status
from bridge.lean.read_cache import ReadCache
from bridge.lean.status import compute_statuses, use_context
from bridge.lean.tree import read_tree
from bridge.lean_status import validation_memo_key, write_status_document, status_document_parts
from bridge.lean.kernel import KernelReport

# A small tree with what resolution depends on: imports (B sees A, C sees B), a private name, a
# name declared in two files, an export, a where-helper, a sorry that propagates.
TREE = {
    "P/A.lean": "namespace P\ndef base : Nat := 1\nprivate theorem hidden : base = 1 := rfl\n"
                "theorem shared : 1 = 1 := rfl\nend P\n",
    "P/B.lean": "import P.A\nnamespace P\ntheorem uses_base : base = 1 := rfl\n"
                "def helped : Nat := go where go := base\nend P\nexport P (base)\n",
    "P/C.lean": "import P.B\nopen P\ntheorem top : uses_base = uses_base := rfl\n"
                "theorem shared : 2 = 2 := rfl\ntheorem via_export : base = 1 := P.uses_base\n"
                "theorem via_shared : P.shared = P.shared := rfl\n",
}
# Edits between runs (file, text appended or a substitution): each keeps the tree valid Lean.
EDITS = (
    ("P/A.lean", ("theorem shared", "theorem shared' ")),  # renames: the context changes
    ("P/A.lean", ("def base : Nat := 1", "def base : Nat := sorry")),  # a sorry reaches B and C
    ("P/A.lean", ("private theorem hidden", "theorem hidden")),  # privacy: the context changes
    ("P/B.lean", "\nnamespace P\ntheorem late : hidden = hidden := rfl\nend P\n"),  # a (maybe) private name
    ("P/C.lean", ("theorem top : uses_base = uses_base", "theorem top : base = base")),  # same count, new uses
    ("P/C.lean", "\ndef top' : Nat := 3\ndef top' : Nat := 4\n"),  # one name twice in one file
    ("P/C.lean", "\ntheorem uses_dup : top' = top' := rfl\n"),
    ("P/B.lean", "\n-- a comment: nothing a resolution reads changes\n"),
    ("P/C.lean", ("import P.B", "import P.A")),  # the import graph changes
    ("P/A.lean", "\ntheorem fresh : base = base := rfl\n"),  # a new name
)


def _write_tree(lean: Path) -> None:
    for rel, text in TREE.items():
        (lean / rel).parent.mkdir(parents=True, exist_ok=True)
        (lean / rel).write_text(text)


def _edit(lean: Path, rel: str, edit) -> None:
    text = (lean / rel).read_text()
    if isinstance(edit, tuple):
        text = text.replace(*edit, 1)
    else:
        text += edit
    (lean / rel).write_text(text)


def _outcome(files, cache=None):
    warnings: list[str] = []
    results = compute_statuses(files, warnings=warnings, cache=cache)
    return [(r.decl.file, r.decl.line, r.decl.name, r.status, r.uses, r.blocked_by, r.notes) for r in results], warnings


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.permutations(range(len(EDITS))))  # every edit, in any order
def test_cached_uses_give_the_statuses_of_a_fresh_resolution_after_any_edits(tmp_path_factory, steps):
    root = tmp_path_factory.mktemp("uses")
    lean = root / "lean"
    _write_tree(lean)
    cache = ReadCache(root / "cache")
    _outcome(read_tree(lean, root, workers=1), cache)  # the cache has seen the starting tree
    for k in steps:
        _edit(lean, *EDITS[k])
        files = read_tree(lean, root, workers=1)
        assert _outcome(files, cache) == _outcome(files)
        assert cache.use_hits <= len(files)
        assert _outcome(files, cache) == _outcome(files)  # and again, now from the cache


def test_an_unchanged_tree_is_not_resolved_again(tmp_path, monkeypatch):
    lean = tmp_path / "lean"
    _write_tree(lean)
    cache = ReadCache(tmp_path / "cache")
    files = read_tree(lean, tmp_path, workers=1)
    cold = _outcome(files, cache)
    monkeypatch.setattr(status.NameIndex, "uses", lambda self, d: (_ for _ in ()).throw(AssertionError(d.name)))
    assert _outcome(files, cache) == cold and cache.use_hits == len(files)


def test_an_edit_that_changes_no_name_re_resolves_only_its_file(tmp_path):
    lean = tmp_path / "lean"
    _write_tree(lean)
    cache = ReadCache(tmp_path / "cache")
    before = read_tree(lean, tmp_path, workers=1)
    _outcome(before, cache)
    _edit(lean, "P/A.lean", ("def base : Nat := 1", "def base : Nat := sorry"))
    after = read_tree(lean, tmp_path, workers=1)
    assert use_context(after) == use_context(before)
    assert _outcome(after, cache) == _outcome(after) and cache.use_hits == len(after) - 1
    _edit(lean, "P/A.lean", ("theorem shared", "theorem shared2"))
    renamed = read_tree(lean, tmp_path, workers=1)
    assert use_context(renamed) != use_context(after)
    assert _outcome(renamed, cache) == _outcome(renamed) and cache.use_hits == 0


def test_a_damaged_uses_entry_is_a_miss(tmp_path):
    lean = tmp_path / "lean"
    _write_tree(lean)
    cache = ReadCache(tmp_path / "cache")
    files = read_tree(lean, tmp_path, workers=1)
    fresh = _outcome(files)
    _outcome(files, cache)
    entry = cache._entry_path("", "uses")
    good = entry.read_bytes()
    table = pickle.loads(good[64:])
    damaged = {
        "truncated": good[: len(good) // 2],
        "not a table": good[:64] + pickle.dumps([1, 2, 3]),
        "index out of range": good[:64] + pickle.dumps(
            {**table, "files": {p: (sha, [tuple(k + 10_000 for k in u) for u in uses])
                                for p, (sha, uses) in table["files"].items()}}),
        "unknown ref": good[:64] + pickle.dumps({**table, "refs": [("nope", "x.lean")] * len(table["refs"])}),
    }
    for kind, data in damaged.items():
        entry.write_bytes(data)
        assert _outcome(files, ReadCache(tmp_path / "cache")) == fresh, kind


def test_remembered_verdicts_skip_only_bytes_validated_before(tmp_path, monkeypatch):
    lean = tmp_path / "lean"
    _write_tree(lean)
    files = read_tree(lean, tmp_path, workers=1)
    kernel = KernelReport(ran=False, ok=True, reason="kernel check disabled (--no-kernel)")
    head, statuses = status_document_parts(files, "lean", kernel, "off")
    by_file = [[r.decl.name for r in statuses if r.decl.file == f.path] for f in files]
    assert len([names for names in by_file if names]) > 1
    first = write_status_document(tmp_path / "a.json", head, statuses, "a.json")
    assert len(first) == len([names for names in by_file if names])  # one digest per file's entries
    calls: list[str] = []
    checker = lean_status._declaration_checker()
    monkeypatch.setattr(checker, "is_valid_fast", lambda d: calls.append(d["name"]) or True)
    second = write_status_document(tmp_path / "b.json", head, statuses, "b.json", known_valid=first)
    assert calls == [] and second == first
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    # a changed entry's file is validated again; the other files are not
    statuses[0].notes.append("changed")
    write_status_document(tmp_path / "c.json", head, statuses, "c.json", known_valid=first)
    assert calls == [r.decl.name for r in statuses if r.decl.file == statuses[0].decl.file]
    # verdicts are remembered per schema and validator
    cache = ReadCache(tmp_path / "cache")
    assert cache.store_validated(validation_memo_key(), first)
    assert cache.load_validated(validation_memo_key()) == first
    assert cache.load_validated("0" * 64) == set()
