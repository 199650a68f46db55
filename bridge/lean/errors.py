"""Errors of the Lean reader: always located, always one line."""

from __future__ import annotations


class LeanSyntaxError(Exception):
    """A Lean source the reader cannot accept, with ``FILE:LINE:COL`` (1-based) location."""

    def __init__(self, path: str, line: int, col: int, message: str):
        self.path = path
        self.line = line
        self.col = col
        self.message = message
        super().__init__(f"{path}:{line}:{col}: {message}")

    def __reduce__(self):  # picklable across the reader's process pool
        return (LeanSyntaxError, (self.path, self.line, self.col, self.message))
