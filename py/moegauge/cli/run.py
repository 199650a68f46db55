"""``moegauge run``: the main job — the paper's table measured on a real MoE (see moegauge.lm.study)."""

from __future__ import annotations

import argparse

from ._common import positive_int

NAME = "run"


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..lm.placement import add_placement_args
    from ..lm.study import ALL_STAGES, STAGES, RunConfig

    c = RunConfig()
    p = subparsers.add_parser(
        NAME,
        help="measure β / convergence / PPL / memory on the embedded model (or --model) → evidence/",
        description=(
            "Stages: " + " → ".join(STAGES) + " (plus, on request: `spread`, reruns with other seeds, one "
            "thread and AVX2 kernels, ~30 min; and `claims`, which rewrites evidence/claims/measured.json "
            "at the precision the spread supports). Captures post-RoPE keys of real held-out text, measures β "
            "and the one-bit cosine raw / centered / SRHT / learned (with and without DC-mean centering) per "
            "layer, the learned rotations' convergence, held-out perplexity with a 1-bit K cache (and one "
            "layer at a time), and KV memory at 8192 tokens from the stored tensors, for the model and a "
            "random-init control. Finished stages are skipped when their configuration, code and inputs are "
            "unchanged (--force reruns); Ctrl-C leaves no half-written artifact."
        ),
    )
    p.add_argument("--model", default=None, help="local checkpoint directory or hub name (default: embedded)")
    p.add_argument("--stages", default=",".join(STAGES),
                   help=f"comma-separated subset of {','.join(ALL_STAGES)} (default: all but spread and claims)")
    p.add_argument("--force", action="store_true", help="rerun stages even when their artifacts are current")
    p.add_argument("--no-control", action="store_true", help="skip the random-init control arm")
    p.add_argument("--rotation-steps", type=positive_int, default=c.rotation_steps,
                   help=f"learned-rotation steps per layer (default {c.rotation_steps})")
    p.add_argument("--ppl-windows", type=positive_int, default=c.ppl_windows,
                   help=f"held-out windows per domain for perplexity (default {c.ppl_windows})")
    p.add_argument("--scope", choices=("all_kv_heads", "head_dim"), default=c.scope,
                   help="d = all KV heads of a layer concatenated (default) or one head")
    p.add_argument("--kv-decode-len", type=positive_int, default=c.kv_decode_len,
                   help=f"kvcache stage: tokens per held-out window decoded one at a time (default {c.kv_decode_len})")
    p.add_argument("--kv-decode-windows", type=positive_int, default=c.kv_decode_windows,
                   help=f"kvcache stage: held-out windows per domain (default {c.kv_decode_windows})")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_placement_args(p, dtype_default=c.model_dtype,
                       dtype_help="; part of the configuration, unlike where the weights are placed")
    return p


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from ..errors import InputError
    from ..lm.model import local_checkpoint
    from ..lm.placement import placement_from_args
    from ..lm.study import ALL_STAGES, RunConfig, Study
    from ..paths import find_repo_root

    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = sorted(set(stages) - set(ALL_STAGES))
    if unknown:
        raise InputError("--stages", f"unknown stages {unknown}; known: {', '.join(ALL_STAGES)}")
    local_checkpoint(args.model)  # a missing or corrupt checkpoint is named now, not after the corpus stage
    config = dataclasses.replace(RunConfig(), model=args.model, control=not args.no_control,
                                 rotation_steps=args.rotation_steps, ppl_windows=args.ppl_windows, scope=args.scope,
                                 model_dtype=args.model_dtype, kv_decode_len=args.kv_decode_len,
                                 kv_decode_windows=args.kv_decode_windows)
    placement = placement_from_args(args)
    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    t0 = time.perf_counter()
    study = Study(config, find_repo_root(), force=args.force, argv=args.command_line,
                  progress=False if args.quiet else None, log=lambda s: print(s, flush=True), placement=placement)
    timings = study.run(stages)
    print("stage times: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items())
          + f"; total {time.perf_counter() - t0:.0f}s")
    return 0
