"""The β widget's mathematics and the site's number formats, as properties."""

from __future__ import annotations

import math
import re

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.site import gengauss
from bridge.site.formats import PRECISION, format_number
from moegauge.moments import beta_moment_ratio

shapes = st.floats(min_value=0.3, max_value=200.0, allow_nan=False)


def test_landmarks():
    assert gengauss.beta_of_p(1.0) == pytest_approx(0.5)
    assert gengauss.beta_of_p(2.0) == pytest_approx(2 / math.pi)
    assert gengauss.beta_of_p(1e6) == pytest_approx(0.75, rel=1e-5)
    assert gengauss.cosine_of_p(2.0) == pytest_approx(math.sqrt(2 / math.pi))


def pytest_approx(x, rel=1e-12):
    import pytest

    return pytest.approx(x, rel=rel)


@given(shapes, shapes)
def test_beta_increases_with_p_and_stays_below_the_uniform_limit(p, q):
    lo, hi = sorted((p, q))
    assert 0 < gengauss.beta_of_p(lo) <= gengauss.beta_of_p(hi) < gengauss.UNIFORM_BETA
    if hi > lo * (1 + 1e-6):
        assert gengauss.beta_of_p(lo) < gengauss.beta_of_p(hi)


@given(shapes)
def test_p_of_beta_inverts_beta_of_p(p):
    back = gengauss.p_of_beta(gengauss.beta_of_p(p))
    assert back is not None and math.isclose(back, p, rel_tol=1e-6)


@given(st.floats(min_value=0.75, max_value=1.0))
def test_no_shape_reaches_the_uniform_limit(beta):
    assert gengauss.p_of_beta(beta) is None


@settings(max_examples=25)
@given(st.floats(min_value=1.0, max_value=200.0))
def test_density_has_unit_mass_and_unit_variance(p):
    """On the slider's range (p ≥ 1), by the trapezoid rule over ±12 α."""
    a = gengauss.unit_variance_scale(p)
    half = 12 * a
    n = 20001
    h = 2 * half / (n - 1)
    xs = [-half + i * h for i in range(n)]
    f = [gengauss.density(p, x) for x in xs]
    mass = h * (sum(f) - (f[0] + f[-1]) / 2)
    var = h * sum(fx * x * x for fx, x in zip(f, xs))
    assert math.isclose(mass, 1.0, rel_tol=2e-3), mass
    assert math.isclose(var, 1.0, rel_tol=2e-3), var


@settings(max_examples=12)
@given(st.floats(min_value=1.0, max_value=64.0), st.integers(min_value=0, max_value=2**31 - 1))
def test_exact_beta_matches_the_projects_estimator_on_samples(p, seed):
    """β(p) is what moegauge's own estimator measures on generalised-Gaussian samples: |X| = α G^{1/p},
    G ~ Gamma(1/p), random sign; within 6 standard errors at n = 200,000."""
    n = 200_000
    gen = torch.Generator().manual_seed(seed)
    g = torch.distributions.Gamma(torch.tensor(1 / p, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    torch.manual_seed(seed)
    mag = g.sample((n,)) ** (1 / p)
    sign = torch.randint(0, 2, (n,), generator=gen, dtype=torch.float64) * 2 - 1
    x = mag * sign
    est = float(beta_moment_ratio(x))
    m1, m2 = float(x.abs().mean()), float((x * x).mean())
    se = 2 * math.sqrt(float(x.abs().var()) / n) * m1 / m2 + m1 * m1 / m2 * math.sqrt(float((x * x).var()) / n) / m2
    assert abs(est - gengauss.beta_of_p(p)) < 6 * se + 1e-9, (p, est, gengauss.beta_of_p(p), se)


def test_slider_grid():
    grid = gengauss.SLIDER.p_values()
    assert grid[0] == 1.0 and grid[gengauss.SLIDER.index_of(2.0)] == 2.0
    assert all(a < b for a, b in zip(grid, grid[1:]))
    assert gengauss.SLIDER.index_of(grid[-1]) == len(grid) - 1


numbers = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(numbers, st.sampled_from(sorted(PRECISION)))
def test_formatted_numbers_are_within_half_a_unit(value, quantity):
    text = format_number(value, quantity)
    kind, n = PRECISION[quantity]
    back = float(text.replace("\u2212", "-").replace(",", ""))
    if kind == "fixed":
        assert re.fullmatch(r"\u2212?\d{1,3}(,\d{3})*\.\d{%d}" % n if n else r"\u2212?\d{1,3}(,\d{3})*", text), text
        assert abs(back - value) <= 0.5 * 10**-n + 1e-9 * abs(value)
    elif kind == "int":
        assert abs(back - value) <= 0.5 + 1e-9 * abs(value)
    else:
        assert math.isclose(back, value, rel_tol=0.5 * 10**-n * 10, abs_tol=1e-300)
    assert not text.startswith("-"), "a real minus sign, not a hyphen"


def test_negative_zero_has_no_sign():
    assert format_number(-0.0001, "beta") == "0.000"
    assert format_number(-0.0097, "beta_difference") == "\u22120.010"
