"""What each load-bearing theorem implies for the numbers that cite it.

A claim names the theorems its interpretation rests on and may say what it asserts (``asserts``):

* ``srht_floor`` / ``gaussian_floor`` — the value is the isotropic floor: β = 2/π
  (``gaussian_moment_ratio_floor_eq``, ``srht_achieves_isotropic_floor``), whose one-bit cosine form
  is √(2/π) (``cos_sign_quant_formula``). A value stated as β that fits only √(2/π) — or stated as a
  cosine that fits only 2/π — is a unit conflation.
* ``residual_energy_of`` (with ``about``: a claim id) — the residual energy of the best one-bit
  code at that claim's value: 1 − c² for a cosine c (``one_bit_scale_optimal``); 1 − β for β.
* ``centering_lift`` citing ``dc_centering_lifts_rotational_ceiling`` (a deprecated name) or its
  truthful name ``rotationalCeiling_dc_key_eq_one_and_centered_eq_one`` — the proved statement (both
  per-vector ceilings equal 1) implies no dataset-level lift; the seeds' general claim is false (the
  d = 2 counterexample, ``dc_centering_lowers_mean_ceiling_d2``), so a positive lift cannot rest on it.
* A claim citing a deprecated seed name (``DEPRECATED_ALIASES``) gets an info finding naming the
  truthful theorem.
* ``gauge_exact`` citing ``attention_score_gauge_invariance`` — a rotation alone changes attention
  scores, hence logits, by float rounding only.
* ``same_scale_as`` (with ``about``) — the value is on the scale of another claim; if that claim's
  stated quantity is conflated, this one probably is too.

Every claim citing ``moment_ratio_le_one`` must have β (and the cosine) in (0, 1].

Tolerance for the floor: the stated precision, plus — when the claim's ``context`` gives the sample
(n vectors of dimension d) — four standard errors of the Gaussian estimate and its finite-d bias
(delta method: for the mean one-bit cosine, bias √(2/π)/(4d) and variance (1 − 3/π)/(d·n); for
pooled β, the delta-method SE over n·d coordinates), plus 1/d for the distance of finite-d real
keys from exact Gaussianity (the deferred theorem gives only the limit d → ∞).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from moegauge import theorems as T
from moegauge.moments import beta_se_from_moments

from .claims import ClaimRecord
from .findings import Finding
from .interval import Interval

GAUSSIAN_BETA = 2 / math.pi
GAUSSIAN_COSINE = math.sqrt(2 / math.pi)
LOGIT_FLOAT_TOLERANCE = 1e-3


def floor_tolerance(quantity: str, context: dict | None) -> float:
    """How far a measured floor may sit from its Gaussian value (see the module docstring)."""
    if not context or "d" not in context:
        return 0.0
    d = context["d"]
    n = context.get("n", 1)
    if quantity == "one_bit_cosine":
        bias = GAUSSIAN_COSINE / (4 * d)
        se = math.sqrt((1 - 3 / math.pi) / (d * n))
    else:
        m1, m2, m3, m4 = GAUSSIAN_COSINE, 1.0, 2 * GAUSSIAN_COSINE, 3.0
        bias = 0.0
        se = beta_se_from_moments(m1, m2, m3, m4, n * d)
    return 4 * se + bias + 1 / d


def _floor_fits(value: Interval, expected: float, tol: float) -> bool:
    return value.contains(expected, slack=tol)


def check_floor(rec: ClaimRecord, claims: dict[str, ClaimRecord]) -> Iterable[Finding]:
    if rec.stated is None or rec.quantity not in ("beta", "one_bit_cosine"):
        return []
    # The stated value is checked at its precision; a measured (computed) value only when the claim
    # says what sample it comes from, since its distance from 2/π depends on n and d.
    context = rec.data.get("context")
    values = [rec.stated.interval] + ([rec.computed] if rec.computed is not None and context else [])
    tol = floor_tolerance(rec.quantity, context)
    expected = {"beta": GAUSSIAN_BETA, "one_bit_cosine": GAUSSIAN_COSINE}
    other = "one_bit_cosine" if rec.quantity == "beta" else "beta"
    out = []
    for v in values:
        if _floor_fits(v, expected[rec.quantity], tol):
            continue
        if _floor_fits(v, expected[other], tol):
            rec.true_quantity = other
            form = "√(2/π) ≈ 0.7979 (the one-bit cosine)" if other == "one_bit_cosine" else "2/π ≈ 0.6366 (β)"
            out.append(rec.finding(
                "claim.unit_conflation", "error",
                f"stated as {rec.quantity} = {rec.data['value']}, but the floor's {rec.quantity} is "
                f"{expected[rec.quantity]:.4f}; the value is {form}", "/quantity"))
        else:
            out.append(rec.finding(
                "claim.implication", "error",
                f"{rec.quantity} {v} is not the isotropic floor {expected[rec.quantity]:.4f} "
                f"(tolerance {tol:.4g}) that the cited theorems imply", "/value"))
        break
    return out


def check_residual(rec: ClaimRecord, claims: dict[str, ClaimRecord]) -> Iterable[Finding]:
    about = claims.get(rec.data.get("about", ""))
    if rec.stated is None or about is None or about.stated is None:
        return [rec.finding("claim.implication", "error", "residual_energy_of needs 'about': an existing claim",
                            "/about")] if rec.stated is not None else []
    v = about.stated.interval
    quantity = about.true_quantity or about.quantity
    if quantity == "one_bit_cosine":
        expected = Interval(1 - v.hi ** 2, 1 - v.lo ** 2)
        rule_text = "1 − c²"
    else:
        expected = Interval(1 - v.hi, 1 - v.lo)
        rule_text = "1 − β"
    if rec.stated.interval.meets(expected):
        return []
    why = ""
    if about.true_quantity and about.true_quantity != about.quantity:
        why = f" ({about.id} is stated as {about.quantity} but is a {about.true_quantity})"
    return [rec.finding(
        "claim.implication", "error",
        f"residual energy at {about.id} = {about.data['value']} is {rule_text} = {expected} by "
        f"one_bit_scale_optimal, not {rec.data['value']}{why}", "/value")]


def check_centering(rec: ClaimRecord, claims: dict[str, ClaimRecord]) -> Iterable[Finding]:
    if rec.stated is None or rec.stated.interval.hi <= 0:
        return []
    severity = "error" if rec.data["paper_facing"] else "warning"
    return [rec.finding(
        "claim.implication", severity,
        "a positive centering lift cannot rest on dc_centering_lifts_rotational_ceiling: the proved statement "
        "(both per-vector ceilings are 1) implies no lift, and the dataset-level ceiling claim is false "
        "(counterexample in the theorem's docstring); the lift is an empirical measurement", "/theorems")]


def check_gauge(rec: ClaimRecord, claims: dict[str, ClaimRecord]) -> Iterable[Finding]:
    values = [x for x in (rec.stated.interval if rec.stated else None, rec.computed) if x is not None]
    bad = [v for v in values if v.lo > LOGIT_FLOAT_TOLERANCE]
    if not bad:
        return []
    return [rec.finding("claim.implication", "error",
                        f"a rotation alone must leave logits unchanged up to float rounding "
                        f"(≤ {LOGIT_FLOAT_TOLERANCE:g}); got {bad[0]}", "/value")]


def check_same_scale(rec: ClaimRecord, claims: dict[str, ClaimRecord]) -> Iterable[Finding]:
    about = claims.get(rec.data.get("about", ""))
    if about is None:
        return [rec.finding("claim.implication", "error", "same_scale_as needs 'about': an existing claim", "/about")]
    if about.true_quantity and about.true_quantity != about.quantity and rec.quantity == about.quantity:
        return [rec.finding(
            "claim.unit_ambiguous", "warning",
            f"on the scale of {about.id}, whose value is a {about.true_quantity} although stated as "
            f"{about.quantity}: this {rec.quantity} is probably a {about.true_quantity} too", "/quantity")]
    return []


def check_moment_ratio(rec: ClaimRecord, claims: dict[str, ClaimRecord]) -> Iterable[Finding]:
    if rec.stated is None or rec.quantity not in ("beta", "one_bit_cosine"):
        return []
    values = [rec.stated.interval] + ([rec.computed] if rec.computed is not None else [])
    for v in values:
        if v.lo > 1 or v.hi <= 0:
            return [rec.finding("claim.implication", "error",
                                f"{rec.quantity} {v} contradicts moment_ratio_le_one (0 < β ≤ 1, 0 < c ≤ 1)", "/value")]
    return []


#: asserts-role → check (run after every claim has been recomputed; floors before residuals).
ROLE_CHECKS: dict[str, Callable[[ClaimRecord, dict[str, ClaimRecord]], Iterable[Finding]]] = {
    "srht_floor": check_floor,
    "gaussian_floor": check_floor,
    "centering_lift": check_centering,
    "gauge_exact": check_gauge,
    "residual_energy_of": check_residual,
    "same_scale_as": check_same_scale,
}
ROLE_ORDER = ("srht_floor", "gaussian_floor", "centering_lift", "gauge_exact", "residual_energy_of", "same_scale_as")
#: role → the theorem a claim must cite for the role's check to be that theorem's implication.
ROLE_THEOREMS = {
    "srht_floor": (T.SRHT_ACHIEVES_ISOTROPIC_FLOOR, T.SRHT_MAP_PI_GAUSSIAN, T.GAUSSIAN_ONE_BIT_COSINE_TENDSTO_AE,
                   T.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ, T.COS_SIGN_QUANT_FORMULA),
    "gaussian_floor": (T.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ, T.COS_SIGN_QUANT_FORMULA),
    "centering_lift": (T.DC_CENTERING_LIFTS_ROTATIONAL_CEILING, T.DC_PER_VECTOR_CEILINGS_EQ_ONE),
    "gauge_exact": (T.ATTENTION_SCORE_GAUGE_INVARIANCE,),
    "residual_energy_of": (T.ONE_BIT_SCALE_OPTIMAL,),
    "same_scale_as": (),
}


def check_deprecated(rec: ClaimRecord) -> Iterable[Finding]:
    """A claim citing a deprecated seed name is told which truthful theorem carries the statement."""
    return [rec.finding("claim.deprecated_theorem", "info",
                        f"{name} is a deprecated name kept for the seeds; its statement is {T.DEPRECATED_ALIASES[name]}",
                        f"/theorems/{i}")
            for i, name in enumerate(rec.data["theorems"]) if name in T.DEPRECATED_ALIASES]


def check_implications(claims: dict[str, ClaimRecord]) -> list[Finding]:
    findings: list[Finding] = []
    for rec in sorted(claims.values(), key=lambda r: r.id):
        findings.extend(check_deprecated(rec))
    for rec in sorted(claims.values(), key=lambda r: r.id):
        if T.MOMENT_RATIO_LE_ONE in rec.data["theorems"]:
            findings.extend(check_moment_ratio(rec, claims))
    for role in ROLE_ORDER:
        for rec in sorted(claims.values(), key=lambda r: r.id):
            if rec.data.get("asserts") != role:
                continue
            needed = ROLE_THEOREMS[role]
            if needed and not set(needed) & set(rec.data["theorems"]):
                findings.append(rec.finding("claim.implication", "warning",
                                            f"asserts {role} but cites none of {', '.join(needed)}", "/theorems"))
            findings.extend(ROLE_CHECKS[role](rec, claims))
    return findings
