"""Co-activation study at OLMoE-1B-7B scale: 16 layers × 64 experts × top-8 × 1M tokens (128M
activations), synthetic traces for size only (planted teams with recency; never evidence).

Prints, per test and cache policy, wall time and activations per second, and peak resident memory;
and, measured side by side in the same run on the same 20,000-token slice of one layer, the
vectorised LRU against the plain-Python reference loop (``moegauge.expertcache.simulate_cache``),
as a ratio. Target (issue 10): the LRU and MIN replays of the whole trace (all 1M tokens, every
layer, three capacities) within 120 s here, memory bounded (the replays work in chunks; the trace
itself is 256 MB of int16).

    python benchmarks/bench_coactivation.py [--tokens 1000000] [--layers 16] [--shuffles 20]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--shuffles", type=int, default=20)
    ap.add_argument("--skip-structure", action="store_true", help="time only the replays and placement")
    args = ap.parse_args()

    from moegauge.expertcache import simulate_cache
    from moegauge.studies.coactivation import caches, placement, prefetch, structure, synthetic

    t0 = time.perf_counter()
    tr = synthetic.planted_teams(args.tokens, layers=args.layers, seed=0, doc_tokens=65536)
    n, k = tr.num_experts, tr.top_k
    learn, ev = tr.halves()
    print(f"trace: {args.layers} layers × {tr.tokens:,} tokens × top-{k} of {n} "
          f"({args.layers * tr.tokens * k / 1e6:.0f}M activations), made in {time.perf_counter() - t0:.1f} s; "
          f"eval half {ev.size:,} tokens")
    topk_eval = np.ascontiguousarray(tr.topk[:, ev])
    act_eval = args.layers * ev.size * k
    act_all = args.layers * tr.tokens * k
    caps = [16, 24, 32]
    rows = []

    def timed(name, fn, activations):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        rows.append((name, dt, activations / dt))
        print(f"  {name:<34} {dt:7.1f} s  {activations / dt / 1e6:8.2f} M activations/s  (peak RSS {rss_mib():,.0f} MiB)")
        return out

    a_learn = [structure.firing_matrix(tr.topk[li][learn], n) for li in range(args.layers)]
    full = tr.topk
    print("replays of the whole trace (every layer, capacities 16/24/32; activations counted per capacity):")
    timed("LRU (stack depths, per layer)", lambda: [caches.lru_misses(full[li], n, caps) for li in range(args.layers)],
          act_all * len(caps))
    timed("MIN / Belady (token loop over L×C)", lambda: caches.belady_min_misses(full, n, caps), act_all * len(caps))
    timed("LFU-static", lambda: [caches.lfu_misses(full[li], n, caps, a_learn[li].sum(0))
                                 for li in range(args.layers)], act_all * len(caps))
    timed("co-activation prefetch (token loop)", lambda: caches.coact_prefetch_loads(full, n, caps, a_learn),
          act_all * len(caps))
    budgets = [12, 16, 24, 32]
    prev, nxt = tr.successor_pairs(ev)

    def prefetch_all():
        for li in range(args.layers):
            a = structure.firing_matrix(tr.topk[li], n)
            prefetch.prefetch_hit_rates(a_learn[li], a[prev], a[nxt], budgets, k)

    timed("Test 2 prefetch hit rates", prefetch_all, args.layers * prev.size * k * len(budgets))

    def placement_all():
        for li in range(args.layers):
            for d in (2, 4, 8):
                for pl in placement.placements(a_learn[li], d, seed=li).values():
                    placement.score(topk_eval[li], pl, d)

    timed("Test 4 placements (4 × D ∈ {2,4,8})", placement_all, act_eval * 12)
    if not args.skip_structure:
        rng = np.random.default_rng(0)

        def structure_all():
            for li in range(args.layers):
                structure.structure_of_layer(a_learn[li], structure.firing_matrix(topk_eval[li], n), k,
                                             args.shuffles, rng)

        timed(f"Test 1 gain + {args.shuffles} shuffles", structure_all, args.layers * tr.tokens * k)

    # side by side: vectorised LRU vs the reference loop on the same slice
    sl = topk_eval[0, :20000]
    t = time.perf_counter()
    ref = simulate_cache(sl.reshape(-1), 16, "lru")
    t_ref = time.perf_counter() - t
    t = time.perf_counter()
    vec = caches.lru_misses(sl, n, [16])[16]
    t_vec = time.perf_counter() - t
    print(f"same 20,000-token slice: reference loop {t_ref:.3f} s ({ref.requests - ref.hits} misses), "
          f"vectorised {t_vec:.3f} s ({vec} misses; ties inside a token differ by design): "
          f"vectorised/loop throughput ratio {t_ref / t_vec:.1f}×")
    lru_min = sum(dt for name, dt, _ in rows if name.startswith(("LRU", "MIN")))
    print(f"LRU + MIN replays together: {lru_min:.1f} s (target ≤ 120 s); peak RSS {rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
