"""``moegauge train``: the recipe that produced the embedded model."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import check_dir_out, nonnegative_int, positive_int, refuse_overwriting_inputs

NAME = "train"


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..lm.model import EMBEDDED_NAME
    from ..lm.train import TrainRecipe

    r = TrainRecipe()
    p = subparsers.add_parser(
        NAME,
        help="train the embedded OLMoE (64 experts, top-8) from scratch on the pinned corpus",
        description=(
            "Train a small OLMoE (4 layers, hidden 256, 64 experts, top-8, byte vocabulary) from scratch on "
            "the pinned real-text corpus and write a bf16 checkpoint with its model card. The defaults are "
            "the recipe of the shipped model; with the same machine type, torch version and thread count "
            "the run is reproducible. Progress survives interruption: rerunning resumes from the last "
            f"saved step (every {r.save_every} steps). The shipped model is replaced only with "
            "--replace-embedded."
        ),
    )
    p.add_argument("--out", type=Path, default=Path("trained") / EMBEDDED_NAME,
                   help=f"checkpoint directory (default: trained/{EMBEDDED_NAME})")
    p.add_argument("--replace-embedded", action="store_true",
                   help="write into the shipped location (moegauge/embedded/...) instead of --out")
    p.add_argument("--previous", type=Path, default=None,
                   help="a previous checkpoint to measure on the same held-out text for the model card")
    p.add_argument("--steps", type=positive_int, default=r.steps, help=f"optimiser steps (default {r.steps})")
    p.add_argument("--seed", type=nonnegative_int, default=r.seed, help=f"seed (default {r.seed})")
    p.add_argument("--threads", type=positive_int, default=r.threads,
                   help=f"CPU threads; results depend on it (default {r.threads})")
    return p


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ..errors import InputError
    from ..lm.model import EMBEDDED_DIR
    from ..lm.train import TrainRecipe, train

    recipe = dataclasses.replace(TrainRecipe(), steps=args.steps, seed=args.seed, threads=args.threads)
    out = EMBEDDED_DIR if args.replace_embedded else check_dir_out(args.out, "--out")
    refuse_overwriting_inputs([("--out", out)], [args.previous])
    if out.exists() and not (out / "config.json").is_file():
        raise InputError(out, "exists and is not a checkpoint directory; choose another --out")
    train(recipe, out, log=lambda s: print(s, flush=True), previous=args.previous)
    print(out)
    return 0
