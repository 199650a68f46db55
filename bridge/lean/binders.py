"""Local names of a declaration: which identifiers are bound by the declaration itself.

Lean resolves an identifier to a local before a global: ``theorem t (x : Nat) : x = x`` uses no
project declaration ``x``. This module finds the names a declaration binds — binder groups
``(x y : T)`` / ``{x : T}`` / ``[inst : C]`` (signature, ``fun``, ``∀``, ``have h (x : T)``),
``fun``/``λ``/``∀``/``∃``/big-operator binders, ``let``/``have``/``set``/``obtain``/``intro``/
``rintro``/``rcases … with``/``cases' … with``/``ext``/``funext``/``choose``/``case``/``next``/
``for`` names and patterns, match-alternative patterns ``| pat =>``, set-builder ``{x | …}`` —
and the offset of each name's first binding.

**The scope rule** (an approximation of Lean's, documented in the README): a name counts as local
from its first binding to the end of the declaration. An occurrence before the first binding is a
use of whatever the name resolves to globally. Variables (``variable (x : T)``) bind from the
start of every later declaration in their section. All of it is regex work over the masked code
plus one ``findall`` per binding segment, so the cost is linear in the declaration's length.
"""

from __future__ import annotations

import re

from .tokens import ID_CHARS, IDENTS_IN_CODE

_L = ID_CHARS.split("0-9")[0]
_SIMPLE = rf"[{_L}][{ID_CHARS}]*"
_SIMPLE_RE = re.compile(rf"(?<![{ID_CHARS}.])({_SIMPLE})(?![{ID_CHARS}.])")
# (x y : T), {x : T}, ⦃x : T⦄, [inst : C]
_GROUP = re.compile(rf"[({{⦃\[]\s*((?:{_SIMPLE}|_)(?:\s+(?:{_SIMPLE}|_))*)\s*:(?![=:])")
# Binder keywords, then the names or patterns that follow (up to `=>`, `:=`, `:`, `,`, `;` …);
# anonymous-constructor patterns ⟨x, hx⟩ may contain commas.
_WORD_BINDER = (  # (not `funext`: as a term, `funext h` applies a proof)
    r"fun|intro|intros|rintro|obtain|rcases|rename_i|next|ext|choose|let|have|haveI|letI|set|"
    r"generalize|by_cases|by_contra!?|suffices|for|mut|peel|induction'|cases'|case|with|lift"
)
_SYMBOL_BINDER = r"λ|∀ᶠ|∃ᶠ|∀|∃!?|Π|Σ|∑'?|∏'?|⨆|⨅|⋃|⋂|∫⁻?|∮|⨁|∐"
# No look-behind in front: a leading look-behind stops the regex engine's fast scan for the first
# character (≈700× slower on a long proof); a word glued to an identifier is rejected in Python.
# The look-ahead over the binders' first characters lets the engine skip every other position
# with one set test instead of trying each alternative (the matches are the same; 1.7× faster).
_FIRST_CHARS = "".join(sorted({w[0] for w in _WORD_BINDER.split("|")} | {w[0] for w in _SYMBOL_BINDER.split("|")}))
_KEYWORD = re.compile(
    rf"(?=[{_FIRST_CHARS}])"
    rf"(?:(?:{_WORD_BINDER})(?![{ID_CHARS}])|{_SYMBOL_BINDER})((?:⟨[^⟩\n]*⟩|[^\n=:;|←∈↦,⟨<>∉⊆])*)"
)
_WORD_BEFORE = re.compile(rf"[{ID_CHARS}.]")
# `| pat =>` alternatives (and `| p₁\n | p₂ => rhs`: a line-leading `|` without `=>`)
_PATTERN_ONLY = re.compile(rf"[\s.,⟨⟩_{ID_CHARS}]*$")
TACTIC_WORDS = frozenset(
    {"exact", "apply", "refine", "rw", "simp", "simpa", "omega", "decide", "rfl", "norm_num", "linarith", "ring",
     "aesop", "assumption", "trivial", "constructor", "intro", "cases", "induction", "skip", "done", "tauto",
     "contradiction", "exfalso", "positivity", "gcongr", "field_simp", "nlinarith", "dsimp", "unfold", "use",
     "left", "right", "infer_instance", "fail", "first", "try", "repeat", "all_goals", "any_goals"}
)
# Antiquotations `$x` in syntax patterns bind `x`.
_ANTIQUOTE = re.compile(rf"\$({_SIMPLE})")
# A binder group without types in a signature: `(a i b)`.
_BARE_GROUP = re.compile(rf"[({{⦃\[]\s*((?:{_SIMPLE}|_)(?:\s+(?:{_SIMPLE}|_))*)\s*[)}}⦄\]]")
_SET_BUILDER = re.compile(rf"\{{\s*({_SIMPLE})\s*(?:\||∈|//)")
_CUT_WORDS = re.compile(rf"(?<![{ID_CHARS}.])(?:using|at|in|from|generalizing|only|to)(?![{ID_CHARS}])")
NOT_BINDERS = frozenset(
    {"rfl", "fun", "by", "at", "with", "using", "in", "from", "only", "then", "else", "if", "do", "let", "have",
     "show", "match", "this", "intro", "exact", "simp", "rw", "sorry", "admit", "_", "to", "generalizing",
     "mut", "where", "calc", "true", "false"}
)


def _names_in(text: str) -> list[str]:
    cut = _CUT_WORDS.search(text)
    if cut:
        text = text[: cut.start()]
    return [n for n in _SIMPLE_RE.findall(text) if n not in NOT_BINDERS]


def pattern_alternatives(code: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the text after each ``|`` that opens a match alternative in code[start:end]: a
    ``|`` first on its line or right after ``with``/``fun``, up to the first ``=>`` or the end of
    the line, with no other ``|`` between. (What the multi-line regex
    ``(?:^[ \\t]*|(?:with|fun)[ \\t]*)\\|([^\\n|]*?)(?:=>|$)`` finds, a property test checks; the
    regex tries every line start and ``with``, and this visits only the ``|`` characters.)"""
    out: list[tuple[int, int]] = []
    find = code.find
    b = find("|", start, end)
    while b != -1:
        p = b
        while p > start and code[p - 1] in " \t":
            p -= 1
        if p == 0 or code[p - 1] == "\n" or (p - 4 >= start and code.startswith("with", p - 4)) \
                or (p - 3 >= start and code.startswith("fun", p - 3)):
            eol = find("\n", b + 1, end)
            if eol == -1:
                eol = end
            arrow = find("=>", b + 1, eol)
            stop = arrow if arrow != -1 else eol
            if find("|", b + 1, stop) == -1:
                out.append((b + 1, stop))
                b = find("|", stop, end)
                continue
        b = find("|", b + 1, end)
    return out


def first_bindings(code: str, start: int, end: int, binders_end: int | None = None) -> dict[str, int]:
    """Each name bound in code[start:end] → the offset where it is first bound; code[start:
    binders_end] is a signature's binder part, where groups without types (``(a b)``) bind too."""
    found: dict[str, int] = {}

    def add(names: list[str], at: int) -> None:
        for n in names:
            if n not in found or at < found[n]:
                found[n] = at

    for m in _GROUP.finditer(code, start, end):
        add([n for n in m.group(1).split() if n != "_"], m.start(1))
    search = _KEYWORD.search
    m = search(code, start, end)
    while m is not None:
        p = m.start()
        if p > 0 and code[p].isalpha() and _WORD_BEFORE.match(code, p - 1):
            m = search(code, p + 1, end)  # `fun` inside `refun`: not a binder
            continue
        if m.group(1):
            add(_names_in(m.group(1)), m.start(1))
        m = search(code, max(m.end(), p + 1), end)
    for g0, g1 in pattern_alternatives(code, start, end):
        text = code[g0:g1]
        if not code.startswith("=>", g1):
            # `| p₁` on a line of its own shares the next alternative's right-hand side — but
            # `first | tac | tac` alternatives are tactics: only a pattern-like line binds.
            if not _PATTERN_ONLY.match(text) or text.split()[:1] and text.split()[0] in TACTIC_WORDS:
                continue
        add(_names_in(text), g0)
    if binders_end is not None and binders_end > start:
        for m in _BARE_GROUP.finditer(code, start, binders_end):
            add([n for n in m.group(1).split() if n != "_"], m.start(1))
    if "$" in code[start:end]:
        for m in _ANTIQUOTE.finditer(code, start, end):
            add([m.group(1)], m.start(1))
    if "{" in code[start:end]:
        for m in _SET_BUILDER.finditer(code, start, end):
            add([m.group(1)], m.start(1))
    return found


def free_identifiers(code: str, start: int, end: int, bound_from_start: frozenset[str] = frozenset(),
                     binders_end: int | None = None) -> tuple[str, ...]:
    """Identifiers of code[start:end] that are not local there: not bound before every use
    (see the scope rule above), and not in ``bound_from_start`` (section variables). Sorted and
    distinct, as a tuple: a frozenset costs about ten times its tuple's memory, and a tree the
    size of Mathlib keeps one per declaration until names are resolved."""
    bindings = first_bindings(code, start, end, binders_end)
    found: set[str] = set()
    order = sorted(set(bindings.values()))
    pos = start
    seen: set[str] = set()  # identifiers occurring before the current segment's end
    by_offset: dict[int, list[str]] = {}
    for name, at in bindings.items():
        by_offset.setdefault(at, []).append(name)
    free_bound: set[str] = set()
    for at in order:
        seen.update(IDENTS_IN_CODE.findall(code, pos, at))
        pos = at
        for name in by_offset[at]:
            if name in seen:
                free_bound.add(name)
    seen.update(IDENTS_IN_CODE.findall(code, pos, end))
    seen.discard("")
    for ident in seen:
        head = ident.split(".", 1)[0]
        if (head in bindings and head not in free_bound) or head in bound_from_start:
            continue  # a local, or a projection / dot-call on a local (`h.le`, `x.1`)
        found.add(ident)
    return tuple(sorted(found))


def variable_names(code: str, start: int, end: int) -> list[str]:
    """Names a ``variable`` command binds."""
    return [n for m in _GROUP.finditer(code, start, end) for n in m.group(1).split() if n != "_"]
