"""Lean reader throughput: parse + status on generated Lean trees (default 20 MB each), in MB/s.

Target (issue 2): >= 2 MB/s on the 2-core reference machine. Two trees are generated and measured
in one run:

* ``mathlib-like`` (the target): declarations average about 600 bytes, as in Mathlib (measured on
  Mathlib/Analysis/SpecialFunctions/Gaussian/GaussianIntegral.lean: 18.8 kB, ~30 declarations), with
  multi-line tactic proofs, calc blocks, doc comments, nested comments, attributes, strings, char
  literals, `set_option … in`, pattern matching, sorries and cross-references;
* ``dense`` (a stress case): one-to-five-line lemmas, about 140 bytes per declaration — five times
  Mathlib's declaration density — where per-declaration costs dominate.

    python benchmarks/bench_lean_reader.py [--mb 20] [--keep DIR]

Real trees (issue 14): ``--real DIR [DIR ...]`` measures, on checkouts of real Lean libraries
(e.g. Mathlib and Batteries fetched into the git-ignored ``.cache/lean-corpus/``):

* file by file: files the reader rejects, declarations found against a line-regex count of
  declaration keywords, and declarations reported not ``proved`` although their tree has no sorry
  that the reader located (listed, for review by hand);
* the whole process, ``python -m bridge status --no-kernel`` writing and validating the JSON, in a
  fresh interpreter: wall time, MB/s and peak RSS (of the process and any pool workers it starts).
  Target: >= 10 MB/s and <= 1 GB RSS on Mathlib. Run twice on a fresh cache: *cold* (every file
  read, resolved and validated; the target) and *warm* (a rerun on an unchanged tree: every
  file's reading and uses, and the validator's verdicts, from the cache), with a byte comparison
  of the two outputs;
* floors: the least work each phase can do in CPython on the same tree (a per-token loop doing
  nothing, one dict probe per free identifier, validating and serializing each declaration),
  against the 10 MB/s budget, and the reader's and resolver's ratios to them;
* ``--against REV``: the whole process of git revision REV too, alternated with this checkout's
  (``--rounds``, default 3), with the ratio of medians and whether the outputs are byte-identical;
  cold runs (no cache), or with ``--warm`` reruns on a cache each side filled first.
"""

from __future__ import annotations

import argparse
import os
import re
import random
import subprocess
import sys
import shutil
import tempfile
import time
from pathlib import Path

from _bench_common import OtherLoad
from bridge.lean.commands import VERSO_DOCUMENT
from bridge.lean.errors import LeanSyntaxError
from bridge.lean.reader import read_bytes
from bridge.lean.status import compute_statuses
from bridge.lean.tokens import ID_CHARS, LeanSource
from bridge.lean.tree import lean_files, read_tree

TEMPLATE_HEADER = """import Mathlib.Analysis.SpecialFunctions.Pow.Real

/-!
# Generated module {i}

Synthetic benchmark input. It mentions `theorem` and `sorry` in prose, which is not code.
-/

open Real Finset

namespace Bench{i}

variable {{α : Type*}} [LinearOrderedField α]
"""

DECL_TEMPLATES = [
    """/-- Lemma {n}: a sum identity (doc comment mentioning sorry). -/
@[simp] theorem sum_identity_{n} (s : Finset ℕ) (f : ℕ → ℝ) (h : ∀ i ∈ s, 0 ≤ f i) :
    0 ≤ ∑ i ∈ s, f i := by
  -- a comment inside the proof
  apply Finset.sum_nonneg
  intro i hi
  exact h i hi
""",
    """theorem abs_bound_{n} (x : ℝ) (hx : |x| ≤ 1) : x ^ 2 ≤ 1 := by
  have h1 : |x| ^ 2 ≤ 1 := by
    calc |x| ^ 2 ≤ 1 ^ 2 := by gcongr
      _ = 1 := one_pow 2
  simpa [sq_abs] using h1
""",
    """/- An ordinary comment /- nested theorem fake_{n} : False := sorry -/ end -/
def table_{n} : List (String × Char) :=
  [("quote \\" sorry", '"'), ("tab", '\\t'), ("apostrophe", '\\'')]
""",
    """private lemma helper_{n} {{a b : ℕ}} (h : a ≤ b) : a < b + 1 := Nat.lt_succ_of_le h

theorem uses_helper_{n} (a : ℕ) : a < a + 1 := helper_{n} le_rfl
""",
    """def matcher_{n} : ℕ → ℕ
  | 0 => 1
  | k + 1 => 2 * matcher_{n} k
termination_by k => k
""",
    """theorem partial_{n} (a b : ℕ) : a + b = b + a ∧ a * b = b * a := by
  constructor
  · omega
  · sorry
""",
    """/-- Deferred: waiting for a Mathlib lemma (benchmark {n}). -/
theorem deferred_{n} : (2 : ℝ) ≤ Real.sqrt 5 := by
  sorry
""",
    """set_option maxHeartbeats 400000 in
theorem chain_{n} (x y : ℝ) (h : x ≤ y) : x - 1 ≤ y := by
  open Real in
  linarith [h, uses_helper_{n} 0]
""",
]


PROOF_STEPS = [
    "  have h{k} : 0 ≤ x ^ 2 + {k} := by positivity",
    "  rw [Finset.sum_comm, ← mul_assoc, mul_comm (f _) _]",
    "  refine le_trans ?_ (le_of_eq (by ring))",
    "  · simp only [abs_mul, abs_of_nonneg hx, one_mul] at h{k} ⊢",
    "  · exact mul_le_mul_of_nonneg_left (le_of_lt h{k}') (by norm_num)",
    "  obtain ⟨c, hc, rfl⟩ := exists_between (show (0 : ℝ) < 1 by norm_num)",
    "  calc x * y ≤ |x| * |y| := by gcongr; exact le_abs_self _",
    "    _ = |x * y| := (abs_mul x y).symm",
    "  -- the remaining goal is a norm inequality; `nlinarith` closes it",
    "  nlinarith [sq_nonneg (x - y), sq_nonneg (x + y), mul_self_nonneg (x * y - {k})]",
    "  filter_upwards [ae_restrict_mem measurableSet_Ioi] with t ht",
    "  simp_rw [Real.norm_eq_abs, abs_of_pos (Real.exp_pos _)]",
    "  exact (integrable_exp_neg_mul_sq hb).mono' (by fun_prop) (ae_of_all _ fun t => le_rfl)",
    "  /- a nested /- comment -/ between tactic steps -/",
    "  have : (⟨1, by norm_num⟩ : {{n : ℕ // 0 < n}}).1 = 1 := rfl",
    "  set_option maxRecDepth 2000 in exact foo_{n}",
]


def mathlib_like_decl(rng: random.Random, n: str) -> str:
    """One declaration shaped like Mathlib's: statement, optional docstring and attributes,
    a tactic proof of 1–30 steps (mean about 9)."""
    lines = []
    if rng.random() < 0.45:
        lines.append(f"/-- The bound `foo_{n}` (mentions `sorry` in prose; not code). -/")
    if rng.random() < 0.2:
        lines.append("@[simp, norm_cast]")
    kind = rng.choice(["theorem", "theorem", "theorem", "lemma", "def"])
    binders = " ".join(rng.sample(["{x y : ℝ}", "(hx : 0 ≤ x)", "(f : ℕ → ℝ)", "(s : Finset ℕ)",
                                   "{b : ℝ} (hb : 0 < b)", "(h : |x| ≤ 1)"], k=rng.randint(1, 4)))
    if kind == "def":
        lines.append(f"def foo_{n} {binders} : ℝ :=\n  ∑ i ∈ Finset.range 10, (i : ℝ) * x ^ 2 / (1 + |y|)")
        return "\n".join(lines) + "\n"
    lines.append(f"{kind} foo_{n} {binders} :\n    x * y ≤ |x * y| + ∑ i ∈ s, f i ^ 2 := by")
    steps = max(1, min(30, int(rng.expovariate(1 / 9))))
    for k in range(steps):
        lines.append(rng.choice(PROOF_STEPS).format(k=k, n=n))
    if rng.random() < 0.03:
        lines.append("  sorry")
    return "\n".join(lines) + "\n"


def generate_tree(root: Path, target_bytes: int, profile: str, seed: int = 0) -> tuple[int, int]:
    """Write Lean files under ``root`` until ``target_bytes``; return (bytes, declarations)."""
    rng = random.Random(seed)
    total = decls = 0
    i = 0
    while total < target_bytes:
        parts = [TEMPLATE_HEADER.format(i=i)]
        for n in range(200 if profile == "dense" else 60):
            decls += 1
            if profile == "mathlib-like":
                parts.append(mathlib_like_decl(rng, f"{i}_{n}"))
                continue
            k = rng.randrange(len(DECL_TEMPLATES))
            if k == 7:  # chain_{n} refers to uses_helper_{n}; emit it first
                parts.append(DECL_TEMPLATES[3].format(n=f"{i}_{n}"))
            parts.append(DECL_TEMPLATES[k].format(n=f"{i}_{n}"))
        parts.append(f"end Bench{i}\n")
        text = "\n".join(parts)
        path = root / f"Pkg{i // 50}" / f"Module{i}.lean"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        total += len(text.encode("utf-8"))
        i += 1
    return total, decls


def measure(root: Path, profile: str, target_bytes: int) -> None:
    size, _ = generate_tree(root, target_bytes, profile)
    t0 = time.perf_counter()
    files = read_tree(root, root)
    t1 = time.perf_counter()
    statuses = compute_statuses(files)
    t2 = time.perf_counter()
    mb = size / 1e6
    print(f"[{profile}] {mb:.1f} MB in {len(files)} files, {len(statuses)} declarations "
          f"({size / max(len(statuses), 1):.0f} bytes each)")
    print(f"  read (lex + segment + grammar + scopes): {t1 - t0:6.2f} s  {mb / (t1 - t0):5.2f} MB/s")
    print(f"  status (resolve + propagate):            {t2 - t1:6.2f} s")
    print(f"  total:                                   {t2 - t0:6.2f} s  {mb / (t2 - t0):5.2f} MB/s"
          f"  (target >= 2 MB/s)")


# A declaration keyword starting a line, after optional attributes and modifiers: the baseline count.
_REGEX_DECL = re.compile(
    r"^(?:@\[[^\n]*\]\s*)?(?:(?:private|protected|noncomputable|partial|unsafe|nonrec|public|meta)\s+)*"
    r"(?:theorem|lemma|def|abbrev|instance|example|axiom|opaque|structure|class|inductive)(?=\s)",
    re.MULTILINE,
)
_KEYWORD_KINDS = {"theorem", "lemma", "def", "abbrev", "instance", "example", "axiom", "opaque", "structure",
                  "class", "inductive"}


def _tree_rss_kb(pid: int) -> int:
    """Resident set of ``pid`` and its descendants, in kB (Linux /proc)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{p}/task/{p}/children", encoding="utf-8") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return total


REPO = Path(__file__).resolve().parents[1]


def _checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that runs ``checkout``'s code: its directories first on PYTHONPATH (and the
    process starts in it, since ``python -m`` puts the working directory first on sys.path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{checkout}{os.pathsep}{checkout / 'py'}"
    return env


def whole_process(root: Path, out: Path, checkout: Path = REPO,
                  cache: list[str] | None = None) -> tuple[float, float, int, str, float]:
    """Run ``python -m bridge status`` on ``root``: (seconds, peak RSS in MB, exit code, stderr
    tail, CPU seconds of the process and its pool workers). ``checkout``: whose code runs (another
    revision's worktree for ``--against``); ``cache``: its read-cache arguments (``--cache-dir D``
    or ``--no-cache``; a revision before the cache takes none)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = _checkout_env(checkout)
    cmd = [sys.executable, "-m", "bridge", "status", "--no-kernel", "-q", "--lean-dir", str(root.resolve()),
           "--out", str(out.resolve()), *(cache or [])]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=checkout)
    peak = 0
    import threading

    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()))
    reader.start()
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kb(proc.pid))
        time.sleep(0.05)
    reader.join()
    elapsed = time.perf_counter() - t0
    tail = err[0].decode("utf-8", "replace").strip().splitlines()[-3:] if err and err[0] else []
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, peak / 1024, proc.returncode, " | ".join(tail), cpu


def _no_cache(checkout: Path) -> list[str]:
    """``--no-cache`` if that checkout's ``bridge status`` has a read cache, else nothing."""
    usage = subprocess.run([sys.executable, "-m", "bridge", "status", "--help"], capture_output=True, text=True,
                           env=_checkout_env(checkout), cwd=checkout).stdout
    return ["--no-cache"] if "--no-cache" in usage else []


def _bridge_location(checkout: Path) -> Path:
    """Where the ``bridge`` package that ``whole_process`` runs for ``checkout`` is imported from."""
    out = subprocess.run([sys.executable, "-c", "import bridge; print(bridge.__file__)"], capture_output=True,
                         text=True, env=_checkout_env(checkout), cwd=checkout, check=True).stdout
    return Path(out.strip()).resolve()


def compare_whole(root: Path, rev: str, rounds: int, tmp: Path, warm: bool = False) -> None:
    """The whole process of this checkout and of git revision ``rev`` (a temporary worktree), run
    alternately ``rounds`` times on the same tree: medians, their ratio, and whether the two
    outputs are byte-identical. Alternating keeps a slow spell of the machine from landing on one
    side only; a single run each is not enough on a shared 2-core machine. ``warm``: each side
    first fills a read cache of its own (untimed), then every timed run is a rerun on that cache."""
    import statistics

    repo = REPO
    wt = (tmp / "against").resolve()
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "-q", str(wt), rev], check=True)
    try:
        sides = {"this checkout": (repo, tmp / "this.json"), rev: (wt, tmp / "against.json")}
        for label, (checkout, _) in sides.items():  # each side must run its own code
            where = _bridge_location(checkout)
            if not where.is_relative_to(checkout):
                raise SystemExit(f"--against: {label} would import bridge from {where}, not from {checkout}")
        runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in sides}
        caches = {label: _no_cache(checkout) for label, (checkout, _) in sides.items()}  # cold: read every file
        if warm:
            for k, (label, (checkout, out)) in enumerate(sides.items()):
                if not caches[label]:
                    raise SystemExit(f"--against --warm: {label} has no read cache")
                caches[label] = ["--cache-dir", str((tmp / f"cache-{k}").resolve())]
                code = whole_process(root, out, checkout, caches[label])[2]
                if code != 0:
                    raise SystemExit(f"--against --warm: {label}: exit {code} while filling its cache")
        for k in range(rounds):
            for label, (checkout, out) in sides.items():
                with OtherLoad() as load:
                    elapsed, rss, code, tail, cpu = whole_process(root, out, checkout, caches[label])
                if code != 0:
                    print(f"    {label}: exit {code}: {tail[:300]}")
                    return
                runs[label].append((elapsed, cpu, rss))
                print(f"    round {k + 1} {label:<16} {elapsed:7.2f} s wall, CPU {cpu:7.2f} s, peak RSS {rss:5.0f} MB"
                      f" (other processes {load.label()} cores)")
        med = {label: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
               for label, rs in runs.items()}
        (wall_a, cpu_a), (wall_b, cpu_b) = med["this checkout"], med[rev]
        same = sides["this checkout"][1].read_bytes() == sides[rev][1].read_bytes()
        print(f"  against {rev} ({rounds} rounds, {'warm' if warm else 'cold'}, medians): wall {wall_b:.2f} -> {wall_a:.2f} s "
              f"({wall_b / wall_a:.2f}x), CPU {cpu_b:.2f} -> {cpu_a:.2f} s ({cpu_b / cpu_a:.2f}x); "
              f"outputs byte-identical: {same}")
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(wt)], check=False)


def measure_real(root: Path, whole: bool = True, against: str | None = None, rounds: int = 3,
                 warm: bool = False) -> None:
    paths = lean_files(root)
    size = 0
    errors: list[str] = []
    files = []
    regex_count = masked_count = found_count = 0
    differing = []
    t0 = time.perf_counter()
    for path in paths:
        data = path.read_bytes()
        size += len(data)
        rel = path.relative_to(root).as_posix()
        text = data.decode("utf-8", "replace")
        regex_count += len(_REGEX_DECL.findall(text))
        try:
            f = read_bytes(data, rel)
        except LeanSyntaxError as exc:
            errors.append(str(exc))
            continue
        files.append(f)
        # The same regex over the code with comments, strings and doc comments masked (by the
        # reader's lexer): it no longer counts declarations quoted in prose.
        code = LeanSource(text.lstrip("\ufeff"), rel, markup=VERSO_DOCUMENT).code
        verso = VERSO_DOCUMENT.search(code)  # a Verso document's body is markup, not read (README)
        masked = len(_REGEX_DECL.findall(code[: verso.start()] if verso else code))
        masked_count += masked
        got = sum(1 for d in f.declarations if d.kind in _KEYWORD_KINDS and not getattr(d, "parent", None))
        found_count += got
        if got != masked:
            differing.append((rel, masked, got))
    t1 = time.perf_counter()
    try:
        statuses = compute_statuses(files)
    except LeanSyntaxError as exc:  # a tree-level error (the reader before issue 14: duplicate names)
        print(f"[{root}] {len(paths)} files: {len(errors)} files with errors; the tree fails as a whole: {exc}")
        return
    t2 = time.perf_counter()
    with_sorry = [r for r in statuses if r.decl.sorries]
    not_proved = [r for r in statuses if r.status != "proved"]
    by_name = {r.decl.name: r for r in statuses}

    def root_cause(r) -> str:
        d = r.decl
        if d.sorries:
            return "own sorry"
        if d.kind == "axiom":
            return "axiom"
        if r.status == "stub":
            return "statement True (contract: stub)"
        return "uses a declaration that is not proved"

    causes: dict[str, int] = {}
    for r in not_proved:
        causes[root_cause(r)] = causes.get(root_cause(r), 0) + 1
    diagnostics = [x for f in files for x in f.diagnostics]
    notes = sum(1 for x in diagnostics if x[2] == "note")
    print(f"[{root}] {len(paths)} files, {size / 1e6:.1f} MB (in-process read {t1 - t0:.1f} s, status {t2 - t1:.1f} s)")
    print(f"  files with errors: {len(errors)}")
    for e in errors[:8]:
        print(f"    {e[:160]}")
    print(f"  diagnostics: {notes} notes (unknown commands skipped), {len(diagnostics) - notes} warnings")
    print(f"  declarations: line regex {regex_count}; the same regex on masked code {masked_count}; reader "
          f"(keyword kinds) {found_count}; all entries {len(statuses)}")
    fewer = [x for x in differing if x[2] < x[1]]
    print(f"    files where the reader finds fewer than the masked regex: {len(fewer)} (target 0); more: "
          f"{len(differing) - len(fewer)} (declarations the line regex misses, e.g. `local instance`: it lists no `local`)")
    for rel, expected, got in (fewer or differing)[:8]:
        print(f"    {rel}: masked regex {expected}, reader {got}")
    print(f"  declarations with a located sorry: {len(with_sorry)}; not proved: {len(not_proved)} "
          f"by cause: {causes}")
    by_dir: dict[str, dict[str, int]] = {}
    for r in not_proved:
        top = r.decl.file.split("/", 1)[0] if "/" in r.decl.file else "."
        by_dir.setdefault(top, {})
        by_dir[top][root_cause(r)] = by_dir[top].get(root_cause(r), 0) + 1
    for top in sorted(by_dir):
        print(f"    under {top}/: {sum(by_dir[top].values())} not proved {by_dir[top]}")
    for r in with_sorry[:6]:
        print(f"    sorry in {r.decl.name} ({r.decl.file}:{r.decl.line})")
    for r in [r for r in not_proved if not r.decl.sorries and r.decl.kind != "axiom" and r.status != "stub"][:6]:
        print(f"    {r.decl.name} ({r.decl.file}:{r.decl.line}) blocked by {', '.join(r.blocked_by)}")
    del by_name
    floors(root, statuses, size, t1 - t0, t2 - t1)
    if errors or not whole:
        print("  whole process: skipped" + (" (the tree has files the reader rejects)" if errors else ""))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cache = ["--cache-dir", str(Path(tmp) / "read-cache")]
        outputs = []
        for label in ("cold", "warm"):  # an empty read cache, then the one the cold run filled
            out = Path(tmp) / f"status-{label}.json"
            with OtherLoad() as load:
                elapsed, rss, code, tail, cpu = whole_process(root, out, cache=cache)
            what = ("every file read and resolved, the JSON validated, cache entries written" if label == "cold"
                    else "readings, uses and validator verdicts from the cache")
            print(f"  whole process, {label} ({what}; JSON written): {elapsed:.2f} s wall, "
                  f"{size / 1e6 / elapsed:.2f} MB/s, peak RSS {rss:.0f} MB, exit {code}"
                  f"  (targets >= 10 MB/s, <= 1024 MB)")
            print(f"    CPU {cpu:.2f} s ({size / 1e6 / max(cpu, 1e-9):.2f} MB per CPU-second); other processes used "
                  f"{load.label()} cores meanwhile (of {os.cpu_count()})")
            if code != 0:
                print(f"    stderr: {tail[:300]}")
                return
            outputs.append(out.read_bytes())
        entries = [e for e in (Path(tmp) / "read-cache").iterdir() if e.is_file()]
        print(f"    cache: {len(entries)} files (a reading per source file, the uses, the verdicts), "
              f"{sum(e.stat().st_size for e in entries) / 1e6:.0f} MB; "
              f"cold and warm outputs byte-identical: {outputs[0] == outputs[1]}")
        if against:
            compare_whole(root, against, rounds, Path(tmp), warm)


_TOKEN = re.compile(rf"[{ID_CHARS}.]+|\S")


def floors(root: Path, statuses: list, size: int, read_s: float, status_s: float) -> None:
    """What the whole-process target leaves for the reader, measured on the same tree in this run.

    Each floor is the least work its phase can do in CPython, timed on one core: visiting every
    token once (a ``finditer`` loop doing nothing), collecting them in C (``findall``), one dict
    probe per free identifier of every declaration (name resolution cannot do less), and
    validating + serializing each declaration's JSON (what ``bridge status`` writes). The reader
    and the resolver are then compared with those floors, as ratios."""
    import orjson

    from bridge.lean_status import _declaration_checker, declaration_documents

    texts = [p.read_bytes().decode("utf-8", "replace") for p in lean_files(root)]
    mb = size / 1e6
    t = time.perf_counter()
    tokens = sum(len(_TOKEN.findall(x)) for x in texts)
    findall_s = time.perf_counter() - t
    t = time.perf_counter()
    for x in texts:
        for _ in _TOKEN.finditer(x):
            pass
    visit_s = time.perf_counter() - t
    del texts
    names = {r.decl.name: None for r in statuses}
    t = time.perf_counter()
    probes = hits = 0
    for r in statuses:
        for ident in r.decl.identifiers:
            probes += 1
            if ident in names:
                hits += 1
    probe_s = time.perf_counter() - t
    check = _declaration_checker()
    docs = list(declaration_documents(statuses))
    t = time.perf_counter()
    valid = sum(1 for d in docs if check.is_valid_fast(d))
    validate_s = time.perf_counter() - t
    t = time.perf_counter()
    out = sum(len(orjson.dumps(d, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)) for d in docs)
    dump_s = time.perf_counter() - t
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    budget = mb / 10.0
    floor_cpu = visit_s + probe_s + validate_s + dump_s
    print(f"  floors (one core, this tree): {tokens:,} tokens; findall {mb / findall_s:.1f} MB/s; "
          f"a per-token loop doing nothing {mb / visit_s:.1f} MB/s ({visit_s:.2f} s)")
    print(f"    {probes:,} free identifiers: one dict probe each {probe_s:.2f} s; validate "
          f"{valid}/{len(docs)} declarations {validate_s:.2f} s; serialize {out / 1e6:.0f} MB {dump_s:.2f} s")
    print(f"    10 MB/s allows {budget:.1f} s wall ({budget * cores:.1f} CPU-s on {cores} cores); the floors "
          f"alone take {floor_cpu:.1f} CPU-s ({floor_cpu / (budget * cores):.2f} of it)")
    print(f"    reader (in-process, one core) {read_s / visit_s:.1f}x the per-token floor; resolution "
          f"{status_s / probe_s:.1f}x the probe floor")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20.0, help="size of each generated tree in MB (default 20)")
    ap.add_argument("--keep", type=Path, default=None, help="generate into DIR/<profile> and keep it")
    ap.add_argument("--profile", choices=["mathlib-like", "dense", "both"], default="both")
    ap.add_argument("--real", type=Path, nargs="+", default=None,
                    help="measure these real Lean trees instead of generated ones")
    ap.add_argument("--no-whole", action="store_true", help="with --real: skip the whole-process run")
    ap.add_argument("--against", metavar="REV", default=None,
                    help="with --real: also run the whole process of git revision REV (a temporary worktree) "
                         "alternately with this checkout's, and print the ratio and whether outputs are identical")
    ap.add_argument("--rounds", type=int, default=3, help="with --against: alternations (default 3)")
    ap.add_argument("--warm", action="store_true",
                    help="with --against: compare reruns on a filled read cache (each side its own) instead of "
                         "cold runs")
    args = ap.parse_args()
    if args.against and (args.no_whole or not args.real):
        ap.error("--against needs --real and the whole-process run")
    if args.warm and not args.against:
        ap.error("--warm needs --against")
    if args.real:
        for root in args.real:
            measure_real(root.resolve(), whole=not args.no_whole, against=args.against, rounds=args.rounds,
                         warm=args.warm)
        return
    profiles = ["mathlib-like", "dense"] if args.profile == "both" else [args.profile]
    for profile in profiles:
        root = (args.keep / profile) if args.keep else Path(tempfile.mkdtemp(prefix=f"lean-bench-{profile}-"))
        try:
            measure(root, profile, int(args.mb * 1_000_000))
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
