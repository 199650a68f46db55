"""``moegauge quantize``: 1-bit sign quantization of saved keys, bytes counted from stored tensors."""

from __future__ import annotations

import argparse

from . import _common

NAME = "quantize"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        NAME,
        help="1-bit sign quantization (packed signs + fp16 scale): bytes, cosine, residual energy",
        description=(
            "Center (default per_channel), optionally rotate (srht with --seed, or a rotation file "
            "written by 'rotate --save-rotation', which also fixes the centering and its mean), then "
            "store each vector as packed sign bits (8 per byte) plus an fp16 scale α = ‖x‖₁/d. "
            "Reports bytes of every stored tensor (signs, scales, centering mean, rotation) against "
            "the same keys stored in fp16, the mean cosine and relative residual energy of the "
            "reconstruction (in rotated and in original coordinates), and the gap to the identity "
            "residual = 1 − c². Writes runs/quantize/<id>.json (or --out)."
        ),
    )
    _common.add_key_args(p)
    p.add_argument(
        "--rotation",
        default="none",
        help="none (default), srht, or a rotation .safetensors file from 'moegauge rotate --save-rotation'",
    )
    p.add_argument("--seed", type=_common.nonnegative_int, default=0, help="SRHT seed (default 0)")
    _common.add_center_arg(p, None, extra=" (default: per_channel, or the rotation file's centering)")
    _common.add_output_args(p)
    return p


def _nbytes(t) -> int:
    return t.numel() * t.element_size()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from .. import theorems as th
    from ..artifacts import measure
    from ..centering import center
    from ..errors import InputError
    from ..hadamard import srht, srht_inverse
    from ..keyfile import load_keys, require_nonzero_vectors
    from ..moments import one_bit_cosine
    from ..signquant import dequantize, quantize

    _common.check_artifact_out(args.out)
    if args.rotation not in ("none", "srht"):
        _common.refuse_overwriting_inputs([("--out", args.out)], [args.keys, args.rotation])
    kf = load_keys(args.keys, args.tensor)
    vectors = kf.vectors(args.dim)
    n, d = vectors.shape
    dims = {"d": d, "dim_meaning": args.dim}
    inputs = [(args.keys, "keys")]
    relies = [th.COS_SIGN_QUANT_FORMULA, th.ONE_BIT_SCALE_OPTIMAL]
    rot_file = None
    rotation_label = args.rotation
    if args.rotation not in ("none", "srht"):
        from ..rotationfile import load_rotation

        rot_file = load_rotation(args.rotation)
        rotation_label = "learned"
        inputs.append((Path(args.rotation), "rotation"))
        if rot_file.rotation.shape[0] != d:
            raise InputError(args.rotation, f"rotation is {rot_file.rotation.shape[0]}×{rot_file.rotation.shape[0]} but the keys give d={d} ({args.dim})")
        if rot_file.dim_meaning != args.dim:
            raise InputError(args.rotation, f"rotation was learned for --dim {rot_file.dim_meaning}, keys measured with --dim {args.dim}")
        if args.center is not None and args.center != rot_file.centering:
            raise InputError(args.rotation, f"rotation file uses centering {rot_file.centering}, --center says {args.center}")
        method = rot_file.centering
    else:
        method = args.center or "per_channel"

    if rot_file is not None and method == "per_channel":
        cen = center(vectors, method, mean=rot_file.mean)
    else:
        cen = center(vectors, method)
    x = cen.values
    require_nonzero_vectors(x, args.keys)
    if args.rotation == "srht":
        y = srht(x, args.seed)
        relies += [th.ATTENTION_SCORE_GAUGE_INVARIANCE, th.SRHT_ACHIEVES_ISOTROPIC_FLOOR]
        rotation_store = torch.tensor([args.seed], dtype=torch.int64)  # the SRHT is stored as its seed
    elif rot_file is not None:
        y = x @ rot_file.rotation.T.to(x.dtype)
        relies.append(th.ATTENTION_SCORE_GAUGE_INVARIANCE)
        rotation_store = rot_file.rotation.to(torch.float32)
    else:
        y = x
        rotation_store = torch.empty(0)
    if method != "none":
        relies.append(th.DC_MEAN_DECOMPOSITION_NORM)
    try:
        q = quantize(y)
    except ValueError as exc:
        raise InputError(args.keys, str(exc)) from None
    y_hat = dequantize(q, y.dtype)

    # Reconstruction in the original coordinates: undo the rotation, add the mean back.
    if args.rotation == "srht":
        x_hat = srht_inverse(y_hat, args.seed)
    elif rot_file is not None:
        x_hat = y_hat @ rot_file.rotation.to(y.dtype)
    else:
        x_hat = y_hat
    # Stored centering metadata: one fp32 mean per layer (per_channel) or one fp16 scalar per vector.
    if method == "per_channel":
        mean_store = cen.offset.to(torch.float32)
        k_hat = x_hat + mean_store.to(x_hat.dtype)
    elif method == "per_vector":
        mean_store = cen.offset.to(torch.float16)
        k_hat = x_hat + mean_store.to(x_hat.dtype)
    else:
        mean_store = torch.empty(0)
        k_hat = x_hat
    fp16_keys = vectors.to(torch.float16)

    def rel_err(a, b):
        return ((a - b) ** 2).sum(-1) / (a * a).sum(-1)

    cos = one_bit_cosine(y)
    resid = rel_err(y, y_hat)
    parts = q.nbytes_breakdown()
    total = parts["bits"] + parts["scale"] + _nbytes(mean_store) + _nbytes(rotation_store)
    fp16_bytes = _nbytes(fp16_keys)
    measures = {
        "bytes_sign_bits": measure("bytes", parts["bits"], "packed sign bits (uint8, 8 signs per byte)", n=n, **dims),
        "bytes_scales": measure("bytes", parts["scale"], "per-vector fp16 scales α = ‖x‖₁/d", n=n),
        "bytes_centering": measure("bytes", _nbytes(mean_store), f"centering metadata ({method}: fp32 channel mean, or fp16 per-vector mean, or none)"),
        "bytes_rotation": measure("bytes", _nbytes(rotation_store), f"rotation metadata ({rotation_label}: fp32 d×d matrix, int64 SRHT seed, or none)"),
        "bytes_total_1bit": measure("bytes", total, "all stored tensors of the 1-bit keys", n=n),
        "bytes_fp16_keys": measure("bytes", fp16_bytes, "the same keys stored as fp16", n=n),
        "compression_ratio": measure("ratio", fp16_bytes / total, "fp16 bytes / 1-bit bytes (higher is smaller)", n=n),
        "one_bit_cosine_mean": measure("one_bit_cosine", cos.mean(), "mean cosine between each rotated key and its reconstruction α·sign", n=n, **dims),
        "residual_energy_mean": measure("residual_energy", resid.mean(), "mean ‖y − α s‖²/‖y‖² in rotated coordinates (fp16 α)", n=n, **dims),
        "residual_identity_gap_max": measure(
            "residual_energy",
            (resid - (1 - cos * cos)).abs().max(),
            "max over vectors of |residual − (1 − c²)|: fp16 rounding of α (MoEGauge.one_bit_scale_optimal)",
            n=n,
        ),
        "residual_energy_original_mean": measure(
            "residual_energy", rel_err(vectors, k_hat).mean(), "mean ‖k − k̂‖²/‖k‖² in original coordinates (rotation undone, mean added back)", n=n, **dims
        ),
        "dimension": measure("dimension", d, f"d of each quantized vector ({args.dim})", **dims),
    }
    artifact_id = _common.resolve_id(
        args, _common.default_id(args.keys.stem, NAME, rotation_label, args.dim, method)
    )
    return _common.emit(
        args,
        kind=NAME,
        artifact_id=artifact_id,
        description=f"1-bit sign quantization of {args.keys.name} (d={d}, {args.dim}, centering {method}, rotation {rotation_label}).",
        measures=measures,
        tables=None,
        relies_on=relies,
        config={
            "tensor": kf.tensor,
            "dim": args.dim,
            "center": method,
            "rotation": rotation_label,
            "rotation_file": None if rot_file is None else str(args.rotation),
        },
        seed=args.seed if args.rotation == "srht" else None,
        inputs=inputs,
    )
