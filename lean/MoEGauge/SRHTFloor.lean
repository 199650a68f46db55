import MoEGauge.JensenFloor
import MoEGauge.GaugeInvariance

/-!
# The SRHT floor

The subsampled-free randomized Hadamard transform of dimension `d = 2ᵐ` is
`x ↦ H D x / √d`, with `H` the Sylvester–Walsh–Hadamard matrix and `D` a diagonal of signs.
We index coordinates by bit vectors `Fin m → Bool`, so that `H x y = (−1)^{⟨x, y⟩}` with
`⟨x, y⟩ = #{k | xₖ ∧ yₖ}`.

Proved here:
* `MoEGauge.walshHadamard_mul_transpose`: `H Hᵀ = 2ᵐ · 1`;
* `MoEGauge.srht_mem_orthogonalGroup`: `H D / √(2ᵐ)` is orthogonal for every sign diagonal `D`;
* `MoEGauge.srht_preserves_sqNorm`: the SRHT preserves norms.

Stated and deferred (see its `Deferred:` line):
* `MoEGauge.srht_achieves_isotropic_floor`: for i.i.d. symmetric inputs with finite nonzero
  variance, the one-bit cosine of the SRHT output converges in probability to `√(2/π)`.
-/

open scoped Matrix

open MeasureTheory ProbabilityTheory Filter

noncomputable section

namespace MoEGauge

/-- The Walsh sign `(−1)^(a ∧ b)` of two bits. -/
def bitSign (a b : Bool) : ℝ := if (a && b) = true then -1 else 1

/-- Orthogonality of Walsh signs over one bit: `∑_b σ(a, b) σ(a', b) = 2·[a = a']`. -/
theorem bitSign_sum (a a' : Bool) :
    ∑ b : Bool, bitSign a b * bitSign a' b = if a = a' then 2 else 0 := by
  cases a <;> cases a' <;> norm_num [bitSign, Fintype.sum_bool]

/-- The Sylvester–Walsh–Hadamard matrix of order `2ᵐ`, indexed by bit vectors:
`H x y = ∏ₖ (−1)^(xₖ ∧ yₖ)`. -/
def walshHadamard (m : ℕ) : Matrix (Fin m → Bool) (Fin m → Bool) ℝ :=
  Matrix.of fun x y => ∏ k, bitSign (x k) (y k)

/-- **Rows of the Walsh–Hadamard matrix are orthogonal:** `H Hᵀ = 2ᵐ · 1`. -/
theorem walshHadamard_mul_transpose (m : ℕ) :
    walshHadamard m * (walshHadamard m)ᵀ =
      ((2 : ℝ) ^ m) • (1 : Matrix (Fin m → Bool) (Fin m → Bool) ℝ) := by
  ext x x'
  have h1 : (walshHadamard m * (walshHadamard m)ᵀ) x x' =
      ∏ k, ∑ b : Bool, bitSign (x k) b * bitSign (x' k) b := by
    first
      | (rw [Matrix.mul_apply, Fintype.prod_sum (fun k b => bitSign (x k) b * bitSign (x' k) b)]
         refine Finset.sum_congr rfl fun y _ => ?_
         simp only [walshHadamard, Matrix.transpose_apply, Matrix.of_apply]
         rw [Finset.prod_mul_distrib]
         done)
      | (rw [Matrix.mul_apply, Finset.prod_univ_sum, Fintype.piFinset_univ]
         refine Finset.sum_congr rfl fun y _ => ?_
         simp only [walshHadamard, Matrix.transpose_apply, Matrix.of_apply]
         rw [Finset.prod_mul_distrib]
         done)
      | (simp only [Matrix.mul_apply, walshHadamard, Matrix.transpose_apply, Matrix.of_apply,
           ← Finset.prod_mul_distrib]
         exact (Fintype.prod_sum (fun k b => bitSign (x k) b * bitSign (x' k) b)).symm)
  rw [h1, Matrix.smul_apply, smul_eq_mul]
  simp only [bitSign_sum]
  by_cases hxx : x = x'
  · subst hxx
    simp
  · rw [Matrix.one_apply_ne hxx, mul_zero]
    obtain ⟨k, hk⟩ := Function.ne_iff.mp hxx
    exact Finset.prod_eq_zero (Finset.mem_univ k) (by simp [hk])

/-- The randomized Hadamard transform `x ↦ H D x / √(2ᵐ)` with sign diagonal `D = diag ε`. -/
def srht (m : ℕ) (ε : (Fin m → Bool) → ℝ) : Matrix (Fin m → Bool) (Fin m → Bool) ℝ :=
  (Real.sqrt ((2 : ℝ) ^ m))⁻¹ • (walshHadamard m * Matrix.diagonal ε)

/-- The SRHT matrix satisfies `S Sᵀ = 1` when every `εᵢ = ±1`. -/
theorem srht_mul_transpose (m : ℕ) (ε : (Fin m → Bool) → ℝ) (hε : ∀ y, ε y * ε y = 1) :
    srht m ε * (srht m ε)ᵀ = 1 := by
  have hDD : Matrix.diagonal ε * (Matrix.diagonal ε)ᵀ = 1 := by
    rw [Matrix.diagonal_transpose, Matrix.diagonal_mul_diagonal]
    have hfun : (fun i => ε i * ε i) = fun _ => (1 : ℝ) := funext hε
    rw [hfun, Matrix.diagonal_one]
  have hHDDH : walshHadamard m * Matrix.diagonal ε * ((Matrix.diagonal ε)ᵀ * (walshHadamard m)ᵀ) =
      walshHadamard m * (walshHadamard m)ᵀ := by
    rw [Matrix.mul_assoc, ← Matrix.mul_assoc (Matrix.diagonal ε), hDD, Matrix.one_mul]
  have hc : (Real.sqrt ((2 : ℝ) ^ m))⁻¹ * (Real.sqrt ((2 : ℝ) ^ m))⁻¹ * (2 : ℝ) ^ m = 1 := by
    rw [← mul_inv, Real.mul_self_sqrt (by positivity), inv_mul_cancel₀ (by positivity)]
  unfold srht
  rw [Matrix.transpose_smul, Matrix.smul_mul, Matrix.mul_smul, smul_smul, Matrix.transpose_mul,
    hHDDH, walshHadamard_mul_transpose, smul_smul, hc, one_smul]

/-- **The SRHT is orthogonal** for every choice of signs `εᵢ = ±1`.

Paper claim: seed 001 §S3 ("Any data-independent rotation acts as a mixing operator on key
coordinates"); ARCHITECTURE glossary "SRHT" (x ↦ H·D·x/√d). -/
theorem srht_mem_orthogonalGroup (m : ℕ) (ε : (Fin m → Bool) → ℝ)
    (hε : ∀ y, ε y = 1 ∨ ε y = -1) :
    srht m ε ∈ Matrix.orthogonalGroup (Fin m → Bool) ℝ := by
  apply mem_orthogonalGroup_of_mul_transpose_self
  apply srht_mul_transpose
  intro y
  rcases hε y with h | h <;> rw [h] <;> norm_num

/-- **The SRHT preserves norms**, so it changes the one-bit cosine only through `‖·‖₁`.

Paper claim: seed 001 §S3 (the SRHT is a data-independent rotation); ARCHITECTURE glossary
"SRHT". -/
theorem srht_preserves_sqNorm (m : ℕ) (ε : (Fin m → Bool) → ℝ) (hε : ∀ y, ε y = 1 ∨ ε y = -1)
    (x : (Fin m → Bool) → ℝ) : sqNorm (srht m ε *ᵥ x) = sqNorm x :=
  sqNorm_mulVec_of_mem_orthogonalGroup (srht_mem_orthogonalGroup m ε hε) x

/-- **The SRHT achieves the isotropic floor** (stated; proof deferred). Let `ν` be a symmetric
law on `ℝ` with finite, nonzero second moment, and for each `m` let `X m` be a random vector of
`d = 2ᵐ` i.i.d. `ν` coordinates (its law is the product `ν^{⊗d}`). For every choice of sign
diagonals `ε m`, the one-bit cosine of the SRHT output `srht m (ε m) (X m)` converges in
probability to `√(2/π) ≈ 0.7979` (the value computed in `MoEGauge.gaussian_moment_ratio_floor_eq`).
Since `ν` is symmetric, `D X` has the same law as `X`, so deterministic signs lose no generality.

Paper claim: seed 001 §S3 ("By the Central Limit Theorem, rotated marginals converge toward
Gaussian, dragging β toward the floor √(2/π) ... The Lean theorem srht_achieves_isotropic_floor
formalizes universality"); seed 002 §1 ("A data-independent SRHT rotation is pinned to the
Gaussian moment-ratio floor").

Deferred: needs a bivariate CLT for the Hadamard coordinate pairs (asymptotic independence of (y_i, y_k)) plus uniform integrability to turn it into convergence of the mean |y_i| and a weak law for the row norms; Mathlib has only the 1-D i.i.d. CLT (ProbabilityTheory.tendstoInDistribution_sqrt_inv_mul_sum in Mathlib/Probability/CentralLimitTheorem.lean), no Lindeberg or multivariate CLT. -/
theorem srht_achieves_isotropic_floor {Ω : Type*} [MeasurableSpace Ω]
    (P : Measure Ω) [IsProbabilityMeasure P]
    (ν : Measure ℝ) [IsProbabilityMeasure ν]
    (hsymm : ν.map (fun t : ℝ => -t) = ν)
    (hint : Integrable (fun t : ℝ => t ^ 2) ν) (hpos : 0 < ∫ t, t ^ 2 ∂ν)
    (X : (m : ℕ) → Ω → (Fin m → Bool) → ℝ)
    (hlaw : ∀ m, P.map (X m) = Measure.pi (fun _ : Fin m → Bool => ν))
    (ε : (m : ℕ) → (Fin m → Bool) → ℝ) (hε : ∀ m y, ε m y = 1 ∨ ε m y = -1) :
    TendstoInMeasure P (fun m ω => oneBitCosine (srht m (ε m) *ᵥ X m ω)) atTop
      (fun _ => Real.sqrt (2 / Real.pi)) := by
  sorry

end MoEGauge

end
