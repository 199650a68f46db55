"""Entry point of ``python -m moegauge`` and the ``moegauge`` console script."""

from __future__ import annotations

import sys

try:
    from moegauge.cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI is still importing: one line, not a traceback
    print("moegauge: interrupted", file=sys.stderr)
    sys.exit(130)

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
