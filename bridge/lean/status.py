"""Theorem status (ARCHITECTURE.md contract) from what the reader found and, when run, the kernel.

* ``axiom``: an ``axiom`` declaration of the project.
* ``stub``: the whole body is ``sorry`` (term or ``by sorry``), or the statement is ``True``.
* ``deferred``: contains ``sorry`` and its doc comment carries a ``Deferred: <reason>`` line.
* ``in_flight``: contains ``sorry`` otherwise (a partial proof), or is sorry-free but uses a project
  declaration that is not ``proved`` (``blocked_by`` names those), or the kernel found ``sorryAx``.
* ``proved``: none of the above, transitively.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from .kernel import KernelReport, kernel_verdict
from .reader import Declaration, LeanFile
from .tree import gc_paused

if TYPE_CHECKING:
    from .read_cache import ReadCache

STATUSES = ("proved", "in_flight", "stub", "deferred", "axiom")


@dataclass(slots=True)
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
    if decl.conclusion == "True" and decl.kind not in ("structure", "class", "inductive"):
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
    locals first (the reader leaves bound names out), then the declaration's own name prefix,
    enclosing namespaces (innermost first), opened namespaces and ``open … (x)`` / ``renaming``
    names, ``export``ed names, then the root; a dotted identifier also resolves through its
    prefixes (``foo.le``, ``S.field``).

    Candidates are found by suffix (every project name is indexed under each of its dotted
    suffixes), so a look-up costs the few names sharing a suffix, not the search path's length.
    Only declarations of files the using file imports (transitively) are visible, when the import
    graph is known (see ``_ImportGraph``). A name declared twice (Lean accepts it across
    independent modules) thus resolves to the copy the using file imports, else to both."""

    def __init__(self, decls: list[Declaration], files: list[LeanFile] | None = None):
        self.by_name: dict[str, list[Declaration]] = defaultdict(list)
        for d in decls:
            if not d.anonymous:
                self.by_name[d.name].append(d)
        self.exports: dict[str, str] = {}
        for f in files or ():
            for short, target in f.exports:
                self.exports.setdefault(short, target)
        # suffix → [full names]: `Nat.succ_le` is found under `succ_le` (its prefix, `Nat`, is the
        # rest of the name) and under `Nat.succ_le` (prefix ``)
        self.by_suffix: dict[str, list[str]] = defaultdict(list)
        for name in dict.fromkeys([*self.by_name, *self.exports]):
            self.by_suffix[name].append(name)
            dot = name.find(".")
            while dot != -1:
                self.by_suffix[name[dot + 1 :]].append(name)
                dot = name.find(".", dot + 1)
        self.known = frozenset(self.by_name) | frozenset(self.exports)
        self._memo_file: str | None = None
        # scope → identifier → (hits, position of the last hit in the file being resolved)
        self._memo: dict[tuple, dict[str, tuple[list[Declaration], tuple[int, int] | None]]] = {}
        self._imports = _ImportGraph(files or [])

    @staticmethod
    def own_namespace(decl: Declaration) -> tuple[str, ...]:
        """The namespace a declaration's name puts it in (its parent's, for a `where` helper)."""
        if decl.parent is not None:
            return tuple(decl.parent.split("."))
        return tuple(decl.name.split(".")[:-1]) if not decl.anonymous else decl.namespace

    @staticmethod
    @lru_cache(maxsize=4096)
    def _search_path(own: tuple[str, ...], ns: tuple[str, ...], opens: tuple[str, ...]) -> dict[str, int]:
        """Namespace → rank (lower is tried first) for a declaration whose ``own_namespace`` is
        ``own``. (Declarations of one namespace share it: cached; callers must not mutate it.)"""
        spaces: list[str] = []
        for k in range(len(own), 0, -1):
            spaces.append(".".join(own[:k]))
        for k in range(len(ns), 0, -1):
            spaces.append(".".join(ns[:k]))
        for o in opens:
            spaces.append(o)
            for k in range(len(ns), 0, -1):
                spaces.append(".".join((*ns[:k], o)))
        spaces.append("")
        return {space: rank for rank, space in enumerate(dict.fromkeys(spaces))}

    def lookup(self, name: str, decl: Declaration, in_order: bool = False) -> list[Declaration]:
        """The declarations called ``name`` that ``decl`` may see: its file's, other files' public
        ones in files it imports; with ``in_order``, of its own file only those declared before
        it (``precedes``)."""
        target = self.exports.get(name)
        if target is not None and name not in self.by_name:
            name = target
        ds = self.by_name.get(name)
        if not ds:
            return []
        visible = [d for d in ds if (d.file == decl.file or not d.private)
                   and self._imports.visible(decl.file, d.file)]
        if in_order:
            visible = [d for d in visible if d.file != decl.file or self.precedes(d, decl)]
        return visible

    @staticmethod
    def precedes(d: Declaration, user: Declaration) -> bool:
        """May ``user`` see ``d``, declared in the same file? Lean elaborates a file in order, so
        only a declaration before it — or one of its own group: the members of one ``mutual``
        block, a declaration and its ``where`` helpers (and those helpers among themselves)."""
        if (d.line, d.column) <= (user.line, user.column):
            return True
        if d.mutual is not None and d.mutual == user.mutual:
            return True
        return d.parent is not None and d.parent in (user.name, user.parent)

    @staticmethod
    def nesting_spaces(decl: Declaration) -> frozenset[str]:
        """The namespaces a declaration sees by nesting (its own and its enclosing ones), which an
        ``open … hiding`` does not affect."""
        own = NameIndex.own_namespace(decl)
        ns = decl.namespace
        return frozenset([".".join(own[:k]) for k in range(len(own) + 1)]
                         + [".".join(ns[:k]) for k in range(len(ns) + 1)])

    def resolve(self, ident: str, decl: Declaration, path: dict[str, int],
                nesting: frozenset[str] | None = None, in_order: bool = False) -> list[Declaration]:
        """Project declarations ``ident`` names in ``decl`` (``path``: its ``search_path``).

        The longest dotted prefix of ``ident`` that names something ``decl`` may see wins; among
        its candidates, the best-ranked namespace. Candidates are enumerated from whichever side
        is shorter: the names sharing the suffix, or the search path (probing ``space.stem`` in
        rank order, where the first hit is the best) — a common suffix such as ``le`` has
        thousands of names. When the best-ranked name is not visible here (private elsewhere, in
        a file not imported, later in this file with ``in_order``), the next-ranked one is tried.
        Without ``in_order`` the answer depends only on the file and the scope (``uses`` memoises
        it, then applies the file order)."""
        if ident.startswith("_root_."):
            return self.lookup(ident[len("_root_.") :], decl, in_order)
        parts = ident.split(".")
        head = parts[0]
        for short, full in decl.aliases:  # open A (x) / renaming: x means A.x
            if short == head:
                hits = self.resolve(".".join((full, *parts[1:])), decl, path, nesting, in_order)
                if hits:
                    return hits
        hidden = decl.hidden
        for k in range(len(parts), 0, -1):
            stem = ".".join(parts[:k]) if k < len(parts) else ident
            cands = self.by_suffix.get(stem)
            if not cands:
                continue
            if hidden and nesting is None:
                nesting = self.nesting_spaces(decl)
            by_candidates = len(cands) <= len(path)
            if by_candidates:
                best = self.best_by_candidates(stem, cands, path, hidden, nesting)
            else:
                best = self.best_by_path(stem, self.known, path, hidden, nesting)
            if best is None:
                continue
            hits = self.lookup(best, decl, in_order)
            if hits:
                return hits
            ranked = (self.ranked_by_candidates(stem, cands, path, hidden, nesting) if by_candidates
                      else self.ranked_by_path(stem, self.known, path, hidden, nesting))
            for full in ranked[1:]:  # rare: the best-ranked name is not visible here
                hits = self.lookup(full, decl, in_order)
                if hits:
                    return hits
        return []

    @staticmethod
    def best_by_candidates(stem: str, cands: list[str], path: dict[str, int], hidden: tuple[str, ...],
                           nesting: frozenset[str] | None) -> str | None:
        """The best-ranked name ``prefix.stem`` among ``cands`` (names ending in ``stem``) whose
        prefix is on the search path; a name an ``open … hiding`` hides counts only where its
        prefix is a nesting namespace."""
        best, best_rank = None, None
        cut = len(stem) + 1
        for full in cands:
            prefix = full[: len(full) - cut] if len(full) > len(stem) else ""
            rank = path.get(prefix)
            if rank is None or (best_rank is not None and rank >= best_rank):
                continue
            if hidden and full in hidden and prefix not in nesting:
                continue  # reachable only through an `open … hiding` that hides it
            best, best_rank = full, rank
        return best

    @staticmethod
    def best_by_path(stem: str, known: frozenset[str], path: dict[str, int], hidden: tuple[str, ...],
                     nesting: frozenset[str] | None) -> str | None:
        """``best_by_candidates`` from the other side: probe ``prefix.stem`` for each prefix in
        rank order (the first known name is the best)."""
        for prefix in path:
            full = f"{prefix}.{stem}" if prefix else stem
            if full not in known:
                continue
            if hidden and full in hidden and prefix not in nesting:
                continue
            return full
        return None

    @staticmethod
    def ranked_by_candidates(stem: str, cands: list[str], path: dict[str, int], hidden: tuple[str, ...],
                             nesting: frozenset[str] | None) -> list[str]:
        """Every name ``prefix.stem`` among ``cands`` reachable on the search path, best first."""
        cut = len(stem) + 1
        ranked = []
        for full in cands:
            prefix = full[: len(full) - cut] if len(full) > len(stem) else ""
            rank = path.get(prefix)
            if rank is None or (hidden and full in hidden and prefix not in nesting):
                continue
            ranked.append((rank, full))
        return [full for _, full in sorted(ranked)]

    @staticmethod
    def ranked_by_path(stem: str, known: frozenset[str], path: dict[str, int], hidden: tuple[str, ...],
                       nesting: frozenset[str] | None) -> list[str]:
        """``ranked_by_candidates`` from the search path's side."""
        ranked = []
        for prefix in path:
            full = f"{prefix}.{stem}" if prefix else stem
            if full in known and not (hidden and full in hidden and prefix not in nesting):
                ranked.append(full)
        return ranked

    def uses(self, decl: Declaration) -> list[Declaration]:
        own = self.own_namespace(decl)
        path = self._search_path(own, decl.namespace, decl.opens)
        found: dict[tuple[str, int, int, str], Declaration] = {}
        suffixes = self.by_suffix
        # What an identifier resolves to depends on the file (privacy, imports) and on the scope
        # (search path, aliases, hidden names); declarations of one file mostly share a scope.
        if decl.file != self._memo_file:
            self._memo_file = decl.file
            self._memo = {}
        scope = (own, decl.namespace, decl.opens, decl.aliases, decl.hidden)
        memo = self._memo.get(scope)
        if memo is None:
            memo = self._memo[scope] = {}
        here = (decl.line, decl.column)
        for ident in decl.identifiers:
            if "." not in ident and ident not in suffixes and not decl.aliases:
                continue  # the common case: a local name or a library constant
            entry = memo.get(ident)
            if entry is None:
                hits = self.resolve(ident, decl, path)
                # where the last hit in this file is: a user before it may not see it
                last = max([(h.line, h.column) for h in hits if h.file == decl.file], default=None)
                entry = memo[ident] = (hits, last)
            hits, last = entry
            if last is not None and last > here and any(not self.precedes(h, decl) for h in hits
                                                        if h.file == decl.file):
                # a name declared later in this file: Lean resolves the use without it
                hits = self.resolve(ident, decl, path, in_order=True)
            for hit in hits:
                if hit is not decl and hit.name != decl.name:
                    found[(hit.file, hit.line, hit.column, hit.name)] = hit
        for helper in decl.helpers:  # a declaration stands or falls with its `where` helpers
            for hit in self.by_name.get(helper, ()):
                if hit.file == decl.file:
                    found[(hit.file, hit.line, hit.column, hit.name)] = hit
        return sorted(found.values(), key=lambda d: (d.name, d.file, d.line))


def duplicate_declarations(decls: list[Declaration]) -> list[tuple[Declaration, Declaration]]:
    """Public names declared more than once: (first, other) pairs, in file order."""
    by_name: dict[str, list[Declaration]] = defaultdict(list)
    for d in decls:
        if not d.anonymous and not d.private:
            by_name[d.name].append(d)
    out = []
    for ds in by_name.values():
        if len(ds) > 1:
            public = sorted(ds, key=lambda d: (d.file, d.line))
            out.extend((public[0], dup) for dup in public[1:])
    return sorted(out, key=lambda p: (p[1].file, p[1].line, p[1].name))


class _ImportGraph:
    """Which files a file imports, transitively (module names matched to paths by suffix).

    Lean only sees declarations of the modules a file imports, so a use resolves to another file
    of the tree only if the using file imports it (transitively) — when the graph is known: a
    file none of whose imports is in the tree (``import Mathlib`` in a project's file, a fixture
    corpus) sees every file. Closures are bit sets (Python ints) built in import order, so the
    cost is one OR per import edge and one AND per query."""

    def __init__(self, files: list[LeanFile]):
        by_module: dict[str, int] = {}
        self._index = {f.path: k for k, f in enumerate(files)}
        for k, f in enumerate(files):
            path = f.path[: -len(".lean")] if f.path.endswith(".lean") else f.path
            parts = path.split("/")
            for j in range(len(parts)):
                by_module.setdefault(".".join(parts[j:]), k)
        edges = [[by_module[m] for m in f.imports if m in by_module] for f in files]
        self._known = any(edges)
        closure: list[int | None] = [None] * len(files)
        for root in range(len(files)):
            if closure[root] is not None:
                continue
            stack = [(root, 0)]
            on_stack = {root}
            while stack:
                node, i = stack[-1]
                if i < len(edges[node]):
                    stack[-1] = (node, i + 1)
                    nxt = edges[node][i]
                    if closure[nxt] is None and nxt not in on_stack:  # a cycle is ill-formed Lean: cut it
                        stack.append((nxt, 0))
                        on_stack.add(nxt)
                    continue
                bits = 0
                for nxt in edges[node]:
                    bits |= (1 << nxt) | (closure[nxt] or 0)
                closure[node] = bits
                stack.pop()
                on_stack.discard(node)
        self._closure = closure

    def visible(self, src: str, dst: str) -> bool:
        """May a declaration of file ``src`` use one of file ``dst``?"""
        if src == dst:
            return True
        a = self._index.get(src)
        b = self._index.get(dst)
        if a is None or b is None or not self._known:
            return True
        return bool((self._closure[a] >> b) & 1)


def use_context(files: list[LeanFile]) -> str:
    """Digest of everything in ``files`` that name resolution reads beyond the using file's own
    bytes: each file's path, imports and exports, and the names it declares with their privacy
    (``NameIndex.lookup``, the suffix index and the import graph see nothing else of another
    file). A cached resolution is valid for a file's bytes under one context."""
    h = hashlib.sha256(b"use-context/1\0")
    for f in sorted(files, key=lambda f: f.path):
        h.update("\0".join((f.path, *f.imports, *(f"{a}\1{b}" for a, b in f.exports), "")).encode())
        h.update("\0".join(f"{d.name}\1{int(d.private)}" for d in f.declarations if not d.anonymous).encode())
        h.update(b"\2")
    return h.hexdigest()


def compute_statuses(files: list[LeanFile], kernel: KernelReport | None = None,
                     warnings: list[str] | None = None,
                     progress: Callable[[int], None] | None = None,
                     cache: "ReadCache | None" = None) -> list[DeclarationStatus]:
    """Status of every declaration in ``files``; deterministic order (file, line, column, name).
    Tree-level warnings (duplicate names) are appended to ``warnings`` when given; ``progress`` is
    called with the number of declarations resolved, every ``_PROGRESS_EVERY``. With ``cache``, a
    file's uses are taken from it when its bytes and the ``use_context`` are unchanged, and
    stored when they were resolved."""
    with gc_paused():
        return _compute_statuses(files, kernel, warnings, progress, cache)


_PROGRESS_EVERY = 5000


def _use_refs(decls: list[Declaration]) -> list[tuple]:
    """How a stored use names its declaration, for each non-anonymous one (in ``decls`` order):
    (name, file), or (name, file, k) for the k-th declaration (in file order) of a name declared
    more than once in one file. Both stay valid while the ``use_context`` is unchanged."""
    refs: list[tuple] = [(d.name, d.file) for d in decls if not d.anonymous]
    unique = set(refs)
    if len(unique) == len(refs):
        return refs
    repeated = {ref for ref, n in Counter(refs).items() if n > 1}
    seen: dict[tuple, int] = defaultdict(int)
    for k, ref in enumerate(refs):  # in file order
        if ref in repeated:
            seen[ref] += 1
            refs[k] = (*ref, seen[ref] - 1)
    return refs


def _cached_uses(files: list[LeanFile], refs: list[tuple], table: dict
                 ) -> tuple[dict[int, tuple[int, ...]], list[LeanFile]]:
    """Uses from a stored table (``_uses_table``), as positions in ``refs`` (the refs of this
    tree's named declarations, ``_use_refs``), by declaration id; and the files that must be
    resolved: a file whose bytes changed, or one that uses a declaration that is no longer there.
    A stored use is an index into the table's own refs; when those are this tree's (an unchanged
    context and no declaration moved) they are taken as they are."""
    if not table:
        return {}, files
    try:
        stored = table["refs"]
        entries = table["files"]
        remap: list[int] | None = None
        if stored != refs:
            at = {ref: k for k, ref in enumerate(refs)}
            remap = [at.get(ref, -1) for ref in stored]
    except (KeyError, TypeError):
        return {}, files
    limit = len(stored)
    found: dict[int, tuple[int, ...]] = {}
    missed: list[LeanFile] = []
    for f in files:
        sha, entry = entries.get(f.path, (None, None))
        if sha != f.sha256 or not isinstance(entry, list) or len(entry) != len(f.declarations):
            missed.append(f)
            continue
        try:
            if any(uses and (min(uses) < 0 or max(uses) >= limit) for uses in entry):
                missed.append(f)  # a damaged entry
                continue
            if remap is not None:
                entry = [tuple([remap[k] for k in uses]) for uses in entry]
                if any(-1 in uses for uses in entry):
                    missed.append(f)
                    continue
        except (IndexError, TypeError):
            missed.append(f)
            continue
        for d, uses in zip(f.declarations, entry):
            found[id(d)] = uses
    return found, missed


def _uses_table(files: list[LeanFile], refs: list[tuple], deps: dict[int, tuple[int, ...]]) -> dict:
    """What ``_cached_uses`` reads back: the refs of every named declaration, and per file its
    SHA-256 and, per declaration (by id in ``deps``), the positions of its uses in that list."""
    return {"refs": refs,
            "files": {f.path: (f.sha256, [deps[id(d)] for d in f.declarations]) for f in files}}


def _users(deps: list[tuple[int, ...]], n_named: int) -> tuple[np.ndarray, list[int]]:
    """The reverse of ``deps`` (declaration index → positions of what it uses) as two arrays:
    the indices of the users of position ``k`` are ``users[bounds[k]:bounds[k + 1]]``. (A CSR
    built by numpy: on Mathlib a list per declaration costs a million appends.)"""
    lengths = np.fromiter(map(len, deps), dtype=np.int64, count=len(deps))
    targets = np.fromiter(chain.from_iterable(deps), dtype=np.int64, count=int(lengths.sum()))
    sources = np.repeat(np.arange(len(deps), dtype=np.int64), lengths)
    order = np.argsort(targets, kind="stable")
    bounds = np.searchsorted(targets[order], np.arange(n_named + 1), side="left")
    return sources[order], bounds.tolist()


def _compute_statuses(files: list[LeanFile], kernel: KernelReport | None,
                      warnings: list[str] | None, progress: Callable[[int], None] | None = None,
                      cache: "ReadCache | None" = None) -> list[DeclarationStatus]:
    decls = sorted((d for f in files for d in f.declarations), key=lambda d: (d.file, d.line, d.column, d.name))
    named_at = [i for i, d in enumerate(decls) if not d.anonymous]  # position in refs -> index in decls
    refs = _use_refs(decls) if cache is not None else []
    cached: dict[int, tuple[int, ...]] = {}
    missed = files
    if cache is not None:
        context = use_context(files)
        cached, missed = _cached_uses(files, refs, cache.load_uses(context))
        cache.use_hits = len(files) - len(missed)
    index = NameIndex(decls, files) if missed else None
    position = {id(decls[i]): k for k, i in enumerate(named_at)} if missed else {}
    if warnings is not None:
        for first, dup in duplicate_declarations(decls):
            warnings.append(f"{dup.file}:{dup.line}:{dup.column}: warning: '{dup.name}' is also declared at "
                            f"{first.file}:{first.line}:{first.column} (kept both; uses resolve by import order)")
    results: list[DeclarationStatus] = []
    deps: list[tuple[int, ...]] = []  # per declaration, the positions (in refs) of what it uses
    shared: dict[tuple[str, str], dict] = {}  # most verdicts are one of a few: one dict each (50 MB on Mathlib)
    # Without a successful kernel run every declaration gets the same verdict (never mutated)
    same_verdict = kernel_verdict(decls[0], kernel) if decls and not (kernel and kernel.ran and kernel.ok) else None
    for k, d in enumerate(decls, 1):
        if progress is not None and k % _PROGRESS_EVERY == 0:
            progress(_PROGRESS_EVERY)
        status, notes = local_status(d)
        verdict = same_verdict
        if verdict is None:
            verdict = kernel_verdict(d, kernel)
            if "axioms" not in verdict:
                verdict = shared.setdefault((verdict["status"], verdict["reason"]), verdict)
            elif status == "proved" and "sorryAx" in verdict["axioms"]:
                status = "in_flight"
                notes.append("the kernel found sorryAx although the source shows no sorry")
        results.append(DeclarationStatus(decl=d, status=status, kernel=verdict, notes=notes))
        used = cached.get(id(d))
        if used is None:
            used = tuple([position[id(u)] for u in index.uses(d)])  # type: ignore[union-attr]
        deps.append(used)
    if progress is not None and len(decls) % _PROGRESS_EVERY:
        progress(len(decls) % _PROGRESS_EVERY)
    index = position = None  # (freed before the table is built: on Mathlib the two at once are the peak)
    if cache is not None and missed:
        cache.store_uses(context, _uses_table(files, refs, dict(zip(map(id, decls), deps))))
    # Propagate "not proved" to every transitive user that was proved on its own.
    users, bounds = _users(deps, len(named_at))
    position_of = dict(zip(named_at, range(len(named_at))))
    work = [i for i, r in enumerate(results) if r.status != "proved" and i in position_of]
    while work:
        k = position_of[work.pop()]
        for user in users[bounds[k] : bounds[k + 1]].tolist():
            r = results[user]
            if r.status == "proved":
                r.status = "in_flight"
                if user in position_of:
                    work.append(user)
    names = [decls[i].name for i in named_at]
    for r, used in zip(results, deps):
        r.uses = tuple([names[k] for k in used])
        if r.status == "proved":
            continue  # it uses only proved declarations (or the propagation above would have reached it)
        r.blocked_by = tuple(names[k] for k in used if results[named_at[k]].status != "proved")
        if r.blocked_by and r.status == "in_flight" and not r.decl.sorries:
            r.notes.append("uses project declarations that are not proved")
    return results
