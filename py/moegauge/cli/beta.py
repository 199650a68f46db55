"""``moegauge beta``: moment ratio, one-bit cosine and per-head moments of saved keys."""

from __future__ import annotations

import argparse

from ..choices import HEAD_MOMENT_REDUCTIONS
from . import _common

NAME = "beta"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        NAME,
        help="β, one-bit cosine, per-head variance/kurtosis and gauge G of a key file",
        description=(
            "Measure the keys as they are (optionally DC-mean centered, never rotated): β = "
            "(E|k|)²/E[k²] pooled over all coordinates with its delta-method standard error (rows "
            "as clusters), the mean one-bit cosine ‖k‖₁/(√d‖k‖₂) and residual energy 1 − c², and per "
            "KV head: variance, excess kurtosis (of the uncentered keys), β and cosine, plus the "
            "gauge G = mean over heads of max(0, κ/σ²). Writes runs/beta/<id>.json (or --out)."
        ),
    )
    _common.add_key_args(p)
    _common.add_center_arg(p, "none")
    p.add_argument(
        "--moments",
        choices=HEAD_MOMENT_REDUCTIONS,
        default="pooled",
        help="per-head moments over all (token, channel) values (pooled, default) or per channel across tokens, averaged",
    )
    _common.add_output_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from .. import theorems as th
    from ..errors import InputError
    from ..artifacts import measure, table
    from ..centering import center
    from ..keyfile import load_keys, require_nonzero_vectors
    from ..moments import beta_moment_ratio, beta_standard_error, head_moments, one_bit_cosine

    _common.check_artifact_out(args.out)
    kf = load_keys(args.keys, args.tensor)
    vectors = kf.vectors(args.dim)
    cen = center(vectors, args.center).values
    require_nonzero_vectors(cen, args.keys)
    n, d = cen.shape
    cos = one_bit_cosine(cen)
    dims = {"d": d, "dim_meaning": args.dim}
    measures = {
        "beta": measure("beta", beta_moment_ratio(cen), "β pooled over every coordinate of every vector", n=n, **dims),
        "beta_standard_error": measure(
            "beta", beta_standard_error(cen), "delta-method standard error of β (vectors as clusters)", n=n, **dims
        ),
        "one_bit_cosine_mean": measure("one_bit_cosine", cos.mean(), "mean one-bit cosine over vectors", n=n, **dims),
        "residual_energy_mean": measure(
            "residual_energy", (1 - cos * cos).mean(), "mean relative residual energy 1 − c² of the best 1-bit reconstruction", n=n, **dims
        ),
        "vectors": measure("count", n, "number of key vectors measured"),
        "tokens": measure("count", kf.tokens, "tokens in the key file"),
        "kv_heads": measure("count", kf.heads, "KV heads in the key file"),
        "dimension": measure("dimension", d, f"d of each vector ({args.dim})", **dims),
    }
    hm = head_moments(kf.keys, reduce=args.moments)
    flat = (hm.variance <= 0) | ~torch.isfinite(hm.excess_kurtosis)
    if bool(flat.any()):
        heads = ", ".join(str(int(h)) for h in flat.nonzero().flatten())
        raise InputError(args.keys, f"KV head(s) {heads} have zero variance (kurtosis undefined)")
    per_head = cen.reshape(kf.tokens, kf.heads, kf.head_dim)
    rows = []
    for h in range(kf.heads):
        hv = per_head[:, h, :]
        rows.append(
            {
                "head": h,
                "variance": hm.variance[h],
                "excess_kurtosis": hm.excess_kurtosis[h],
                "beta": beta_moment_ratio(hv),
                "one_bit_cosine_mean": one_bit_cosine(hv).mean(),
            }
        )
    measures["gauge_g"] = measure(
        "gauge", hm.gauge, f"G = mean over heads of max(0, κ/σ²), {args.moments} moments of the uncentered keys", n=kf.tokens
    )
    tables = {
        "heads": table(
            "per KV head: moments of the uncentered keys; β and cosine of the (centered) head slices",
            {
                "head": ("index", "KV head index"),
                "variance": ("variance", f"σ² ({args.moments})"),
                "excess_kurtosis": ("excess_kurtosis", f"κ ({args.moments})"),
                "beta": ("beta", "β pooled over the head's coordinates"),
                "one_bit_cosine_mean": ("one_bit_cosine", "mean one-bit cosine of the head's head_dim vectors"),
            },
            rows,
        )
    }
    relies = [th.MOMENT_RATIO_LE_ONE, th.COS_SIGN_QUANT_FORMULA, th.ONE_BIT_SCALE_OPTIMAL]
    if args.center != "none":
        relies.append(th.DC_MEAN_DECOMPOSITION_NORM)
    artifact_id = _common.resolve_id(args, _common.default_id(args.keys.stem, NAME, args.dim, args.center))
    return _common.emit(
        args,
        kind=NAME,
        artifact_id=artifact_id,
        description=f"Moment ratio and one-bit cosine of {args.keys.name} ({args.dim}, centering {args.center}).",
        measures=measures,
        tables=tables,
        relies_on=relies,
        config={"tensor": kf.tensor, "dim": args.dim, "center": args.center, "moments": args.moments},
        seed=None,
        inputs=[(args.keys, "keys")],
    )
