"""Lean source reader: a file's text → its declarations, fully qualified, with what they contain.

Pipeline: ``tokens.LeanSource`` (lexical analysis) → ``commands.Segmenter`` (command boundaries)
→ the lark grammar in ``declarations.lark`` (command structure) → this module's scope walk
(namespaces, sections, ``open``, ``_root_``) producing ``Declaration`` records. Status is decided
elsewhere (``bridge.lean.status``); this module only reports what the source says.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput
from lark.lexer import Lexer

from .commands import RESERVED, DeclarationSpan, Piece, Segmenter
from .errors import LeanSyntaxError
from .tokens import IDENT, IDENTS_IN_CODE, LeanSource, Token as LeanToken, decode_source

DEFERRED_LINE = re.compile(r"^[ \t]*Deferred:[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)
_SORRY_WORDS = frozenset({"sorry", "admit"})
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
    statement_tokens: tuple[str, ...]
    conclusion: tuple[str, ...]
    identifiers: frozenset[str]
    sorries: tuple[tuple[int, int], ...]
    only_sorry: bool
    namespace: tuple[str, ...]
    opens: tuple[str, ...]

    @property
    def statement_sha256(self) -> str:
        """Hash of the statement's tokens: insensitive to whitespace and comments."""
        payload = "\x1f".join((self.kind, self.name, *self.statement_tokens))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class LeanFile:
    path: str
    sha256: str
    declarations: list[Declaration] = field(default_factory=list)


class _PieceToken(Token):
    __slots__ = ("piece",)


def _lark_token(piece: Piece) -> _PieceToken:
    # Built field by field: lark's Token constructor costs more than the parse step itself.
    tok = str.__new__(_PieceToken, piece.terminal)
    tok.type = piece.terminal
    tok.value = piece.terminal
    tok.start_pos = tok.line = tok.column = tok.end_line = tok.end_column = tok.end_pos = None
    tok.piece = piece
    return tok


class _PieceLexer(Lexer):
    """Feeds pre-segmented pieces to lark (the segmenter already did the lexing)."""

    def __init__(self, lexer_conf):  # noqa: D107 - lark API
        pass

    def lex(self, data):
        return map(_lark_token, data)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("bridge.lean").joinpath("declarations.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer=_PieceLexer)


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


class _ScopeWalker:
    """Walks parsed commands in order, tracking namespaces/sections/opens, emitting declarations."""

    def __init__(self, src: LeanSource):
        self.src = src
        self.path = src.path
        # The root scope holds file-level ``open``s; ``end`` never pops it.
        self.scopes: list[_Scope] = [_Scope("file", None)]
        self.decls: list[Declaration] = []

    def _err(self, tok: LeanToken, msg: str) -> LeanSyntaxError:
        return self.src.error(tok.start, msg)

    @property
    def namespace(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scopes if s.kind == "namespace" and s.name)

    def _visible_opens(self, extra: list[str]) -> tuple[str, ...]:
        opens: list[str] = []
        for s in self.scopes:
            opens.extend(s.opens)
        opens.extend(extra)
        return tuple(dict.fromkeys(opens))

    @staticmethod
    def _open_names(tokens: tuple[LeanToken, ...]) -> list[str]:
        depth = tokens[0].depth
        return [t.text for t in tokens[1:] if t.kind == IDENT and t.depth == depth and t.text not in RESERVED]

    def _no_modifiers(self, mods: list[Piece], what: str) -> None:
        if mods:
            raise self._err(mods[0].first, f"'{what}' cannot have a doc comment, attributes or modifiers")

    def command(self, tree: Tree) -> None:
        prefixes_tree, modifiers_tree, core = tree.children
        prefixes: list[Piece] = [t.piece for t in prefixes_tree.children]
        mods: list[Piece] = [t.piece for t in modifiers_tree.children]
        rule = core.data
        if rule == "decl":
            self._declaration(core.children[0].piece, prefixes, mods)
        elif rule == "open_cmd":
            self._no_modifiers(mods, "open")
            self.scopes[-1].opens.extend(self._open_names(core.children[0].piece.tokens))
        elif rule == "namespace":
            self._no_modifiers(mods, "namespace")
            for part in core.children[1].piece.first.text.split("."):
                self.scopes.append(_Scope("namespace", part))
        elif rule == "section":
            if any(p.terminal == "DOC" for p in mods):
                raise self._err(mods[0].first, "a doc comment cannot precede 'section'")
            name = core.children[1].piece.first.text if len(core.children) > 1 else None
            self.scopes.append(_Scope("section", name))
        elif rule == "mutual":
            self.scopes.append(_Scope("mutual", None))
        elif rule == "end":
            self._end(core, mods)

    def _end(self, core: Tree, mods: list[Piece]) -> None:
        kw = core.children[0].piece.first
        self._no_modifiers(mods, "end")
        name = core.children[1].piece.first.text if len(core.children) > 1 else None
        if len(self.scopes) == 1:
            raise self._err(kw, "invalid 'end', there is no open namespace or section")
        top = self.scopes[-1]
        if top.kind in ("section", "mutual"):
            if top.name != name:
                expected = f"'end {top.name}'" if top.name else "'end'"
                raise self._err(kw, f"invalid 'end', expected {expected}")
            self.scopes.pop()
            return
        parts = name.split(".") if name else []
        tail = self.scopes[-len(parts) :] if parts and len(parts) < len(self.scopes) else []
        if not parts or [s.name for s in tail] != parts or any(s.kind != "namespace" for s in tail):
            raise self._err(kw, f"invalid 'end', expected 'end {top.name}'")
        del self.scopes[-len(parts) :]

    def _declaration(self, piece: Piece, prefixes: list[Piece], mods: list[Piece]) -> None:
        span: DeclarationSpan = piece.decl
        src = self.src
        kw = span.keyword[0]
        kind = kw.text
        line, column = src.map.pos(kw.start)
        doc_raw = next((p.first.text for p in mods if p.terminal == "DOC"), None)
        doc = doc_text(doc_raw) if doc_raw is not None else None
        m = DEFERRED_LINE.search(doc) if doc else None
        modifiers = tuple(normalized_text(p.tokens) for p in mods if p.terminal == "MODIFIER")
        extra_opens: list[str] = []
        for p in prefixes:
            if p.first.text == "open":
                extra_opens.extend(self._open_names(p.tokens))
        namespace = self.namespace
        if span.name is not None:
            written = span.name.text
            anonymous = False
            name = written[len("_root_.") :] if written.startswith("_root_.") else ".".join((*namespace, written))
        else:
            anonymous = True
            name = ".".join((*namespace, f"«{kind} at {self.path}:{line}»"))
        body_start = (span.name or span.keyword[-1]).end
        identifiers = src.identifiers(body_start, span.end)
        sorries: tuple[tuple[int, int], ...] = ()
        if "sorry" in identifiers or "admit" in identifiers:
            sorries = tuple(
                src.map.pos(x.start(1))
                for x in IDENTS_IN_CODE.finditer(src.code, body_start, span.end)
                if x.group(1) in _SORRY_WORDS
            )
        sig_start, sig_end = span.signature_start, span.signature_end
        colon = src.type_colon(sig_start, sig_end)
        self.decls.append(
            Declaration(
                name=name,
                kind=kind,
                file=self.path,
                line=line,
                column=column,
                anonymous=anonymous,
                private=any(mod.split()[0] == "private" for mod in modifiers),
                modifiers=modifiers,
                attributes=tuple(normalized_text(p.tokens) for p in mods if p.terminal == "ATTRS"),
                prefixes=tuple(normalized_text(p.tokens) for p in prefixes),
                doc=doc,
                deferred_reason=m.group(1) if m else None,
                statement=src.normalized(sig_start, sig_end),
                statement_tokens=tuple(src.token_texts(sig_start, sig_end)),
                conclusion=tuple(src.token_texts(colon, sig_end)) if colon is not None else (),
                identifiers=identifiers,
                sorries=sorries,
                only_sorry=bool(sorries) and self._only_sorry(span),
                namespace=namespace,
                opens=self._visible_opens(extra_opens),
            )
        )

    def _only_sorry(self, span: DeclarationSpan) -> bool:
        """Is the value exactly ``:= sorry`` / ``:= by sorry`` (or ``exact sorry``, ``admit``)?"""
        if span.value_start is None:
            return False
        value = self.src.code[span.value_start : span.end]
        if len(value) > _SHORT_VALUE and len(_WHITESPACE.sub("", value)) > _SHORT_VALUE:
            return False
        toks = [t.text for t in self.src.tokens(span.value_start, span.end)]
        if not toks or toks[0] != ":=":
            return False
        rest = [t for t in toks[1:] if t not in _TRIVIAL_WRAPPERS]
        return len(rest) == 1 and rest[0] in _SORRY_WORDS


def read_source(text: str, path: str) -> list[Declaration]:
    """Declarations of one Lean source text. Raises ``LeanSyntaxError`` on malformed input."""
    src = LeanSource(text, path)
    pieces = Segmenter(src).run()
    try:
        tree = _parser().parse(pieces)
    except UnexpectedInput as exc:
        piece = getattr(getattr(exc, "token", None), "piece", None)
        if piece is not None:
            what = {"DOC": "doc comment", "ATTRS": "attribute list", "MODIFIER": "modifier"}.get(
                piece.terminal, f"'{piece.first.text[:20]}'"
            )
            raise src.error(piece.first.start, f"unexpected {what}") from None
        last = pieces[-1].first.start if pieces else 0
        raise src.error(last, "unexpected end of file after a doc comment, attributes or modifiers") from None
    walker = _ScopeWalker(src)
    for cmd in tree.children:
        walker.command(cmd)
    return walker.decls


def read_bytes(data: bytes, path: str) -> LeanFile:
    """Decode and read one file's bytes; ``path`` is how the file is named in reports."""
    text = decode_source(data, path)
    return LeanFile(path=path, sha256=hashlib.sha256(data).hexdigest(), declarations=read_source(text, path))
