"""Entry point of ``python -m moegauge`` and the ``moegauge`` console script."""

from __future__ import annotations

import sys

from moegauge.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
