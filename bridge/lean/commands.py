"""Command segmentation: a Lean file → command-level pieces for the declaration grammar.

Lean's command parser ends a declaration where the next *command* begins. This module decides
where that is, from tokens (never from line patterns). The rule, as Lean applies it:

* **Column 0 ends the previous command.** A command keyword (``theorem`` … ``inductive``,
  ``namespace``/``section``/``end``, ``open``, ``variable``, attributes ``@[…]``, doc comments,
  modifiers, ``#eval``-style commands …) in column 0 begins a command whatever the bracket depth:
  the depth restarts at 0 there, and if a bracket was still open the declaration before it gets a
  located warning (its extent was ambiguous). A stray ``(`` thus never swallows later theorems.
* Elsewhere only code at bracket depth 0 can begin a command: declaration keywords, scope and
  other command keywords, ``#eval``-style commands when first on their line; a doc comment,
  ``@[…]`` or a modifier only when it leads to a command (so a doc comment on a structure field
  stays inside the structure); ``open … in`` / ``set_option … in`` prefixes when a command follows
  the ``in`` (tactic syntax otherwise).
* **Unknown commands.** An identifier in column 0 at depth 0, after a complete term (not after
  ``:=``, ``by``, an operator …) and not a word that continues a term or tactic block, is a
  command the reader does not know (``notation3``, ``simproc``, ``deprecated_module``, a user's
  own ``syntax`` command, ``package``/``require`` in a lakefile …). It is skipped with a located
  note and is never part of a neighbouring declaration.
* A keyword used as a name is not a command: after ``|`` (``| opaque``), ``.``, inside «…».

Within a declaration, the signature ends at the first depth-0 ``:=`` (not one belonging to a
``let``/``have`` in the statement), at ``where``, or at a ``|`` that starts match alternatives.
The value runs to the next command; ``where`` helpers after a ``:=``/``|`` value are found by
layout (their own entries). Only headers and signatures are tokenized; bodies stay as spans.

Nothing here raises on ill-formed structure: problems are located diagnostics (notes and
warnings); only lexical errors (``tokens``) stop a file.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from .tokens import DOC, ID_CHARS, IDENT, MODDOC, STRING, SYM, LeanSource, Token

DECL_KEYWORDS = frozenset(
    {"theorem", "lemma", "def", "abbrev", "instance", "example", "axiom", "opaque", "structure", "class", "inductive",
     "alias", "irreducible_def"}
)
MODIFIERS = frozenset(
    {"private", "protected", "public", "noncomputable", "partial", "unsafe", "nonrec", "meta", "scoped", "local"}
)
SCOPE_KEYWORDS = frozenset({"namespace", "section", "end", "mutual"})
PREFIX_KEYWORDS = frozenset({"open", "set_option", "omit", "include"})
OTHER_KEYWORDS = frozenset(
    {
        "variable", "universe", "attribute", "notation", "infix", "infixl", "infixr", "prefix", "postfix",
        "macro", "macro_rules", "syntax", "elab", "elab_rules", "declare_syntax_cat", "initialize",
        "builtin_initialize", "export", "add_decl_doc", "library_note", "assert_not_exists",
        "suppress_compilation", "unseal", "seal", "register_option", "register_simp_attr", "run_cmd",
        "run_elab", "run_meta", "deriving", "proof_wanted", "import", "prelude",
    }
)
HEADER_KEYWORDS = frozenset({"import", "prelude"})
# Commands whose doc comment follows them (``library_note "name" /-- … -/``).
DOC_AFTER = frozenset({"library_note", "library_note2", "#adaptation_note"})
# Commands that are also tactics and terms (``#adaptation_note /-- … -/`` inside a ``by`` block):
# indented, Lean parses them as part of the declaration, so only column 0 starts a command.
ALSO_TACTICS = frozenset({"#adaptation_note"})
# Words that can never be a declaration's name (reserved in Lean or by the segmenter).
RESERVED = DECL_KEYWORDS | MODIFIERS | SCOPE_KEYWORDS | PREFIX_KEYWORDS | OTHER_KEYWORDS | frozenset(
    {"in", "by", "fun", "have", "show", "from", "at", "with", "then", "else", "if", "do", "let", "match",
     "where", "termination_by", "decreasing_by", "extends", "calc"}
) - {"alias", "irreducible_def", "deriving", "export"}
_OPEN_ARG_WORDS = frozenset({"scoped", "hiding", "renaming", "private", "from"})
START_WORDS = DECL_KEYWORDS | MODIFIERS | SCOPE_KEYWORDS | PREFIX_KEYWORDS | OTHER_KEYWORDS | {"module"}
# Column-0 identifiers that continue a term or a tactic block rather than begin a command.
CONTINUATION_WORDS = frozenset(
    {"where", "termination_by", "decreasing_by", "with", "then", "else", "do", "at", "by", "fun", "from", "in",
     "using", "calc", "if", "match", "let", "have", "show", "suffices", "return", "for", "unless", "try",
     "catch", "finally", "mut", "sorry", "admit", "exact", "apply", "refine", "intro", "intros", "rintro",
     "simp", "simp_all", "rw", "rwa", "simpa", "constructor", "cases", "rcases", "obtain", "induction", "rfl",
     "omega", "decide", "linarith", "nlinarith", "norm_num", "ring", "aesop", "assumption", "contradiction",
     "exfalso", "trivial", "unfold", "split", "next", "case", "all_goals", "any_goals", "first", "repeat",
     "congr", "ext", "funext", "use", "exists", "left", "right", "specialize", "subst", "change", "show_term",
     "generalize", "revert", "clear", "set", "conv", "gcongr", "positivity", "field_simp", "push_cast",
     "norm_cast", "exact_mod_cast", "infer_instance", "inferInstance", "id", "fun_prop", "dsimp", "tauto",
     "and", "or", "not", "deriving"}
)
# After these a line break continues the term (``:=``, ``by``, an operator, an opener …).
_INCOMPLETE_CHARS = frozenset("=:,(([{⟨⦃⟦⟪⁅|+-*/^<>≤≥≠∧∨¬→←↔∀∃λ$&@%!∘•·∣⊆⊂∈∉∪∩\\⁻×⬝⊗⊕⊢")
_INCOMPLETE_WORDS = frozenset(
    {"by", "fun", "then", "else", "do", "with", "at", "from", "in", "using", "calc", "if", "where", "have",
     "show", "let", "match", "λ", "deriving", "extends", "and", "or", "to", "only", "generalizing"}
)
_KEYWORD_KINDS = frozenset(DECL_KEYWORDS)
# Away from column 0, a declaration keyword starts a command only if what follows has the shape of
# its header (group 1, an identifier, must not be a keyword such as `in`); otherwise it is a word of
# the surrounding syntax: `<div> loading theorem in … </div>` in a widget, a local variable named
# `alias` (Batteries/Tactic/Alias.lean), HTML in doc-gen4's templates (`<span class="fn">`,
# `<label …>instance</label>`).
_NAME_AFTER = re.compile(rf"\s*(?:«|([{ID_CHARS}][{ID_CHARS}.]*))")
_HEADER_AFTER = {
    **dict.fromkeys(("theorem", "lemma", "def", "abbrev", "axiom", "opaque", "structure", "inductive"), _NAME_AFTER),
    # `class Name`, `class inductive Name`, `class abbrev Name`
    "class": re.compile(rf"\s*(?:(?:inductive|abbrev)\s+)?(?:«|([{ID_CHARS}][{ID_CHARS}.]*))"),
    # the name is optional: `instance : T`, `instance (priority := low) name …`, `instance {α} …`
    "instance": re.compile(rf"\s*(?:[:({{\[⦃«]|([{ID_CHARS}][{ID_CHARS}.]*))"),
    "example": re.compile(r"\s*[:({\[⦃]"),
    # `alias name :=` / `alias ⟨mp, mpr⟩ :=`
    "alias": re.compile(rf"\s*(?:⟨[^⟩]*⟩|«[^»]*»|([{ID_CHARS}][{ID_CHARS}.]*))\s*:="),
}


def _trie_pattern(words: frozenset[str]) -> str:
    """A regex alternation of ``words`` arranged as a prefix tree: the engine then tests one
    branch per first character instead of every word at every letter (≈3× faster on Lean)."""
    tree: dict = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        ends_here = "" in node
        body = alts[0] if len(alts) == 1 and not ends_here else "(?:" + "|".join(alts) + ")"
        return body + ("?" if ends_here else "")

    return emit(tree)


_LETTER_START = ID_CHARS.split("0-9")[0]
# Possible command starts. Branches begin with literals so the engine scans fast; a keyword glued
# to a preceding identifier character (``append`` ends in ``end``) is rejected in Python. The last
# branch is an identifier in column 0 (a possible unknown command), matched empty.
_CANDIDATE = re.compile(
    rf"(?:{_trie_pattern(START_WORDS)})(?![{ID_CHARS}])|@\[|\#[A-Za-z_][A-Za-z_0-9]*|/--|/-!|^(?=[{_LETTER_START}])",
    re.MULTILINE,
)
# Column-0 command starts: the bracket depth restarts there (``LeanSource`` resets).
COLUMN0_START = re.compile(
    rf"^(?:(?:{_trie_pattern(START_WORDS - {'deriving'})})(?![{ID_CHARS}])|@\[|\#[A-Za-z_]|/--|/-!)",
    re.MULTILINE,
)
# A Verso document: ``#doc (Genre) "title" =>`` in column 0 with ``=>`` ending its line (in masked
# code). Its body, to the end of the file, is markup: nothing in it is read as a command.
VERSO_DOCUMENT = re.compile(r"^\#doc\b[^\n]*=>[ \t\r]*$", re.MULTILINE)
_WORD_CHAR = re.compile(rf"[{ID_CHARS}.]")
# The same class as a set of the Basic Multilingual Plane's characters, for O(1) look-ups of the
# character before a keyword (astral letter-like characters are checked with the regex).
_WORD_CHARS = frozenset(ch for ch in map(chr, range(0x10000)) if _WORD_CHAR.match(ch))
_PREV_WORD = re.compile(rf"([{ID_CHARS}.«»]+)\s*$")
_IDENT_AT = re.compile(rf"[{_LETTER_START}][{ID_CHARS}.]*|«[^»\n]*»")
# Where a statement can end (`:=`, `where`, a `|` that is not `||`, `|>`, `<|`), and the
# `let`-like words whose own `:=` does not end it: one pass, in order (linear in the statement).
# (No leading look-behinds: they stop the regex engine's fast scan; boundaries are checked in Python.)
_SPLIT = re.compile(rf":=|(?:(where)|(let|have|haveI|letI))(?![{ID_CHARS}])|\|(?![|>])")
_ALTERNATIVE = re.compile(r"=>|:=|(?<![|<])\|(?![|>])")
_WHERE = re.compile(rf"where(?![{ID_CHARS}])")
_LINE = re.compile(r"^([ \t]*)(\S)", re.MULTILINE)


@dataclass(frozen=True)
class DeclarationSpan:
    """Where a declaration's parts are: keyword and name tokens, the statement's span
    (``signature_start``–``signature_end``: binders and type), the span of its value
    (``:=`` / ``where`` / ``|`` onwards), ``end`` (its own part: up to its ``where`` helpers or the
    next command), further names (``alias ⟨a, b⟩``) and its ``where`` helpers."""

    keyword: tuple[Token, ...]
    name: Token | None
    signature_start: int
    signature_end: int
    value_start: int | None
    end: int
    names: tuple[Token, ...] = ()
    helpers: tuple["Helper", ...] = ()


@dataclass(frozen=True)
class Helper:
    """A ``where`` helper of a declaration: its doc, attributes, name and spans."""

    doc: Token | None
    attributes: tuple[tuple[Token, ...], ...]
    name: Token
    signature_end: int
    value_start: int | None
    end: int


@dataclass(frozen=True)
class Piece:
    """A command-level token: its grammar terminal, the Lean tokens it covers (for bodies of other
    commands only the first), and for declarations their ``DeclarationSpan``."""

    terminal: str
    tokens: tuple[Token, ...]
    decl: DeclarationSpan | None = None
    end: int = -1  # end offset of the command (for OTHER/UNKNOWN bodies)

    @property
    def first(self) -> Token:
        return self.tokens[0]


@dataclass(frozen=True)
class Diagnostic:
    """A located note or warning about the source (never fatal)."""

    offset: int
    severity: str  # note | warning
    message: str


class _Cursor:
    """Tokens from an offset, produced as far as they are looked at."""

    __slots__ = ("_it", "_buf")

    def __init__(self, src: LeanSource, start: int, end: int | None = None):
        self._it = src.tokens(start, end)
        self._buf: list[Token] = []

    def __getitem__(self, i: int) -> Token | None:
        buf = self._buf
        while len(buf) <= i:
            t = next(self._it, None)
            if t is None:
                return None
            buf.append(t)
        return buf[i]

    def span(self, i: int, j: int) -> tuple[Token, ...]:
        self[j - 1]
        return tuple(self._buf[i:j])


class Segmenter:
    """Turns a ``LeanSource`` into the command-level ``Piece`` stream the grammar parses."""

    def __init__(self, src: LeanSource):
        self.src = src
        self.n = len(src.code)
        self.diagnostics: list[Diagnostic] = []
        code = src.code
        depth = src._depth
        word_chars = _WORD_CHARS
        self._candidate_word: dict[int, str] = {}
        in_guillemets = src.in_guillemets
        for m in _CANDIDATE.finditer(code):
            p = m.start()
            word = m.group()
            at_col0 = p == 0 or code[p - 1] == "\n"
            if not word:  # an identifier in column 0: possibly an unknown command
                if p and depth[p - 1]:
                    continue
                w = _IDENT_AT.match(code, p)
                word = "\x01" + (w.group() if w else "")
            elif p:
                if depth[p - 1] and not at_col0:
                    continue
                before = code[p - 1]
                if word[0].isalpha() and (before in word_chars or before == "`"
                                          or (before > "\uffff" and _WORD_CHAR.match(before))):
                    continue  # part of a longer name, or a name literal (`` `open ``)
                if in_guillemets(p):
                    continue
            self._candidate_word[p] = word
        self.candidates = list(self._candidate_word)
        self._first = src.next_code(0)
        self._start_cache: dict[int, bool] = {}
        self._cursors: dict[int, _Cursor] = {}  # reused by the header parse after the start test
        self._unclosed = set(src.unclosed)

    def note(self, offset: int, severity: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(offset, severity, message))

    # -- predicates -----------------------------------------------------------------------------
    @staticmethod
    def _is(t: Token | None, words: frozenset[str]) -> bool:
        return t is not None and t.kind == IDENT and t.text in words

    @staticmethod
    def _skip_group(cur: _Cursor, i: int) -> int:
        """From an opener at ``i``, the index just past its matching closer."""
        depth = cur[i].depth
        j = i + 1
        while (t := cur[j]) is not None and t.depth > depth:
            j += 1
        return j + 1 if cur[j] is not None else j

    def _skip_decl_prefix(self, cur: _Cursor, i: int) -> int:
        """Skip a doc comment, attribute lists and modifiers (any order, as Lean is lenient)."""
        while (t := cur[i]) is not None:
            if t.kind == DOC:
                i += 1
            elif t.kind == SYM and t.text == "@[":
                i = self._skip_group(cur, i)
            elif t.kind == IDENT and t.text in MODIFIERS:
                i += 1
                if t.text == "scoped" and (u := cur[i]) is not None and u.text == "[":
                    i = self._skip_group(cur, i)
            else:
                break
        return i

    def _previous_word(self, offset: int) -> str | None:
        m = _PREV_WORD.search(self.src.code, max(0, offset - 64), offset)
        return m.group(1) if m else None

    def _after_bar(self, offset: int) -> bool:
        """Is the code just before ``offset``, on the same line, a ``|`` (a constructor or pattern
        position)? A ``|`` ending an earlier line closes an absolute value (``:= |x|``)."""
        k = self.src.previous_code(offset)
        code = self.src.code
        return k >= 0 and code[k] == "|" and (k == 0 or code[k - 1] not in "|<") \
            and code.find("\n", k, offset) == -1

    def _complete_before(self, offset: int) -> bool:
        """Does the code before ``offset`` end a term (so a line break there may end a command)?"""
        k = self.src.previous_code(offset)
        if k < 0:
            return True
        ch = self.src.code[k]
        if ch == "/" and k > 0 and self.src.code[k - 1] == "-":
            return True  # the end of a doc comment or module doc
        if ch in _INCOMPLETE_CHARS:
            return False
        if ch == "." and k > 0 and self.src.code[k - 1] == ".":
            return False
        word = self._previous_word(k + 1)
        return word not in _INCOMPLETE_WORDS

    def _unknown_starts(self, offset: int, word: str) -> bool:
        return bool(word) and word not in CONTINUATION_WORDS and word not in START_WORDS \
            and self._complete_before(offset)

    def _keyword_starts(self, cur: _Cursor, i: int) -> bool:
        """Is token ``i`` a keyword that begins a command (after any prefix was skipped)?"""
        t = cur[i]
        if t is None or t.depth != 0:
            return False
        if t.kind == MODDOC:
            return True
        if t.kind == SYM:  # `#eval …`, and `/-- info: … -/ #guard_msgs in …` after a doc comment
            return t.text[0] == "#" and len(t.text) > 1 and t.text[1] != "[" and (
                i > 0 or self.src.first_on_line(t.start))
        if t.kind != IDENT:
            return False
        w = t.text
        if w in DECL_KEYWORDS:
            prev = cur[i - 1].text if i > 0 else self._previous_word(t.start)
            # `deriving instance …`, `class inductive …`, `class abbrev …` continue a command.
            return prev not in ("deriving", "class") and (i > 0 or not self._after_bar(t.start))
        if w in SCOPE_KEYWORDS or w in PREFIX_KEYWORDS:
            return True
        if w == "deriving":
            return self._is(cur[i + 1], frozenset({"instance"}))
        if w == "module":
            return t.start == self._first
        if w in OTHER_KEYWORDS:
            return True
        # An unknown command after attributes/modifiers/a doc comment or an `in` prefix: only in
        # column 0 (inside a proof, `open Foo in exact bar` is tactic syntax).
        return i > 0 and self._column0(cur[0].start) and w not in CONTINUATION_WORDS and w not in RESERVED

    def _header_follows(self, word: str, offset: int) -> bool:
        """Has the code after keyword ``word`` (ending at ``offset``) the shape of its header?"""
        m = _HEADER_AFTER[word].match(self.src.code, offset)
        if m is None:
            return False
        name = m.group(1) if m.re.groups else None  # group 1: the name, where the shape has one
        return name is None or name not in RESERVED

    def _column0(self, offset: int) -> bool:
        return offset == 0 or self.src.code[offset - 1] == "\n"

    def _starts_at(self, cur: _Cursor, i: int) -> bool:
        t = cur[i]
        if t is None or t.depth != 0:
            return False
        if t.kind == DOC or (t.kind == SYM and t.text == "@[") or (t.kind == IDENT and t.text in MODIFIERS):
            if t.kind == DOC and self._doc_belongs_before(t.start):
                return False
            j = self._skip_decl_prefix(cur, i)
            u = cur[j]
            return u is not None and u.kind != MODDOC and self._keyword_starts(cur, j)
        if t.kind == IDENT and t.text in PREFIX_KEYWORDS:
            end, has_in = self._scan_prefix_args(cur, i)
            return not has_in or self._starts_at(cur, end)
        return self._keyword_starts(cur, i)

    def _doc_belongs_before(self, offset: int) -> bool:
        """Does the doc comment at ``offset`` belong to a preceding ``library_note "…"`` or
        ``#adaptation_note``?"""
        k = self.src.previous_code(offset)
        if k < 0:
            return False
        code = self.src.code
        if code[k] == '"':  # library_note "name" /-- … -/
            q = code.rfind('"', 0, k)
            return q > 0 and self._previous_word(q) in DOC_AFTER
        word = self._previous_word(k + 1)
        if word in DOC_AFTER:
            return True
        if word and word.startswith("«"):  # library_note2 «name» /-- … -/
            return self._previous_word(k + 1 - len(word)) in DOC_AFTER
        before = code[max(0, k - 20) : k + 1]
        return before.endswith("#adaptation_note")

    def is_command_start(self, offset: int) -> bool:
        cached = self._start_cache.get(offset)
        if cached is None:
            word = self._candidate_word.get(offset)
            if word is not None and word[:1] == "\x01":
                cached = self._unknown_starts(offset, word[1:])
            elif word in DECL_KEYWORDS:  # the common case, decided without tokens
                after = offset + len(word)
                cached = self._previous_word(offset) not in ("deriving", "class") and not self._after_bar(offset) \
                    and not (self.src.code.startswith(":", after) and not self.src.code.startswith(":=", after)) \
                    and (word not in _HEADER_AFTER or self._column0(offset) or self._header_follows(word, after))
            elif word in ALSO_TACTICS:
                cached = self._column0(offset)
            elif word in SCOPE_KEYWORDS or (word in OTHER_KEYWORDS and word != "deriving"):
                cached = True
            elif word in PREFIX_KEYWORDS and not self._column0(offset) and not self._complete_before(offset):
                # indented after `where`, `:=`, `by`, …: the previous command's syntax (`omit attrs`
                # in a `declare_core_config_elab … where` block), or a tactic's `set_option … in`
                cached = False
            else:
                cur = self._cursors[offset] = _Cursor(self.src, offset)
                cached = self._starts_at(cur, 0)
            self._start_cache[offset] = cached
        return cached

    def _scan_prefix_args(self, cur: _Cursor, i: int) -> tuple[int, bool]:
        """Return (index after the arguments and any ``in``, whether an ``in`` was present)."""
        j = i + 1
        if cur[i].text == "set_option":
            j += 2  # option name, value
        else:
            code = self.src.code
            while (t := cur[j]) is not None:
                if t.start and code[t.start - 1] == "\n":
                    break  # column 0: the next command (`open Lake DSL` then `package …`)
                if t.kind == SYM and t.text in ("(", "[", "{", "⦃"):
                    j = self._skip_group(cur, j)
                elif t.kind == IDENT and t.text != "in" and (t.text not in RESERVED or t.text in _OPEN_ARG_WORDS):
                    j += 1
                elif t.kind == SYM and t.text in ("→", "->", "=>", ","):
                    j += 1
                elif t.kind == SYM and t.text == "-" and (u := cur[j + 1]) is not None and u.text == ">" \
                        and u.start == t.end:  # `->`, two tokens
                    j += 2
                else:
                    break
        if self._is(cur[j], frozenset({"in"})):
            return j + 1, True
        return j, False

    # -- driver ---------------------------------------------------------------------------------
    def _next_command(self, offset: int) -> int:
        """Offset of the first command start at or after ``offset`` (end of code if none)."""
        cands = self.candidates
        for k in range(bisect_left(cands, offset), len(cands)):
            if self.is_command_start(cands[k]):
                return cands[k]
        return self.n

    def _after(self, cur: _Cursor, i: int) -> int:
        """Offset of the code after token ``i - 1`` of ``cur``."""
        t = cur[i]
        return t.start if t is not None else self.n

    def _skip_to_next(self, pos: int, message: str) -> int:
        nxt = self._next_command(pos + 1)
        self.note(pos, "warning", message)
        return nxt

    def run(self) -> list[Piece]:
        src = self.src
        pieces: list[Piece] = []
        pos = self._first
        while pos < self.n:
            if pos in self._unclosed:
                self.note(pos, "warning", "a bracket opened before this line is not closed; the command before "
                                          "ends here, where a command starts in column 0")
            if not self.is_command_start(pos):
                # Where a command is expected, an identifier (after any doc comment, attributes or
                # modifiers) is a command the reader does not know, even when indented.
                probe = _Cursor(src, pos)
                j = self._skip_decl_prefix(probe, 0)
                u = probe[j]
                if u is not None and u.kind == IDENT and u.text not in CONTINUATION_WORDS and u.text not in RESERVED:
                    end = self._unknown_end(u.end)
                    self.note(u.start, "note", f"unknown command {u.text!r}, skipped")
                    pieces.append(Piece("UNKNOWN", (u,), end=end))
                    pos = end
                    continue
                m = probe[j - 1] if j else None
                if m is not None and u is not None and m.kind == IDENT and m.text in MODIFIERS:
                    # a modifier before what is not a declaration: a command of its own (Lake's
                    # `meta if … then` in a lakefile)
                    end = self._unknown_end(u.end)
                    self.note(m.start, "note", f"unknown command {m.text + ' ' + u.text!r}, skipped")
                    pieces.append(Piece("UNKNOWN", (m,), end=end))
                    pos = end
                    continue
                word = src.text[pos : pos + 30].split()[0] if src.text[pos:].strip() else ""
                pos = self._skip_to_next(pos, f"expected a command, found {word!r}; skipped to the next command")
                continue
            cur = self._cursors.pop(pos, None) or _Cursor(src, pos)
            group: list[Piece] = []
            i = 0
            while self._is(cur[i], PREFIX_KEYWORDS):
                end, has_in = self._scan_prefix_args(cur, i)
                if not has_in:
                    break
                group.append(Piece("IN_PREFIX", cur.span(i, end)))
                i = end
            t = cur[i]
            if self._is(t, PREFIX_KEYWORDS):
                end, _ = self._scan_prefix_args(cur, i)
                group.append(Piece("OPEN" if t.text == "open" else "OTHER", cur.span(i, end)))
                pieces.extend(group)
                pos = self._after(cur, end)
                continue
            has_doc = False
            while (t := cur[i]) is not None:
                if t.kind == DOC:
                    if has_doc:  # two doc comments: Lean keeps neither attached; we keep the later one
                        self.note(group[-1].first.start, "warning", "a second doc comment follows; this one is ignored")
                        group = [p for p in group if p.terminal != "DOC"]
                    group.append(Piece("DOC", (t,)))
                    has_doc = True
                    i += 1
                elif t.kind == SYM and t.text == "@[":
                    end = self._skip_group(cur, i)
                    group.append(Piece("ATTRS", cur.span(i, end)))
                    i = end
                elif t.kind == IDENT and t.text in MODIFIERS:
                    end = i + 1
                    if t.text == "scoped" and (u := cur[end]) is not None and u.text == "[":
                        end = self._skip_group(cur, end)
                    group.append(Piece("MODIFIER", cur.span(i, end)))
                    i = end
                else:
                    break
            if t is None:
                self.note(pos, "warning", "a doc comment, attributes or modifiers at the end of the file: ignored")
                break
            if t.kind == MODDOC:
                if any(p.terminal != "IN_PREFIX" for p in group):  # `set_option … in /-! -/` is valid
                    self.note(group[0].first.start, "warning", "doc comment, attributes or modifiers before a "
                                                               "module doc: ignored")
                group = [p for p in group if p.terminal == "IN_PREFIX"]
                group.append(Piece("MODDOC", (t,)))
                pos = self._after(cur, i + 1)
            elif t.kind == IDENT and t.text in DECL_KEYWORDS and t.depth == 0:
                pos = self._declaration(cur, i, group)
            elif t.kind == IDENT and t.text in SCOPE_KEYWORDS:
                pos = self._scope(cur, i, group)
            elif t.kind == IDENT and t.text in HEADER_KEYWORDS:
                end = i + 1
                if t.text == "import":
                    if self._is(cur[end], frozenset({"all"})) and self._is_name(cur[end + 1]):
                        end += 1
                    if self._is_name(cur[end]):
                        end += 1
                group.append(Piece("HEADER", cur.span(i, end)))
                pos = self._after(cur, end)
            elif t.kind == IDENT and t.text == "module" and t.start == self._first:
                group.append(Piece("HEADER", (t,)))
                pos = self._after(cur, i + 1)
            elif (t.kind == IDENT and t.text in OTHER_KEYWORDS) or (t.kind == SYM and t.text[0] == "#"):
                if t.text == "#doc" and self._verso_document(t.start):
                    end = self.n  # the rest of the file is Verso markup, not commands
                elif t.text in DOC_AFTER:
                    end = self._doc_taking_end(cur, i)
                else:
                    end = self._next_command(t.end)
                group.append(Piece("OTHER", (t,), end=end))
                pos = end
            else:
                end = self._unknown_end(t.end)
                what = t.text if t.kind == IDENT else t.text[:20]
                self.note(t.start, "note", f"unknown command {what!r}, skipped")
                group.append(Piece("UNKNOWN", (t,), end=end))
                pos = end
            pieces.extend(group)
        return pieces

    def _unknown_end(self, offset: int) -> int:
        """End of an unknown command whose words end at ``offset``: the next command start, but a
        doc comment there that does not begin its line is the command's own argument
        (``blueprint_comment /-- … -/``, as ``library_note "…" /-- … -/``)."""
        end = self._next_command(offset)
        code = self.src.code
        if code.startswith("/--", end) and not self.src.first_on_line(end):
            close = code.find("-/", end + 3)
            if close != -1:
                return self._next_command(close + 2)
        return end

    def _verso_document(self, offset: int) -> bool:
        """Is the ``#doc`` at ``offset`` a Verso document (``VERSO_DOCUMENT``)?"""
        return VERSO_DOCUMENT.match(self.src.code, offset) is not None and self._column0(offset)

    def _doc_taking_end(self, cur: _Cursor, i: int) -> int:
        """End of ``library_note "…" /-- … -/`` (its doc comment included)."""
        for j in range(i + 1, i + 6):
            t = cur[j]
            if t is None:
                break
            if t.kind == DOC:
                return self._after(cur, j + 1)
        return self._next_command(cur[i].end)

    @staticmethod
    def _is_name(t: Token | None) -> bool:
        return t is not None and t.kind == IDENT and t.text not in RESERVED and t.depth == 0

    def _scope(self, cur: _Cursor, i: int, group: list[Piece]) -> int:
        t = cur[i]
        if group and t.text != "section" and any(p.terminal != "IN_PREFIX" for p in group):
            self.note(group[0].first.start, "warning", f"'{t.text}' cannot have a doc comment, attributes or "
                                                       "modifiers: ignored")
            del group[:]
        elif group and t.text == "section" and any(p.terminal == "DOC" for p in group):
            self.note(group[0].first.start, "warning", "a doc comment cannot precede 'section': ignored")
            group[:] = [p for p in group if p.terminal != "DOC"]
        group.append(Piece(t.text.upper(), (t,)))
        j = i + 1
        if t.text != "mutual" and self._is_name(cur[j]) and not self.is_command_start(cur[j].start):
            group.append(Piece("SCOPE_NAME", (cur[j],)))
            j += 1
        elif t.text == "namespace":
            self.note(t.start, "warning", "expected a namespace name after 'namespace': ignored")
            group.pop()
        return self._after(cur, j)

    def _declaration(self, cur: _Cursor, i: int, group: list[Piece]) -> int:
        kw = cur[i]
        kind = kw.text
        j = i + 1
        if kind == "class" and self._is(cur[j], frozenset({"inductive", "abbrev"})):
            j += 1
        keyword = cur.span(i, j)
        if kind == "instance" and (u := cur[j]) is not None and u.text == "(" and (v := cur[j + 1]) is not None \
                and v.text == "priority":
            j = self._skip_group(cur, j)
        names: tuple[Token, ...] = ()
        if kind == "alias" and (u := cur[j]) is not None and u.text == "⟨":
            close = self._skip_group(cur, j)
            names = tuple(t for t in cur.span(j + 1, close - 1) if t.kind == IDENT and t.text != "_")
            name = names[0] if names else None
            j = close
            sig_start = cur[close - 1].end
        else:
            name = cur[j] if self._is_name(cur[j]) and kind != "example" else None
            if name is not None:
                j += 1
            sig_start = (name or keyword[-1]).end
        if name is None and kind not in ("instance", "example"):
            bad = cur[j]
            end = self._next_command(kw.end)
            self.note(bad.start if bad and bad.start < end else kw.start, "warning",
                      f"expected a declaration name after '{kind}': declaration skipped")
            group.append(Piece("UNKNOWN", (kw,), end=end))
            return end
        end = self._next_command(sig_start)
        value_start = self._signature_end(sig_start, end, kind)
        stop = end if value_start is None else value_start
        helpers: tuple[Helper, ...] = ()
        own_end = end
        if value_start is not None and kind not in ("structure", "class", "inductive", "alias") \
                and not self.src.code.startswith("where", value_start):
            where = self._where_after(value_start, end)
            if where is not None:
                helpers = self._helpers(where + 5, end, kind)
                if helpers:
                    own_end = where
        span = DeclarationSpan(keyword=keyword, name=name, signature_start=sig_start, signature_end=stop,
                               value_start=value_start, end=own_end, names=names, helpers=helpers)
        group.append(Piece("DECL", keyword, span, end=end))
        return end

    def _where_after(self, start: int, end: int) -> int | None:
        depth_at = self.src.depth_at
        code = self.src.code
        for m in _WHERE.finditer(code, start, end):
            p = m.start()
            if p and code[p - 1] in _WORD_CHARS:
                continue
            if depth_at(p) == 0 and not self.src.in_guillemets(p):
                return p
        return None

    def _helpers(self, start: int, end: int, kind: str) -> tuple[Helper, ...]:
        """``where`` helpers in code[start:end], found by layout: each begins on a line of its own
        at the column of the first one (or right after ``where``)."""
        src = self.src
        code = src.code
        depth_at = src.depth_at
        first = src.next_code(start)
        if first >= end:
            return ()
        starts = [first]
        col = None
        if "\n" not in code[start:first]:  # `where foo := …` on the `where` line
            col = None
        else:
            col = src.column(first)
        for m in _LINE.finditer(code, start, end):
            p = m.start(2)
            if p <= first or depth_at(p) != 0:
                continue
            c = p - m.start(1)
            if col is None:
                col = c
            if c == col and code[p] not in "|" and not code.startswith(("termination_by", "decreasing_by", "deriving"),
                                                                         p):
                starts.append(p)
        helpers: list[Helper] = []
        bounds = starts + [end]
        doc = None
        attrs: list[tuple[Token, ...]] = []
        for a, b in zip(bounds, bounds[1:]):
            cur = _Cursor(src, a, b)
            i = 0
            while (t := cur[i]) is not None:
                if t.kind == DOC:
                    doc = t
                    i += 1
                elif t.kind == SYM and t.text == "@[":
                    e = self._skip_group(cur, i)
                    attrs.append(cur.span(i, e))
                    i = e
                elif t.kind == IDENT and t.text in MODIFIERS:
                    i += 1
                else:
                    break
            name = cur[i]
            if name is None:
                continue  # a doc comment or attributes on a line of their own: they go with the next
            if not self._is_name(name):
                doc, attrs = None, []
                continue
            value = self._signature_end(name.end, b, "def")
            helpers.append(Helper(doc=doc, attributes=tuple(attrs), name=name,
                                  signature_end=b if value is None else value, value_start=value, end=b))
            doc, attrs = None, []
        return tuple(helpers)

    def _signature_end(self, start: int, end: int, kind: str) -> int | None:
        """Offset where the statement in code[start:end] ends and the value begins: the first
        depth-0 ``:=`` (skipping those of ``let``/``have`` in the statement), ``where``, or ``|``
        starting constructors or match alternatives. None when the statement has no value."""
        code = self.src.code
        depth_at = self.src.depth_at
        ctor_bars = kind in ("inductive", "class", "structure")
        pending_lets = 0
        word_chars = _WORD_CHARS
        for m in _SPLIT.finditer(code, start, end):
            p = m.start()
            if depth_at(p) != 0:
                continue
            if p and ((m.group(1) or m.group(2)) and code[p - 1] in word_chars
                      or m.group() == "|" and code[p - 1] in "|<"):
                continue
            if m.group(2):  # let / have: its own `:=` follows
                pending_lets += 1
                continue
            word = m.group()
            if word == ":=":
                if pending_lets:
                    pending_lets -= 1
                    continue
                return p
            if m.group(1) or ctor_bars or self._starts_alternative(m.end(), end):
                return p
        return None

    def _starts_alternative(self, start: int, end: int) -> bool:
        """A depth-0 ``|`` starts a match alternative iff a ``=>`` follows before the next ``|``
        or ``:=`` (so ``|x| ≤ 1`` in a statement is an absolute value, not a pattern)."""
        depth_at = self.src.depth_at
        for m in _ALTERNATIVE.finditer(self.src.code, start, end):
            if depth_at(m.start()) == 0:
                return m.group() == "=>"
        return False


__all__ = ["COLUMN0_START", "DECL_KEYWORDS", "Diagnostic", "DeclarationSpan", "Helper", "Piece", "RESERVED",
           "STRING", "Segmenter"]
