"""``python -m moegauge``: a registry of subcommand modules and the dispatcher.

A subcommand is a module exposing

- ``add_parser(subparsers) -> argparse.ArgumentParser``: register itself (name, help, arguments);
- ``run(args) -> int``: do the work, return the exit code.

To add one (capture, train, run, ...), write ``moegauge/cli/<name>.py`` and append its module path to
:data:`SUBCOMMAND_MODULES`; nothing else changes. Subcommand modules import heavy dependencies (torch)
inside ``run`` so ``--help`` stays fast.

Bad input raises :class:`moegauge.errors.InputError`; the dispatcher prints exactly one line,
``moegauge: error: <path>: <message>``, to stderr and exits 2. A usage error (unknown flag, a number
out of range) is one line too, naming the flag, exit 2. Ctrl-C prints ``moegauge: interrupted`` and
exits 130 (128 + SIGINT); artifacts are written atomically, so none is left half-written. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import InputError
from ._common import ArgumentParser

#: Exit status after Ctrl-C: 128 + SIGINT, as a shell reports it.
EXIT_INTERRUPTED = 130

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "moegauge.cli.run",
    "moegauge.cli.train",
    "moegauge.cli.capture",
    "moegauge.cli.beta",
    "moegauge.cli.rotate",
    "moegauge.cli.quantize",
    "moegauge.cli.coactivation",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = ArgumentParser(
        prog="moegauge",
        description=(
            "MoEGauge: 1-bit K-cache quantization of MoE transformers, measured. `run` is the main job "
            "(the paper's table on the embedded model or --model); the others work on saved key tensors "
            "or build the inputs. `run` writes its artifacts under <repo>/evidence/; beta, rotate and quantize "
            "write under <repo>/runs/ (git-ignored) unless --out says otherwise. Each prints what it wrote."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(name)
        sub_parser = module.add_parser(sub)
        sub_parser.set_defaults(_run=module.run)
    return parser


def _command_line(argv: Sequence[str] | None) -> list[str]:
    """The command as a user would retype it: ``python -m moegauge …`` or ``moegauge …``."""
    if argv is not None:
        return ["moegauge", *argv]
    if sys.argv and sys.argv[0].replace("\\", "/").endswith("moegauge/__main__.py"):
        return ["python", "-m", "moegauge", *sys.argv[1:]]
    return ["moegauge", *sys.argv[1:]]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.command_line = _command_line(argv)
        return int(args._run(args))
    except InputError as exc:
        print(f"moegauge: error: {exc.path}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("moegauge: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
