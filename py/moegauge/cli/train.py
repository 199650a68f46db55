"""``moegauge train``: the recipe that produced the embedded model."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "train"


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..lm.train import TrainRecipe

    r = TrainRecipe()
    p = subparsers.add_parser(
        NAME,
        help="train the embedded OLMoE from scratch on the local byte corpus (about 12 CPU-minutes)",
        description=(
            "Train a small OLMoE (4 layers, hidden 256, 8 experts, top-2, byte vocabulary) from scratch on "
            "the local real-text corpus and write a bf16 checkpoint with its model card. The defaults are "
            "the recipe of the shipped model; with the same machine type, torch version and thread count "
            "the run is reproducible. Progress survives interruption: rerunning resumes from the last "
            f"saved step (every {r.save_every} steps)."
        ),
    )
    p.add_argument("--out", type=Path, default=None,
                   help="checkpoint directory (default: the shipped location, moegauge/embedded/olmoe-tiny)")
    p.add_argument("--steps", type=int, default=r.steps, help=f"optimiser steps (default {r.steps})")
    p.add_argument("--seed", type=int, default=r.seed, help=f"seed (default {r.seed})")
    p.add_argument("--threads", type=int, default=r.threads,
                   help=f"CPU threads; results depend on it (default {r.threads})")
    return p


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ..lm.model import EMBEDDED_DIR
    from ..lm.train import TrainRecipe, train

    recipe = dataclasses.replace(TrainRecipe(), steps=args.steps, seed=args.seed, threads=args.threads)
    out = args.out or EMBEDDED_DIR
    train(recipe, out, log=lambda s: print(s, flush=True))
    print(out)
    return 0
