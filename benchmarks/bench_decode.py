"""Greedy decode speed and peak memory of the KV caches on the embedded model, by context length.

For every (context, cache) pair a fresh subprocess loads the embedded model, resets its peak RSS
(``echo 5 > /proc/self/clear_refs``; the table says when the kernel refused), prefills ``context``
tokens of real text in chunks of ``--prefill-chunk``, then times ``--steps`` greedy decode steps
(after ``--warmup`` untimed ones). Each cache is measured in its own process so its peak RSS is its
own. Printed per row: decode tokens/s and its ratio to fp16 in the same run. Memory is measured after
the timed steps, over ``MEMORY_STEPS`` more: freed heap is returned to the OS (glibc
``malloc_trim``), then RSS before decode (model + filled cache) is read, the peak is reset, and the
peak RSS during those steps (VmHWM) is read; the
cache's stored and allocated bytes; and the decode excess, peak − RSS before decode, which is the
transient working set of a decode step (one layer's at a time: scores, table indices, values
converted for the product; for fp16 and the dequantize caches the full history re-concatenated and
converted).

Caches (``CACHES``, a dict of factories — add a peer by name): fp16 (``Fp16Cache``), the old
dequantize 1-bit K cache with learned and SRHT transforms (``OneBitKCache``), and the packed
1-bit K cache with learned and SRHT transforms (``PackedOneBitKCache`` under ``packed_attention``).
Learned rotations: ``evidence/rotations/rotations_trained.safetensors`` (learned_centered,
scope all_kv_heads).

Run: ``python benchmarks/bench_decode.py --contexts 1024 8192 --steps 32``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import OtherLoad, environment, print_table, setup_threads  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ROTATIONS = REPO / "evidence" / "rotations" / "rotations_trained.safetensors"


def learned_transforms(layers: int):
    from safetensors.torch import load_file

    from moegauge.lm.kcache import KeyTransform

    t = load_file(str(ROTATIONS))
    return [KeyTransform(mean=t[f"layer{i}.learned_centered.mean"], rotation=t[f"layer{i}.learned_centered.rotation"],
                         label="learned_centered") for i in range(layers)]


def srht_transforms(layers: int, d: int):
    from moegauge.lm.kcache import KeyTransform

    return [KeyTransform(mean=torch.zeros(d), srht_seed=i, label="srht") for i in range(layers)]


@dataclass(frozen=True)
class CacheSpec:
    """How to build one cache for a model, and whether it runs under ``packed_attention``."""

    build: Callable[[torch.nn.Module], object]
    packed: bool = False


def _geometry(model):
    from moegauge.lm.model import kv_geometry

    layers, kv_heads, head_dim = kv_geometry(model.config)
    return layers, kv_heads * head_dim


def _fp16(model):
    from moegauge.lm.kcache import Fp16Cache

    return Fp16Cache(_geometry(model)[0])


def _onebit(kind):
    def build(model):
        from moegauge.lm.kcache import OneBitKCache

        layers, d = _geometry(model)
        return OneBitKCache(learned_transforms(layers) if kind == "learned" else srht_transforms(layers, d))
    return build


def _packed(kind):
    def build(model):
        from moegauge.cache.packed import PackedOneBitKCache

        layers, d = _geometry(model)
        return PackedOneBitKCache(learned_transforms(layers) if kind == "learned" else srht_transforms(layers, d))
    return build


def _per_head_fp16(model):
    """Packed 1-bit K with one rotation per KV head stored in fp16 (the stage's ≤ 1.25-bit row). The
    rotations are SRHT matrices per head here: a decode step's cost does not depend on which
    orthogonal matrix is stored, only on its shape and dtype."""
    from moegauge.cache.packed import PackedOneBitKCache
    from moegauge.hadamard import srht_matrix
    from moegauge.lm.kcache import KeyTransform
    from moegauge.lm.model import kv_geometry

    layers, kv_heads, head_dim = kv_geometry(model.config)
    rot = torch.stack([srht_matrix(head_dim, h).half() for h in range(kv_heads)])
    return PackedOneBitKCache([KeyTransform(mean=torch.zeros(kv_heads, head_dim).half(), rotation=rot,
                                            scope="head_dim", label="per_head_fp16") for _ in range(layers)])


def _kivi(model):
    from moegauge.cache.peers import KiviCache

    return KiviCache(_geometry(model)[0])


def _qjl(factor):
    def build(model):
        from moegauge.cache.peers import QjlCache
        from moegauge.lm.model import kv_geometry

        layers, _, head_dim = kv_geometry(model.config)
        return QjlCache(layers, head_dim, m=factor * head_dim)
    return build


def _hf(backend, nbits):
    def build(model):
        from moegauge.cache.hf_peers import try_peer

        factory, error = try_peer(backend, nbits, model)
        if factory is None:
            raise RuntimeError(f"{backend} {nbits}-bit cannot run here: {error}")
        return factory()
    return build


#: name → factory. The first entry is the reference the ratios divide by.
CACHES: dict[str, CacheSpec] = {
    "fp16": CacheSpec(_fp16),
    "dequant_learned": CacheSpec(_onebit("learned")),
    "dequant_srht": CacheSpec(_onebit("srht")),
    "packed_learned": CacheSpec(_packed("learned"), packed=True),
    "packed_srht": CacheSpec(_packed("srht"), packed=True),
    "packed_per_head_fp16": CacheSpec(_per_head_fp16, packed=True),
    "kivi_2bit": CacheSpec(_kivi),
    "qjl_m1d": CacheSpec(_qjl(1)),
    "hf_hqq_2bit": CacheSpec(_hf("hqq", 2)),
    "hf_quanto_2bit": CacheSpec(_hf("quanto", 2)),
}
REFERENCE = "fp16"
#: Decode steps run after the timed ones to measure memory (peak RSS over these steps).
MEMORY_STEPS = 4


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS; False if the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _release_free_heap() -> bool:
    """Return freed heap pages to the OS (glibc ``malloc_trim``), so RSS before decode is live data
    (model + cache) and the decode peak shows the step's own transient memory; False if unavailable."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def _text(n: int) -> torch.Tensor:
    """n bytes of real text: this repository's Python sources, repeated as needed."""
    data = b"".join(p.read_bytes() for p in sorted((REPO / "py" / "moegauge").rglob("*.py")))
    reps = -(-n // len(data))
    return torch.tensor(list((data * reps)[:n]), dtype=torch.long).unsqueeze(0)


def worker(cache_name: str, context: int, steps: int, warmup: int, prefill_chunk: int, threads: int) -> dict:
    from moegauge.cache.packed import packed_attention
    from moegauge.lm.model import cache_kwargs, load_model

    setup_threads(threads)
    model = load_model(None).model
    spec = CACHES[cache_name]
    reset_ok = _reset_peak()
    ids = _text(context + 1)
    cache = spec.build(model)
    ctx = packed_attention(model) if spec.packed else contextlib.nullcontext()
    with torch.no_grad(), ctx:
        t0 = time.perf_counter()
        logits = None
        for start in range(0, context, prefill_chunk):
            logits = model(input_ids=ids[:, start:min(start + prefill_chunk, context)],
                           **cache_kwargs(model, cache)).logits
        prefill_s = time.perf_counter() - t0
        token = logits[:, -1:].argmax(-1)
        for _ in range(warmup):
            token = model(input_ids=token, **cache_kwargs(model, cache)).logits[:, -1:].argmax(-1)
        with OtherLoad() as load:
            t0 = time.perf_counter()
            for _ in range(steps):
                token = model(input_ids=token, **cache_kwargs(model, cache)).logits[:, -1:].argmax(-1)
            decode_s = time.perf_counter() - t0
        # Memory, after the timing (so trimming the heap cannot slow the timed steps down).
        trimmed = _release_free_heap()
        rss_before = _status_kib("VmRSS")
        _reset_peak()
        for _ in range(MEMORY_STEPS):
            token = model(input_ids=token, **cache_kwargs(model, cache)).logits[:, -1:].argmax(-1)
        peak = _status_kib("VmHWM")
    stored = cache.stored_nbytes()
    allocated = cache.allocated_nbytes() if hasattr(cache, "allocated_nbytes") else stored
    return {"cache": cache_name, "context": context, "tok_s": steps / decode_s, "prefill_s": prefill_s,
            "rss_before_kib": rss_before, "peak_decode_kib": peak, "reset_ok": reset_ok,
            "stored": sum(stored.values()), "allocated": sum(allocated.values()), "parts": stored,
            "other_load": load.label(), "trimmed": trimmed}


def _mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contexts", type=int, nargs="+", default=[1024, 4096, 8192, 16384],
                    help="context lengths (tokens) prefilled before decoding")
    ap.add_argument("--steps", type=int, default=32, help="timed greedy decode steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed decode steps before timing")
    ap.add_argument("--caches", nargs="+", default=list(CACHES), choices=list(CACHES),
                    help=f"caches to measure (the ratios need {REFERENCE!r})")
    ap.add_argument("--prefill-chunk", type=int, default=1024, help="tokens per prefill forward")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per worker (1: on a shared 2-core machine a second thread waits for a "
                         "timeslice at every parallel region, measured 30x slower per op)")
    ap.add_argument("--worker", metavar="CACHE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.contexts[0], args.steps, args.warmup, args.prefill_chunk,
                                args.threads)))
        return 0
    setup_threads(args.threads)
    print(f"# bench_decode: embedded model, greedy decode, {args.steps} timed steps | {environment()}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "py"), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    results = []
    for context in args.contexts:
        for name in args.caches:
            cmd = [sys.executable, __file__, "--worker", name, "--contexts", str(context), "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--prefill-chunk", str(args.prefill_chunk),
                   "--threads", str(args.threads)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode:
                print(f"# {name} @ {context} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = []
    for r in results:
        ref = next((x for x in results if x["cache"] == REFERENCE and x["context"] == r["context"]), None)
        excess = (r["peak_decode_kib"] - r["rss_before_kib"]) * 1024
        rows.append([r["context"], r["cache"], f"{r['tok_s']:.1f}",
                     f"{r['tok_s'] / ref['tok_s']:.2f}x" if ref else "-",
                     _mib(r["rss_before_kib"] * 1024), _mib(r["peak_decode_kib"] * 1024),
                     f"{r['peak_decode_kib'] / ref['peak_decode_kib']:.2f}x" if ref else "-",
                     _mib(r["stored"]), _mib(r["allocated"]), _mib(excess),
                     f"{r['prefill_s']:.1f}", r["other_load"]])
    print_table(["context", "cache", "tok/s", "vs fp16", "RSS before MiB", "peak decode MiB", "peak vs fp16",
                 "stored MiB", "allocated MiB", "decode excess MiB", "prefill s", "other load"], rows)
    if results and not all(r["reset_ok"] for r in results):
        print("# note: /proc/self/clear_refs refused the reset: peaks include the model load")
    else:
        print("# peak RSS reset with /proc/self/clear_refs (5) before the decode steps")
    for r in results:
        print(f"# stored bytes {r['cache']} @ {r['context']}: {r['parts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
