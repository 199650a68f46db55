"""``python -m bridge``: the auditor's command line (``status``, ``audit``, ``ladder`` and ``site build``)."""

from __future__ import annotations

import argparse
import sys

from . import __version__, audit_cli, ladder_cli, site_cli, status_cli

COMMANDS = (status_cli, audit_cli, ladder_cli, site_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bridge",
        description="MoEGauge bridge: Lean theorem status, evidence audit and the microsite.",
    )
    parser.add_argument("--version", action="version", version=f"bridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; Ctrl-C is one line and exit 130 (outputs are written atomically)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return args.func(args)
    except KeyboardInterrupt:
        print("bridge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
