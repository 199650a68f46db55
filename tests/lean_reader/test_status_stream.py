"""The streamed status document (``write_status_document``): the same bytes as the whole-document
writer, validated declaration by declaration, and atomic when a declaration is invalid."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import bridge.lean_status as lean_status
from bridge.jsonio import canonical_json
from bridge.lean.kernel import KernelReport
from bridge.lean.tree import read_tree
from bridge.lean_status import (StatusDocumentError, build_status_document, status_document_parts,
                                write_status_document)

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
FILES = read_tree(CORPUS, CORPUS.parent)


def _parts(files):
    return status_document_parts(files, "corpus", KernelReport.skipped("test"), "off")


@settings(max_examples=25, deadline=None)
@given(subset=st.lists(st.sampled_from(range(len(FILES))), unique=True), batch=st.integers(1, 5))
def test_streamed_document_is_byte_identical_to_the_whole_document(tmp_path_factory, subset, batch):
    files = [FILES[k] for k in sorted(subset)]
    out = tmp_path_factory.mktemp("stream") / "lean_status.json"
    old = lean_status._BATCH
    lean_status._BATCH = batch  # batch boundaries must not show in the bytes
    try:
        write_status_document(out, *_parts(files), str(out))
    finally:
        lean_status._BATCH = old
    whole = build_status_document(files, "corpus", KernelReport.skipped("test"), "off")
    assert out.read_bytes() == canonical_json(whole).encode("utf-8")


def test_an_invalid_declaration_is_reported_at_its_index_and_nothing_is_written(tmp_path):
    head, statuses = _parts(FILES)
    assert len(statuses) > 3
    statuses[3].status = "finished"  # not a status the schema allows
    out = tmp_path / "lean_status.json"
    out.write_text("previous\n", encoding="utf-8")
    with pytest.raises(StatusDocumentError, match=r"/declarations/3/status"):
        write_status_document(out, head, statuses, str(out))
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lean_status.json"]  # no temp file left


def test_an_invalid_head_is_refused_before_anything_is_written(tmp_path):
    head, statuses = _parts(FILES)
    head["lean_dir"] = 7
    out = tmp_path / "lean_status.json"
    with pytest.raises(StatusDocumentError, match=r"/lean_dir"):
        write_status_document(out, head, statuses, str(out))
    assert not out.exists()


def test_a_process_pool_reads_the_same_declarations_as_one_process(monkeypatch):
    """The pool path (large trees) returns what a single process reads, in the same order:
    declarations survive their trip through pickle field by field."""
    import bridge.lean.tree as tree

    monkeypatch.setattr(tree, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(tree, "_CHUNK_BYTES", 2_000)  # several chunks
    pooled = tree.read_tree(CORPUS, CORPUS.parent, workers=2)
    single = tree.read_tree(CORPUS, CORPUS.parent, workers=1)
    assert [f.path for f in pooled] == [f.path for f in single]
    assert [f.declarations for f in pooled] == [f.declarations for f in single]
    assert sum(len(f.declarations) for f in pooled) > 10
