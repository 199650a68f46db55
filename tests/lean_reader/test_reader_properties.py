"""Properties of the Lean reader (Hypothesis, derandomised in CI).

* Inserting comments or whitespace between tokens — where Lean itself ignores them — never changes
  any declaration's name, status, blockers, uses or statement hash.
* Random bytes and random token soups never crash the reader: they parse, or fail with the one
  located error type (``LeanSyntaxError``).
* The status of a tree does not depend on the order its files are read in.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, strategies as st

from bridge.lean.errors import LeanSyntaxError
from bridge.lean.reader import LeanFile, read_bytes, read_source
from bridge.lean.status import compute_statuses
from bridge.lean.tokens import LeanSource

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
SOURCES = {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.lean"))}


def summary(files: list[LeanFile]) -> dict:
    return {
        r.decl.name.split("«")[0]: (r.status, r.blocked_by, r.uses, r.decl.statement_sha256, r.decl.deferred_reason)
        for r in compute_statuses(files)
        if not r.decl.anonymous
    }


def gaps(text: str) -> list[tuple[int, bool]]:
    """Offsets just after a token that whitespace follows, and whether that gap has a newline."""
    src = LeanSource(text, "x")
    tokens = list(src.tokens(0))
    out = []
    for tok, nxt in zip(tokens, tokens[1:] + [None]):
        end = tok.end
        if end < len(src.code) and src.code[end] in " \n":
            gap = src.code[end : nxt.start if nxt else len(src.code)]
            out.append((end, "\n" in gap))
    return out


INSERTS_INLINE = [" ", "  ", " /- c -/", " /- /- nested sorry -/ theorem -/", "\t"]
INSERTS_NEWLINE = [" -- sorry theorem", "\n", "\n\n", " /-\n multi\n line -/"]


@given(
    name=st.sampled_from(sorted(SOURCES)),
    picks=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=8)), max_size=25),
)
def test_inserting_comments_and_whitespace_never_changes_statuses(name, picks):
    text = SOURCES[name]
    slots = gaps(text)
    edits: dict[int, str] = {}
    for k, choice in picks:
        offset, newline_gap = slots[k % len(slots)]
        pool = INSERTS_NEWLINE + INSERTS_INLINE if newline_gap else INSERTS_INLINE
        edits[offset] = edits.get(offset, "") + pool[choice % len(pool)]
    mutated = "".join(
        text[a:b] + edits.get(b, "") for a, b in zip([0, *sorted(edits)], [*sorted(edits), len(text)])
    )
    before = summary([LeanFile(name, "0" * 64, read_source(text, name))])
    after = summary([LeanFile(name, "0" * 64, read_source(mutated, name))])
    assert after == before


@given(st.binary(max_size=3000))
def test_random_bytes_never_crash(data):
    try:
        f = read_bytes(data, "fuzz.lean")
    except LeanSyntaxError as exc:
        assert str(exc).startswith("fuzz.lean:") and exc.line >= 1 and exc.col >= 1
        return
    compute_statuses([f])


SOUP = [
    "theorem", "lemma", "def", "abbrev", "instance", "example", "axiom", "opaque", "structure", "class",
    "inductive", "namespace", "section", "end", "mutual", "open", "in", "set_option", "private", "protected",
    "noncomputable", "partial", "public", "local", "scoped", "variable", "notation", "deriving", "import",
    "module", "#eval", "#check", "@[", "[", "]", "(", ")", "{", "}", "⟨", "⟩", ":=", ":", "|", "=>", "where",
    "let", "have", "by", "sorry", "admit", "True", "x", "A.B", "_root_.y", "«weird name»", "/-", "-/", "/--",
    "/-!", "--", '"', "'", "'a'", "'\"'", 'r#"', '"#', 's!"', "\\", "1e10", "h.1", "·", ".", ",", "→", "∀",
    "Deferred: why", "\n", "\n\n", "termination_by", "decreasing_by", "|x|", "«", "»", "\x00",
]


@given(st.lists(st.sampled_from(SOUP), max_size=60), st.sampled_from([" ", "", "\n"]))
def test_token_soups_never_crash(words, sep):
    src = sep.join(words)
    try:
        decls = read_source(src, "soup.lean")
    except LeanSyntaxError as exc:
        assert exc.path == "soup.lean" and exc.line >= 1 and exc.col >= 1
        return
    compute_statuses([LeanFile("soup.lean", "0" * 64, decls)])


@given(st.permutations(sorted(SOURCES)))
def test_status_is_independent_of_file_order(order):
    files = [LeanFile(n, "0" * 64, read_source(SOURCES[n], n)) for n in order]
    reference = [LeanFile(n, "0" * 64, read_source(SOURCES[n], n)) for n in sorted(SOURCES)]
    assert [(r.decl.name, r.status, r.blocked_by) for r in compute_statuses(files)] == [
        (r.decl.name, r.status, r.blocked_by) for r in compute_statuses(reference)
    ]
