"""Arguments and output handling shared by the subcommands.

Numbers are range-checked when parsed (:func:`positive_int`, :func:`positive_finite_float`, ...), so a
bad value is a one-line usage error naming its flag, exit 2. Outputs are checked before any work:
:func:`check_artifact_out` / :func:`check_dir_out` / :func:`check_file_out` say whether ``--out``
is a file or a directory, and :func:`refuse_overwriting_inputs` keeps every output off every input.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from ..choices import CENTERINGS, DIM_MEANINGS
from ..errors import InputError

_ID_BAD = re.compile(r"[^A-Za-z0-9._-]+")

#: Where ad-hoc ``beta`` / ``rotate`` / ``quantize`` artifacts go by default, under the repo root
#: (git-ignored). ``evidence/`` is the main job's: an artifact there must come from ``moegauge run``,
#: or the next audit reports it.
RUNS_DIRNAME = "runs"


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, ``<prog>: error: argument --lr: …``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --- numeric argument types (argparse ``type=``) -------------------------------------------------


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer ≥ 1 (counts: steps, windows, batch sizes, threads)."""
    value = _integer(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer ≥ 0 (seeds, step counts where 0 means "measure the starting point")."""
    value = _integer(text, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _finite_float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_finite_float(text: str) -> float:
    """A finite float > 0 (learning rates)."""
    value = _finite_float(text, "a positive finite number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def fraction_below_one(text: str) -> float:
    """A float in [0, 1) (held-out fractions: 0 = none, 1 would leave nothing to train on)."""
    value = _finite_float(text, "a number in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


# --- outputs ---------------------------------------------------------------------------------------


def check_file_out(path: str | Path, flag: str) -> Path:
    """``path`` is to be written as a file: an existing directory there is an error."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, f"{flag} names a file to write, but this is a directory")
    return path


def check_dir_out(path: str | Path, flag: str) -> Path:
    """``path`` is to be a directory: an existing file, or a new path with a file suffix, is an error."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(path, f"{flag} names a directory, but this is an existing file")
    if not path.exists() and path.suffix:
        raise InputError(path, f"{flag} names a directory, but {path.suffix!r} looks like a file suffix; "
                               "use a path without a suffix (or an existing directory)")
    return path


def check_artifact_out(out: str | Path | None) -> None:
    """``--out`` of beta/rotate/quantize: a ``.json`` file, or a directory (any other suffix is an error)."""
    if out is None:
        return
    out = Path(out)
    if out.suffix == ".json":
        check_file_out(out, "--out")
    elif out.suffix and not out.is_dir():
        raise InputError(out, f"--out must be a .json file or a directory, got the suffix {out.suffix!r}")
    else:
        check_dir_out(out, "--out")


def _same_path(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwriting_inputs(outputs: Iterable[tuple[str, str | Path | None]],
                              inputs: Iterable[str | Path | None]) -> None:
    """Each output ``(flag, path)`` must be none of ``inputs`` (resolved paths, symlinks and hard
    links included); ``None`` entries are skipped. Raised before any work is done."""
    ins = [Path(p) for p in inputs if p is not None]
    for flag, out in outputs:
        if out is None:
            continue
        for src in ins:
            if _same_path(Path(out), src):
                raise InputError(out, f"{flag} would overwrite an input ({src}); choose another path")


def runs_dir(kind: str) -> Path:
    """The default directory of ad-hoc ``kind`` artifacts: ``<repo root>/runs/<kind>``."""
    from ..paths import find_repo_root

    return find_repo_root() / RUNS_DIRNAME / kind


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
        help=("artifact path (.json; its stem becomes the id) or directory (default: <repo>/runs/<kind>/, "
              "git-ignored; evidence/ is kept for `moegauge run`)"),
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


def _first_nonfinite(obj: Any, where: str = "") -> tuple[str, float] | None:
    """(JSON pointer, value) of the first NaN/inf in nested measures/tables (tensors included)."""
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        obj = obj.tolist()
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (where or "/", obj)
    if isinstance(obj, Mapping):
        items: Iterable[tuple[Any, Any]] = ((k, obj[k]) for k in sorted(obj, key=str))
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return None
    for key, value in items:
        hit = _first_nonfinite(value, f"{where}/{key}")
        if hit is not None:
            return hit
    return None


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
    also_writes: Iterable[tuple[str, Path | None]] = (),
) -> int:
    """Build and validate the artifact, run ``before_write`` (other outputs), write it, print its path.

    Everything is validated before anything is written, and each file is written atomically. The
    artifact goes to ``--out`` or, by default, to ``<repo>/runs/<kind>/<id>.json``; it never replaces
    one of ``inputs``.
    """
    from ..artifacts import artifact_path, build_artifact, write_artifact

    inputs = list(inputs)
    path = artifact_path(kind, artifact_id, args.out if args.out is not None else runs_dir(kind))
    check_file_out(path, "--out")
    refuse_overwriting_inputs([("--out", path)], [p for p, _ in inputs])
    refuse_overwriting_inputs(also_writes, [path])  # e.g. --save-rotation onto the artifact itself

    hit = _first_nonfinite({"measures": measures, "tables": tables or {}})
    if hit is not None:
        where, value = hit
        culprit = inputs[0][0] if inputs else path
        raise InputError(culprit, f"{where} came out {value!r}: the computation on this input overflowed "
                                  "(or underflowed); nothing was written")
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
    try:
        if before_write is not None:
            before_write()
        write_artifact(doc, path)
    except OSError as exc:
        raise InputError(exc.filename or path, f"cannot write: {exc.strerror or exc}") from None
    print(path)
    return 0
