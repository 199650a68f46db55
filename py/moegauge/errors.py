"""Exceptions that carry the file they are about, so the CLI can print one clear line."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input named by its file: missing, unreadable, wrong shape, non-finite values, ...

    The CLI turns it into exactly one line, ``moegauge: error: <path>: <message>``, and exit code 2.
    """

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


class ArtifactError(InputError):
    """An artifact that breaks the schema contract; ``pointer`` is the JSON pointer of the culprit."""

    def __init__(self, path: str | Path, pointer: str, message: str) -> None:
        self.pointer = pointer
        where = pointer if pointer else "/"
        super().__init__(path, f"{where}: {message}")
