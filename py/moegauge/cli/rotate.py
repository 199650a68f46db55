"""``moegauge rotate``: β and one-bit cosine before/after an SRHT or a learned rotation."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..choices import INITS, PARAMETRIZATIONS
from . import _common

NAME = "rotate"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        NAME,
        help="rotate keys (srht | learned) and measure β and the one-bit cosine before and after",
        description=(
            "Center the keys (default per_channel), then rotate them: 'srht' is the seeded, "
            "data-independent randomized Hadamard transform (it drives β toward the Gaussian floor "
            "2/π, cosine √(2/π) ≈ 0.798); 'learned' maximises the mean one-bit cosine by gradient "
            "ascent on an orthogonal parametrisation (Cayley or matrix exponential), on a token "
            "split (--held-out-fraction of the tokens is held out for the trace). Records β "
            "(pooled) and the mean cosine before and after; for 'learned' also the per-step trace, "
            "the first steps whose cosine crosses 0.85/0.90/0.92, and the orthogonality error. "
            "Writes runs/rotate/<id>.json (or --out)."
        ),
    )
    _common.add_key_args(p)
    p.add_argument("--method", choices=("srht", "learned"), default="srht", help="rotation (default: srht)")
    p.add_argument("--seed", type=_common.nonnegative_int, default=0, help="seed of the SRHT signs / the learning run (default 0)")
    _common.add_center_arg(p, "per_channel")
    g = p.add_argument_group("learned rotation")
    g.add_argument("--steps", type=_common.nonnegative_int, default=200, help="optimiser steps (default 200)")
    g.add_argument("--parametrization", choices=PARAMETRIZATIONS, default="cayley", help="orthogonal map (default cayley)")
    g.add_argument("--lr", type=_common.positive_finite_float, default=1e-3, help="Adam learning rate (default 1e-3)")
    g.add_argument("--batch-size", type=_common.positive_int, default=None, help="minibatch of key vectors per step (default: all)")
    g.add_argument("--init", choices=INITS, default="identity", help="starting rotation (default identity)")
    g.add_argument(
        "--held-out-fraction",
        type=_common.fraction_below_one,
        default=0.2,
        help="fraction of tokens held out for the trace and the 'after' numbers (default 0.2; 0 = none)",
    )
    g.add_argument("--save-rotation", type=Path, default=None, help="also write the rotation and mean to this .safetensors file")
    _common.add_output_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from .. import theorems as th
    from ..artifacts import measure, table
    from ..centering import center
    from ..errors import InputError
    from ..hadamard import srht
    from ..keyfile import load_keys, require_nonzero_vectors
    from ..moments import beta_moment_ratio, beta_standard_error, one_bit_cosine

    _common.check_artifact_out(args.out)
    if args.save_rotation is not None:
        if args.method != "learned":
            raise InputError(args.save_rotation, "--save-rotation needs --method learned (an SRHT is stored as its --seed)")
        _common.check_file_out(args.save_rotation, "--save-rotation")
        _common.refuse_overwriting_inputs([("--save-rotation", args.save_rotation), ("--out", args.out)], [args.keys])
    kf = load_keys(args.keys, args.tensor)
    vectors = kf.vectors(args.dim)
    d = vectors.shape[1]
    dims = {"d": d, "dim_meaning": args.dim}
    relies = [th.MOMENT_RATIO_LE_ONE, th.COS_SIGN_QUANT_FORMULA, th.ATTENTION_SCORE_GAUGE_INVARIANCE]
    if args.center != "none":
        relies.append(th.DC_MEAN_DECOMPOSITION_NORM)
    config = {"tensor": kf.tensor, "dim": args.dim, "center": args.center, "method": args.method}
    tables = {}
    before_write = None

    if args.method == "srht":
        cen = center(vectors, args.center).values
        require_nonzero_vectors(cen, args.keys)
        before, after = cen, srht(cen, args.seed)
        relies += [th.SRHT_ACHIEVES_ISOTROPIC_FLOOR, th.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ]
        split = "all"
        extra = {}
    else:
        from ..rotation import learn_rotation

        if args.center != "none":
            relies.append(th.DC_CENTERING_LIFTS_ROTATIONAL_CEILING)

        tokens = kf.tokens
        n_ho = int(round(args.held_out_fraction * tokens))
        if args.held_out_fraction > 0:
            n_ho = min(max(n_ho, 1), tokens - 1)
        gen = torch.Generator(device="cpu").manual_seed(args.seed)
        perm = torch.randperm(tokens, generator=gen)
        ho_idx, tr_idx = perm[:n_ho].sort().values, perm[n_ho:].sort().values

        def rows_of(idx):
            sub = kf.keys[idx]
            return sub.reshape(-1, kf.head_dim) if args.dim == "head_dim" else sub.reshape(len(idx), -1)

        train = rows_of(tr_idx)
        held = rows_of(ho_idx) if n_ho else None
        res = learn_rotation(
            train,
            args.steps,
            args.seed,
            center=args.center,
            held_out=held,
            parametrization=args.parametrization,
            lr=args.lr,
            batch_size=args.batch_size,
            init=args.init,
            dtype=train.dtype,
        )
        eval_keys = held if held is not None else train
        before = res.center(eval_keys).values
        require_nonzero_vectors(before, args.keys)
        after = before @ res.rotation.T
        split = res.trace_split
        config.update(
            steps=args.steps,
            parametrization=args.parametrization,
            lr=args.lr,
            batch_size=args.batch_size,
            init=args.init,
            held_out_fraction=args.held_out_fraction,
            held_out_tokens=n_ho,
            train_tokens=tokens - n_ho,
            save_rotation=None if args.save_rotation is None else str(args.save_rotation),
        )
        extra = {
            "orthogonality_error": measure("orthogonality_error", res.orthogonality_error, "max |RᵀR − I| of the learned R, float64"),
            "steps": measure("steps", args.steps, "optimiser steps run"),
        }
        tables["trace"] = table(
            f"metrics of R after each step, on the {split} keys",
            {
                "step": ("index", "optimiser steps taken (0 = initial rotation)"),
                "beta": ("beta", "β pooled over rotated coordinates"),
                "one_bit_cosine": ("one_bit_cosine", "mean one-bit cosine"),
            },
            [{"step": e.step, "beta": e.beta, "one_bit_cosine": e.one_bit_cosine} for e in res.trace],
        )
        tables["crossings"] = table(
            "first step whose mean one-bit cosine reaches each threshold (the seeds' '0.85/0.90/0.92', which are cosines)",
            {
                "threshold": ("one_bit_cosine", "threshold on the mean one-bit cosine"),
                "reached": ("label", "'yes' if the trace reached the threshold, else 'no'"),
                "step": ("steps", "first step reaching it; if not reached, the steps run (censored)"),
            },
            [
                {"threshold": th_, "reached": "yes" if s is not None else "no", "step": s if s is not None else args.steps}
                for th_, s in res.first_step_crossing.items()
            ],
        )
        if args.save_rotation is not None:
            from ..rotationfile import save_rotation

            def before_write() -> None:
                save_rotation(args.save_rotation, res.rotation, res.mean, res.centering, args.dim)

    n = before.shape[0]
    cos_b, cos_a = one_bit_cosine(before), one_bit_cosine(after)
    measures = {
        "beta_before": measure("beta", beta_moment_ratio(before), f"β of the centered, unrotated keys ({split})", n=n, **dims),
        "beta_after": measure("beta", beta_moment_ratio(after), f"β of the rotated keys ({split})", n=n, **dims),
        "beta_after_standard_error": measure("beta", beta_standard_error(after), "delta-method SE of beta_after (vectors as clusters)", n=n, **dims),
        "one_bit_cosine_before": measure("one_bit_cosine", cos_b.mean(), f"mean one-bit cosine before rotation ({split})", n=n, **dims),
        "one_bit_cosine_after": measure("one_bit_cosine", cos_a.mean(), f"mean one-bit cosine after rotation ({split})", n=n, **dims),
        "residual_energy_after": measure("residual_energy", (1 - cos_a * cos_a).mean(), "mean 1 − c² after rotation", n=n, **dims),
        "dimension": measure("dimension", d, f"the rotated d ({args.dim})", **dims),
        **extra,
    }
    parts = [args.keys.stem, NAME, args.method]
    if args.method == "learned":
        parts.append(args.parametrization)
    artifact_id = _common.resolve_id(args, _common.default_id(*parts, args.dim, args.center, f"s{args.seed}"))
    return _common.emit(
        args,
        kind=NAME,
        artifact_id=artifact_id,
        description=f"{args.method} rotation of {args.keys.name} (d={d}, {args.dim}, centering {args.center}): β and one-bit cosine before and after.",
        measures=measures,
        tables=tables,
        relies_on=relies,
        config=config,
        seed=args.seed,
        inputs=[(args.keys, "keys")],
        before_write=before_write,
        also_writes=[("--save-rotation", args.save_rotation)],
    )
