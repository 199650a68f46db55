"""Lean 4 lexical layer: comments, strings and brackets understood; tokens where they are needed.

This is the layer that makes ``sorry`` inside a comment or a string *not* code, and an identifier
that merely contains ``sorry`` (``no_sorry_here``) not a sorry. It follows Lean 4's lexical rules
closely enough for declaration-level analysis:

* block comments ``/- … -/`` nest; ``/-- … -/`` is a doc comment, ``/-! … -/`` a module doc;
  ``--`` runs to the end of the line. Strings are not lexed inside comments (as in Lean).
* string literals with escapes, raw strings ``r"…"`` / ``r#"…"#``, interpolated strings
  ``s!"…{e}…"`` (the interpolated terms may contain strings), char literals (``'"'``, ``'\\''``).
* identifiers use Lean's letter-like classes (Greek except λ/Π/Σ, letter-like symbols such as ℝ,
  mathematical alphanumerics), subscripts, ``'``, ``!``, ``?``, guillemets ``«…»`` and dots.

Whole Mathlib-size trees are read, so the work is arranged to stay in the regex engine:

1. ``mask``: one pass finds comments, strings and char literals and produces *code*, a copy of the
   text of the same length in which comments are blanked and literals/doc comments are replaced
   by placeholders (``"\\0\\0"``); newlines are kept, so offsets and lines are unchanged.
2. bracket events (openers/closers in code) give the bracket depth at any offset;
3. tokens are produced on demand (``LeanSource.tokens``) only where the declaration structure is
   needed: command headers and statements. Proof bodies are scanned with ``findall``.

Locations are 1-based lines and columns (in characters).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from .errors import LeanSyntaxError

# Token kinds.
IDENT = "IDENT"
NUMBER = "NUMBER"
STRING = "STRING"
CHAR = "CHAR"
DOC = "DOC"  # /-- ... -/
MODDOC = "MODDOC"  # /-! ... -/
SYM = "SYM"

OPENERS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄", "⟦": "⟧", "⟪": "⟫", "⁅": "⁆", "@[": "]", "%[": "]", "#[": "]"}
CLOSERS = frozenset({")", "]", "}", "⟩", "⦄", "⟧", "⟫", "⁆"})

# Lean's `isLetterLike` ranges plus ASCII letters and `_` (identifier start), and the extra
# identifier-rest characters (digits, `'`, `!`, `?`, subscripts).
_LETTER_LIKE = (
    "A-Za-z_"
    "\u03b1-\u03ba\u03bc-\u03c9"  # lower Greek except λ (U+03BB)
    "\u0391-\u039f\u03a1\u03a2\u03a4-\u03a9"  # upper Greek except Π (U+03A0), Σ (U+03A3)
    "\u03ca-\u03fb"  # Coptic
    "\u1f00-\u1ffe"  # polytonic Greek
    "\u2100-\u214f"  # letter-like symbols (ℝ, ℕ, ℤ, ...)
    "\U0001d49c-\U0001d59f"  # script, double-struck, fraktur
)
_SUBSCRIPTS = "\u2080-\u2089\u2090-\u209c\u1d62-\u1d6a\u2c7c"
ID_CHARS = f"{_LETTER_LIKE}0-9'!?{_SUBSCRIPTS}"  # a regex character-class body
_ID_PART = rf"(?:[{_LETTER_LIKE}][{ID_CHARS}]*|«[^»\n]*»)"
IDENT_RE = rf"{_ID_PART}(?:\.{_ID_PART})*"
NUMBER_RE = r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"

# Pass 1: where a lexeme whose inside is not code may start. No groups and literal first
# characters, so the regex engine skips ordinary code at memory speed; each hit is then matched
# exactly by an anchored pattern below.
_SPECIAL_START = re.compile(rf"""--|/-|"|'(?<![{ID_CHARS}]')|r(?<![{ID_CHARS}]r)\#*"|«""")
_FLAT_BLOCK = re.compile(r"/-(?:[^-/]|-(?!/)|/(?!-))*-/")
_STRING = re.compile(r'"(?:[^"\\]|\\[\s\S])*"')
_CHAR = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[^\n])|[^\\'\n])'")
_GUILLEMET = re.compile(r"«[^»\n]*»")
_ID_CHAR = re.compile(rf"[{ID_CHARS}]")
_BLOCK_DELIM = re.compile(r"/-|-/")
_STRING_BODY = re.compile(r'(?:[^"\\]|\\[\s\S])*"')
_INTERP_DELIM = re.compile(r'["\\{}]')
_NOT_NEWLINE = re.compile(r"[^\n]")
_OPENING = "([{⟨⦃⟦⟪⁅"
_CLOSING = ")]}⟩⦄⟧⟫⁆"
_BRACKET = re.compile(f"[{re.escape(_OPENING + _CLOSING)}]")
# Bracket step per code point (+1 opener, −1 closer, 0 otherwise) for every point up to the last
# bracket; code points above it are clipped to an entry that is 0. One gather per file.
_STEP_LIMIT = max(map(ord, _OPENING + _CLOSING)) + 1
_STEP = np.zeros(_STEP_LIMIT + 1, dtype=np.int32)
_STEP[[ord(c) for c in _OPENING]] = 1
_STEP[[ord(c) for c in _CLOSING]] = -1
FILL = "\x00"

# Pass 3: tokens of masked code (no comments left; literals are placeholders).
_TOKEN = re.compile(
    rf"""
     (?P<ws>\s+)
    |(?P<doc>/--[\x00\n]*-/)
    |(?P<moddoc>/-![\x00\n]*-/)
    |(?P<string>"[\x00\n]*")
    |(?P<char>'\x00+')
    |(?P<ident>{IDENT_RE})
    |(?P<number>{NUMBER_RE})
    |(?P<sym>:=|=>|@\[|%\[|\#\[|\.\.|<;>|\#[A-Za-z_][A-Za-z_0-9]*|\S)
    """,
    re.VERBOSE,
)
# The same lexemes without groups, for ``findall`` of token texts in one C call.
_TOKEN_TEXT = re.compile(
    rf"""/--[\x00\n]*-/|/-![\x00\n]*-/|"[\x00\n]*"|'\x00+'|{IDENT_RE}|{NUMBER_RE}"""
    r"|:=|=>|@\[|%\[|\#\[|\.\.|<;>|\#[A-Za-z_][A-Za-z_0-9]*|\S"
)
_TYPE_COLON = re.compile(r"(?<!:):(?![:=])")
_KIND = {"doc": DOC, "moddoc": MODDOC, "string": STRING, "char": CHAR, "ident": IDENT, "number": NUMBER, "sym": SYM}
# Identifiers in a stretch of code. Numbers (and what follows a digit: ``1e10``, ``h.1.foo``'s
# ``1.foo`` projection) are matched without a group so ``findall`` drops them.
# ``?a`` (a metavariable or hole name) is not a reference either.
IDENTS_IN_CODE = re.compile(rf"[0-9][0-9A-Za-z_.]*|\?[{ID_CHARS}]+|({IDENT_RE})")
_NON_SPACE = re.compile(r"\S")


class Token(NamedTuple):
    """One lexical token: kind, original text, offsets, and the bracket depth at the token (an
    opener or closer sits at the outer depth)."""

    kind: str
    text: str
    start: int
    end: int
    depth: int


class SourceMap:
    """Offset → (line, column), both 1-based, columns in characters."""

    def __init__(self, text: str):
        self.text = text
        self._starts: list[int] | None = None

    def pos(self, offset: int) -> tuple[int, int]:
        if self._starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i != -1:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._starts = starts
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def decode_source(data: bytes, path: str) -> str:
    """Decode UTF-8 Lean source; undecodable bytes are a located error, never a silent replace."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        last_nl = before.rfind(b"\n")
        col = len(before[last_nl + 1 :].decode("utf-8", errors="replace")) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise LeanSyntaxError(path, line, col, f"invalid UTF-8 byte 0x{bad}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _blank(segment: str) -> str:
    return " " * len(segment) if "\n" not in segment else _NOT_NEWLINE.sub(" ", segment)


def _fill(segment: str) -> str:
    return FILL * len(segment) if "\n" not in segment else _NOT_NEWLINE.sub(FILL, segment)


class LeanSource:
    """One Lean file, lexically analysed: masked code, bracket depth, tokens on demand."""

    def __init__(self, text: str, path: str = "<string>", resets: re.Pattern | None = None,
                 markup: re.Pattern | None = None):
        """``resets``: where bracket depth restarts (command starts in column 0). ``markup``: a
        line that, met in code, makes the rest of the file prose to leave unread (a Verso
        document's ``#doc … =>``): its literals and comments are not lexed, so a lone ``/-`` in
        the prose is not an unterminated comment."""
        self.text = text
        self.path = path
        self.map = SourceMap(text)
        nul = text.find(FILL)
        if nul != -1:
            raise self.error(nul, "NUL character in source")
        self.guillemets: list[int] = []  # start, end, start, end, … of «…» identifiers, in order
        self.code = self._mask(markup)
        self.unclosed: list[int] = []  # depth restarts where a bracket was still open
        self._bracket_events(resets)

    def error(self, offset: int, message: str) -> LeanSyntaxError:
        line, col = self.map.pos(offset)
        return LeanSyntaxError(self.path, line, col, message)

    # -- pass 1 ---------------------------------------------------------------------------------
    def _mask(self, markup: re.Pattern | None = None) -> str:
        text = self.text
        n = len(text)
        parts: list[str] = []
        append = parts.append
        done = 0  # text[:done] is already in parts
        search = _SPECIAL_START.search
        prose = markup.finditer(text) if markup is not None else iter(())
        doc = next(prose, None)  # the next `markup` line not yet known to be inside a literal
        prose_at: int | None = None  # where the prose begins, once a `markup` line is met in code
        m = search(text)
        while m is not None:
            start = m.start()
            if prose_at is not None and done > prose_at:
                prose_at = None  # its `=>` was inside a literal that goes on: not a document start
            if prose_at is None:
                while doc is not None and doc.start() < done:
                    doc = next(prose, None)
                if doc is not None and doc.start() < start:
                    prose_at = doc.end()
            if prose_at is not None and start >= prose_at:
                break
            lead = text[start]
            if lead == "-":  # -- line comment
                end = text.find("\n", start)
                end = n if end == -1 else end
                append(text[done:start])
                append(" " * (end - start))
            elif lead == "/":  # /- block comment, doc comment or module doc
                flat = _FLAT_BLOCK.match(text, start)
                end = flat.end() if flat else self._block_end(start)
                append(text[done:start])
                body = text[start:end]
                if (body.startswith("/--") and not body.startswith("/--/")) or body.startswith("/-!"):
                    append(body[:3] + _fill(body[3:-2]) + "-/")
                else:
                    append(_blank(body))
            elif lead == '"':
                if start >= 2 and text[start - 1] == "!" and _ID_CHAR.match(text, start - 2):
                    end = self._interpolated_end(start)
                else:
                    lit = _STRING.match(text, start)
                    if lit is None:
                        raise self.error(start, "unterminated string literal")
                    end = lit.end()
                append(text[done:start])
                append('"' + _fill(text[start + 1 : end - 1]) + '"')
            elif lead == "'":
                lit = _CHAR.match(text, start)
                if lit is None:  # a lone apostrophe: ordinary code
                    m = search(text, start + 1)
                    continue
                end = lit.end()
                append(text[done:start])
                append("'" + _fill(text[start + 1 : end - 1]) + "'")
            elif lead == "r":  # r"…" or r#"…"#
                hashes = m.end() - start - 2
                close = text.find('"' + "#" * hashes, m.end())
                if close == -1:
                    raise self.error(start, "unterminated raw string literal")
                end = close + 1 + hashes
                append(text[done:start])
                append('"' + _fill(text[start + 1 : end - 1]) + '"')
            else:  # «guillemet identifier»: code, but its inside must not be scanned
                g = _GUILLEMET.match(text, start)
                if g:
                    self.guillemets += (start, g.end())
                m = search(text, g.end() if g else start + 1)
                continue
            done = end
            m = search(text, end)
        if prose_at is not None and done > prose_at:
            prose_at = None
        if prose_at is None:
            while doc is not None and doc.start() < done:
                doc = next(prose, None)
            prose_at = doc.end() if doc is not None else None
        if prose_at is None:
            append(text[done:])
        else:
            append(text[done:prose_at])
            append(_blank(text[prose_at:]))
        return "".join(parts)

    def _block_end(self, start: int) -> int:
        level = 1
        pos = start + 2
        search = _BLOCK_DELIM.search
        while True:
            m = search(self.text, pos)
            if m is None:
                raise self.error(start, "unterminated comment")
            if m.group() == "/-":
                level += 1
            else:
                level -= 1
                if level == 0:
                    return m.end()
            pos = m.end()

    def _interpolated_end(self, start: int) -> int:
        """End of ``"…{term}…"`` opened at ``start``; terms may contain nested strings."""
        text = self.text
        pos = start + 1
        brace = 0
        search = _INTERP_DELIM.search
        while True:
            m = search(text, pos)
            if m is None:
                raise self.error(start, "unterminated string literal")
            ch = m.group()
            if ch == "\\":
                pos = m.end() + 1
            elif ch == "{":
                brace += 1
                pos = m.end()
            elif ch == "}":
                brace = max(0, brace - 1)
                pos = m.end()
            elif brace > 0:  # a string inside an interpolated term
                inner = _STRING_BODY.match(text, m.end())
                if inner is None:
                    raise self.error(m.start(), "unterminated string literal")
                pos = inner.end()
            else:
                return m.end()

    # -- pass 2 ---------------------------------------------------------------------------------
    def _bracket_events(self, resets: re.Pattern | None) -> None:
        """Bracket depth after every character of code, as a prefix sum over openers (+1) and
        closers (-1), floored at 0 so a stray closer (ill-formed Lean) changes nothing. Multi-
        character openers (``@[``, ``%[``, ``#[``) count through their ``[``.

        Where ``resets`` matches (the commands' rule: a command keyword in column 0), the depth
        restarts at 0, so an unclosed bracket cannot swallow the rest of the file; those offsets
        where a bracket was still open are kept in ``unclosed``. Vectorised: the running minimum
        restarts per segment through an offset of ``K`` per segment (K exceeds any swing)."""
        points = np.frombuffer(self.code.encode("utf-32-le"), dtype=np.uint32)
        n = len(points)
        steps = _STEP[np.minimum(points, _STEP_LIMIT)]
        g = self.guillemets
        for k in range(0, len(g), 2):  # `def «(»`: a bracket inside an identifier is not one
            if _BRACKET.search(self.code, g[k], g[k + 1]):
                steps[g[k] : g[k + 1]] = 0
        running = np.cumsum(steps, dtype=np.int64)
        starts = [m.start() for m in resets.finditer(self.code)] if resets is not None else []
        starts = [p for p in starts if p > 0]
        if not starts:
            depth = running - np.minimum.accumulate(np.minimum(running, 0))
            self._depth: list[int] = depth.tolist()
            return
        at = np.asarray(starts, dtype=np.int64)
        seg = np.zeros(n, dtype=np.int64)
        seg[at] = 1
        seg = np.cumsum(seg)
        big = 2 * n + 2
        within = np.minimum.accumulate(running - big * seg) + big * seg
        bases = np.concatenate(([0], running[at - 1]))
        depth = running - np.minimum(bases[seg], within)
        # A list: indexing it is ~30x cheaper than indexing a numpy array element by element.
        self.unclosed = [int(p) for p in at[depth[at - 1] > 0]]
        depth[at - 1] = 0  # the depth "just before" a restart (a newline) is the restarted one
        self._depth = depth.tolist()

    def in_guillemets(self, offset: int) -> bool:
        """Is ``offset`` strictly inside a «…» identifier?"""
        g = self.guillemets
        if not g:
            return False
        k = bisect_right(g, offset)
        return k % 2 == 1 and offset > g[k - 1]

    def depth_at(self, offset: int) -> int:
        """Bracket depth just before ``offset``."""
        return self._depth[offset - 1] if offset > 0 else 0

    # -- pass 3 ---------------------------------------------------------------------------------
    def tokens(self, start: int, end: int | None = None) -> Iterator[Token]:
        """Tokens of code from ``start`` (a token boundary) up to ``end``, with bracket depth."""
        text = self.text
        depth = self.depth_at(start)
        for m in _TOKEN.finditer(self.code, start, len(self.code) if end is None else end):
            kind = m.lastgroup
            if kind == "ws":
                continue
            s, e = m.start(), m.end()
            if kind == "sym":
                sym = m.group()
                if sym in OPENERS:
                    yield Token(SYM, sym, s, e, depth)
                    depth += 1
                    continue
                if sym in CLOSERS:
                    depth = max(depth - 1, 0)
                yield Token(SYM, sym, s, e, depth)
            elif kind == "ident" or kind == "number":
                yield Token(_KIND[kind], m.group(), s, e, depth)
            else:
                yield Token(_KIND[kind], text[s:e], s, e, depth)

    def token_texts(self, start: int, end: int) -> list[str]:
        """Texts of the tokens in code[start:end] (literals in their original spelling)."""
        if FILL not in self.code[start:end]:
            return _TOKEN_TEXT.findall(self.code, start, end)
        return [self.text[m.start() : m.end()] for m in _TOKEN_TEXT.finditer(self.code, start, end)]

    def normalized(self, start: int, end: int) -> str:
        """Text of code[start:end] with comments dropped and each whitespace run made one space."""
        if FILL not in self.code[start:end]:
            return " ".join(self.code[start:end].split())
        parts: list[str] = []
        prev = None
        for m in _TOKEN_TEXT.finditer(self.code, start, end):
            if prev is not None and m.start() > prev:
                parts.append(" ")
            parts.append(self.text[m.start() : m.end()])
            prev = m.end()
        return "".join(parts)

    def type_colon(self, start: int, end: int) -> int | None:
        """End offset of the first depth-0 ``:`` in code[start:end] (a statement's type follows)."""
        for m in _TYPE_COLON.finditer(self.code, start, end):
            if self.depth_at(m.start()) == self.depth_at(start):
                return m.end()
        return None

    def next_code(self, offset: int) -> int:
        """Offset of the first non-space code character at or after ``offset`` (len if none)."""
        m = _NON_SPACE.search(self.code, offset)
        return m.start() if m else len(self.code)

    def first_on_line(self, offset: int) -> bool:
        """Is the code at ``offset`` the first on its line (comments do not count)? Walks back
        over blanks only, so the cost is the indentation, not the line (no quadratic path)."""
        code = self.code
        k = offset
        while k > 0 and code[k - 1] in " \t\r":
            k -= 1
        return k == 0 or code[k - 1] == "\n"

    def column(self, offset: int) -> int:
        """0-based column of ``offset`` in characters (walks back to the line start)."""
        nl = self.code.rfind("\n", 0, offset)
        return offset - nl - 1

    def previous_code(self, offset: int) -> int:
        """Offset of the last non-blank code character before ``offset`` (-1 if none)."""
        code = self.code
        k = offset - 1
        while k >= 0 and code[k] in " \t\r\n":
            k -= 1
        return k

    def identifiers(self, start: int, end: int) -> frozenset[str]:
        """The distinct identifiers in code[start:end] (original spelling)."""
        found = set(IDENTS_IN_CODE.findall(self.code, start, end))
        found.discard("")
        return frozenset(found)
