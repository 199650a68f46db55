"""The line a JSON pointer's value starts on, so a bad-input message names file, line and field.

A small scanner over the text (``json`` reports positions only for syntax errors): it walks objects
and arrays, lets ``json`` decode each scalar, and stops when the pointer's value is reached.
"""

from __future__ import annotations

import json
import re

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer_line(text: str, pointer: str) -> int | None:
    """1-based line where the value at ``pointer`` starts (the parent's, for a missing key); None if
    the text is not JSON."""
    parts = [_unescape(p) for p in pointer.split("/")[1:]] if pointer else []
    try:
        pos = _find(text, _skip(text, 0), parts)
    except (ValueError, IndexError):
        return None
    return text.count("\n", 0, pos) + 1


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()


def _find(text: str, pos: int, parts: list[str]) -> int:
    if not parts:
        return pos
    head, rest = parts[0], parts[1:]
    start, ch = pos, text[pos]
    if ch == "{":
        pos = _skip(text, pos + 1)
        while text[pos] != "}":
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            assert text[pos] == ":"
            pos = _skip(text, pos + 1)
            if key == head:
                return _find(text, pos, rest)
            pos = _skip(text, _end_of_value(text, pos))
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
        return start
    if ch == "[":
        want = int(head) if head.isdigit() else -1
        pos = _skip(text, pos + 1)
        i = 0
        while text[pos] != "]":
            if i == want:
                return _find(text, pos, rest)
            pos = _skip(text, _end_of_value(text, pos))
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
            i += 1
        return start
    return start


def _end_of_value(text: str, pos: int) -> int:
    _, end = _DECODER.raw_decode(text, pos)
    return end
