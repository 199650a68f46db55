import MoEGauge.SRHTGaussianFloor

/-!
# QJL's sign estimator

QJL stores a key `k` as the signs of Gaussian projections `sign(⟨g, k⟩)` and estimates `⟨q, k⟩`
from `sign(⟨g, k⟩) · ⟨g, q⟩`. For `g ~ N(0, I_d)` its mean is `√(2/π) · ⟨q, k⟩ / ‖k‖`, which fixes
the scale convention (multiply by `√(π/2) · ‖k‖` to get an unbiased estimate of `⟨q, k⟩`).

* `MoEGauge.qjl_sign_estimator_mean` (stated; deferred, with the missing piece named).
-/

open scoped Matrix

open MeasureTheory ProbabilityTheory

noncomputable section

namespace MoEGauge

/-- **QJL's unbiasedness (stated; proof deferred).** For `g` with i.i.d. `N(0, 1)` coordinates and
`k ≠ 0`, `E[sign(⟨g, k⟩) · ⟨g, q⟩] = √(2/π) · ⟨q, k⟩ / ‖k‖`.

Paper claim: the peers row's QJL baseline (its scale convention `√(π/2) · ‖k‖`); ARCHITECTURE
glossary "1-bit K cache" (the cache's own estimator is `α · sign(k)`, a different one).

Deferred: the reduction is available here (a Householder reflection R with R k = ‖k‖ e₀ and pi_gaussianReal_map_orthogonal turn it into E[sign(y₀) · ⟨y, R q⟩] with y i.i.d. N(0,1)); what is missing is the product-measure step E[sign(y₀) · y_j] = E[sign y₀] · E[y_j] = 0 for j ≠ 0 and E[sign(y₀) · y₀] = E|y₀| under Measure.pi, i.e. the integral of a function of two coordinates of Measure.pi as an iterated integral of their marginals (Mathlib has integral_fintype_prod_eq_prod for products of one-coordinate factors only). -/
theorem qjl_sign_estimator_mean {d : ℕ} (q k : Fin d → ℝ) (hk : k ≠ 0) :
    ∫ g, Real.sign (g ⬝ᵥ k) * (g ⬝ᵥ q) ∂(Measure.pi fun _ : Fin d => gaussianReal 0 1) =
      Real.sqrt (2 / Real.pi) * (q ⬝ᵥ k) / Real.sqrt (sqNorm k) := by
  sorry

end MoEGauge

end
