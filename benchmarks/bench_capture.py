"""Capture overhead: tokens/s of a forward pass with K/Q/V/router capture streamed to disk vs the
same forward pass without it, on the embedded model, measured side by side in one run.

Target (issues 6, 9): capture at most 15% slower. The capture skips the output head (``logits_to_keep=1``)
and takes router choices from the gates rather than ``output_router_logits`` (which also computes the
auxiliary loss); the plain forward computes full logits, as a measurement run does. A last line reports
what float16 storage does to β and the one-bit cosine (float16 against float32 on the same windows). Rounds alternate (plain, capture, plain, …) and the
median of each is reported, so machine noise hits both sides alike.

    python benchmarks/bench_capture.py [--windows 64] [--seq-len 256] [--rounds 5] [--what ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from moegauge.lm.capture import QUANTITIES, capture_to_dir, storage_dtype_effect
from moegauge.lm.corpus import build_corpus, windows
from moegauge.lm.model import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="storage type of captured floats")
    ap.add_argument("--model", default=None, help="checkpoint directory or hub name (default: the embedded model)")
    ap.add_argument("--what", default="k_post_rope,router_topk",
                    help="captured quantities (default: what the β study needs; 'all' for every one)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    what = list(QUANTITIES) if args.what == "all" else args.what.split(",")
    model = load_model(args.model).model
    corpus = build_corpus()
    data = b"".join(d.heldout for _, d in sorted(corpus.domains.items()))
    wins = windows(data, args.seq_len, args.windows)
    batches = [wins[i : i + args.batch_size] for i in range(0, wins.shape[0], args.batch_size)]
    tokens = wins.numel()
    plain, captured = [], []
    out = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    try:
        with torch.no_grad():
            for b in batches[:2]:  # warm-up
                model(input_ids=b, use_cache=False)
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            with torch.no_grad():
                for b in batches:
                    model(input_ids=b, use_cache=False)
            plain.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            capture_to_dir(model, batches, out / "cap", what, dtype=getattr(torch, args.dtype))
            captured.append(time.perf_counter() - t0)
            shutil.rmtree(out / "cap")
        # What float16 storage does to the measurements: the same windows stored both ways.
        capture_to_dir(model, batches, out / "fp32", ["k_post_rope"], dtype=torch.float32)
        capture_to_dir(model, batches, out / "fp16", ["k_post_rope"], dtype=torch.float16)
        effect = storage_dtype_effect(out / "fp32", out / "fp16")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    p, c = statistics.median(plain), statistics.median(captured)
    print(f"{tokens} tokens per round, {args.rounds} rounds, capturing {', '.join(what)} as {args.dtype}")
    print(f"  forward only:         {p:6.3f} s  {tokens / p:9.0f} tok/s")
    print(f"  forward + capture:    {c:6.3f} s  {tokens / c:9.0f} tok/s")
    print(f"  capture / forward:    {c / p:6.3f}×  ({(c / p - 1) * 100:+.1f}%; target ≤ +15%)")
    print(f"  float16 vs float32 storage, same windows, {effect['layers']} layers: max |Δβ| "
          f"{effect['max_beta_diff']:.2e}, max |Δ one-bit cosine| {effect['max_one_bit_cosine_diff']:.2e} "
          "(target < 1e-3)")


if __name__ == "__main__":
    main()
