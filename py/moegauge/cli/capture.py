"""``moegauge capture``: stream K (Q, V, router choices) of a causal LM on corpus text to disk."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import check_dir_out, positive_int, refuse_overwriting_inputs

NAME = "capture"


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..lm.capture import QUANTITIES
    from ..lm.placement import add_placement_args

    p = subparsers.add_parser(
        NAME,
        help="capture keys/queries/values/router top-k of a model to sharded safetensors",
        description=(
            "Run a Hugging Face causal LM over windows of the local real-text corpus and stream, per layer, "
            "the requested tensors to sharded safetensors with a manifest.json (written last: a directory "
            "without one is incomplete). Memory stays bounded by one shard. Quantities: "
            + ", ".join(QUANTITIES) + " (see moegauge.lm.capture)."
        ),
    )
    p.add_argument("--model", default=None,
                   help="local checkpoint directory or hub name (default: the embedded model)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--what", default="k_pre_norm,k_pre_rope,k_post_rope,q_post_rope,router_topk",
                   help="comma-separated quantities (default: all keys, post-RoPE queries, router top-k)")
    p.add_argument("--split", choices=("train", "heldout"), default="heldout", help="corpus split (default heldout)")
    p.add_argument("--windows", type=positive_int, default=16, help="windows per domain (default 16)")
    p.add_argument("--seq-len", type=positive_int, default=256, help="tokens per window (default 256)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="windows per forward pass (default 8)")
    p.add_argument("--shard-tokens", type=positive_int, default=8192, help="tokens per shard file (default 8192)")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                   help="storage type of captured floats (default float32; float16 halves the bytes written)")
    add_placement_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from ..errors import InputError
    from ..lm.capture import QUANTITIES, capture_to_dir
    from ..lm.corpus import build_corpus
    from ..lm.encoding import encoder_for
    from ..lm.model import load_model, local_checkpoint
    from ..lm.placement import placement_from_args

    what = [w.strip() for w in args.what.split(",") if w.strip()]
    bad = sorted(set(what) - set(QUANTITIES))
    if bad:
        raise InputError("--what", f"unknown quantities {bad}; known: {', '.join(QUANTITIES)}")
    check_dir_out(args.out, "--out")
    refuse_overwriting_inputs([("--out", args.out)], [local_checkpoint(args.model)])
    placement = placement_from_args(args)
    lm = load_model(args.model, dtype=getattr(torch, args.model_dtype), placement=placement)
    enc = encoder_for(lm.model, lm.local_dir or lm.source)
    corpus = build_corpus()
    parts = [enc.windows(d.train if args.split == "train" else d.heldout, args.seq_len, args.windows).tokens
             for _, d in sorted(corpus.domains.items())]
    wins = torch.cat(parts)
    batches = [wins[i : i + args.batch_size] for i in range(0, wins.shape[0], args.batch_size)]
    with tqdm(total=wins.numel(), desc="capture", unit="tok") as bar:
        manifest = capture_to_dir(lm.model, batches, args.out, what, shard_tokens=args.shard_tokens,
                                  meta={"model": lm.source, "weights_sha256": lm.weight_sha256,
                                        "corpus_sha256": corpus.sha256, "split": args.split,
                                        "seq_len": args.seq_len, "windows_per_domain": args.windows,
                                        "model_dtype": args.model_dtype},
                                  progress=bar.update, dtype=getattr(torch, args.dtype))
    print(f"{manifest['tokens']} tokens in {len(manifest['shards'])} shard(s) → {args.out}")
    return 0
