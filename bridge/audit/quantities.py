"""Typed quantities and their valid ranges (the auditor's side of ``moegauge.quantities``).

The producer names a quantity for every number it writes; the auditor knows what values each can
take. A β outside (0, 1] or a count that is not a whole number is an error whatever the claim says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .interval import Interval

INF = math.inf


@dataclass(frozen=True)
class QuantitySpec:
    name: str
    lo: float = -INF
    hi: float = INF
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    note: str = ""

    def describe(self) -> str:
        lb = "(" if self.lo_open else "["
        rb = ")" if self.hi_open else "]"
        lo = "−∞" if self.lo == -INF else f"{self.lo:g}"
        hi = "∞" if self.hi == INF else f"{self.hi:g}"
        rb = ")" if self.hi == INF else rb
        return f"{lb}{lo}, {hi}{rb}" + (" (whole numbers)" if self.integer else "")

    def violation(self, value: Interval) -> str | None:
        """Why ``value`` (every point of it) cannot be this quantity, or None."""
        below = value.hi < self.lo or (self.lo_open and value.hi <= self.lo)
        above = value.lo > self.hi or (self.hi_open and value.lo >= self.hi)
        if below or above:
            return f"{value} is outside the range of {self.name}, {self.describe()}"
        if self.integer and value.lo == value.hi and value.lo != int(value.lo):
            return f"{value} is not a whole number ({self.name})"
        return None


QUANTITIES: dict[str, QuantitySpec] = {q.name: q for q in (
    QuantitySpec("beta", 0.0, 1.0, lo_open=True, note="(E|K|)²/E[K²]; Cauchy–Schwarz gives ≤ 1"),
    QuantitySpec("one_bit_cosine", 0.0, 1.0, lo_open=True, note="‖k‖₁/(√d‖k‖₂); → √β for i.i.d. coordinates"),
    QuantitySpec("residual_energy", 0.0, 1.0, note="1 − cos² at the optimal one-bit scale"),
    QuantitySpec("ppl", 1.0, note="perplexity, exp(mean NLL) ≥ 1"),
    QuantitySpec("bits_per_byte", 0.0),
    QuantitySpec("nll", 0.0),
    QuantitySpec("ratio", 0.0, lo_open=True),
    QuantitySpec("bytes", 0.0, integer=True),
    QuantitySpec("bits_per_element", 0.0, 64.0, note="stored bits per cached element (fp16 = 16)"),
    QuantitySpec("fraction", 0.0, 1.0),
    QuantitySpec("count", 0.0, integer=True),
    QuantitySpec("steps", 0.0, integer=True),
    QuantitySpec("devices_per_token", 1.0),
    QuantitySpec("load_cv", 0.0),
    QuantitySpec("seconds", 0.0),
    QuantitySpec("orthogonality_error", 0.0),
    QuantitySpec("variance", 0.0),
    QuantitySpec("excess_kurtosis", -2.0, note="κ = E(x−m)⁴/σ⁴ − 3 ≥ −2"),
    QuantitySpec("gauge", 0.0, note="G_ℓ = mean over heads of max(0, κ/σ²) ≥ 0"),
    QuantitySpec("dimension", 1.0, integer=True),
    QuantitySpec("index", 0.0, integer=True),
    QuantitySpec("logit_delta", 0.0, note="largest absolute change of a logit"),
    QuantitySpec("run_to_run_spread", 0.0, note="largest |rerun - main| of a field, in the field's unit"),
    QuantitySpec("beta_difference", -1.0, 1.0, note="a difference of two β values (e.g. the centering lift Δβ)"),
    QuantitySpec("one_bit_cosine_difference", -1.0, 1.0, note="a difference of two one-bit cosines"),
    QuantitySpec("fraction_difference", -1.0, 1.0, note="a difference of two fractions (e.g. hit rates)"),
    QuantitySpec("ratio_difference", note="a difference of two ratios (e.g. an excess over a null)"),
    QuantitySpec("relative_change", -1.0, note="new/old − 1 of a positive quantity (≥ −1)"),
    QuantitySpec("label"),
)}

NUMERIC = frozenset(q for q in QUANTITIES if q != "label")
