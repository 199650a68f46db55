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
#: Per vector, the best cosine a rotation reaches is 1 with and without centering (v ≠ 0). The seeds'
#: dataset-level claim (centering raises the ceiling) is false; the counterexample is in the docstring.
DC_CENTERING_LIFTS_ROTATIONAL_CEILING = "MoEGauge.dc_centering_lifts_rotational_ceiling"
#: Folding R into W_Q, W_K past RoPE is exact for every position pair iff R commutes with every RoPE rotation.
ROPE_FOLD_EXACT_IFF_COMMUTE = "MoEGauge.rope_fold_exact_iff_commute"
#: Near the sign lattice, each further unit of β costs quadratically more.
BETA_LAST_MILE_QUADRATIC_HARDNESS = "MoEGauge.beta_last_mile_quadratic_hardness"
#: The Hessian of β in the relevant directions is non-negative.
BETA_HESSIAN_NONNEG = "MoEGauge.beta_hessian_nonneg"
#: SRHT-rotated coordinates reach the isotropic (Gaussian) floor β = 2/π.
SRHT_ACHIEVES_ISOTROPIC_FLOOR = "MoEGauge.srht_achieves_isotropic_floor"

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
)
