"""Theorem status (ARCHITECTURE.md contract) from what the reader found and, when run, the kernel.

* ``axiom``: an ``axiom`` declaration of the project.
* ``stub``: the whole body is ``sorry`` (term or ``by sorry``), or the statement is ``True``.
* ``deferred``: contains ``sorry`` and its doc comment carries a ``Deferred: <reason>`` line.
* ``in_flight``: contains ``sorry`` otherwise (a partial proof), or is sorry-free but uses a project
  declaration that is not ``proved`` (``blocked_by`` names those), or the kernel found ``sorryAx``.
* ``proved``: none of the above, transitively.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .errors import LeanSyntaxError
from .kernel import KernelReport, kernel_verdict
from .reader import Declaration, LeanFile
from .tree import gc_paused

STATUSES = ("proved", "in_flight", "stub", "deferred", "axiom")


@dataclass
class DeclarationStatus:
    decl: Declaration
    status: str
    uses: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    kernel: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def local_status(decl: Declaration) -> tuple[str, list[str]]:
    """Status from the declaration alone (before dependencies and the kernel), with notes."""
    notes: list[str] = []
    if decl.kind == "axiom":
        return "axiom", notes
    if decl.conclusion == ("True",) and decl.kind not in ("structure", "class", "inductive"):
        notes.append("statement is `True`: vacuous, reported as a stub")
        return "stub", notes
    if decl.sorries:
        if decl.deferred_reason:
            return "deferred", notes
        return ("stub" if decl.only_sorry else "in_flight"), notes
    if decl.deferred_reason:
        notes.append("has a `Deferred:` line but no sorry: reported proved; remove the stale line")
    return "proved", notes


class NameIndex:
    """Resolves identifiers in a declaration to project declarations, as Lean's scoping would:
    the declaration's own name prefix, enclosing namespaces (innermost first), opened namespaces,
    then the root; a dotted identifier also resolves through its prefixes (``foo.le``, ``S.field``)."""

    def __init__(self, decls: list[Declaration]):
        self.by_name: dict[str, list[Declaration]] = defaultdict(list)
        for d in decls:
            if not d.anonymous:
                self.by_name[d.name].append(d)
        # Every dotted suffix of a project name: an identifier stem outside this set cannot refer
        # to a project declaration, whatever the namespaces (a cheap filter for local names).
        self.suffixes: set[str] = set()
        for name in self.by_name:
            parts = name.split(".")
            self.suffixes.update(".".join(parts[k:]) for k in range(len(parts)))

    def check_duplicates(self) -> None:
        for name, ds in self.by_name.items():
            public = [d for d in ds if not d.private]
            if len(public) > 1:
                first, dup = sorted(public, key=lambda d: (d.file, d.line))[:2]
                raise LeanSyntaxError(
                    dup.file, dup.line, dup.column, f"'{name}' has already been declared at {first.file}:{first.line}"
                )

    @staticmethod
    def search_path(decl: Declaration) -> list[str]:
        own = decl.name.split(".")[:-1] if not decl.anonymous else list(decl.namespace)
        spaces: list[str] = []
        for k in range(len(own), 0, -1):
            spaces.append(".".join(own[:k]))
        ns = decl.namespace
        for k in range(len(ns), 0, -1):
            spaces.append(".".join(ns[:k]))
        for o in decl.opens:
            spaces.append(o)
            for k in range(len(ns), 0, -1):
                spaces.append(".".join((*ns[:k], o)))
        spaces.append("")
        return list(dict.fromkeys(spaces))

    def lookup(self, name: str, file: str) -> Declaration | None:
        ds = self.by_name.get(name)
        if not ds:
            return None
        for d in ds:
            if d.file == file or not d.private:
                return d
        return None

    def resolve(self, ident: str, decl: Declaration, path: list[str]) -> Declaration | None:
        if ident.startswith("_root_."):
            return self.lookup(ident[len("_root_.") :], decl.file)
        parts = ident.split(".")
        for k in range(len(parts), 0, -1):
            stem = ".".join(parts[:k]) if k < len(parts) else ident
            if stem not in self.suffixes:
                continue
            for space in path:
                hit = self.lookup(f"{space}.{stem}" if space else stem, decl.file)
                if hit is not None:
                    return hit
        return None

    def uses(self, decl: Declaration) -> list[Declaration]:
        path = self.search_path(decl)
        found: dict[tuple[str, int, int], Declaration] = {}
        suffixes = self.suffixes
        for ident in decl.identifiers:
            if "." not in ident and ident not in suffixes:
                continue  # the common case: a local name or a library constant
            hit = self.resolve(ident, decl, path)
            if hit is not None and hit is not decl:
                found[(hit.file, hit.line, hit.column)] = hit
        return sorted(found.values(), key=lambda d: d.name)


def compute_statuses(files: list[LeanFile], kernel: KernelReport | None = None) -> list[DeclarationStatus]:
    """Status of every declaration in ``files``; deterministic order (file, line, column)."""
    with gc_paused():
        return _compute_statuses(files, kernel)


def _compute_statuses(files: list[LeanFile], kernel: KernelReport | None) -> list[DeclarationStatus]:
    decls = sorted((d for f in files for d in f.declarations), key=lambda d: (d.file, d.line, d.column))
    index = NameIndex(decls)
    index.check_duplicates()
    results: dict[int, DeclarationStatus] = {}
    deps: dict[int, list[Declaration]] = {}
    users: dict[int, list[int]] = defaultdict(list)
    for d in decls:
        status, notes = local_status(d)
        verdict = kernel_verdict(d, kernel)
        if status == "proved" and "sorryAx" in verdict.get("axioms", ()):
            status = "in_flight"
            notes.append("the kernel found sorryAx although the source shows no sorry")
        results[id(d)] = DeclarationStatus(decl=d, status=status, kernel=verdict, notes=notes)
        used = index.uses(d)
        deps[id(d)] = used
        for u in used:
            users[id(u)].append(id(d))
    # Propagate "not proved" to every transitive user that was proved on its own.
    work = [key for key, r in results.items() if r.status != "proved"]
    while work:
        key = work.pop()
        for user in users.get(key, ()):
            r = results[user]
            if r.status == "proved":
                r.status = "in_flight"
                work.append(user)
    for d in decls:
        r = results[id(d)]
        r.uses = tuple(u.name for u in deps[id(d)])
        r.blocked_by = tuple(u.name for u in deps[id(d)] if results[id(u)].status != "proved")
        if r.blocked_by and r.status == "in_flight" and not d.sorries:
            r.notes.append("uses project declarations that are not proved")
    return [results[id(d)] for d in decls]
