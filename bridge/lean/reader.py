"""Lean source reader: a file's text → its declarations, fully qualified, with what they contain.

Pipeline: ``tokens.LeanSource`` (lexical analysis) → ``commands.Segmenter`` (command boundaries)
→ ``group_commands`` (the command grammar over pieces, a table) → this module's scope walk
(namespaces, sections, ``open``, ``_root_``) producing ``Declaration`` records. Status is decided
elsewhere (``bridge.lean.status``); this module only reports what the source says.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from .binders import free_identifiers, variable_names
from .commands import COLUMN0_START, RESERVED, VERSO_DOCUMENT, DeclarationSpan, Diagnostic, Helper, Piece, Segmenter
from .errors import LeanSyntaxError
from .tokens import ID_CHARS, IDENT, SYM, LeanSource, Token as LeanToken, decode_source

DEFERRED_LINE = re.compile(r"^[ \t]*Deferred:[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)
_SORRY_WORDS = frozenset({"sorry", "admit"})
# `sorry`/`admit` as a term or tactic: not a field or projection (`.sorry`, `Foo.sorry`), not part
# of an identifier. Constructor and pattern names (`| sorry : Proof`) are filtered in Python.
_SORRY = re.compile(rf"(?:sorry|admit)(?![{ID_CHARS}])")  # the character before: checked in Python
_ID_CHAR_RE = re.compile(rf"[{ID_CHARS}.]")
_OPENER = re.compile("[([{⟨⦃⟦⟪⁅]")
_QUOTE_LEVELS = 8
_NEXT_CODE = re.compile(r"\s*(:=|:|=>|\(|[^\s])?")
_TRIVIAL_WRAPPERS = frozenset({"by", "exact", "(", ")", "·", "."})
_SHORT_VALUE = 80  # a value with more code characters than this cannot be a bare `sorry`
_WHITESPACE = re.compile(r"\s+")


@dataclass(slots=True)
class Declaration:
    """One Lean declaration as written in the source (before status is decided)."""

    name: str
    kind: str
    file: str
    line: int
    column: int
    anonymous: bool
    private: bool
    modifiers: tuple[str, ...]
    attributes: tuple[str, ...]
    prefixes: tuple[str, ...]
    doc: str | None
    deferred_reason: str | None
    statement: str
    statement_sha256: str  # ``statement_hash``: insensitive to whitespace and comments
    conclusion: str  # the statement's type after its depth-0 ``:``, normalized ("" if none)
    identifiers: tuple[str, ...]  # free identifiers of the declaration, sorted
    sorries: tuple[tuple[int, int], ...]
    only_sorry: bool
    namespace: tuple[str, ...]
    opens: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()  # `open A (x)` / `renaming`: short name → name in A
    hidden: tuple[str, ...] = ()  # `open A hiding x`: A.x is not reachable as `x` through that open
    parent: str | None = None  # a `where` helper's (or generated `foo_def`'s) declaration
    helpers: tuple[str, ...] = ()  # its `where` helpers (and generated declarations)
    mutual: int | None = None  # line of the `mutual` block it is in: its members see each other

    def __reduce__(self):
        # Field values in order, without their names: pool workers send every declaration of a
        # large tree back to the parent, and this halves the pickling cost.
        return (Declaration, tuple(getattr(self, f) for f in _DECLARATION_FIELDS))



_DECLARATION_FIELDS = tuple(f.name for f in fields(Declaration))


def statement_hash(kind: str, name: str, tokens: list[str] | tuple[str, ...]) -> str:
    """SHA-256 of a declaration's kind, name and statement tokens (computed where the file is read,
    so the tokens are never kept: on Mathlib they would be most of the reader's memory)."""
    payload = "\x1f".join((kind, name, *tokens))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class LeanFile:
    path: str
    sha256: str
    declarations: list[Declaration] = field(default_factory=list)
    # (line, column, severity, message): notes and warnings, never fatal
    diagnostics: list[tuple[int, int, str, str]] = field(default_factory=list)
    imports: tuple[str, ...] = ()
    # `export A (x)` in namespace N: (N.x, A.x)
    exports: tuple[tuple[str, str], ...] = ()

    def diagnostic_lines(self) -> list[str]:
        return [f"{self.path}:{ln}:{col}: {sev}: {msg}" for ln, col, sev, msg in self.diagnostics]


class Command(NamedTuple):
    """One command as the segmenter's pieces group: ``open … in`` / ``set_option … in`` prefixes,
    doc comment / attributes / modifiers, then its core (``rule`` and the pieces it is made of)."""

    prefixes: tuple[Piece, ...]
    modifiers: tuple[Piece, ...]
    rule: str
    parts: tuple[Piece, ...]


# The command grammar over pieces (what ``Segmenter`` emits), as a table:
#   command  := IN_PREFIX* (DOC | ATTRS | MODIFIER)* core
#   core     := DECL | NAMESPACE SCOPE_NAME | SECTION SCOPE_NAME? | END SCOPE_NAME? | MUTUAL
#             | OPEN | OTHER | UNKNOWN | MODDOC | HEADER
# terminal → (rule, whether a SCOPE_NAME may follow, whether it must).
_CORE = {
    "DECL": ("decl", False, False), "NAMESPACE": ("namespace", True, True), "SECTION": ("section", True, False),
    "END": ("end", True, False), "MUTUAL": ("mutual", False, False), "OPEN": ("open_cmd", False, False),
    "OTHER": ("other_cmd", False, False), "UNKNOWN": ("unknown_cmd", False, False),
    "MODDOC": ("moddoc", False, False), "HEADER": ("header", False, False),
}
_MODIFIER_TERMINALS = frozenset({"DOC", "ATTRS", "MODIFIER"})


class _StructureError(Exception):
    def __init__(self, piece: Piece | None):
        self.piece = piece


def group_commands(pieces: list[Piece]) -> list[Command]:
    """Group the piece stream into commands by the grammar above (one pass, no backtracking).
    A sequence outside it is a segmenter bug: ``_StructureError`` names the piece."""
    out: list[Command] = []
    i, n = 0, len(pieces)
    while i < n:
        start = i
        while i < n and pieces[i].terminal == "IN_PREFIX":
            i += 1
        prefixes = tuple(pieces[start:i])
        start = i
        while i < n and pieces[i].terminal in _MODIFIER_TERMINALS:
            i += 1
        modifiers = tuple(pieces[start:i])
        if i == n:
            raise _StructureError(pieces[-1])
        core = _CORE.get(pieces[i].terminal)
        if core is None:
            raise _StructureError(pieces[i])
        rule, may_name, must_name = core
        parts = [pieces[i]]
        i += 1
        if may_name and i < n and pieces[i].terminal == "SCOPE_NAME":
            parts.append(pieces[i])
            i += 1
        elif must_name:
            raise _StructureError(pieces[i - 1])
        out.append(Command(prefixes, modifiers, rule, tuple(parts)))
    return out


def normalized_text(tokens: tuple[LeanToken, ...] | list[LeanToken]) -> str:
    """Source text of ``tokens`` with comments dropped and each whitespace run made one space."""
    parts: list[str] = []
    prev_end = None
    for t in tokens:
        if prev_end is not None and t.start > prev_end:
            parts.append(" ")
        parts.append(t.text)
        prev_end = t.end
    return "".join(parts)


def doc_text(raw: str) -> str:
    """The body of a ``/-- … -/`` comment, dedented and stripped."""
    lines = raw[3:-2].splitlines()
    if not lines:
        return ""
    indents = [len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()]
    cut = min(indents) if indents else 0
    return "\n".join([lines[0].strip()] + [ln[cut:].rstrip() for ln in lines[1:]]).strip()


@dataclass
class _Scope:
    kind: str  # file | namespace | section | mutual
    name: str | None
    opens: list[str] = field(default_factory=list)
    aliases: list[tuple[str, str]] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)
    line: int | None = None  # where a `mutual` block begins


def parse_open(tokens: tuple[LeanToken, ...]) -> tuple[list[str], list[tuple[str, str]]]:
    """Namespaces an ``open`` opens, and the short names it brings in (``open A (x)``,
    ``open A renaming x → y``). ``open scoped`` and ``open private`` open no namespace;
    ``open A hiding x`` opens A (the hidden names: ``parse_hidden``)."""
    depth = tokens[0].depth
    top = [t for t in tokens[1:] if t.depth == depth or t.text in ("(", ")")]
    words = [t.text for t in top]
    for k in range(len(words) - 1, 0, -1):  # `->` is two tokens
        if words[k - 1] == "-" and words[k] == ">":
            words[k - 1 : k + 1] = ["->"]
    if not words or words[0] in ("scoped", "private"):
        return [], []
    if "renaming" in words:
        k = words.index("renaming")
        space = words[0]
        pairs = []
        rest = words[k + 1 :]
        for a, arrow, b in zip(rest, rest[1:], rest[2:]):
            if arrow in ("→", "->"):
                pairs.append((b, f"{space}.{a}"))
        return [], pairs
    if "hiding" in words:
        return [words[0]], []
    names: list[str] = []
    aliases: list[tuple[str, str]] = []
    last = None
    for t in tokens[1:]:
        if t.kind != IDENT or t.text in RESERVED:
            continue
        if t.depth == depth:
            names.append(t.text)
            last = t.text
        elif t.depth == depth + 1 and last is not None:  # open A (x y): only x and y
            if names and names[-1] == last:
                names.pop()
            aliases.append((t.text, f"{last}.{t.text}"))
    return names, aliases


def parse_hidden(tokens: tuple[LeanToken, ...]) -> list[str]:
    """Full names an ``open A hiding x y`` keeps out of reach through the open (``A.x``, ``A.y``)."""
    depth = tokens[0].depth
    words = [t.text for t in tokens[1:] if t.depth == depth]
    if "hiding" not in words or not words or words[0] in ("scoped", "private"):
        return []
    k = words.index("hiding")
    if k == 0:
        return []
    space = words[k - 1]
    return [f"{space}.{w}" for w in words[k + 1 :] if w not in RESERVED]


class _ScopeWalker:
    """Walks parsed commands in order, tracking namespaces/sections/opens, emitting declarations."""

    def __init__(self, src: LeanSource, diagnostics: list[Diagnostic]):
        self.src = src
        self.path = src.path
        # The root scope holds file-level ``open``s; ``end`` never pops it.
        self.scopes: list[_Scope] = [_Scope("file", None)]
        self.decls: list[Declaration] = []
        self.diagnostics = diagnostics
        self.imports: list[str] = []
        self.exports: list[tuple[str, str]] = []
        self._openers: dict[int, list[int]] | None = None
        self._interned: dict[tuple, tuple] = {}

    def _warn(self, tok: LeanToken, msg: str) -> None:
        self.diagnostics.append(Diagnostic(tok.start, "warning", msg))

    @property
    def namespace(self) -> tuple[str, ...]:
        return self._intern(tuple(s.name for s in self.scopes if s.kind == "namespace" and s.name))

    def _visible(self, extra_opens: list[str], extra_aliases: list[tuple[str, str]], extra_hidden: list[str]):
        opens: list[str] = []
        aliases: list[tuple[str, str]] = []
        hidden: list[str] = []
        variables: set[str] = set()
        for s in self.scopes:
            opens.extend(s.opens)
            aliases.extend(s.aliases)
            hidden.extend(s.hidden)
            variables |= s.variables
        opens.extend(extra_opens)
        aliases.extend(extra_aliases)
        hidden.extend(extra_hidden)
        return (self._intern(tuple(dict.fromkeys(opens))), self._intern(tuple(dict.fromkeys(aliases))),
                self._intern(tuple(dict.fromkeys(hidden))), frozenset(variables))

    def _intern(self, value: tuple) -> tuple:
        """One shared copy per distinct value: the declarations of a scope see the same opens."""
        return self._interned.setdefault(value, value)

    def command(self, cmd: Command) -> None:
        rule, parts = cmd.rule, cmd.parts
        if rule == "decl":
            self._declaration(parts[0], cmd.prefixes, cmd.modifiers)
        elif rule == "open_cmd":
            names, aliases = parse_open(parts[0].tokens)
            self.scopes[-1].opens.extend(names)
            self.scopes[-1].aliases.extend(aliases)
            self.scopes[-1].hidden.extend(parse_hidden(parts[0].tokens))
        elif rule in ("namespace", "section"):
            # `namespace A.B` and `section A.B` open one scope per component (`end B` closes one)
            names = parts[1].first.text.split(".") if len(parts) > 1 else [None]
            for part in names:
                self.scopes.append(_Scope(rule, part))
        elif rule == "mutual":
            self.scopes.append(_Scope("mutual", None, line=self.src.map.pos(parts[0].first.start)[0]))
        elif rule == "end":
            self._end(parts)
        elif rule == "other_cmd":
            self._other(parts[0])
        elif rule == "header":
            toks = parts[0].tokens
            if toks[0].text == "import" and len(toks) > 1:
                self.imports.append(toks[-1].text)

    def _other(self, piece: Piece) -> None:
        word = piece.first.text
        if word == "variable":
            self.scopes[-1].variables.update(variable_names(self.src.code, piece.first.end, piece.end))
        elif word == "export":
            toks = list(self.src.tokens(piece.first.end, piece.end))
            names, aliases = parse_open((piece.first, *toks))
            ns = ".".join(self.namespace)
            for short, full in aliases:
                self.exports.append((f"{ns}.{short}" if ns else short, full))

    def _end(self, parts: tuple[Piece, ...]) -> None:
        """``end``, ``end A`` or ``end A.B`` (closing the last scopes whose names match, whether
        namespaces or named sections). A mismatch is a warning; the scopes are closed as well as
        can be told."""
        kw = parts[0].first
        name = parts[1].first.text if len(parts) > 1 else None
        if len(self.scopes) == 1:
            self._warn(kw, "invalid 'end', there is no open namespace or section: ignored")
            return
        top = self.scopes[-1]
        if name is None:
            if top.kind == "namespace":
                self._warn(kw, f"invalid 'end', expected 'end {top.name}'")
            self.scopes.pop()
            return
        # Match the name's parts against the innermost scopes, one scope per part.
        k = len(self.scopes)
        rest = name.split(".")
        while rest and k > 1 and self.scopes[k - 1].name == rest[-1]:
            rest.pop()
            k -= 1
        if not rest:
            del self.scopes[k:]
            return
        expected = f"'end {top.name}'" if top.name else "'end'"
        self._warn(kw, f"invalid 'end', expected {expected}")
        self.scopes.pop()

    def _declaration(self, piece: Piece, prefixes: tuple[Piece, ...], mods: tuple[Piece, ...]) -> None:
        span: DeclarationSpan = piece.decl
        src = self.src
        kw = span.keyword[0]
        kind = kw.text
        line, column = src.map.pos(kw.start)
        doc_raw = next((p.first.text for p in reversed(mods) if p.terminal == "DOC"), None)
        doc = doc_text(doc_raw) if doc_raw is not None else None
        modifiers = tuple(normalized_text(p.tokens) for p in mods if p.terminal == "MODIFIER")
        attributes = tuple(normalized_text(p.tokens) for p in mods if p.terminal == "ATTRS")
        extra_opens: list[str] = []
        extra_aliases: list[tuple[str, str]] = []
        extra_hidden: list[str] = []
        for p in prefixes:
            if p.first.text == "open":
                names, aliases = parse_open(p.tokens)
                extra_opens.extend(names)
                extra_aliases.extend(aliases)
                extra_hidden.extend(parse_hidden(p.tokens))
        opens, aliases, hidden, variables = self._visible(extra_opens, extra_aliases, extra_hidden)
        namespace = self.namespace
        body_start = (span.name or span.keyword[-1]).end if not span.names else span.signature_start
        mutual = next((s.line for s in reversed(self.scopes) if s.kind == "mutual"), None)
        common = dict(file=self.path, namespace=namespace, opens=opens, aliases=aliases, hidden=hidden,
                      prefixes=tuple(normalized_text(p.tokens) for p in prefixes), mutual=mutual)
        names = span.names or ((span.name,) if span.name is not None else ())
        if names:
            written = [t.text for t in names]
            full = [self._qualify(w, namespace) for w in written]
            anonymous = False
        else:
            full = [".".join((*namespace, f"«{kind} at {self.path}:{line}»"))]
            anonymous = True
        helper_decls = [self._helper(h, full[0], kind, variables, common) for h in span.helpers]
        generated: list[Declaration] = []
        sig_start, sig_end = span.signature_start, span.signature_end
        identifiers = free_identifiers(src.code, body_start, span.end, variables,
                                       src.type_colon(sig_start, sig_end) or sig_end)
        sorries = self._sorries(body_start, span.end)
        statement = src.normalized(sig_start, sig_end)
        statement_tokens = src.token_texts(sig_start, sig_end)
        colon = src.type_colon(sig_start, sig_end)
        conclusion = src.normalized(colon, sig_end) if colon is not None else ""
        m = DEFERRED_LINE.search(doc) if doc else None
        only_sorry = bool(sorries) and self._only_sorry(span.value_start, span.end)
        if kind == "irreducible_def" and not anonymous:
            # Lean generates `foo_def : foo = <value>` beside `foo`.
            generated.append(Declaration(
                name=f"{full[0]}_def", kind="theorem", line=line, column=column, anonymous=False,
                private=any(mod.split()[0] == "private" for mod in modifiers), modifiers=modifiers,
                attributes=(), doc=None, deferred_reason=None, statement=f"{full[0]} = …",
                statement_sha256=statement_hash("theorem", f"{full[0]}_def", (full[0], "=", "…")), conclusion="",
                identifiers=(full[0],),
                sorries=(), only_sorry=False, parent=full[0], **common))
        for qualified in full:
            self.decls.append(Declaration(
                name=qualified, kind=kind, line=line, column=column, anonymous=anonymous,
                private=any(mod.split()[0] == "private" for mod in modifiers), modifiers=modifiers,
                attributes=attributes, doc=doc, deferred_reason=m.group(1) if m else None,
                statement=statement, statement_sha256=statement_hash(kind, qualified, statement_tokens),
                conclusion=conclusion,
                identifiers=identifiers, sorries=sorries, only_sorry=only_sorry,
                helpers=tuple(h.name for h in helper_decls) + tuple(g.name for g in generated), **common))
        self.decls.extend(generated)
        self.decls.extend(helper_decls)

    @staticmethod
    def _qualify(written: str, namespace: tuple[str, ...]) -> str:
        return written[len("_root_.") :] if written.startswith("_root_.") else ".".join((*namespace, written))

    def _helper(self, h: Helper, parent: str, parent_kind: str, variables: frozenset[str], common: dict
                ) -> Declaration:
        """A ``where`` helper as its own entry, named ``parent.helper`` as Lean names it."""
        src = self.src
        line, column = src.map.pos(h.name.start)
        doc = doc_text(h.doc.text) if h.doc is not None else None
        m = DEFERRED_LINE.search(doc) if doc else None
        sorries = self._sorries(h.name.end, h.end)
        colon = src.type_colon(h.name.end, h.signature_end)
        name = f"{parent}.{h.name.text}"
        kind = "theorem" if parent_kind in ("theorem", "lemma") else "def"
        return Declaration(
            name=name, kind=kind,
            line=line, column=column, anonymous=False, private=False, modifiers=(),
            attributes=tuple(normalized_text(a) for a in h.attributes), doc=doc,
            deferred_reason=m.group(1) if m else None,
            statement=src.normalized(h.name.end, h.signature_end),
            statement_sha256=statement_hash(kind, name, src.token_texts(h.name.end, h.signature_end)),
            conclusion=src.normalized(colon, h.signature_end) if colon is not None else "",
            identifiers=free_identifiers(src.code, h.name.end, h.end, variables), sorries=sorries,
            only_sorry=bool(sorries) and self._only_sorry(h.value_start, h.end), parent=parent, **common)

    def _sorries(self, start: int, end: int) -> tuple[tuple[int, int], ...]:
        """Locations of ``sorry``/``admit`` used as a term or tactic in code[start:end]."""
        code = self.src.code
        if code.find("sorry", start, end) == -1 and code.find("admit", start, end) == -1:
            return ()
        found = []
        for x in _SORRY.finditer(code, start, end):
            if x.start() and (_ID_CHAR_RE.match(code, x.start() - 1) or code[x.start() - 1] == "`"):
                continue  # part of an identifier, a projection `.sorry`, a name literal `sorry
            k = self.src.previous_code(x.start())
            nxt = _NEXT_CODE.match(code, x.end()).group(1)
            if nxt == ":=":
                continue  # a field or named argument called `sorry`
            if k >= 0 and code[k] == "|" and nxt in (":", "=>", "("):
                continue  # a constructor or pattern named `sorry`
            if nxt == ":" and (k < 0 or code[k] == "\n" or self.src.first_on_line(x.start())):
                continue  # a structure field or binder named `sorry`
            if self._in_quotation(x.start()):
                continue  # object-level syntax: `(tactic| sorry), q(sorry : $P)
            found.append(self.src.map.pos(x.start()))
        return tuple(found)

    def _in_quotation(self, offset: int) -> bool:
        """Is ``offset`` inside a syntax or expression quotation (`` `(…) ``, ``q(…)``, ``Q(…)``)?
        Looks at up to ``_QUOTE_LEVELS`` enclosing brackets, found by bisection in the file's
        openers grouped by depth (built once per file, on its first ``sorry``): no quadratic path."""
        code = self.src.code
        if self._openers is None:
            depth = self.src._depth
            self._openers = {}
            for m in _OPENER.finditer(code):
                self._openers.setdefault(depth[m.start()], []).append(m.start())
        d = self.src.depth_at(offset)
        for level in range(d, max(0, d - _QUOTE_LEVELS), -1):
            opens = self._openers.get(level)
            if not opens:
                return False
            k = bisect_right(opens, offset) - 1
            if k < 0:
                return False
            p = opens[k]
            before = code[max(0, p - 2) : p]
            if before.endswith("`") or (before.endswith(("q", "Q")) and (len(before) < 2 or not _ID_CHAR_RE.match(before[0]))):
                return True
        return False

    def _only_sorry(self, value_start: int | None, end: int) -> bool:
        """Is the value exactly ``:= sorry`` / ``:= by sorry`` (or ``exact sorry``, ``admit``)?"""
        if value_start is None:
            return False
        value = self.src.code[value_start:end]
        if len(value) > _SHORT_VALUE and len(_WHITESPACE.sub("", value)) > _SHORT_VALUE:
            return False
        toks = [t.text for t in self.src.tokens(value_start, end)]
        if not toks or toks[0] != ":=":
            return False
        rest = [t for t in toks[1:] if t not in _TRIVIAL_WRAPPERS]
        return len(rest) == 1 and rest[0] in _SORRY_WORDS


def _read(text: str, path: str) -> tuple[list[Declaration], list[Diagnostic], LeanSource, list[str],
                                         list[tuple[str, str]]]:
    src = LeanSource(text, path, resets=COLUMN0_START, markup=VERSO_DOCUMENT)
    seg = Segmenter(src)
    pieces = seg.run()
    try:
        commands = group_commands(pieces)
    except _StructureError as exc:  # a segmenter bug: report it located, never abort on valid Lean
        at = exc.piece.first.start if exc.piece is not None else 0
        raise src.error(at, "internal error: the command structure could not be parsed") from None
    walker = _ScopeWalker(src, seg.diagnostics)
    for cmd in commands:
        walker.command(cmd)
    return walker.decls, seg.diagnostics, src, walker.imports, walker.exports


def read_source(text: str, path: str) -> list[Declaration]:
    """Declarations of one Lean source text. Raises ``LeanSyntaxError`` only on lexical errors."""
    return _read(text, path)[0]


def read_bytes(data: bytes, path: str) -> LeanFile:
    """Decode and read one file's bytes; ``path`` is how the file is named in reports."""
    text = decode_source(data, path)
    decls, diagnostics, src, imports, exports = _read(text, path)
    located = sorted({(*src.map.pos(d.offset), d.severity, d.message) for d in diagnostics})
    return LeanFile(path=path, sha256=hashlib.sha256(data).hexdigest(), declarations=decls,
                    diagnostics=located, imports=tuple(imports), exports=tuple(exports))
