"""Standard output that a reader may close early (``python -m bridge status | head -1``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def print_quietly(fn: Callable[..., object], *args, **kwargs) -> None:
    """Run a printing function; if the reader closed the pipe, stop printing without a traceback.
    Later writes (and the interpreter's final flush) go to /dev/null; the exit status is kept."""
    try:
        fn(*args, **kwargs)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
