import MoEGauge.Basic

/-!
# The Jensen / Cauchy–Schwarz floor of one-bit quantization

Paper-facing results (seed 001 §S2, seed 002 §1):

* `MoEGauge.moment_ratio_le_one`: `(∑ |xᵢ|)² ≤ n ∑ xᵢ²`, with equality iff all `|xᵢ|` are equal;
  hence `MoEGauge.momentRatio_le_one` (`β ≤ 1`) and `MoEGauge.momentRatio_eq_one_iff`.
* `MoEGauge.cos_sign_quant_formula`: the cosine between `x` and `sign x` is `‖x‖₁ / (√d ‖x‖₂)`.
* `MoEGauge.one_bit_residual_eq`, `MoEGauge.one_bit_scale_optimal`,
  `MoEGauge.one_bit_relative_residual`: the best one-bit reconstruction `α · sign x` has
  `α = ‖x‖₁ / d` and relative residual energy `1 − c(x)²`.
* `MoEGauge.gaussian_moment_ratio_floor_eq`: for a standard Gaussian `Z`,
  `E|Z| = √(2/π)` and `(E|Z|)² / E[Z²] = 2/π`: the SRHT floor `β = 2/π`, `c = √(2/π)`.

Units (ARCHITECTURE glossary): `β` is the moment ratio, `c = √β` the one-bit cosine.
-/

open scoped Matrix NNReal Topology

open MeasureTheory ProbabilityTheory Filter

noncomputable section

namespace MoEGauge

/-! ### The Cauchy–Schwarz bound `β ≤ 1` and its equality case -/

/-- Lagrange identity specialised to the moment ratio:
`∑ᵢ ∑ⱼ (|xᵢ| − |xⱼ|)² = 2 (n ∑ xᵢ² − (∑ |xᵢ|)²)`. -/
theorem sum_sum_abs_sub_sq {n : ℕ} (x : Fin n → ℝ) :
    ∑ i, ∑ j, (|x i| - |x j|) ^ 2 = 2 * ((n : ℝ) * ∑ i, x i ^ 2 - (∑ i, |x i|) ^ 2) := by
  have h := lagrange_identity (fun i => |x i|) (fun _ => (1 : ℝ))
  simp only [mul_one, one_pow, sq_abs] at h
  have h1 : ∑ _i : Fin n, (1 : ℝ) = n := by rw [sum_const_fin, mul_one]
  rw [h1] at h
  linear_combination h

/-- **Cauchy–Schwarz for the moment ratio.** For every finite sample `x : Fin n → ℝ`,
`(∑ |xᵢ|)² ≤ n · ∑ xᵢ²`, with equality if and only if all `|xᵢ|` are equal
(the sample lies on a sign lattice `{±a}ⁿ`).

Paper claim: seed 001 §S2 ("By Cauchy–Schwarz, β ≤ 1 with equality only on the sign lattice");
seed 002 §1 ("By Cauchy–Schwarz, β ≤ 1"). -/
theorem moment_ratio_le_one {n : ℕ} (x : Fin n → ℝ) :
    (∑ i, |x i|) ^ 2 ≤ (n : ℝ) * ∑ i, x i ^ 2 ∧
      ((∑ i, |x i|) ^ 2 = (n : ℝ) * ∑ i, x i ^ 2 ↔ ∀ i j, |x i| = |x j|) := by
  have hid := sum_sum_abs_sub_sq x
  have hnn : 0 ≤ ∑ i, ∑ j, (|x i| - |x j|) ^ 2 :=
    Finset.sum_nonneg fun i _ => Finset.sum_nonneg fun j _ => sq_nonneg (|x i| - |x j|)
  refine ⟨by linarith, ?_⟩
  have hzero_iff := sum_sum_sq_eq_zero_iff (fun i j => |x i| - |x j|)
  constructor
  · intro heq i j
    have hz : ∑ i, ∑ j, (|x i| - |x j|) ^ 2 = 0 := by
      rw [hid]
      linear_combination (-2 : ℝ) * heq
    have hij : |x i| - |x j| = 0 := hzero_iff.mp hz i j
    linarith
  · intro hall
    have hz : ∑ i, ∑ j, (|x i| - |x j|) ^ 2 = 0 :=
      hzero_iff.mpr fun i j => by
        show |x i| - |x j| = 0
        rw [hall i j, sub_self]
    rw [hid] at hz
    linear_combination (-1 / 2 : ℝ) * hz

/-- The moment ratio is nonnegative. -/
theorem momentRatio_nonneg {n : ℕ} (x : Fin n → ℝ) : 0 ≤ momentRatio x := by
  unfold momentRatio
  exact div_nonneg (sq_nonneg _) (mul_nonneg (Nat.cast_nonneg n) (sqNorm_nonneg x))

/-- **`β ≤ 1`.** The empirical moment ratio of any sample is at most one.

Paper claim: seed 001 §S2 ("β = μ₁²/μ₂ ∈ (0, 1] ... By Cauchy–Schwarz, β ≤ 1");
seed 002 §1 ("By Cauchy–Schwarz, β ≤ 1; the asymptotic residual energy is 1−β"). -/
theorem momentRatio_le_one {n : ℕ} (x : Fin n → ℝ) : momentRatio x ≤ 1 := by
  have h : l1 x ^ 2 ≤ (n : ℝ) * sqNorm x := (moment_ratio_le_one x).1
  unfold momentRatio
  by_cases hz : (n : ℝ) * sqNorm x = 0
  · rw [hz, div_zero]
    exact zero_le_one
  · have hpos : 0 < (n : ℝ) * sqNorm x :=
      lt_of_le_of_ne (mul_nonneg (Nat.cast_nonneg n) (sqNorm_nonneg x)) (Ne.symm hz)
    first
      | exact (div_le_one₀ hpos).mpr h
      | exact (div_le_one hpos).mpr h

/-- **Equality case of `β ≤ 1`.** For a nonzero sample, `β(x) = 1` exactly when all `|xᵢ|` agree.

Paper claim: seed 001 §S2 ("β ≤ 1 with equality only on the sign lattice"). -/
theorem momentRatio_eq_one_iff {n : ℕ} {x : Fin n → ℝ} (hx : x ≠ 0) :
    momentRatio x = 1 ↔ ∀ i j, |x i| = |x j| := by
  have hS : 0 < sqNorm x := sqNorm_pos hx
  have hn : 0 < n := by
    rcases Nat.eq_zero_or_pos n with h0 | h0
    · subst h0
      exact (hx (funext fun i => Fin.elim0 i)).elim
    · exact h0
  have hden : (n : ℝ) * sqNorm x ≠ 0 := (mul_pos (Nat.cast_pos.mpr hn) hS).ne'
  unfold momentRatio
  rw [div_eq_one_iff_eq hden]
  exact (moment_ratio_le_one x).2

/-! ### The one-bit cosine -/

/-- Cauchy–Schwarz in one-bit form: the one-bit cosine never exceeds one. -/
theorem oneBitCosine_le_one {d : ℕ} (x : Fin d → ℝ) : oneBitCosine x ≤ 1 := by
  have h1 : l1 x ^ 2 ≤ (d : ℝ) * sqNorm x := (moment_ratio_le_one x).1
  have h2 : l1 x ≤ Real.sqrt (d : ℝ) * Real.sqrt (sqNorm x) := by
    rw [← Real.sqrt_mul (Nat.cast_nonneg d)]
    exact Real.le_sqrt_of_sq_le h1
  rw [oneBitCosine_fin]
  by_cases hz : Real.sqrt (d : ℝ) * Real.sqrt (sqNorm x) = 0
  · rw [hz, div_zero]
    exact zero_le_one
  · have hpos : 0 < Real.sqrt (d : ℝ) * Real.sqrt (sqNorm x) :=
      lt_of_le_of_ne (mul_nonneg (Real.sqrt_nonneg _) (Real.sqrt_nonneg _)) (Ne.symm hz)
    first
      | exact (div_le_one₀ hpos).mpr h2
      | exact (div_le_one hpos).mpr h2

/-- A vector with no zero coordinate on `d > 0` coordinates has positive squared norm. -/
theorem sqNorm_pos_of_forall_ne_zero {d : ℕ} {x : Fin d → ℝ} (hx : ∀ i, x i ≠ 0) (hd : 0 < d) :
    0 < sqNorm x :=
  sqNorm_pos fun h => hx ⟨0, hd⟩ (congrFun h ⟨0, hd⟩)

/-- **The one-bit cosine is the cosine with the sign vector.** For `x ∈ ℝᵈ` with no zero
coordinate, `cos(x, sign x) = ‖x‖₁ / (√d · ‖x‖₂)`.

Paper claim: seed 001 §S2 ("The per-vector algebraic bridge is proved as cos_sign_quant_formula
(JensenFloor.lean)"); ARCHITECTURE glossary "One-bit cosine". -/
theorem cos_sign_quant_formula {d : ℕ} (x : Fin d → ℝ) (hx : ∀ i, x i ≠ 0) :
    cosine x (signVec x) = oneBitCosine x := by
  have hnum : ∑ i, x i * signVec x i = l1 x := by
    unfold l1 signVec
    exact Finset.sum_congr rfl fun i _ => mul_sign_eq_abs (x i)
  have hsq : ∑ i, Real.sign (x i) ^ 2 = ∑ _i : Fin d, (1 : ℝ) :=
    Finset.sum_congr rfl fun i _ => sign_sq_of_ne_zero (hx i)
  have hs : sqNorm (signVec x) = d := by
    unfold sqNorm signVec
    rw [hsq, sum_const_fin, mul_one]
  unfold cosine
  rw [hnum, hs, oneBitCosine_fin, mul_comm (Real.sqrt (sqNorm x))]

/-! ### The optimal one-bit scale -/

/-- Expansion of the one-bit residual: for `x` with no zero coordinate and any scale `α`,
`‖x − α · sign x‖² = ‖x‖² − 2α‖x‖₁ + α² d`.

Paper claim: ARCHITECTURE glossary "One-bit cosine" (best 1-bit reconstruction `α · sign(k)`);
seed 001 §S1 ("a value of 0.7979 ... means roughly 20% of energy is lost per layer"). -/
theorem one_bit_residual_eq {d : ℕ} (x : Fin d → ℝ) (hx : ∀ i, x i ≠ 0) (α : ℝ) :
    ∑ i, (x i - α * Real.sign (x i)) ^ 2 = sqNorm x - 2 * α * l1 x + α ^ 2 * d := by
  have hterm : ∀ i, (x i - α * Real.sign (x i)) ^ 2 =
      x i ^ 2 - 2 * α * |x i| + α ^ 2 * 1 := by
    intro i
    have hs2 := sign_sq_of_ne_zero (hx i)
    have hab := mul_sign_eq_abs (x i)
    linear_combination (-2 * α) * hab + α ^ 2 * hs2
  calc ∑ i, (x i - α * Real.sign (x i)) ^ 2
      = ∑ i, (x i ^ 2 - 2 * α * |x i| + α ^ 2 * 1) := Finset.sum_congr rfl fun i _ => hterm i
    _ = ∑ i, x i ^ 2 - 2 * α * ∑ i, |x i| + α ^ 2 * ∑ _i : Fin d, (1 : ℝ) := by
        rw [Finset.sum_add_distrib, Finset.sum_sub_distrib, ← Finset.mul_sum, ← Finset.mul_sum]
    _ = sqNorm x - 2 * α * l1 x + α ^ 2 * d := by
        rw [sum_const_fin]
        unfold sqNorm l1
        ring

/-- **Optimal one-bit scale.** For `x ∈ ℝᵈ` (`d > 0`) with no zero coordinate and every scale `α`,
`‖x − α · sign x‖² ≥ ‖x‖² − ‖x‖₁²/d`, with equality at `α = ‖x‖₁ / d`.

Paper claim: ARCHITECTURE glossary "One-bit cosine" ("The best 1-bit reconstruction α·sign(k) has
α = ‖k‖₁/d and relative residual energy 1 − c(k)²"); seed 001 §S1. -/
theorem one_bit_scale_optimal {d : ℕ} (x : Fin d → ℝ) (hx : ∀ i, x i ≠ 0) (hd : 0 < d) (α : ℝ) :
    sqNorm x - l1 x ^ 2 / d ≤ ∑ i, (x i - α * Real.sign (x i)) ^ 2 ∧
      ∑ i, (x i - l1 x / d * Real.sign (x i)) ^ 2 = sqNorm x - l1 x ^ 2 / d := by
  have hd' : (0 : ℝ) < d := Nat.cast_pos.mpr hd
  have hinv : (d : ℝ) * (d : ℝ)⁻¹ = 1 := mul_inv_cancel₀ hd'.ne'
  constructor
  · rw [one_bit_residual_eq x hx α]
    have key : sqNorm x - 2 * α * l1 x + α ^ 2 * d - (sqNorm x - l1 x ^ 2 / d) =
        (d : ℝ) * (α - l1 x / d) ^ 2 := by
      linear_combination (2 * α * l1 x - l1 x ^ 2 * (d : ℝ)⁻¹) * hinv
    have hsq : 0 ≤ (d : ℝ) * (α - l1 x / d) ^ 2 := mul_nonneg hd'.le (sq_nonneg _)
    linarith
  · rw [one_bit_residual_eq x hx (l1 x / d)]
    linear_combination (l1 x ^ 2 * (d : ℝ)⁻¹) * hinv

/-- **Relative residual of the optimal one-bit code is `1 − c²`.** For `x ∈ ℝᵈ` (`d > 0`) with no
zero coordinate, `‖x − (‖x‖₁/d) sign x‖² / ‖x‖² = 1 − c(x)²`.

Paper claim: ARCHITECTURE glossary "One-bit cosine" ("relative residual energy 1 − c(k)²");
seed 001 §S2 ("The asymptotic residual energy is 1 − β"). -/
theorem one_bit_relative_residual {d : ℕ} (x : Fin d → ℝ) (hx : ∀ i, x i ≠ 0) (hd : 0 < d) :
    (∑ i, (x i - l1 x / d * Real.sign (x i)) ^ 2) / sqNorm x = 1 - oneBitCosine x ^ 2 := by
  have hS : 0 < sqNorm x := sqNorm_pos_of_forall_ne_zero hx hd
  rw [(one_bit_scale_optimal x hx hd 0).2, oneBitCosine_sq, sub_div, div_self hS.ne', div_div]

/-! ### The Gaussian floor `β = 2/π` -/

/-- The half-line integral `∫₀^∞ x e^{-b x²} dx = 1 / (2b)` for `b > 0`
(fundamental theorem of calculus with the primitive `-e^{-b x²} / (2b)`).

Mathlib's real-valued `integral_mul_exp_neg_mul_sq` is not in the stored 2024–2026 versions of
`Mathlib/Analysis/SpecialFunctions/Gaussian/GaussianIntegral.lean` (only the complex
`integral_mul_cexp_neg_mul_sq` is), so the real statement is proved here. -/
theorem integral_Ioi_mul_exp_neg_mul_sq {b : ℝ} (hb : 0 < b) :
    ∫ x in Set.Ioi (0 : ℝ), x * Real.exp (-b * x ^ 2) = (2 * b)⁻¹ := by
  have h2b : (2 * b) ≠ 0 := by positivity
  have key : (2 * b)⁻¹ * (2 * b) = 1 := inv_mul_cancel₀ h2b
  have hderiv : ∀ x ∈ Set.Ici (0 : ℝ),
      HasDerivAt (fun y : ℝ => -(2 * b)⁻¹ * Real.exp (-b * y ^ 2))
        (x * Real.exp (-b * x ^ 2)) x := by
    intro x _
    have hpow : HasDerivAt (fun y : ℝ => y ^ 2) (2 * x) x := by
      first
        | simpa using hasDerivAt_pow 2 x
        | (convert hasDerivAt_pow 2 x using 1; norm_num; done)
    have h := ((hpow.const_mul (-b)).exp).const_mul (-(2 * b)⁻¹)
    convert h using 1
    -- `convert` leaves `x * e = -(2b)⁻¹ * (e * (-b * (2 * x)))` (goal side on the left, as documented;
    -- `e = exp (-b x²)`), an identity modulo `key`; the second line only guards the orientation.
    first
      | linear_combination (-(x * Real.exp (-b * x ^ 2))) * key
      | linear_combination (x * Real.exp (-b * x ^ 2)) * key
  have hlim : Tendsto (fun y : ℝ => -(2 * b)⁻¹ * Real.exp (-b * y ^ 2)) atTop (𝓝 0) := by
    have h1 : Tendsto (fun y : ℝ => y ^ 2) atTop atTop := tendsto_pow_atTop two_ne_zero
    have h2 : Tendsto (fun y : ℝ => -b * y ^ 2) atTop atBot :=
      h1.const_mul_atTop_of_neg (neg_lt_zero.mpr hb)
    have h3 : Tendsto (fun y : ℝ => Real.exp (-b * y ^ 2)) atTop (𝓝 0) :=
      Real.tendsto_exp_atBot.comp h2
    have h4 := h3.const_mul (-(2 * b)⁻¹)
    rw [mul_zero] at h4
    exact h4
  rw [integral_Ioi_of_hasDerivAt_of_tendsto' hderiv
    (integrable_mul_exp_neg_mul_sq hb).integrableOn hlim]
  first
    | (simp; done)
    | (norm_num; done)

/-- The integrand of `E|Z|` against the standard Gaussian density. -/
theorem gaussianPDFReal_mul_abs (x : ℝ) :
    gaussianPDFReal 0 1 x * |x| =
      (Real.sqrt (2 * Real.pi))⁻¹ * (|x| * Real.exp (-(1 / 2) * |x| ^ 2)) := by
  have he : -(x - 0) ^ 2 / (2 * ((1 : ℝ≥0) : ℝ)) = -(1 / 2) * |x| ^ 2 := by
    rw [sq_abs, NNReal.coe_one]
    ring
  have hc : 2 * Real.pi * ((1 : ℝ≥0) : ℝ) = 2 * Real.pi := by
    rw [NNReal.coe_one, mul_one]
  -- `gaussianPDFReal_def : gaussianPDFReal μ v = fun x ↦ (√(2 * π * v))⁻¹ * rexp (-(x - μ) ^ 2 / (2 * v))`
  rw [gaussianPDFReal_def]
  show (Real.sqrt (2 * Real.pi * ((1 : ℝ≥0) : ℝ)))⁻¹ *
      Real.exp (-(x - 0) ^ 2 / (2 * ((1 : ℝ≥0) : ℝ))) * |x| = _
  rw [he, hc, mul_assoc, mul_comm (Real.exp _) |x|]

/-- `E|Z| = √(2/π)` for a standard Gaussian `Z ~ N(0, 1)`. -/
theorem integral_abs_gaussianReal_std :
    ∫ x, |x| ∂(gaussianReal 0 1) = Real.sqrt (2 / Real.pi) := by
  rw [integral_gaussianReal_eq_integral_smul (one_ne_zero : (1 : ℝ≥0) ≠ 0)]
  simp only [smul_eq_mul]
  have hpt : (fun x : ℝ => gaussianPDFReal 0 1 x * |x|) =
      fun x => (Real.sqrt (2 * Real.pi))⁻¹ * (|x| * Real.exp (-(1 / 2) * |x| ^ 2)) :=
    funext gaussianPDFReal_mul_abs
  have habs : ∫ x : ℝ, |x| * Real.exp (-(1 / 2) * |x| ^ 2) =
      2 * ∫ x in Set.Ioi (0 : ℝ), x * Real.exp (-(1 / 2) * x ^ 2) := by
    exact integral_comp_abs (f := fun y => y * Real.exp (-(1 / 2) * y ^ 2))
  rw [hpt, integral_const_mul, habs,
    integral_Ioi_mul_exp_neg_mul_sq (by norm_num : (0 : ℝ) < 1 / 2)]
  have hs : Real.sqrt (2 * Real.pi) ^ 2 = 2 * Real.pi := Real.sq_sqrt (by positivity)
  rw [show (2 : ℝ) * (2 * (1 / 2))⁻¹ = 2 by norm_num]
  rw [← Real.sqrt_sq (by positivity : (0 : ℝ) ≤ (Real.sqrt (2 * Real.pi))⁻¹ * 2)]
  congr 1
  rw [mul_pow, inv_pow, hs]
  ring

/-- `E[Z²] = 1` for a standard Gaussian `Z ~ N(0, 1)` (its variance, since its mean is `0`). -/
theorem integral_sq_gaussianReal_std : ∫ x, x ^ 2 ∂(gaussianReal 0 1) = 1 := by
  have h : ProbabilityTheory.variance id (gaussianReal 0 1) = ((1 : ℝ≥0) : ℝ) :=
    variance_id_gaussianReal
  rw [variance_eq_integral measurable_id.aemeasurable] at h
  simpa [integral_id_gaussianReal] using h

/-- **The Gaussian moment-ratio floor.** For a standard Gaussian `Z`, `E|Z| = √(2/π)` and
`β = (E|Z|)² / E[Z²] = 2/π ≈ 0.6366`; the one-bit cosine form is `√(2/π) ≈ 0.7979`.

Paper claim: seed 001 §S2 ("The Gaussian first-absolute-moment ratio gives the theoretical SRHT
floor: √(2/π) ≈ 0.7979, proved as gaussian_moment_ratio_floor_eq"); seed 002 header
("The moment-ratio floor is β=2/π≈0.637; its one-bit cosine form is √β≈0.798"). -/
theorem gaussian_moment_ratio_floor_eq :
    ∫ x, |x| ∂(gaussianReal 0 1) = Real.sqrt (2 / Real.pi) ∧
      (∫ x, |x| ∂(gaussianReal 0 1)) ^ 2 / (∫ x, x ^ 2 ∂(gaussianReal 0 1)) = 2 / Real.pi := by
  refine ⟨integral_abs_gaussianReal_std, ?_⟩
  rw [integral_abs_gaussianReal_std, integral_sq_gaussianReal_std, div_one,
    Real.sq_sqrt (by positivity : (0 : ℝ) ≤ 2 / Real.pi)]

end MoEGauge

end
