"""The read cache: a cached reading is exactly a fresh one, whatever the cache saw before; a stale,
corrupt or foreign entry is a miss; an unwritable cache costs a note, never the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import bridge.lean.read_cache as read_cache
import bridge.lean.tree as tree
from bridge.lean.read_cache import ReadCache
from bridge.lean.tree import read_tree

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
NAMES = sorted(p.name for p in CORPUS.glob("*.lean"))
# Edits a user makes between two runs: each keeps the file valid Lean, and each changes what the
# reader reports (a new declaration, a new sorry, a renamed namespace, a doc comment).
EDITS = (
    "\ntheorem cache_probe_new : 2 = 2 := rfl\n",
    "\ntheorem cache_probe_open : 3 = 3 := by sorry\n",
    "\nnamespace CacheProbe\ndef probe := 1\nend CacheProbe\n",
    "\n/-- Deferred: later -/\ntheorem cache_probe_deferred : 4 = 4 := sorry\n",
)


def _copy_corpus(root: Path) -> Path:
    lean = root / "lean"
    shutil.copytree(CORPUS, lean)
    return lean


def _readings(files):
    return [(f.path, f.sha256, f.declarations, f.diagnostics, f.imports, f.exports) for f in files]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(range(len(EDITS) + 1))),
                      min_size=1, max_size=6))
def test_a_cached_reading_is_a_fresh_reading_after_any_sequence_of_edits(tmp_path_factory, steps):
    root = tmp_path_factory.mktemp("edits")
    lean = _copy_corpus(root)
    originals = {name: (lean / name).read_bytes() for name in NAMES}
    cache = ReadCache(root / "cache")
    read_tree(lean, root, workers=1, cache=cache)  # the cache has seen the starting tree
    for name, edit in steps:
        # edit == len(EDITS): put the file back as it was (its old entry was replaced meanwhile)
        data = originals[name] if edit == len(EDITS) else (lean / name).read_bytes() + EDITS[edit].encode()
        (lean / name).write_bytes(data)
        cached = read_tree(lean, root, workers=1, cache=cache)
        fresh = read_tree(lean, root, workers=1)
        assert _readings(cached) == _readings(fresh)
    assert len(list((root / "cache").glob("*.pickle"))) == len(NAMES)  # one entry per path, no growth


def test_a_warm_read_takes_every_file_from_the_cache(tmp_path, monkeypatch):
    lean = _copy_corpus(tmp_path)
    cache = ReadCache(tmp_path / "cache")
    cold = read_tree(lean, tmp_path, workers=1, cache=cache)
    read = []
    monkeypatch.setattr(tree, "read_bytes", lambda data, rel: read.append(rel))  # must not be called
    warm = read_tree(lean, tmp_path, workers=1, cache=cache)
    assert read == []
    assert _readings(warm) == _readings(cold)


def test_the_pool_stores_entries_its_parent_then_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(tree, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(tree, "_CHUNK_BYTES", 2_000)
    lean = _copy_corpus(tmp_path)
    cache = ReadCache(tmp_path / "cache")
    pooled = read_tree(lean, tmp_path, workers=2, cache=cache)
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == len(NAMES)
    warm = read_tree(lean, tmp_path, workers=1, cache=cache)
    assert _readings(warm) == _readings(pooled) == _readings(read_tree(lean, tmp_path, workers=1))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other_file"])
def test_a_damaged_entry_is_a_miss_and_is_rewritten(tmp_path, damage):
    lean = _copy_corpus(tmp_path)
    cache = ReadCache(tmp_path / "cache")
    fresh = read_tree(lean, tmp_path, workers=1, cache=cache)
    entries = sorted((tmp_path / "cache").glob("*.pickle"))
    victim = entries[0]
    raw = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        victim.write_bytes(raw[:64] + b"\x80\x05not a pickle")
    elif damage == "empty":
        victim.write_bytes(b"")
    else:  # another file's entry (right format, wrong key) in this file's place
        victim.write_bytes(entries[1].read_bytes())
    again = read_tree(lean, tmp_path, workers=1, cache=cache)
    assert _readings(again) == _readings(fresh)
    assert victim.read_bytes() == raw  # rewritten as the fresh reading


def test_a_new_reader_version_invalidates_every_entry(tmp_path, monkeypatch):
    lean = _copy_corpus(tmp_path)
    cache = ReadCache(tmp_path / "cache")
    read_tree(lean, tmp_path, workers=1, cache=cache)
    monkeypatch.setattr(read_cache, "reader_version", lambda: "0" * 64)
    read = []
    real = tree.read_bytes
    monkeypatch.setattr(tree, "read_bytes", lambda data, rel: read.append(rel) or real(data, rel))
    read_tree(lean, tmp_path, workers=1, cache=cache)
    assert sorted(read) == [f"lean/{n}" for n in NAMES]


def test_the_reader_version_covers_every_reader_module():
    """Editing any module of bridge.lean changes the version (so no stale entry survives it)."""
    here = Path(read_cache.__file__).parent
    assert {"tokens.py", "commands.py", "binders.py", "reader.py"} <= {p.name for p in here.glob("*.py")}
    version = read_cache.reader_version()
    read_cache.reader_version.cache_clear()
    assert read_cache.reader_version() == version  # deterministic
    assert len(version) == 64


def run_status(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge", "status", "--no-kernel", "-q", *args],
                          capture_output=True, text=True, cwd=cwd, env=dict(os.environ))


def test_cli_cached_and_uncached_outputs_are_byte_identical(tmp_path):
    lean = _copy_corpus(tmp_path)
    outs = {}
    for label, extra in (("none", ["--no-cache"]), ("cold", []), ("warm", [])):
        out = tmp_path / f"{label}.json"
        proc = run_status("--lean-dir", str(lean), "--out", str(out), *extra, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        outs[label] = out.read_bytes()
    assert outs["none"] == outs["cold"] == outs["warm"]
    # default place: <project>/.cache/lean-read (here the cwd: no moegauge pyproject above it)
    # one reading per file, the tree's uses, the validator's verdicts
    cache = ReadCache(tmp_path / ".cache" / "lean-read")
    assert len(list(cache.directory.glob("*.pickle"))) == len(NAMES) + 1 and cache._entry_path("", "uses").exists()
    assert (cache.directory / "validated.bin").exists()


def test_cli_no_cache_writes_no_entry(tmp_path):
    lean = _copy_corpus(tmp_path)
    proc = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "o.json"), "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / ".cache").exists()


def test_cli_unwritable_cache_is_a_note_and_the_run_goes_on(tmp_path):
    lean = _copy_corpus(tmp_path)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would be")
    out = tmp_path / "o.json"
    proc = run_status("--lean-dir", str(lean), "--out", str(out), "--cache-dir", str(blocker / "cache"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"bridge status: note: {blocker / 'cache'}: cannot write the read cache" in proc.stderr
    plain = tmp_path / "plain.json"
    assert run_status("--lean-dir", str(lean), "--out", str(plain), "--no-cache", cwd=tmp_path).returncode == 0
    assert out.read_bytes() == plain.read_bytes()


def test_cli_a_file_with_a_lexical_error_is_never_cached(tmp_path):
    lean = _copy_corpus(tmp_path)
    (lean / "Bad.lean").write_bytes(b"theorem a : 1 = 1 := rfl\n/- never closed")
    for _ in range(2):  # the second run finds the other files cached and still reports the error
        proc = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "o.json"), cwd=tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.strip() == "lean/Bad.lean:2:1: unterminated comment"
    assert not (tmp_path / "o.json").exists()
    cache = ReadCache(tmp_path / ".cache" / "lean-read")
    assert cache._entry_path("lean/Attributes.lean").exists()  # read before the bad file: cached
    assert not cache._entry_path("lean/Bad.lean").exists()


def test_cli_summary_counts_the_files_taken_from_the_cache(tmp_path):
    lean = _copy_corpus(tmp_path)
    first = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "a.json"), cwd=tmp_path)
    assert first.returncode == 0 and "from the read cache" not in first.stdout
    (lean / NAMES[0]).write_bytes((lean / NAMES[0]).read_bytes() + EDITS[0].encode())
    second = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "b.json"), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    # the edit adds a name: every file is resolved again
    assert f"in {len(NAMES)} files ({len(NAMES) - 1} read and 0 resolved before, from the cache)" in second.stdout
    third = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "c.json"), cwd=tmp_path)
    assert f"in {len(NAMES)} files ({len(NAMES)} read and {len(NAMES)} resolved before, from the cache)" in third.stdout


def test_cli_jobs(tmp_path):
    lean = _copy_corpus(tmp_path)
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}.json"
        proc = run_status("--lean-dir", str(lean), "--out", str(out), "--no-cache", "-j", jobs, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    bad = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "x.json"), "-j", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "expected a whole number >= 1, got '0'" in bad.stderr
