"""learn_rotation: step time of the Cayley vs matrix-exponential parametrisations, and wall-clock time
to reach a mean one-bit cosine of 0.9 on a low-rank synthetic key set, side by side in one run.

Keys: ``moegauge.synthetic.low_rank_keys(N, d, rank=3)`` (float32, per-channel centered, full batch,
Adam lr 1e-3, identity init, trace on the calibration keys). Step time = (time of S steps − time of
0 steps) / S, so setup and the final float64 re-evaluation are excluded; the two parametrisations are
timed alternately after a warm-up. Time to 0.9 is measured with ``learn_rotation``'s callback, from
the call until the first trace entry ≥ 0.9 (capped at --max-steps). "other load" is the CPU (in
cores) other processes used meanwhile; rows with load ≳ 0.2 are not clean measurements.
Run: ``python benchmarks/bench_rotation.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import OtherLoad, environment, interleaved, median, print_table, setup_threads  # noqa: E402

from moegauge.rotation import learn_rotation  # noqa: E402
from moegauge.synthetic import low_rank_keys  # noqa: E402

N = 2048
PARAMS = ("cayley", "matrix_exp")
STEPS = {256: 10, 1024: 4, 2048: 2}


def step_time(keys, parametrization: str, steps: int, repeats: int) -> float:
    run_s = lambda: learn_rotation(keys, steps, seed=0, parametrization=parametrization)  # noqa: E731
    run_0 = lambda: learn_rotation(keys, 0, seed=0, parametrization=parametrization)  # noqa: E731
    t_s, t_0 = interleaved([run_s, run_0], repeats=repeats, warmup=0)
    return (median(t_s) - median(t_0)) / steps


def time_to(keys, parametrization: str, threshold: float, max_steps: int) -> tuple[float | None, int | None, float]:
    hit: dict[str, float] = {}
    t0 = time.perf_counter()

    def cb(entry):
        if entry.one_bit_cosine >= threshold and "t" not in hit:
            hit["t"], hit["step"] = time.perf_counter() - t0, entry.step
            return True
        return None

    res = learn_rotation(keys, max_steps, seed=0, parametrization=parametrization, callback=cb)
    return hit.get("t"), hit.get("step"), res.trace[-1].one_bit_cosine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[256, 1024, 2048])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--max-steps", type=int, default=60)
    args = ap.parse_args(argv)
    setup_threads(2)
    print(f"# bench_rotation: N={N} keys, low-rank (rank 3) synthetic, float32 | {environment()}")
    rows_step, rows_reach = [], []
    for d in args.dims:
        keys = low_rank_keys(N, d, rank=3, seed=0)
        learn_rotation(keys, 1, seed=0)  # warm-up (allocator, LAPACK, autograd)
        learn_rotation(keys, 1, seed=0, parametrization="matrix_exp")
        steps = STEPS.get(d, 3)
        with OtherLoad() as load:
            times = {p: step_time(keys, p, steps, args.repeats) for p in PARAMS}
        rows_step.append(
            [
                d,
                steps,
                f"{times['cayley']:.3f}",
                f"{times['matrix_exp']:.3f}",
                f"{times['matrix_exp'] / times['cayley']:.1f}x",
                load.label(),
            ]
        )
        print(f"  d={d} step times done", file=sys.stderr, flush=True)
        with OtherLoad() as load:
            reach = {p: time_to(keys, p, args.threshold, args.max_steps) for p in PARAMS}
        cells = [d]
        for p in PARAMS:
            t, step, last = reach[p]
            cells += [f"{t:.2f}" if t is not None else f"not reached (c={last:.3f})", step if step is not None else "-"]
        ratio = (
            f"{reach['matrix_exp'][0] / reach['cayley'][0]:.1f}x"
            if reach["cayley"][0] and reach["matrix_exp"][0]
            else "-"
        )
        rows_reach.append([*cells, ratio, load.label()])
        print(f"  d={d} time-to-threshold done", file=sys.stderr, flush=True)
    print("\nstep time (s per step, full batch)")
    print_table(["d", "steps timed", "cayley s/step", "matrix_exp s/step", "matrix_exp / cayley", "other load"], rows_step)
    print(f"\ntime to mean one-bit cosine >= {args.threshold} (wall-clock s from the call; step = trace index)")
    print_table(
        ["d", "cayley s", "cayley step", "matrix_exp s", "matrix_exp step", "matrix_exp / cayley", "other load"], rows_reach
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
