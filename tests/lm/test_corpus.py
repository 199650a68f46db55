"""The real-text corpus: domains, deterministic split, hashes."""

from __future__ import annotations

import pytest

from moegauge.lm import corpus as C


@pytest.fixture(scope="module")
def corpus():
    return C.build_corpus(max_bytes_per_domain=300_000)


def test_at_least_three_real_domains(corpus):
    assert len(corpus.domains) >= C.MIN_DOMAINS
    for name, split in corpus.domains.items():
        assert split.train and split.heldout, name
        # Real text: mostly printable, and never a proxy of random bytes.
        sample = split.heldout[:4000]
        printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
        assert printable / len(sample) > 0.9, name


def test_split_is_deterministic_and_disjoint(corpus):
    again = C.build_corpus(max_bytes_per_domain=300_000)
    assert corpus.manifest() == again.manifest()
    for split in corpus.domains.values():
        train = {d.name for d in split.train_docs}
        held = {d.name for d in split.heldout_docs}
        assert not train & held


def test_manifest_hash_changes_with_the_text(corpus, monkeypatch):
    before = corpus.sha256
    dom = next(iter(corpus.domains.values()))
    dom.heldout_docs[0] = C.Document(dom.heldout_docs[0].name, dom.heldout_docs[0].text + b"x")
    assert corpus.sha256 != before


def test_tail_split_keeps_every_byte():
    doc = C.Document("a.txt", b"line one\nline two\nline three\nline four\n" * 5)
    head, tail = C._tail_split(doc, 10)
    assert head.text + tail.text == doc.text
    assert tail.text and head.text.endswith(b"\n")


def test_too_few_domains_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(C, "discover_documents", lambda domain: [C.Document("x", b"abc\n" * 100)] if domain == "code" else [])
    with pytest.raises(RuntimeError, match="need 3"):
        C.build_corpus()


def test_windows_are_byte_tokens():
    w = C.windows(b"abcdefgh", 3)
    assert w.tolist() == [[97, 98, 99], [100, 101, 102]]
