"""SRHT vs a dense d×d orthogonal matmul, side by side, on 16,384 float32 vectors.

Both compute the same orthogonal map: the dense matrix is the SRHT's own matrix M = T·D
(``srht_matrix``), so the benchmark also checks that the outputs agree. Two settings:

- allocating: ``y = x @ M.T`` vs ``y = srht(x, seed)`` (each call allocates its 16384×d result);
- preallocated: ``torch.matmul(x, M.T, out=buf)`` vs ``srht(x, seed, out=buf)``.

Timings are interleaved (dense, srht, dense, srht, …) after a warm-up; medians and minima are printed
with the ratio of medians ("speedup"). "other load" is the CPU (in cores) other processes used while
the row was measured: the machine is shared, and a row with load ≳ 0.2 is not a clean measurement.
Target: ≥ 10× at d = 4096. Run: ``python benchmarks/bench_srht.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import OtherLoad, environment, interleaved, median, print_table, setup_threads  # noqa: E402

from moegauge.hadamard import srht, srht_matrix  # noqa: E402

N = 16_384
SEED = 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    setup_threads(2)
    print(f"# bench_srht: N={N} vectors, float32 | {environment()}")
    rows = []
    for d in args.dims:
        gen = torch.Generator().manual_seed(d)
        x = torch.randn(N, d, generator=gen)
        m = srht_matrix(d, SEED, torch.float32)
        mt = m.T
        err = float((srht(x, SEED) - x @ mt).abs().max())
        buf_dense = torch.zeros(N, d)
        buf_fast = torch.zeros(N, d)
        repeats = args.repeats if d < 4096 else max(3, args.repeats - 2)
        settings = {
            "allocating": (lambda: x @ mt, lambda: srht(x, SEED)),
            "preallocated": (lambda: torch.matmul(x, mt, out=buf_dense), lambda: srht(x, SEED, out=buf_fast)),
        }
        for name, (dense, fast) in settings.items():
            with OtherLoad() as load:
                t_dense, t_fast = interleaved([dense, fast], repeats=repeats, warmup=1)
            rows.append(
                [
                    d,
                    name,
                    f"{median(t_dense):.4f}",
                    f"{min(t_dense):.4f}",
                    f"{median(t_fast):.4f}",
                    f"{min(t_fast):.4f}",
                    f"{median(t_dense) / median(t_fast):.1f}x",
                    f"{err:.1e}",
                    load.label(),
                ]
            )
            print(f"  d={d} {name}: done", file=sys.stderr, flush=True)
    print_table(
        ["d", "output", "dense med s", "dense min s", "srht med s", "srht min s", "speedup", "max|diff|", "other load"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
