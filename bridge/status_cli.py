"""``python -m bridge status``: parse the Lean sources, decide statuses, write lean_status.json."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .lean.errors import LeanSyntaxError
from .lean.kernel import KernelReport, find_lake, find_project_root, kernel_gate, run_kernel
from .lean.read_cache import ReadCache
from .lean.tree import gc_paused, lean_files, read_tree
from .lean_status import (declaration_documents, lean_dir_label, status_document_parts, validation_memo_key,
                          write_status_document)
from .pipes import print_quietly
from .paths import DEFAULT_READ_CACHE, DEFAULT_STATUS_OUT, project_root

DESCRIPTION = """\
Read every .lean file under --lean-dir (a lake project is not required), classify each declaration
as proved / in_flight / stub / deferred / axiom, and write the tracker JSON atomically.

Statuses: `proved` has no sorry/admit, nor does any project declaration it uses (transitively);
`stub` is a statement whose whole body is sorry (or whose statement is True); `deferred` has a
sorry and a doc-comment line `Deferred: <reason>`; `in_flight` is anything else unfinished,
with `blocked_by` naming the unproved declarations it uses; `axiom` is a project axiom.

Kernel: with `lake` on PATH (or --kernel), runs `lake build` and `lake exe moegauge_axioms` in the
lake project above --lean-dir; a declaration is kernel-`checked` only when it built and its axioms
are within propext, Classical.choice, Quot.sound. Without a toolchain every entry is `unchecked`.

Robustness: a command the reader does not know (a custom `syntax`/`macro` command, `notation3`,
`simproc` ...) is skipped with a located note; ambiguous extents (an unclosed bracket) and names
declared twice are warnings. Notes and warnings go to stderr as FILE:LINE:COL: severity: message.

Cache: what the reader found in each file is kept under --cache-dir (default:
<project>/.cache/lean-read), keyed by the file's bytes, its path and the reader's own code; an
unchanged file is not read again (on Mathlib, reading is about two thirds of a cold run). So
is what each file's declarations use, keyed also by the names every file declares: while no
name is added, removed or made private anywhere, an unchanged file is not resolved again
either. The output is the same with or without it. --no-cache reads everything and writes no
entry; delete the directory to clear it.

Progress: on a terminal, stderr shows a bar per phase (reading, resolving, writing); not with -q.

With --kernel the check is also a gate: it fails (exit 1, one line per declaration on stderr) on
any `sorryAx` outside a deferred declaration and on any axiom beyond those three.

Exit status: 0 written; 1 the kernel run failed or, with --kernel, the gate refused (output still
written); 2 bad input or usage (a lexical error in a file: unterminated comment or string, bad
UTF-8, NUL, unreadable file; a directory without .lean files); the previous output file is left
untouched.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="track Lean theorem status → lean_status.json", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lean-dir", type=Path, default=None, help="directory of .lean files (default: <project>/lean)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"output JSON (default: <project>/{DEFAULT_STATUS_OUT})")
    k = p.add_mutually_exclusive_group()
    k.add_argument("--kernel", dest="kernel", action="store_const", const="required",
                   help="require the kernel check (error if `lake` is missing)")
    k.add_argument("--no-kernel", dest="kernel", action="store_const", const="off", help="skip the kernel check")
    p.set_defaults(kernel="auto")
    p.add_argument("-j", "--jobs", type=_positive, default=None,
                   help="processes that read large trees (default: the CPUs this process may use)")
    c = p.add_mutually_exclusive_group()
    c.add_argument("--cache-dir", type=Path, default=None,
                   help="where per-file readings are cached (default: <project>/.cache/lean-read)")
    c.add_argument("--no-cache", action="store_true", help="read every file; use and write no cache")
    v = p.add_mutually_exclusive_group()
    v.add_argument("-v", "--verbose", action="store_true", help="also list every declaration with its status")
    v.add_argument("-q", "--quiet", action="store_true",
                   help="print the summary line and only the counts of notes and warnings (no progress bars)")
    p.set_defaults(func=run)


@contextmanager
def _bar(enabled: bool, desc: str, total: Callable[[], int], unit: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for one phase (only on a terminal, not with -q; it is erased when
    the phase ends): yields its ``update``, or None."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total(), desc=f"bridge status: {desc}", unit=unit, unit_scale=True, leave=False,
              file=sys.stderr, mininterval=0.5) as bar:
        yield bar.update


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _cache(args: argparse.Namespace, root: Path) -> ReadCache | None:
    """The read cache to use, or None (``--no-cache``, or a directory that cannot be written:
    then a note says so and the run goes on without it)."""
    if args.no_cache:
        return None
    cache = ReadCache(args.cache_dir if args.cache_dir is not None else root / DEFAULT_READ_CACHE)
    problem = cache.writable()
    if problem is not None:
        print(f"bridge status: note: {cache.directory}: cannot write the read cache ({problem}); "
              "reading every file", file=sys.stderr)
        return None
    return cache


def _kernel(mode: str, lean_dir: Path) -> tuple[KernelReport, int]:
    if mode == "off":
        return KernelReport.skipped("kernel check disabled (--no-kernel)"), 0
    lake = find_lake()
    if lake is None:
        report = KernelReport.skipped("no Lean toolchain: `lake` not found on PATH (static parse only)")
        return report, (2 if mode == "required" else 0)
    root = find_project_root(lean_dir)
    if root is None:
        report = KernelReport.skipped(f"no lakefile.lean or lakefile.toml at or above {lean_dir}")
        return report, (2 if mode == "required" else 0)
    report = run_kernel(root, lake)
    return report, (0 if report.ok else 1)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _print_summary(doc: dict, statuses: list, out: Path, verbose: bool, cache: ReadCache | None = None) -> None:
    """One line of counts; with ``verbose``, a line per declaration too (``doc``: the document
    without its declarations, ``statuses``: what they are made of)."""
    c = doc["counts"]
    kc = doc["kernel_counts"]
    n = len(statuses)
    run = doc["kernel_run"]
    reused = ""
    if cache is not None and (cache.hits or cache.use_hits):
        reused = f" ({cache.hits} read and {cache.use_hits} resolved before, from the cache)"
    print(f"lean status: {n} declarations in {len(doc['sources'])} files{reused} under {doc['lean_dir']}/: "
          + " · ".join(f"{k} {v}" for k, v in c.items())
          + f"; kernel: checked {kc['checked']} · failed {kc['failed']} · unchecked {kc['unchecked']}"
          f" ({run['reason']}) → {out}")
    if verbose and n:
        width = max(len(r.decl.name) for r in statuses)
        width = min(width, 60)
        print(f"  {'STATUS':<10} {'KERNEL':<10} {'NAME':<{width}} WHERE")
        for d in declaration_documents(statuses):
            extra = ""
            if d["deferred_reason"]:
                extra = f"  [deferred: {d['deferred_reason']}]"
            elif d["blocked_by"] and d["status"] == "in_flight":
                extra = f"  [blocked by: {', '.join(d['blocked_by'])}]"
            print(f"  {d['status']:<10} {d['kernel']['status']:<10} {d['name']:<{width}} "
                  f"{d['file']}:{d['line']}{extra}")


def run(args: argparse.Namespace) -> int:
    """The command. The cyclic collector stays paused throughout: the run builds millions of
    acyclic objects, and each phase's own pause ending let a full collection scan all of them
    (0.9 s of a warm Mathlib run); they are freed by reference counting when ``_run`` returns."""
    with gc_paused():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    root = project_root()
    lean_dir = args.lean_dir.resolve() if args.lean_dir else root / "lean"
    out = args.out if args.out is not None else root / DEFAULT_STATUS_OUT
    if not lean_dir.is_dir():
        print(f"bridge status: error: {lean_dir}: not a directory of Lean sources", file=sys.stderr)
        return 2
    base = find_project_root(lean_dir) or lean_dir.parent
    warnings: list[str] = []
    try:
        # Parse before the kernel run: a syntax error must not cost a long build.
        bars = not args.quiet and sys.stderr.isatty()
        cache = _cache(args, root)
        with _bar(bars, "reading", lambda: sum(_size(q) for q in lean_files(lean_dir)), "B") as tick:
            files = read_tree(lean_dir, base, workers=args.jobs, cache=cache, progress=tick)
        if not files:
            print(f"bridge status: error: {lean_dir}: no .lean file in this directory (nothing written)",
                  file=sys.stderr)
            return 2
        kernel, kernel_code = _kernel(args.kernel, lean_dir)
        if kernel_code == 2:
            print(f"bridge status: error: --kernel given but {kernel.reason}", file=sys.stderr)
            return 2
        n = sum(len(f.declarations) for f in files)
        with _bar(bars, "resolving", lambda: n, "decl") as tick:
            head, statuses = status_document_parts(files, lean_dir_label(lean_dir, base), kernel, args.kernel,
                                                   warnings, progress=tick, cache=cache)
    except LeanSyntaxError as exc:
        print(f"{exc}", file=sys.stderr)
        return 2
    diagnostics = [line for f in files for line in f.diagnostic_lines()]
    del files[:]  # what the document needs is in the statuses; the rest is freed before writing
    memo = validation_memo_key()
    known = cache.load_validated(memo) if cache is not None else None
    with _bar(bars, "writing", lambda: len(statuses), "decl") as tick:
        valid = write_status_document(out, head, statuses, str(out), progress=tick, known_valid=known)
    if cache is not None:
        cache.store_validated(memo, valid)
    print_quietly(_print_diagnostics, diagnostics, warnings, args.quiet)
    print_quietly(_print_summary, head, statuses, out, args.verbose, cache)
    if args.kernel == "required" and kernel_code == 0:
        problems = kernel_gate(declaration_documents(statuses))
        for problem in problems:
            print(f"bridge status: kernel gate: {problem}", file=sys.stderr)
        if problems:
            return 1
    return kernel_code


def _print_diagnostics(diagnostics: list[str], warnings: list[str], quiet: bool) -> None:
    """Notes (unknown commands skipped) and warnings (ambiguous extents, duplicate names) on stderr,
    located ``FILE:LINE:COL: severity: message`` (they are about the input, as a compiler's are);
    with -q only their count."""
    lines = diagnostics + warnings
    if not lines:
        return
    if quiet:
        n_warn = sum(1 for line in lines if ": warning: " in line)
        print(f"bridge status: {n_warn} warnings, {len(lines) - n_warn} notes (run without -q to list them)",
              file=sys.stderr)
        return
    sys.stderr.write("".join(line + "\n" for line in lines))
