"""Shared helpers for the benchmarks: environment line, timing, table printing."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import torch


def setup_threads(n: int = 2) -> None:
    torch.set_num_threads(n)


def environment() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    thp = "?"
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="utf-8") as fh:
            thp = fh.read().strip()
    except OSError:
        pass
    return (
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}, "
        f"{os.cpu_count()} CPUs, THP {thp}, THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset')}"
    )


class OtherLoad:
    """CPU time used by *other* processes while a block runs, in cores (Linux /proc; None elsewhere).

    The benchmarks share 2 cores with CI and other engineers; a row measured while something else ran
    is flagged rather than silently mixed in.
    """

    def __init__(self) -> None:
        self.cores: float | None = None

    @staticmethod
    def _busy_ticks() -> int | None:
        try:
            with open("/proc/stat", encoding="utf-8") as fh:
                parts = fh.readline().split()[1:]
        except OSError:
            return None
        vals = [int(v) for v in parts]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        return sum(vals[:8]) - idle

    @staticmethod
    def _self_ticks() -> int | None:
        try:
            with open("/proc/self/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime + stime, and the same for waited-for children: a subprocess the block runs (and
        # its pool workers) is the block's own load, not another process's
        return sum(int(v) for v in fields[11:15])

    def __enter__(self) -> "OtherLoad":
        self._t0, self._b0, self._s0 = time.perf_counter(), self._busy_ticks(), self._self_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        b1, s1, t1 = self._busy_ticks(), self._self_ticks(), time.perf_counter()
        if None in (self._b0, self._s0, b1, s1):
            return
        hz = os.sysconf("SC_CLK_TCK")
        other = (b1 - self._b0) - (s1 - self._s0)
        self.cores = max(other, 0) / hz / max(t1 - self._t0, 1e-9)

    def label(self) -> str:
        return "?" if self.cores is None else f"{self.cores:.2f}"


def time_once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fns: Sequence[Callable[[], object]], repeats: int, warmup: int = 1) -> list[list[float]]:
    """Warm each function up, then time them round-robin (a, b, a, b, …) so slow drifts in machine
    load hit all of them alike. Returns one list of timings per function."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            out[i].append(time_once(fn))
    return out


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "  ".join(h.rjust(w) for h, w in zip(cells[0], widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
