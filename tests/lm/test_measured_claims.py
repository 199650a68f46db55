"""Measured claims are stated at a precision their run-to-run spread supports."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from moegauge.lm.measured_claims import state


def _half_unit(text: str) -> float:
    d = Decimal(text.rstrip("%"))
    return 0.5 * 10.0 ** d.as_tuple().exponent * (0.01 if text.endswith("%") else 1.0)


@given(value=st.floats(1e-4, 1e4), spread=st.floats(0, 10), percent=st.booleans())
def test_stated_value_covers_every_rerun(value, spread, percent):
    """Any rerun within the spread still rounds into the stated precision."""
    text, fragile = state(value, spread, percent=percent)
    scale = 100 if percent else 1
    if fragile:  # stated as a range that holds every rerun
        lo, hi = (float(x) / scale for x in text.rstrip("%").split("–"))
        # (a non-negative value's range stops at 0)
        assert lo <= max(value - spread, 0) + 1e-9 * value and value + spread <= hi + 1e-9 * value
    else:
        stated = float(text.rstrip("%")) / scale
        assert abs(value - stated) + spread <= _half_unit(text) * (1 + 1e-9) + 1e-15


@given(value=st.floats(0.01, 100))
def test_no_spread_means_three_significant_digits(value):
    text, fragile = state(value, None)
    assert not fragile
    digits = [c for c in text.lstrip("0.") if c.isdigit()]
    assert len(digits) == 3 or abs(float(text) - value) <= 0.5 * 10 ** (Decimal(text).as_tuple().exponent)


def test_fragile_when_spread_swamps_the_value():
    assert state(0.0123, 0.05) == ("0.000–0.063", True)
    assert state(47, 9, integer=True) == ("38–56", True)


def test_deterministic_values_have_at_most_four_significant_digits_and_integers_are_exact():
    assert state(2.462002, 3.6e-8) == ("2.462", False)
    assert state(0.0555676, 0.0, percent=True) == ("5.557%", False)
    assert state(6, None, integer=True) == ("6", False)
    assert state(6, 0.0, integer=True) == ("6", False)
