"""Arguments and output handling shared by the subcommands."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..choices import CENTERINGS, DIM_MEANINGS
from ..errors import InputError

_ID_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def add_key_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "keys",
        type=Path,
        help="safetensors key file: a float tensor (tokens, kv_heads, head_dim) or (tokens, d)",
    )
    parser.add_argument("--tensor", default=None, help="tensor name in the file (default: 'keys', or its only tensor)")
    parser.add_argument(
        "--dim",
        choices=DIM_MEANINGS,
        default="head_dim",
        help="which d: each head's key is a vector (head_dim, default) or a token's heads concatenated (all_kv_heads)",
    )


def add_center_arg(parser: argparse.ArgumentParser, default: str | None, extra: str = "") -> None:
    parser.add_argument(
        "--center",
        choices=CENTERINGS,
        default=default,
        help=(
            "DC-mean centering before measuring: per_channel = mean of each channel over the file's "
            "tokens (what the seeds deploy), per_vector = each vector's coordinate mean, none"
            + (f" (default: {default})" if default else "")
            + extra
        ),
    )


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="artifact path (.json; its stem becomes the id) or directory (default: <repo>/evidence/<kind>/)",
    )
    parser.add_argument("--id", dest="artifact_id", default=None, help="artifact id, the file stem (default: derived from the inputs)")


def default_id(*parts: str) -> str:
    """A schema-safe id from parts, e.g. ``layer3-srht-head_dim-per_channel``."""
    text = "-".join(p for p in parts if p)
    text = _ID_BAD.sub("_", text).strip("._-")
    return text or "artifact"


def resolve_id(args: argparse.Namespace, derived: str) -> str:
    if args.out is not None and Path(args.out).suffix == ".json":
        stem = Path(args.out).stem
        if args.artifact_id is not None and args.artifact_id != stem:
            raise InputError(args.out, f"--id {args.artifact_id!r} differs from the file stem {stem!r}")
        return stem
    return args.artifact_id or derived


def emit(
    args: argparse.Namespace,
    *,
    kind: str,
    artifact_id: str,
    description: str,
    measures: Mapping[str, Any],
    tables: Mapping[str, Any] | None,
    relies_on: Iterable[str],
    config: Mapping[str, Any],
    seed: int | None,
    inputs: Iterable[tuple[Path, str]],
    before_write: Callable[[], None] | None = None,
) -> int:
    """Build and validate the artifact, run ``before_write`` (other outputs), write it, print its path.

    Everything is validated before anything is written, and each file is written atomically.
    """
    from ..artifacts import artifact_path, build_artifact, write_artifact

    doc = build_artifact(
        kind=kind,
        artifact_id=artifact_id,
        description=description,
        measures=measures,
        tables=tables,
        relies_on=relies_on,
        config=config,
        seed=seed,
        inputs=inputs,
        argv=args.command_line,
    )
    path = artifact_path(kind, artifact_id, args.out)
    try:
        if before_write is not None:
            before_write()
        write_artifact(doc, path)
    except OSError as exc:
        raise InputError(exc.filename or path, f"cannot write: {exc.strerror or exc}") from None
    print(path)
    return 0
