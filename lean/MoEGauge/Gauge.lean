import MoEGauge.Basic

/-!
# Scale covariance of seed 000's gauge

Seed 000's layer gauge is `G = mean over heads of max(0, κ/σ²)`, with `σ²` and `κ` the variance
and excess kurtosis of a head's key values (all tokens and channels of the head pooled, around the
head's mean: `moegauge.moments.head_moments(reduce="pooled")`). Rescaling the keys by `c ≠ 0`
leaves `κ` unchanged and multiplies `σ²` by `c²`, so `G(c·K) = G(K)/c²`; rescaling the queries by
`1/c` at the same time leaves every attention score unchanged. `G` is therefore not a property of
the attention function: the scale trap of the kill ladder.

* `MoEGauge.headGauge_smul`, `MoEGauge.gauge_smul`: `G(c·K) = G(K)/c²`.
* `MoEGauge.gauge_scale_covariance`: the same, together with `(c⁻¹ q)·(c k) = q·k`.
-/

open scoped Matrix

noncomputable section

namespace MoEGauge

variable {n : ℕ}

/-- The mean `(1/n) ∑ xᵢ` of a finite sample. -/
def sampleMean (x : Fin n → ℝ) : ℝ := (∑ i, x i) / n

/-- The `p`-th central moment `(1/n) ∑ (xᵢ − x̄)^p` of a finite sample (population convention). -/
def centralMoment (p : ℕ) (x : Fin n → ℝ) : ℝ := (∑ i, (x i - sampleMean x) ^ p) / n

/-- The excess kurtosis `κ = m₄ / m₂² − 3` of a finite sample. -/
def excessKurtosis (x : Fin n → ℝ) : ℝ := centralMoment 4 x / centralMoment 2 x ^ 2 - 3

/-- One head's term of seed 000's gauge: `max(0, κ/σ²)` with `σ² = m₂`. -/
def headGauge (x : Fin n → ℝ) : ℝ := max 0 (excessKurtosis x / centralMoment 2 x)

/-- Seed 000's layer gauge `G = (1/H) ∑ₕ max(0, κₕ/σₕ²)` over the heads' pooled samples `K h`. -/
def gauge {H : ℕ} (K : Fin H → Fin n → ℝ) : ℝ := (∑ h, headGauge (K h)) / H

/-- Rescaling a sample rescales its mean. -/
theorem sampleMean_smul (c : ℝ) (x : Fin n → ℝ) : sampleMean (c • x) = c * sampleMean x := by
  unfold sampleMean
  simp only [Pi.smul_apply, smul_eq_mul]
  rw [← Finset.mul_sum, mul_div_assoc]

/-- Rescaling a sample by `c` multiplies its `p`-th central moment by `c^p`. -/
theorem centralMoment_smul (p : ℕ) (c : ℝ) (x : Fin n → ℝ) :
    centralMoment p (c • x) = c ^ p * centralMoment p x := by
  unfold centralMoment
  rw [sampleMean_smul]
  simp only [Pi.smul_apply, smul_eq_mul]
  have h : ∀ i, (c * x i - c * sampleMean x) ^ p = c ^ p * (x i - sampleMean x) ^ p := by
    intro i
    rw [← mul_sub, mul_pow]
  rw [Finset.sum_congr rfl fun i _ => h i, ← Finset.mul_sum, mul_div_assoc]

/-- The excess kurtosis is scale invariant. -/
theorem excessKurtosis_smul {c : ℝ} (hc : c ≠ 0) (x : Fin n → ℝ) :
    excessKurtosis (c • x) = excessKurtosis x := by
  unfold excessKurtosis
  rw [centralMoment_smul, centralMoment_smul,
    show (c ^ 2 * centralMoment 2 x) ^ 2 = c ^ 4 * centralMoment 2 x ^ 2 by ring,
    mul_div_mul_left _ _ (pow_ne_zero 4 hc)]

/-- **One head's gauge term scales as `1/c²`.** -/
theorem headGauge_smul {c : ℝ} (hc : c ≠ 0) (x : Fin n → ℝ) :
    headGauge (c • x) = headGauge x / c ^ 2 := by
  have hc2 : 0 < c ^ 2 := lt_of_le_of_ne (sq_nonneg c) (Ne.symm (pow_ne_zero 2 hc))
  unfold headGauge
  rw [excessKurtosis_smul hc, centralMoment_smul, div_mul_eq_div_div_swap,
    ← max_div_div_right hc2.le, zero_div]

/-- **The layer gauge scales as `1/c²`:** `G(c·K) = G(K)/c²` for every `c ≠ 0`. -/
theorem gauge_smul {H : ℕ} {c : ℝ} (hc : c ≠ 0) (K : Fin H → Fin n → ℝ) :
    gauge (fun h => c • K h) = gauge K / c ^ 2 := by
  unfold gauge
  simp only [headGauge_smul hc]
  rw [← Finset.sum_div]
  ring

/-- **Scale covariance of seed 000's gauge.** For `c ≠ 0`, keys rescaled by `c` have gauge
`G(c·K) = G(K)/c²`, while queries rescaled by `1/c` give the same scores: `(c⁻¹ q)·(c k) = q·k`.
So the same attention function has every gauge value `G(K)/c²`, `c ≠ 0`.

Paper claim: seed 000 (the gauge `G_ℓ` as a diagnostic of the keys); ARCHITECTURE glossary
"Gauge G_ℓ" ("Not scale-invariant: rescaling W_K by 1/c and W_Q by c leaves attention unchanged
but multiplies G by c²"); the kill ladder's scale trap. -/
theorem gauge_scale_covariance {H d : ℕ} {c : ℝ} (hc : c ≠ 0) (K : Fin H → Fin n → ℝ)
    (q k : Fin d → ℝ) :
    gauge (fun h => c • K h) = gauge K / c ^ 2 ∧ (c⁻¹ • q) ⬝ᵥ (c • k) = q ⬝ᵥ k := by
  refine ⟨gauge_smul hc K, ?_⟩
  rw [smul_dotProduct, dotProduct_smul, smul_smul, inv_mul_cancel₀ hc, one_smul]

end MoEGauge

end
