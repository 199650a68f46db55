"""How the site states a number: one display precision per quantity, stated on the page.

Templates never format numbers themselves: they receive a :class:`Shown` (text, the JSON value it
came from, and the precision in words) so a table cell can carry its raw value and its precision as
``data-`` attributes, and the browser tests can check the text against the JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MINUS = "\u2212"

#: quantity → ("fixed", decimals) | ("int", 0) | ("sci", significant digits after the point)
PRECISION: dict[str, tuple[str, int]] = {
    "beta": ("fixed", 3),
    "one_bit_cosine": ("fixed", 3),
    "beta_difference": ("fixed", 3),
    "one_bit_cosine_difference": ("fixed", 3),
    "residual_energy": ("fixed", 3),
    "fraction": ("fixed", 3),
    "relative_change": ("fixed", 3),
    "ppl": ("fixed", 2),
    "bits_per_byte": ("fixed", 3),
    "nll": ("fixed", 3),
    "ratio": ("fixed", 3),
    "gauge": ("fixed", 2),
    "variance": ("fixed", 3),
    "excess_kurtosis": ("fixed", 2),
    "devices_per_token": ("fixed", 2),
    "load_cv": ("fixed", 3),
    "seconds": ("fixed", 2),
    "bytes": ("int", 0),
    "bits_per_element": ("fixed", 3),
    "count": ("int", 0),
    "steps": ("int", 0),
    "index": ("int", 0),
    "dimension": ("int", 0),
    "orthogonality_error": ("sci", 1),
    "logit_delta": ("sci", 1),
}
#: A quantity this table does not know yet is shown to this many significant digits.
FALLBACK = ("sig", 4)


def precision_of(quantity: str) -> tuple[str, int]:
    return PRECISION.get(quantity, FALLBACK)


def describe_precision(quantity: str) -> str:
    """The precision in words, as the page states it."""
    kind, n = precision_of(quantity)
    if kind == "fixed":
        return f"{n} decimal{'s' if n != 1 else ''}"
    if kind == "int":
        return "whole numbers"
    if kind == "sci":
        return f"{n + 1} significant digit{'s' if n else ''}"
    return f"{n} significant digits"


def format_number(value: float | int, quantity: str) -> str:
    """``value`` at its quantity's precision, with a real minus sign and thousands separators."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    kind, n = precision_of(quantity)
    if kind == "fixed":
        text = f"{value:,.{n}f}"
    elif kind == "int":
        text = f"{round(value):,d}"
    elif kind == "sci":
        text = f"{value:.{n}e}"
    else:
        text = f"{value:,.{n}g}"
    if text.startswith("-"):
        # −0.000 is 0 at this precision: no sign.
        text = text[1:] if set(text[1:]) <= set("0.,") else MINUS + text[1:]
    return text


@dataclass(frozen=True)
class Shown:
    """A number as displayed: its text, the JSON value, the quantity and the stated precision."""

    text: str
    value: float | int
    quantity: str
    precision: str

    def __str__(self) -> str:  # templates may print a Shown directly
        return self.text


def shown(value: float | int, quantity: str) -> Shown:
    return Shown(format_number(value, quantity), value, quantity, describe_precision(quantity))
