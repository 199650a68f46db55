"""`python -m bridge status`: output contract, determinism, atomic writes, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.lean_status import load_status_document

CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def run_status(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()}
    return subprocess.run([sys.executable, "-m", "bridge", "status", "--no-kernel", *args],
                          capture_output=True, text=True, cwd=cwd, env=env)


def test_output_is_byte_identical_across_runs(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for out in (a, b):
        proc = run_status("--lean-dir", str(CORPUS), "--out", str(out), "-q", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes()
    doc = load_status_document(a)
    assert doc["schema"] == "moegauge/lean_status" and doc["schema_version"] == 1
    assert doc["counts"]["proved"] > 0


def test_default_paths_are_the_projects(tmp_path):
    proj = tmp_path / "proj"
    (proj / "lean").mkdir(parents=True)
    (proj / "pyproject.toml").write_text('[project]\nname = "moegauge"\n')
    (proj / "lean" / "X.lean").write_text("theorem x : 1 = 1 := rfl\n")
    sub = proj / "lean"
    proc = run_status(cwd=sub)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((proj / "site" / "_data" / "lean_status.json").read_text())
    assert doc["declarations"][0]["file"] == "lean/X.lean"
    assert doc["lean_dir"] == "lean"


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"theorem a : 1 = 1 := rfl\n/- never closed", "Bad.lean:2:1: unterminated comment"),
        (b'def s := "never closed\n', "Bad.lean:1:10: unterminated string literal"),
        (b"def ok := 1\ndef bad := 1 \xfe\n", "Bad.lean:2:14: invalid UTF-8 byte 0xfe"),
    ],
)
def test_bad_input_exits_2_and_keeps_previous_output(tmp_path, content, expected):
    lean = tmp_path / "lean"
    shutil.copytree(CORPUS, lean)
    out = tmp_path / "status.json"
    assert run_status("--lean-dir", str(lean), "--out", str(out), cwd=tmp_path).returncode == 0
    before = out.read_bytes()
    (lean / "Bad.lean").write_bytes(content)
    proc = run_status("--lean-dir", str(lean), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"lean/{expected}"
    assert out.read_bytes() == before
    assert not list(tmp_path.glob(".status.json.*.tmp"))


def test_unreadable_file_is_a_located_error(tmp_path):
    lean = tmp_path / "lean"
    lean.mkdir()
    (lean / "Dangling.lean").symlink_to(tmp_path / "missing.lean")
    proc = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "o.json"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("lean/Dangling.lean:1:1: cannot read file:")


def test_missing_lean_dir_is_a_usage_error(tmp_path):
    proc = run_status("--lean-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o.json"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "not a directory of Lean sources" in proc.stderr


def test_help_explains_statuses_and_kernel():
    proc = subprocess.run([sys.executable, "-m", "bridge", "status", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for word in ("proved", "in_flight", "stub", "deferred", "axiom", "Deferred: <reason>", "lake", "Exit status"):
        assert word in proc.stdout


def test_a_directory_without_lean_files_is_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "o.json"
    out.write_text("previous")
    proc = run_status("--lean-dir", str(tmp_path / "empty"), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2
    assert "no .lean file" in proc.stderr
    assert out.read_text() == "previous"


def test_notes_and_warnings_are_located_on_stderr(tmp_path):
    lean = tmp_path / "lean"
    lean.mkdir()
    (lean / "A.lean").write_text("theorem a : 1 = 1 := rfl\nnotation3 \"x\" => 1\ntheorem b : (2 = 2 := rfl\n"
                                 "theorem c : 3 = 3 := rfl\n")
    (lean / "B.lean").write_text("theorem a : 1 = 1 := rfl\n")
    proc = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "o.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "lean/A.lean:2:1: note: unknown command 'notation3', skipped" in proc.stderr
    assert "lean/A.lean:4:1: warning: a bracket opened before this line is not closed" in proc.stderr
    assert "lean/B.lean:1:1: warning: 'a' is also declared at lean/A.lean:1:1" in proc.stderr
    doc = load_status_document(tmp_path / "o.json")
    assert [d["name"] for d in doc["declarations"]] == ["a", "b", "c", "a"]


def test_closed_stdout_is_quiet(tmp_path):
    cmd = f"{sys.executable} -m bridge status --no-kernel --lean-dir {CORPUS} --out {tmp_path / 'o.json'}"
    # `true` exits at once without reading: every write meets a closed pipe.
    proc = subprocess.run(f"{cmd} | true; exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash",
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr


def _run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``bridge status`` with stderr on a pseudo-terminal (stdout captured apart)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0×0
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "status", "--no-kernel", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=follower, env=dict(os.environ))
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process has exited
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bars_show_on_a_terminal_only_and_change_nothing(tmp_path):
    lean = tmp_path / "lean"
    shutil.copytree(CORPUS, lean)
    code, err = _run_on_a_terminal(["--lean-dir", str(lean), "--out", str(tmp_path / "tty.json")], tmp_path)
    assert code == 0, err
    for phase in ("reading", "resolving", "writing"):
        assert f"bridge status: {phase}" in err
    code, err = _run_on_a_terminal(["-q", "--lean-dir", str(lean), "--out", str(tmp_path / "q.json")], tmp_path)
    assert code == 0 and "bridge status: reading" not in err
    piped = run_status("--lean-dir", str(lean), "--out", str(tmp_path / "piped.json"), cwd=tmp_path)
    assert piped.returncode == 0 and "bridge status: reading" not in piped.stderr
    assert (tmp_path / "tty.json").read_bytes() == (tmp_path / "q.json").read_bytes() == \
        (tmp_path / "piped.json").read_bytes()
