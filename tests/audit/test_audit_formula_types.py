"""Formulas typed by their quantities: one planted fault per rule, the clean forms that must pass, and
properties of the derivation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.audit.formula_types import QType, binding_type, compatible, derive
from bridge.audit.quantities import NUMERIC
from bridge.audit.runner import AuditOptions, BadInput, run_audit

from audit_fixture import claim, field


def audit(project):
    return run_audit(AuditOptions(root=project.root, shadows=False, check_corpus=False))


def typed_findings(report) -> dict[str, tuple[str, str, str]]:
    return {f.subject: (f.rule, f.severity, f.message) for f, _ in report.findings
            if f.rule in ("claim.quantity_mismatch", "claim.quantity_underivable")}


def ref(cid: str) -> dict:
    return {"claim": cid}


# Inputs every planted claim can bind to: a cosine, a β, two perplexities, two bits/byte values.
BASE = [
    claim("cos", "0.798", "one_bit_cosine", field("cos_srht"), theorems=()),
    claim("beta", "0.637", "beta", field("beta_srht"), theorems=()),
    claim("ppl_a", "942", "ppl", field("ppl_srht"), theorems=()),
    claim("ppl_b", "25.7", "ppl", field("ppl_learned"), theorems=()),
    claim("bpb_a", "2.52", "bits_per_byte", theorems=()),
    claim("bpb_b", "2.23", "bits_per_byte", theorems=()),
    claim("ppl_fp", "2.2", "ppl", theorems=()),
]

#: (claim, expected rule or None, severity, a phrase the message must contain)
CASES = [
    # residual energy from a one-bit cosine is 1 − c²
    (claim("res_ok", "36%", "residual_energy", {"formula": "1 - c^2", "bindings": {"c": ref("cos")}}, theorems=()),
     None, None, None),
    (claim("res_lin", "20%", "residual_energy", {"formula": "1 - c", "bindings": {"c": ref("cos")}}, theorems=()),
     "claim.quantity_mismatch", "error", "1 − c², not 1 − c"),
    (claim("res_beta", "36%", "residual_energy", {"formula": "1 - b", "bindings": {"b": ref("beta")}}, theorems=()),
     None, None, None),
    # a β derived from cosines is a square; √β is a cosine
    (claim("beta_sq", "0.637", "beta", {"formula": "c^2", "bindings": {"c": ref("cos")}}, theorems=()),
     None, None, None),
    (claim("beta_cc", "0.637", "beta", {"formula": "c * c", "bindings": {"c": ref("cos")}}, theorems=()),
     None, None, None),
    (claim("beta_sqrt", "0.798", "beta", {"formula": "sqrt(b)", "bindings": {"b": ref("beta")}}, theorems=()),
     "claim.quantity_mismatch", "error", "a β from cosines is their square"),
    (claim("beta_scaled", "0.637", "beta", {"formula": "0.8 * c", "bindings": {"c": ref("cos")}}, theorems=()),
     "claim.quantity_underivable", "warning", "a multiple of a one_bit_cosine"),
    # a ratio of bits/byte values is not a perplexity ratio
    (claim("ppl_ratio", "36.6", "ratio", {"formula": "a / b", "bindings": {"a": ref("ppl_a"), "b": ref("ppl_b")}},
           theorems=(), ratio_of="ppl"), None, None, None),
    (claim("bpb_as_ppl", "1.13", "ratio", {"formula": "a / b", "bindings": {"a": ref("bpb_a"), "b": ref("bpb_b")}},
           theorems=(), ratio_of="ppl"), "claim.quantity_mismatch", "error", "not a ratio of ppl values"),
    (claim("ratio_as_ppl", "36.6", "ppl", {"formula": "a / b", "bindings": {"a": ref("ppl_a"), "b": ref("ppl_b")}},
           theorems=()), "claim.quantity_mismatch", "error", "dimensionless, not a ppl"),
    (claim("ppl_of_bpb", "5.74", "ppl", {"formula": "2 ^ b", "bindings": {"b": ref("bpb_a")}}, theorems=()),
     None, None, None),
    (claim("log_ppl_as_ppl", "6.85", "ppl", {"formula": "log(a)", "bindings": {"a": ref("ppl_a")}}, theorems=()),
     "claim.quantity_mismatch", "error", "computes a nll"),
    # differences are not the quantity they are differences of
    (claim("dbeta", "+0.16", "beta", {"formula": "c^2 - b", "bindings": {"c": ref("cos"), "b": ref("beta")}},
           theorems=()), "claim.quantity_mismatch", "error", "beta_difference"),
    (claim("dbeta_ok", "0.00", "beta_difference", {"formula": "c^2 - b", "bindings": {"c": ref("cos"), "b": ref("beta")}},
           theorems=()), None, None, None),
    (claim("degradation", "40.0", "ratio", {"formula": "(a - f) / (b - f)", "bindings": {
        "a": ref("ppl_a"), "b": ref("ppl_b"), "f": ref("ppl_fp")}}, theorems=()), None, None, None),
    # an untyped constant cannot stand in for a perplexity
    (claim("degradation_untyped", "40.0", "ratio", {"formula": "(a - f) / (b - f)", "bindings": {
        "a": ref("ppl_a"), "b": ref("ppl_b"), "f": {"value": "2.2"}}}, theorems=()),
     "claim.quantity_underivable", "warning", "a ppl − a pure number"),
    # relative change and reduction
    (claim("relchg", "+3566%", "relative_change", {"formula": "a / b - 1", "bindings": {"a": ref("ppl_a"), "b": ref("ppl_b")}},
           theorems=()), None, None, None),
    (claim("relchg_as_fraction", "0.5", "fraction", {"formula": "b / a - 1", "bindings": {"a": ref("ppl_a"), "b": ref("ppl_b")}},
           theorems=()), "claim.quantity_mismatch", "error", "relative change"),
    (claim("cut", "97%", "fraction", {"formula": "1 - b / a", "bindings": {"a": ref("ppl_a"), "b": ref("ppl_b")}},
           theorems=()), None, None, None),
    # no rule: the quantity cannot be derived
    (claim("product", "24209", "ppl", {"formula": "a * b", "bindings": {"a": ref("ppl_a"), "b": ref("ppl_b")}},
           theorems=()), "claim.quantity_underivable", "warning", "cannot be derived"),
    (claim("sum_beta", "1.27", "beta", {"formula": "b + b", "bindings": {"b": ref("beta")}}, theorems=()),
     "claim.quantity_underivable", "warning", "cannot be derived"),
]


@pytest.mark.parametrize("planted, rule, severity, phrase", CASES, ids=[c[0]["id"] for c in CASES])
def test_planted_formula_type(project, planted, rule, severity, phrase):
    project.write_claims([*BASE, planted])
    found = typed_findings(audit(project))
    assert set(found) <= {planted["id"]}, found  # the base claims are clean
    if rule is None:
        assert planted["id"] not in found, found
        return
    got_rule, got_severity, message = found[planted["id"]]
    assert (got_rule, got_severity) == (rule, severity)
    assert phrase in message, message


def test_unknown_ratio_of_is_bad_input(project):
    project.write_claims([*BASE, claim("r", "36.6", "ratio", {"formula": "a / b", "bindings": {
        "a": ref("ppl_a"), "b": ref("ppl_b")}}, theorems=(), ratio_of="perplexity")])
    with pytest.raises(BadInput) as err:
        audit(project)
    assert any("ratio_of: unknown quantity 'perplexity'" in p for p in err.value.problems)


QUANTITY = st.sampled_from(sorted(NUMERIC))


@given(QUANTITY)
def test_a_ratio_of_like_values_is_a_ratio_of_that_quantity(name):
    t = derive("a / b", {"a": binding_type(name), "b": binding_type(name)})
    assert t.kind == "ratio"
    if name not in ("ratio", "relative_change"):
        assert t.name == name
    assert compatible(t, "ratio", None) is None


@given(QUANTITY, QUANTITY)
def test_like_differences_are_differences_and_never_the_quantity_itself(a, b):
    t = derive("x - y", {"x": binding_type(a), "y": binding_type(b)})
    if a == b and a not in ("ratio", "relative_change"):
        assert t == QType("difference", a)
        verdict = compatible(t, a, None)
        if a not in ("bits_per_byte", "nll", "seconds"):
            assert verdict is not None  # a difference of β is not a β (etc.)


@given(st.lists(st.sampled_from(["1", "2", "pi", "e", "0.5"]), min_size=1, max_size=4),
       st.sampled_from(["+", "-", "*", "/"]))
def test_constants_only_formulas_are_pure_numbers(atoms, op):
    text = f" {op} ".join(atoms)
    assert derive(text, {}).kind == "number"
