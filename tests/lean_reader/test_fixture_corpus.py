"""The fixture corpus: one file per reader concern, with hand-checked expected statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.lean.kernel import KernelReport
from bridge.lean_status import status_document_for, validate_status_document

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "corpus_expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc() -> dict:
    return status_document_for(FIXTURES / "corpus", FIXTURES, KernelReport.skipped("test: no kernel"), "off")


@pytest.fixture(scope="module")
def by_name(doc) -> dict:
    return {d["name"]: d for d in doc["declarations"]}


def test_every_declaration_and_status(by_name):
    got = {name: d["status"] for name, d in by_name.items()}
    assert got == EXPECTED["statuses"]


def test_blocked_by_names_the_culprits(by_name):
    for name, culprits in EXPECTED["blocked_by"].items():
        assert by_name[name]["blocked_by"] == culprits, name


@pytest.mark.parametrize("name", sorted(EXPECTED["uses"]))
def test_uses_resolves_through_namespaces_opens_and_root(by_name, name):
    assert by_name[name]["uses"] == EXPECTED["uses"][name]


def test_deferred_reasons_are_read_from_the_docstring(by_name):
    for name, reason in EXPECTED["deferred_reason"].items():
        assert by_name[name]["deferred_reason"] == reason


def test_code_in_comments_strings_and_docs_is_not_declared(by_name):
    for name in EXPECTED["absent"]:
        assert name not in by_name


def test_sorries_in_where_termination_and_cases_are_located(by_name):
    for name, lines in EXPECTED["sorry_lines"].items():
        assert [s["line"] for s in by_name[name]["sorries"]] == lines, name


def test_stale_deferred_marker_is_noted(by_name):
    d = by_name["Sorries.deferred_but_proved"]
    assert d["status"] == "proved"
    assert any("Deferred" in n for n in d["notes"])


def test_qualified_names(by_name):
    assert "Hidden.Status.foo" in by_name
    assert "A.Inner.bar" in by_name  # protected theorem Inner.bar inside namespace A
    assert "at_root" in by_name  # _root_.at_root
    assert by_name["Attributes.private_lemma"]["modifiers"] == ["private"]
    assert by_name["Attributes.protected_lemma"]["attributes"] == ['@[to_additive (attr := simp) "doc of the additive version"]']


def test_document_validates_against_its_schema(doc):
    validate_status_document(doc)
    assert sum(doc["counts"].values()) == len(doc["declarations"])
    assert all(d["kernel"]["status"] == "unchecked" for d in doc["declarations"])


def test_statement_text_drops_comments():
    from bridge.lean.reader import read_source

    (d,) = read_source("theorem t (x : Nat) /- c -/ :\n    x = x := rfl", "t.lean")
    assert d.statement == "(x : Nat) : x = x"
    assert d.conclusion == "x = x"
