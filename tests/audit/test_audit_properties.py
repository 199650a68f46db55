"""Properties: interval arithmetic encloses the point results; the audit is deterministic and does
not depend on the order of its input files; formulas evaluate without Python eval."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import assume, given, settings, strategies as st

from bridge.audit.expr import FormulaError, evaluate
from bridge.audit.interval import Interval, parse_stated
from bridge.audit.runner import AuditOptions, run_audit

from audit_fixture import claim, field

finite = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def interval_and_point(draw):
    a, b = sorted((draw(finite), draw(finite)))
    t = draw(st.floats(0, 1))
    return Interval(a, b), a + t * (b - a)


@given(interval_and_point(), interval_and_point(), st.sampled_from(["x + y", "x - y", "x * y", "x / y", "-x + 2*y",
                                                                  "abs(x) * y", "max(x, y) - min(x, y)"]))
def test_interval_arithmetic_encloses_point_arithmetic(xp, yp, formula):
    (x, px), (y, py) = xp, yp
    if "/" in formula:
        assume(not (y.lo <= 0 <= y.hi))
    result = evaluate(formula, {"x": x, "y": y})
    point = evaluate(formula, {"x": Interval.point(px), "y": Interval.point(py)})
    slack = 1e-9 * max(1.0, abs(point.lo))
    assert result.lo - slack <= point.lo and point.hi <= result.hi + slack


@given(st.integers(0, 99999), st.integers(0, 6))
def test_stated_value_interval_is_half_a_unit_in_the_last_digit(digits, places):
    text = f"{digits / 10 ** places:.{places}f}"
    v = parse_stated(text)
    half = 0.5 * 10 ** -places
    assert math.isclose(v.interval.width, 2 * half, rel_tol=1e-9, abs_tol=1e-15)
    assert v.interval.contains(float(text))


@pytest.mark.parametrize("text, lo, hi", [("12%", 0.115, 0.125), ("+0.098–0.139", 0.0975, 0.1395),
                                          ("36.6×", 36.55, 36.65), ("−1.5%", -0.0155, -0.0145), ("942", 941.5, 942.5)])
def test_stated_forms(text, lo, hi):
    v = parse_stated(text)
    assert math.isclose(v.interval.lo, lo) and math.isclose(v.interval.hi, hi)


@pytest.mark.parametrize("bad", ["__import__('os')", "x.__class__", "lambda: 1", "open('f')", "1 +", "y"])
def test_formulas_are_a_closed_language(bad):
    with pytest.raises(FormulaError):
        evaluate(bad, {"x": Interval.point(1.0)})


@settings(max_examples=8)
@given(st.permutations(range(4)))
def test_audit_is_deterministic_and_order_independent(tmp_path_factory, order):
    from audit_fixture import CLEAN_CLAIMS, make_project

    project = make_project(tmp_path_factory.mktemp("p") / "proj")
    claims = CLEAN_CLAIMS + [claim("bad", "0.640", "beta", field("beta_srht")), claim("big", "1.2", "beta")]
    files = []
    for i in range(4):
        path = project.root / "evidence" / "claims" / f"part{i}.json"
        path.write_text(json.dumps({"schema": "moegauge/claims", "schema_version": 1, "set": f"p{i}",
                                    "description": "part", "claims": claims[i::4]}))
        files.append(path)
    project.claims_path.unlink()
    shuffled = [files[i] for i in order]

    def report(paths):
        doc = run_audit(AuditOptions(root=project.root, claims=paths, shadows=False, check_corpus=False)).to_json()
        return json.dumps(doc, sort_keys=True)

    assert report(shuffled) == report(sorted(files)) == report(sorted(files))
