"""Lean theorem names, fully qualified as the bridge reports them.

This module is the ONE place these names are spelled. Artifacts cite them in ``relies_on`` and tests
name the theorem a property shadows; both import the constants from here, so a renamed theorem is a
one-line change and a typo is an ``AttributeError`` rather than a silently dangling reference.
"""

from __future__ import annotations

#: β = (E|X|)²/E[X²] ≤ 1 (Cauchy–Schwarz), equality only when |X| is constant.
MOMENT_RATIO_LE_ONE = "MoEGauge.moment_ratio_le_one"
#: cos(x, sign x) = ‖x‖₁ / (√d·‖x‖₂): the per-vector bridge between β and sign quantization.
COS_SIGN_QUANT_FORMULA = "MoEGauge.cos_sign_quant_formula"
#: The best scale for α·sign(x) is ‖x‖₁/d and the relative residual energy is 1 − cos².
ONE_BIT_SCALE_OPTIMAL = "MoEGauge.one_bit_scale_optimal"
#: Gaussian moment ratio: β = 2/π (one-bit cosine √(2/π)).
GAUSSIAN_MOMENT_RATIO_FLOOR_EQ = "MoEGauge.gaussian_moment_ratio_floor_eq"
#: q·k = (Rq)·(Rk) for orthogonal R: rotating both sides leaves attention scores unchanged.
ATTENTION_SCORE_GAUGE_INVARIANCE = "MoEGauge.attention_score_gauge_invariance"
#: k = μ·e + v with v ⟂ e gives ‖k‖² = μ² + ‖v‖².
DC_MEAN_DECOMPOSITION_NORM = "MoEGauge.dc_mean_decomposition_norm"
#: Deprecated seed name (kept because the seeds cite it): per vector, both rotational ceilings are 1
#: (v ≠ 0); it implies no lift. The seeds' dataset-level claim (centering raises the ceiling) is false.
DC_CENTERING_LIFTS_ROTATIONAL_CEILING = "MoEGauge.dc_centering_lifts_rotational_ceiling"
#: The truthful name of the same statement: ceil(μe + v) = 1 and ceil(v) = 1 per vector.
DC_PER_VECTOR_CEILINGS_EQ_ONE = "MoEGauge.rotationalCeiling_dc_key_eq_one_and_centered_eq_one"
#: d = 2 counterexample: per-channel centering lowers the mean-cosine ceiling (deferred).
DC_CENTERING_LOWERS_MEAN_CEILING_D2 = "MoEGauge.dc_centering_lowers_mean_ceiling_d2"
#: Folding R into W_Q, W_K past RoPE is exact for every position pair iff R commutes with every RoPE rotation.
ROPE_FOLD_EXACT_IFF_COMMUTE = "MoEGauge.rope_fold_exact_iff_commute"
#: x = s + εu near the sign lattice: 1 − c(x)² = ε²(d‖u‖² − ⟨s,u⟩²)/(d‖x‖²) ≤ ε²‖u‖²/‖x‖² (order ε²).
BETA_LAST_MILE_QUADRATIC_HARDNESS = "MoEGauge.beta_last_mile_quadratic_hardness"
#: Deprecated seed name (no Hessian is computed): d‖u‖² − ⟨s,u⟩² ≥ 0, = 0 iff u ∥ s.
BETA_HESSIAN_NONNEG = "MoEGauge.beta_hessian_nonneg"
#: The truthful name of the same statement.
LAST_MILE_CURVATURE_NONNEG = "MoEGauge.last_mile_curvature_nonneg"
#: SRHT-rotated coordinates of any i.i.d. symmetric input reach the isotropic floor (deferred: Lindeberg CLT).
SRHT_ACHIEVES_ISOTROPIC_FLOOR = "MoEGauge.srht_achieves_isotropic_floor"
#: Gaussian case: an orthogonal matrix (the SRHT among them) maps i.i.d. N(0,1) coordinates to i.i.d. N(0,1).
PI_GAUSSIAN_MAP_ORTHOGONAL = "MoEGauge.pi_gaussianReal_map_orthogonal"
#: Gaussian case: the SRHT output of an i.i.d. N(0,1) vector is i.i.d. N(0,1).
SRHT_MAP_PI_GAUSSIAN = "MoEGauge.srht_map_pi_gaussianReal"
#: Gaussian case: the one-bit cosine of i.i.d. N(0,1) coordinates → √(2/π) almost surely (strong law).
GAUSSIAN_ONE_BIT_COSINE_TENDSTO_AE = "MoEGauge.gaussian_oneBitCosine_tendsto_ae"
#: Gaussian case joined: the SRHT one-bit cosine → √(2/π) in probability (deferred: the law transfer).
SRHT_GAUSSIAN_FLOOR_IN_PROBABILITY = "MoEGauge.srht_gaussian_floor_in_probability"
#: G(c·K) = G(K)/c² for c ≠ 0, while (c⁻¹q)·(ck) = q·k: seed 000's gauge is not a property of attention.
GAUGE_SCALE_COVARIANCE = "MoEGauge.gauge_scale_covariance"
#: Σ sᵢxᵢ = 2·Σ_{sᵢ=+1} xᵢ − Σ xᵢ for s ∈ {±1}^d: the 1-bit decode path's score.
PACKED_SIGN_SCORE = "MoEGauge.packed_sign_score"
#: The same, byte by byte over (byte, bit) ∈ Fin B × Fin 8.
PACKED_SIGN_SCORE_BYTES = "MoEGauge.packed_sign_score_bytes"
#: E[sign(⟨g,k⟩)·⟨g,q⟩] = √(2/π)·⟨q,k⟩/‖k‖ for g ~ N(0, I) (deferred: a product-measure step).
QJL_SIGN_ESTIMATOR_MEAN = "MoEGauge.qjl_sign_estimator_mean"
#: Uniform requests independent of the cache's state: every policy of capacity C hits with probability C/N.
UNIFORM_INDEPENDENT_HIT_PROBABILITY = "MoEGauge.uniform_independent_hit_probability"
#: For any placement on D devices, a token with k experts touches at most min(k, D) devices.
DISTINCT_DEVICES_LE_MIN = "MoEGauge.distinct_devices_le_min"
#: 1 ≤ participation ratio (Σλ)²/Σλ² ≤ rank for a nonnegative, nonzero spectrum (the FFN study's d_eff).
PARTICIPATION_RATIO_BOUNDS = "MoEGauge.participationRatio_bounds"

#: Every theorem name above, in a fixed order.
ALL_THEOREMS: tuple[str, ...] = (
    MOMENT_RATIO_LE_ONE,
    COS_SIGN_QUANT_FORMULA,
    ONE_BIT_SCALE_OPTIMAL,
    GAUSSIAN_MOMENT_RATIO_FLOOR_EQ,
    ATTENTION_SCORE_GAUGE_INVARIANCE,
    DC_MEAN_DECOMPOSITION_NORM,
    DC_CENTERING_LIFTS_ROTATIONAL_CEILING,
    BETA_LAST_MILE_QUADRATIC_HARDNESS,
    BETA_HESSIAN_NONNEG,
    SRHT_ACHIEVES_ISOTROPIC_FLOOR,
    ROPE_FOLD_EXACT_IFF_COMMUTE,
    DC_PER_VECTOR_CEILINGS_EQ_ONE,
    LAST_MILE_CURVATURE_NONNEG,
    PI_GAUSSIAN_MAP_ORTHOGONAL,
    SRHT_MAP_PI_GAUSSIAN,
    GAUSSIAN_ONE_BIT_COSINE_TENDSTO_AE,
    GAUGE_SCALE_COVARIANCE,
    PACKED_SIGN_SCORE,
    PACKED_SIGN_SCORE_BYTES,
    QJL_SIGN_ESTIMATOR_MEAN,
    UNIFORM_INDEPENDENT_HIT_PROBABILITY,
    DISTINCT_DEVICES_LE_MIN,
    PARTICIPATION_RATIO_BOUNDS,
)

#: Theorems whose names are kept only because the seeds and the evidence cite them; each has the
#: statement of a truthfully named theorem (the value here), and claims resting on the old name are
#: flagged by the audit's implication checks.
DEPRECATED_ALIASES: dict[str, str] = {
    DC_CENTERING_LIFTS_ROTATIONAL_CEILING: DC_PER_VECTOR_CEILINGS_EQ_ONE,
    BETA_HESSIAN_NONNEG: LAST_MILE_CURVATURE_NONNEG,
}
