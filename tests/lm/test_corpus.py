"""The pinned corpus: the same bytes on every machine, located errors for bad sources, extraction."""

from __future__ import annotations

import json
import shutil
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moegauge.lm import corpus as C

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus():
    return C.build_corpus()


def _first_difference(manifest: dict, committed_rows: list[dict]) -> str:
    """Name the domain and the first document whose name, split or hash differs from the committed
    corpus artifact (the evidence the shipped model and every study were measured on)."""
    ours = sorted((d, x["name"], x["split"], x["sha256"]) for d, m in manifest["domains"].items() for x in m["documents"])
    theirs = sorted((r["domain"], r["document"], r["split"], r["sha256"]) for r in committed_rows)
    for a, b in zip(ours, theirs):
        if a != b:
            return f"domain {a[0]!r}: first differing document {a[1]!r} (committed: {b[1]!r})"
    return f"{len(ours)} documents here against {len(theirs)} committed"


def test_corpus_is_the_pinned_one(corpus):
    """The manifest hash is a constant of the code; on a mismatch, say where the text differs."""
    manifest = corpus.manifest()
    if manifest["sha256"] != C.EXPECTED_SHA256:
        committed = json.loads((REPO / "evidence" / "corpus" / "corpus.json").read_text())
        pytest.fail(f"corpus hash {manifest['sha256']} != expected {C.EXPECTED_SHA256}: "
                    + _first_difference(manifest, committed["tables"]["documents"]["rows"]))


def test_committed_corpus_artifact_matches(corpus):
    committed = json.loads((REPO / "evidence" / "corpus" / "corpus.json").read_text())
    rows = committed["tables"]["documents"]["rows"]
    assert _first_difference(corpus.manifest(), rows).startswith(f"{len(rows)} documents"), \
        _first_difference(corpus.manifest(), rows)


def test_six_domains_of_real_text(corpus):
    assert sorted(corpus.domains) == sorted(C.DOMAINS) and len(C.DOMAINS) >= C.MIN_DOMAINS
    for name, split in corpus.domains.items():
        assert split.train and split.heldout, name
        sample = split.heldout[:20000].decode("utf-8")  # real text: valid UTF-8, hardly any control bytes
        controls = sum(ch < " " and ch not in "\t\n\r\x00" for ch in sample)
        assert controls / len(sample) < 0.001, name
    # the non-English domain really is mostly non-ASCII text
    held = corpus.domains["translations"].heldout
    assert sum(b >= 0x80 for b in held) / len(held) > 0.2


def test_same_bytes_without_machine_sources(corpus, monkeypatch, tmp_path):
    """No licence folder, another sysconfig layout, no stdlib sources to read: the same corpus."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(sysconfig, "get_paths", lambda *a, **k: {k2: str(elsewhere) for k2 in
                                                                   ("stdlib", "purelib", "platlib", "data")})
    monkeypatch.setattr(sysconfig, "get_path", lambda *a, **k: str(elsewhere))
    stdlib = Path(shutil.__file__).resolve().parent
    real_read = Path.read_bytes

    def guarded(self):
        p = str(self.resolve())
        assert not p.startswith("/usr/share/common-licenses"), p
        assert not (p.startswith(str(stdlib)) and "site-packages" not in p), p
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    assert C.build_corpus().sha256 == corpus.sha256


def test_split_is_deterministic_and_disjoint(corpus):
    again = C.build_corpus()
    assert corpus.manifest() == again.manifest()
    for split in corpus.domains.values():
        assert not {d.name for d in split.train_docs} & {d.name for d in split.heldout_docs}


def test_missing_package_is_named_with_its_version():
    src = C.Source("legal", "moegauge-no-such-package", "1.2.3", "x", ("*.txt",))
    with pytest.raises(C.CorpusSourceError, match=r"moegauge-no-such-package.*not installed.*==1\.2\.3"):
        C.build_corpus(sources=[src])


def test_wrong_version_names_the_pin():
    src = C.Source("legal", "spdx", "0.0.1", "x", ("spdx/data/*.txt",))
    with pytest.raises(C.CorpusSourceError, match=r"version 2\.5\.1.*spdx==0\.0\.1"):
        C.build_corpus(sources=[src])


def _copy_dist(tmp_path: Path, names: list[str]) -> Path:
    """A copy of the installed spdx distribution with only ``names`` of its data files."""
    dist = metadata.distribution("spdx")
    site = tmp_path / "site"
    for f in dist.files:
        rel = f.as_posix()
        if ".dist-info/" in rel or rel in names:
            dst = site / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(str(dist.locate_file(f))), dst)
    return site


def test_altered_source_file_is_an_error_naming_it(tmp_path):
    names = ["spdx/data/MIT.txt", "spdx/data/0BSD.txt"]
    site = _copy_dist(tmp_path, names)
    src = C.Source("legal", "spdx", "2.5.1", "x", tuple(names))
    docs = C.discover_documents(src, search_path=[str(site)])
    assert [d.name for d in docs] and all(d.text for d in docs)
    target = site / "spdx/data/MIT.txt"
    target.write_bytes(target.read_bytes().replace(b"Permission", b"Permissionx", 1))
    with pytest.raises(C.CorpusSourceError, match=r"MIT\.txt.*differs from its wheel's RECORD"):
        C.discover_documents(src, search_path=[str(site)])


def test_docstrings_are_extracted_and_dedented():
    src = b'def f():\n    """Summary.\n\n    More text\n      indented.\n    """\n    x = """not a docstring"""\n'
    assert C.extract_docstrings(src) == b"Summary.\n\nMore text\n  indented."


_po_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda s: s.strip() == s and s)


def _po_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


@given(st.lists(st.tuples(_po_text, _po_text), min_size=1, max_size=8))
def test_po_msgstr_round_trips(entries):
    """Whatever the translations, the extractor returns exactly them (header and msgids dropped)."""
    lines = ['msgid ""', 'msgstr ""', '"Project-Id-Version: x\\n"', ""]
    for msgid, msgstr in entries:
        lines += ["#: somewhere.py:1", f'msgid "{_po_escape(msgid)}"', f'msgstr "{_po_escape(msgstr)}"', ""]
    out = C.extract_po_msgstr("\n".join(lines).encode("utf-8")).decode("utf-8")
    assert out.split("\n") == [m for _, m in entries]


def test_po_plural_and_obsolete_entries():
    po = (b'msgid "one"\nmsgid_plural "many"\nmsgstr[0] "eins"\nmsgstr[1] "viele"\n\n'
          b'#~ msgid "old"\n#~ msgstr "alt"\nmsgid "a"\nmsgstr ""\n"b"\n"c"\n')
    assert C.extract_po_msgstr(po) == b"eins\nviele\nbc"


def test_tail_split_keeps_every_byte():
    doc = C.Document("a.txt", b"line one\nline two\nline three\nline four\n" * 5)
    head, tail = C._tail_split(doc, 10)
    assert head.text + tail.text == doc.text
    assert tail.text and head.text.endswith(b"\n")


def test_windows_are_byte_tokens():
    w = C.windows(b"abcdefgh", 3)
    assert w.tolist() == [[97, 98, 99], [100, 101, 102]]
