"""Lexical rules of the Lean reader: comments, literals, identifiers, located errors."""

from __future__ import annotations

import pytest

from bridge.lean.errors import LeanSyntaxError
from bridge.lean.reader import read_bytes, read_source
from bridge.lean.tokens import LeanSource


def names(src: str) -> list[str]:
    return [d.name for d in read_source(src, "t.lean")]


def sorry_count(src: str) -> int:
    return sum(len(d.sorries) for d in read_source(src, "t.lean"))


def test_nested_block_comment_hides_declarations():
    assert names("/- a /- b -/ theorem x : True := sorry -/\ntheorem y : 1 = 1 := rfl") == ["y"]


def test_doc_and_module_doc_are_not_code():
    src = "/-! theorem m : sorry -/\n/-- sorry /- nested -/ -/\ntheorem y : 1 = 1 := rfl"
    (d,) = read_source(src, "t.lean")
    assert d.name == "y" and d.sorries == () and d.doc == "sorry /- nested -/"


def test_line_comment_runs_to_end_of_line():
    assert sorry_count("theorem y : 1 = 1 := by -- sorry\n  rfl") == 0


@pytest.mark.parametrize(
    "literal",
    ['"sorry"', '"a \\" sorry"', '"\\\\" ', "r\"sorry\"", 'r#"a "sorry" b"#', 's!"{"sorry"} {x}"', "'\"'", "'\\''"],
)
def test_literals_hide_their_contents(literal):
    src = f"def d := {literal}\ntheorem t : 1 = 1 := rfl"
    assert names(src) == ["d", "t"]
    assert sorry_count(src) == 0


def test_char_literal_quote_does_not_open_a_string():
    src = "def q : Char := '\"'\ntheorem after : 1 = 1 := by sorry\ndef s := \"x\""
    assert names(src) == ["q", "after", "s"]
    assert sorry_count(src) == 1


@pytest.mark.parametrize("ident", ["no_sorry_here", "sorry_free", "is_sorry'", "sorryAx", "admitted", "Foo.sorry"])
def test_identifiers_containing_sorry_are_not_sorry(ident):
    assert sorry_count(f"def x := {ident}") == 0


def test_sorry_and_admit_as_term_and_tactic():
    assert sorry_count("def a := sorry\ntheorem b : 1 = 2 := by admit\ntheorem c : 1 = 2 := ⟨sorry, by sorry⟩") == 4


def test_unicode_identifiers_and_guillemets():
    src = "def α₁ := 1\ndef x' := 2\ndef «sorry name» := 3\ndef ℝ2 := 4"
    assert names(src) == ["α₁", "x'", "«sorry name»", "ℝ2"]
    assert sorry_count(src) == 0


def test_depth_tracks_brackets_outside_literals():
    src = LeanSource('def f := (a [b "(" ⟨c⟩])', "t.lean")
    inner = src.code.index("c")
    assert src.depth_at(inner) == 3
    assert src.depth_at(len(src.code)) == 0


@pytest.mark.parametrize(
    "source, line, col, message",
    [
        ("theorem a : 1 = 1 := rfl\n/- open /- nested -/", 2, 1, "unterminated comment"),
        ('def s := "abc\n', 1, 10, "unterminated string literal"),
        ('def s := r#"abc"', 1, 10, "unterminated raw string literal"),
        ('def s := s!"{x} and', 1, 12, "unterminated string literal"),
    ],
)
def test_lexical_errors_are_located(source, line, col, message):
    with pytest.raises(LeanSyntaxError) as err:
        read_source(source, "bad.lean")
    e = err.value
    assert (e.path, e.line, e.col) == ("bad.lean", line, col)
    assert message in e.message
    assert str(e).startswith(f"bad.lean:{line}:{col}: ")


@pytest.mark.parametrize(
    "source, line, col, severity, message",
    [
        ("namespace\ntheorem a : 1 = 1 := rfl", 1, 1, "warning", "expected a namespace name"),
        ("end Foo", 1, 1, "warning", "no open namespace"),
        ("namespace A\nend B", 2, 1, "warning", "invalid 'end', expected 'end A'"),
        ("foo bar", 1, 1, "note", "unknown command 'foo', skipped"),
        ("theorem := rfl", 1, 9, "warning", "expected a declaration name"),
        ("/-- doc -/\nnamespace A", 1, 1, "warning", "cannot have a doc comment"),
    ],
)
def test_structural_problems_are_located_diagnostics_not_errors(source, line, col, severity, message):
    f = read_bytes(source.encode(), "bad.lean")
    assert any((ln, c, sev) == (line, col, severity) and message in msg for ln, c, sev, msg in f.diagnostics), \
        f.diagnostics
    assert all(text.startswith("bad.lean:") for text in f.diagnostic_lines())


def test_structural_problem_keeps_the_next_declaration():
    f = read_bytes(b"namespace\ntheorem a : 1 = 1 := rfl\n", "bad.lean")
    assert [d.name for d in f.declarations] == ["a"]


def test_undecodable_bytes_are_located():
    data = "theorem a : 1 = 1 := rfl\n-- é ok\ndef b := 1 ".encode() + b"\xff\n"
    with pytest.raises(LeanSyntaxError) as err:
        read_bytes(data, "bin.lean")
    assert (err.value.line, err.value.col) == (3, 12)
    assert "invalid UTF-8 byte 0xff" in err.value.message


def test_declarations_on_one_line_are_separate():
    assert names("def a := 1 def b := a theorem c : b = 1 := rfl") == ["a", "b", "c"]


def test_public_section_and_module_header():
    src = "module\n\npublic import Mathlib.Foo\n@[expose] public section\nnoncomputable section\ndef a := 1\nend\nend"
    assert names(src) == ["a"]
