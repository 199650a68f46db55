"""Closed intervals for checking numbers at the precision they are stated at.

A value written "25.7" stands for anything in [25.65, 25.75]: half a unit in its last written
digit. Derived values are computed in interval arithmetic, so "36.6× from 942 and 25.7" is checked
with the rounding of its own inputs: [941.5/25.75, 942.5/25.65] must meet [36.55, 36.65].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

_NUMBER = r"[+\-−]?(?:\d[\d,]*)(?:\.\d+)?(?:[eE][+-]?\d+)?"
_STATED = re.compile(
    rf"^\s*(?P<lo>{_NUMBER})\s*(?:(?:–|-|to|\.\.)\s*(?P<hi>{_NUMBER}))?\s*(?P<unit>%|×|x)?\s*$"
)


class StatedValueError(ValueError):
    """A stated value that is not a number, a range, or a percentage of one."""


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    def __post_init__(self):
        if math.isnan(self.lo) or math.isnan(self.hi) or self.lo > self.hi:
            raise ValueError(f"not an interval: [{self.lo}, {self.hi}]")

    @classmethod
    def point(cls, x: float) -> "Interval":
        return cls(float(x), float(x))

    @property
    def mid(self) -> float:
        return (self.lo + self.hi) / 2

    @property
    def width(self) -> float:
        return self.hi - self.lo

    def meets(self, other: "Interval", slack: float = 0.0) -> bool:
        """Do the intervals overlap (within ``slack``)?"""
        return self.lo <= other.hi + slack and other.lo <= self.hi + slack

    def contains(self, x: float, slack: float = 0.0) -> bool:
        return self.lo - slack <= x <= self.hi + slack

    def distance(self, x: float) -> float:
        return 0.0 if self.contains(x) else min(abs(x - self.lo), abs(x - self.hi))

    def __add__(self, o: "Interval") -> "Interval":
        return Interval(self.lo + o.lo, self.hi + o.hi)

    def __sub__(self, o: "Interval") -> "Interval":
        return Interval(self.lo - o.hi, self.hi - o.lo)

    def __mul__(self, o: "Interval") -> "Interval":
        p = (self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi)
        return Interval(min(p), max(p))

    def __truediv__(self, o: "Interval") -> "Interval":
        if o.lo <= 0 <= o.hi:
            raise ZeroDivisionError("division by an interval containing 0")
        return self * Interval(1 / o.hi, 1 / o.lo)

    def __neg__(self) -> "Interval":
        return Interval(-self.hi, -self.lo)

    def __pow__(self, k: "Interval") -> "Interval":
        if k.lo != k.hi:
            raise ValueError("exponent must be exact")
        e = k.lo
        if e == int(e) and e >= 0:
            n = int(e)
            if n % 2 == 0 and self.lo < 0 < self.hi:
                return Interval(0.0, max(self.lo ** n, self.hi ** n))
            vals = (self.lo ** n, self.hi ** n)
            return Interval(min(vals), max(vals))
        if self.lo < 0:
            raise ValueError("non-integer power of a negative interval")
        vals = (self.lo ** e, self.hi ** e)
        return Interval(min(vals), max(vals))

    def monotone(self, fn, increasing: bool = True) -> "Interval":
        a, b = fn(self.lo), fn(self.hi)
        return Interval(a, b) if increasing else Interval(b, a)

    def __str__(self) -> str:
        if self.lo == self.hi:
            return f"{self.lo:.6g}"
        return f"[{self.lo:.6g}, {self.hi:.6g}]"


@dataclass(frozen=True)
class StatedValue:
    """A number as written: its interval at the written precision, and whether it is a range."""

    text: str
    interval: Interval
    is_range: bool
    ends: tuple[Interval, ...]  # the written endpoint(s), each at its own precision


def _digits_interval(token: str, scale: float) -> Interval:
    clean = token.replace(",", "").replace("−", "-")
    d = Decimal(clean)
    exponent = d.as_tuple().exponent
    half = Decimal(5).scaleb(exponent - 1) if isinstance(exponent, int) else Decimal(0)
    lo, hi = (d - half) * Decimal(repr(scale)), (d + half) * Decimal(repr(scale))
    return Interval(float(min(lo, hi)), float(max(lo, hi)))


def parse_stated(text: str) -> StatedValue:
    """Parse "0.7979", "942", "+0.098–0.139", "12%", "36.6×" into its precision interval.

    A percentage becomes a fraction (12% → [0.115, 0.125]); "×" and "x" are a ratio's unit and are
    dropped. A range "a–b" stands for its written endpoints; its interval spans both.
    """
    m = _STATED.match(text)
    if m is None:
        raise StatedValueError(f"cannot read {text!r} as a number, a range 'a–b' or a percentage")
    scale = 0.01 if m.group("unit") == "%" else 1.0
    lo = _digits_interval(m.group("lo"), scale)
    if m.group("hi") is None:
        return StatedValue(text, lo, False, (lo,))
    hi = _digits_interval(m.group("hi"), scale)
    if hi.hi < lo.lo:
        raise StatedValueError(f"range {text!r} runs backwards")
    return StatedValue(text, Interval(lo.lo, hi.hi), True, (lo, hi))
