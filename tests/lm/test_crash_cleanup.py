"""A writer killed with SIGKILL mid-write leaves temporaries; the next run removes them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from moegauge.atomic import remove_stale_temporaries, run_lock

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and flock are POSIX")

KILLED_WRITER = textwrap.dedent('''
    import os, signal, sys, threading
    import torch
    from safetensors.torch import save_file
    from moegauge.atomic import atomic_path
    target = sys.argv[1]
    big = {"x": torch.ones(96, 1024, 1024)}  # 384 MiB: the write is still running when the kill lands
    with atomic_path(target) as tmp:
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
        save_file(big, str(tmp))
    print("not killed")
''')


def _hidden(d: Path) -> list[str]:
    return sorted(p.name for p in d.rglob(".*") if p.is_file() and p.name != ".moegauge-run.lock")


def test_sigkill_mid_shard_write_is_cleaned_up(tmp_path):
    out = tmp_path / "captures" / "trained" / "heldout"
    out.mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(out / "shard-00000.safetensors")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    left = _hidden(tmp_path)
    assert left, "the killed writer should have left a temporary behind"
    assert not (out / "shard-00000.safetensors").exists()  # never a half-written shard under its real name
    with run_lock(tmp_path):
        removed = remove_stale_temporaries(tmp_path, exclusive=True)
    assert sorted(p.name for p in removed) == left
    assert _hidden(tmp_path) == []


def test_live_writers_temporaries_are_kept(tmp_path):
    ours = tmp_path / f".x.json.{os.getpid()}.deadbeef.tmp"
    ours.write_text("in progress")
    dead = tmp_path / ".y.json.999999999.deadbeef.tmp"
    dead.write_text("abandoned")
    removed = remove_stale_temporaries(tmp_path)
    assert removed == [dead] and ours.exists()


def test_a_second_run_is_refused_while_one_holds_the_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f'''
        import sys, time
        from moegauge.atomic import run_lock
        with run_lock({str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(30)
    ''')], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BlockingIOError):
            with run_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(tmp_path):  # a killed holder's lock is gone with it
        pass
