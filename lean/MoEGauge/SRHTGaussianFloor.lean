import MoEGauge.SRHTFloor

/-!
# The SRHT floor, Gaussian case

The general SRHT floor (`MoEGauge.srht_achieves_isotropic_floor`, i.i.d. symmetric inputs of any
law) needs a Lindeberg-type CLT that Mathlib does not have. For **Gaussian** inputs no CLT is
needed: an orthogonal matrix maps i.i.d. `N(0, 1)` coordinates to i.i.d. `N(0, 1)` coordinates, so
the SRHT output *is* an i.i.d. Gaussian vector, and the strong law of large numbers applied to
`‖y‖₁ / d` and `‖y‖₂² / d` pins its one-bit cosine at `√(2/π)`.

Proved here:
* `MoEGauge.pi_gaussianReal_map_orthogonal`: `Measure.pi N(0,1)` is invariant under every
  orthogonal matrix (through Mathlib's `ProbabilityTheory.stdGaussian_map` and
  `ProbabilityTheory.map_pi_eq_stdGaussian`);
* `MoEGauge.srht_map_pi_gaussianReal`, `MoEGauge.srht_preserves_iid_gaussian_law`: hence the SRHT
  output of an i.i.d. `N(0, 1)` vector is again i.i.d. `N(0, 1)`, for every sign diagonal;
* `MoEGauge.gaussian_oneBitCosine_tendsto_ae`: for an i.i.d. `N(0, 1)` sequence `Z`, the one-bit
  cosine of `(Z₀, …, Z_{n−1})` tends to `√(2/π)` almost surely (`ProbabilityTheory.strong_law_ae_real`).

Stated and deferred: `MoEGauge.srht_gaussian_floor_in_probability`, the two joined into
convergence in probability along the SRHT family (see its `Deferred:` line).
-/

open scoped Matrix Topology

open MeasureTheory ProbabilityTheory Filter

noncomputable section

namespace MoEGauge

section OrthogonalInvariance

variable {n : Type*} [Fintype n] [DecidableEq n]

/-- An orthogonal matrix acting on `EuclideanSpace ℝ n`, as a linear isometry. -/
def orthogonalLinearIsometry {R : Matrix n n ℝ} (hR : R ∈ Matrix.orthogonalGroup n ℝ) :
    EuclideanSpace ℝ n →ₗᵢ[ℝ] EuclideanSpace ℝ n where
  toFun x := WithLp.toLp 2 (R *ᵥ WithLp.ofLp x)
  map_add' x y := by
    simp only [WithLp.ofLp_add, Matrix.mulVec_add, WithLp.toLp_add]
  map_smul' c x := by
    simp only [WithLp.ofLp_smul, Matrix.mulVec_smul, WithLp.toLp_smul, RingHom.id_apply]
  norm_map' x := by
    show ‖(WithLp.toLp 2 (R *ᵥ WithLp.ofLp x) : EuclideanSpace ℝ n)‖ = ‖x‖
    have h : ‖(WithLp.toLp 2 (R *ᵥ WithLp.ofLp x) : EuclideanSpace ℝ n)‖ ^ 2 = ‖x‖ ^ 2 := by
      rw [EuclideanSpace.real_norm_sq_eq, EuclideanSpace.real_norm_sq_eq]
      exact sqNorm_mulVec_of_mem_orthogonalGroup hR (WithLp.ofLp x)
    calc ‖(WithLp.toLp 2 (R *ᵥ WithLp.ofLp x) : EuclideanSpace ℝ n)‖
        = Real.sqrt (‖(WithLp.toLp 2 (R *ᵥ WithLp.ofLp x) : EuclideanSpace ℝ n)‖ ^ 2) :=
          (Real.sqrt_sq (norm_nonneg _)).symm
      _ = Real.sqrt (‖x‖ ^ 2) := by rw [h]
      _ = ‖x‖ := Real.sqrt_sq (norm_nonneg _)

/-- **An orthogonal matrix maps i.i.d. standard Gaussian coordinates to i.i.d. standard Gaussian
coordinates:** `(N(0,1)^{⊗n}).map (R *ᵥ ·) = N(0,1)^{⊗n}` for every `R ∈ O(n)`.

Paper claim: seed 001 §S3 (for Gaussian inputs the rotated marginals are exactly Gaussian, so the
SRHT floor needs no CLT); ARCHITECTURE glossary "SRHT". -/
theorem pi_gaussianReal_map_orthogonal {R : Matrix n n ℝ} (hR : R ∈ Matrix.orthogonalGroup n ℝ) :
    (Measure.pi fun _ : n => gaussianReal 0 1).map (fun x => R *ᵥ x) =
      Measure.pi fun _ : n => gaussianReal 0 1 := by
  let L : EuclideanSpace ℝ n ≃ₗᵢ[ℝ] EuclideanSpace ℝ n :=
    (orthogonalLinearIsometry hR).toLinearIsometryEquiv rfl
  have hto : Measurable (WithLp.toLp 2 : (n → ℝ) → EuclideanSpace ℝ n) := by
    first
      | fun_prop
      | exact (MeasurableEquiv.toLp 2 (n → ℝ)).measurable
      | exact (EuclideanSpace.measurableEquiv n).symm.measurable
  have hof : Measurable (WithLp.ofLp : EuclideanSpace ℝ n → (n → ℝ)) := by
    first
      | fun_prop
      | exact (MeasurableEquiv.toLp 2 (n → ℝ)).symm.measurable
      | exact (EuclideanSpace.measurableEquiv n).measurable
  have hR' : Measurable fun x : n → ℝ => R *ᵥ x :=
    (continuous_const.matrix_mulVec continuous_id).measurable
  -- `N(0,1)^{⊗n}` is the standard Gaussian of `EuclideanSpace ℝ n`, read back through `ofLp`.
  have hμ : (Measure.pi fun _ : n => gaussianReal 0 1) =
      (stdGaussian (EuclideanSpace ℝ n)).map WithLp.ofLp := by
    -- `map_pi_eq_stdGaussian` (Mathlib at v4.33) was `pi_eq_stdGaussian` in earlier versions.
    first
      | (rw [← map_pi_eq_stdGaussian, Measure.map_map hof hto]; exact Measure.map_id.symm)
      | (rw [← pi_eq_stdGaussian, Measure.map_map hof hto]; exact Measure.map_id.symm)
  have hcomm : (fun x : n → ℝ => R *ᵥ x) ∘ WithLp.ofLp = WithLp.ofLp ∘ L := by
    funext x
    show R *ᵥ WithLp.ofLp x =
      WithLp.ofLp ((orthogonalLinearIsometry hR).toLinearIsometryEquiv rfl x)
    rw [LinearIsometry.toLinearIsometryEquiv_apply]
    rfl
  rw [hμ, Measure.map_map hR' hof, hcomm, ← Measure.map_map hof L.continuous.measurable,
    stdGaussian_map L]

end OrthogonalInvariance

/-- **The SRHT maps an i.i.d. `N(0, 1)` vector to an i.i.d. `N(0, 1)` vector**, for every sign
diagonal: `(N(0,1)^{⊗2ᵐ}).map (srht m ε *ᵥ ·) = N(0,1)^{⊗2ᵐ}`.

Paper claim: seed 001 §S3 ("Any data-independent rotation acts as a mixing operator"), Gaussian
case; ARCHITECTURE glossary "SRHT". -/
theorem srht_map_pi_gaussianReal (m : ℕ) (ε : (Fin m → Bool) → ℝ)
    (hε : ∀ y, ε y = 1 ∨ ε y = -1) :
    (Measure.pi fun _ : Fin m → Bool => gaussianReal 0 1).map (fun x => srht m ε *ᵥ x) =
      Measure.pi fun _ : Fin m → Bool => gaussianReal 0 1 :=
  pi_gaussianReal_map_orthogonal (srht_mem_orthogonalGroup m ε hε)

/-- The random-vector form: if `X` has i.i.d. `N(0, 1)` coordinates, so has `srht m ε *ᵥ X`. -/
theorem srht_preserves_iid_gaussian_law {Ω : Type*} [MeasurableSpace Ω] {P : Measure Ω}
    (m : ℕ) (ε : (Fin m → Bool) → ℝ) (hε : ∀ y, ε y = 1 ∨ ε y = -1)
    {X : Ω → (Fin m → Bool) → ℝ} (hX : Measurable X)
    (hlaw : P.map X = Measure.pi fun _ : Fin m → Bool => gaussianReal 0 1) :
    P.map (fun ω => srht m ε *ᵥ X ω) = Measure.pi fun _ : Fin m → Bool => gaussianReal 0 1 := by
  have h : (fun ω => srht m ε *ᵥ X ω) = (fun x => srht m ε *ᵥ x) ∘ X := rfl
  have hS : Measurable fun x : (Fin m → Bool) → ℝ => srht m ε *ᵥ x :=
    (continuous_const.matrix_mulVec continuous_id).measurable
  rw [h, ← Measure.map_map hS hX, hlaw]
  exact srht_map_pi_gaussianReal m ε hε

/-- **The one-bit cosine of i.i.d. Gaussian coordinates tends to `√(2/π)` almost surely.** For
pairwise independent `Zᵢ ~ N(0, 1)`, `c(Z₀, …, Z_{n−1}) → √(2/π)` as `n → ∞`, almost surely: by the
strong law, `‖Z‖₁/n → E|Z₀| = √(2/π)` (`MoEGauge.integral_abs_gaussianReal_std`) and
`‖Z‖₂²/n → E[Z₀²] = 1`, and `c = (‖Z‖₁/n) / √(‖Z‖₂²/n)`.

Paper claim: seed 001 §S2–§S3 (the floor `√(2/π) ≈ 0.7979` of the one-bit cosine), Gaussian
case; ARCHITECTURE glossary "One-bit cosine" ("For i.i.d. coordinates c → √β"). -/
theorem gaussian_oneBitCosine_tendsto_ae {Ω : Type*} [MeasurableSpace Ω] {P : Measure Ω}
    [IsProbabilityMeasure P] (Z : ℕ → Ω → ℝ) (hZ : ∀ i, Measurable (Z i))
    (hindep : Pairwise fun i j => IndepFun (Z i) (Z j) P)
    (hlaw : ∀ i, P.map (Z i) = gaussianReal 0 1) :
    ∀ᵐ ω ∂P, Tendsto (fun n : ℕ => oneBitCosine (fun i : Fin n => Z i ω)) atTop
      (𝓝 (Real.sqrt (2 / Real.pi))) := by
  have hident : ∀ i, IdentDistrib (Z i) (Z 0) P P := fun i =>
    ⟨(hZ i).aemeasurable, (hZ 0).aemeasurable, by rw [hlaw i, hlaw 0]⟩
  -- first moments: `E|Z₀| = √(2/π)`
  have hintA : Integrable (fun ω => |Z 0 ω|) P := by
    have h : Integrable (fun x : ℝ => |x|) (P.map (Z 0)) := by
      rw [hlaw 0]
      exact IsGaussian.integrable_id.abs
    exact (integrable_map_measure continuous_abs.aestronglyMeasurable (hZ 0).aemeasurable).mp h
  have hEA : ∫ ω, |Z 0 ω| ∂P = Real.sqrt (2 / Real.pi) := by
    calc ∫ ω, |Z 0 ω| ∂P = ∫ x, |x| ∂(P.map (Z 0)) :=
          (integral_map (hZ 0).aemeasurable continuous_abs.aestronglyMeasurable).symm
      _ = Real.sqrt (2 / Real.pi) := by
          rw [hlaw 0]
          exact integral_abs_gaussianReal_std
  -- second moments: `E[Z₀²] = 1`
  have hintB : Integrable (fun ω => Z 0 ω ^ 2) P := by
    have h : Integrable (fun x : ℝ => x ^ 2) (P.map (Z 0)) := by
      rw [hlaw 0]
      exact IsGaussian.memLp_two_id.integrable_sq
    exact (integrable_map_measure (continuous_pow 2).aestronglyMeasurable
      (hZ 0).aemeasurable).mp h
  have hEB : ∫ ω, Z 0 ω ^ 2 ∂P = 1 := by
    calc ∫ ω, Z 0 ω ^ 2 ∂P = ∫ x, x ^ 2 ∂(P.map (Z 0)) :=
          (integral_map (hZ 0).aemeasurable (continuous_pow 2).aestronglyMeasurable).symm
      _ = 1 := by
          rw [hlaw 0]
          exact integral_sq_gaussianReal_std
  -- the two strong laws
  have hA : ∀ᵐ ω ∂P, Tendsto (fun n : ℕ => (∑ i ∈ Finset.range n, |Z i ω|) / n) atTop
      (𝓝 (Real.sqrt (2 / Real.pi))) := by
    filter_upwards [strong_law_ae_real (fun i ω => |Z i ω|) hintA
      (fun i j hij => (hindep hij).comp continuous_abs.measurable continuous_abs.measurable)
      (fun i => (hident i).comp continuous_abs.measurable)] with ω hω
    rw [← hEA]
    exact hω
  have hB : ∀ᵐ ω ∂P, Tendsto (fun n : ℕ => (∑ i ∈ Finset.range n, Z i ω ^ 2) / n) atTop
      (𝓝 1) := by
    filter_upwards [strong_law_ae_real (fun i ω => Z i ω ^ 2) hintB
      (fun i j hij => (hindep hij).comp (continuous_pow 2).measurable (continuous_pow 2).measurable)
      (fun i => (hident i).comp (continuous_pow 2).measurable)] with ω hω
    rw [← hEB]
    exact hω
  filter_upwards [hA, hB] with ω hωA hωB
  -- `c² = (‖Z‖₁/n)² / (‖Z‖₂²/n) → (2/π)/1`, and `c = √(c²)` since `c ≥ 0`.
  have hlim := ((hωA.pow 2).div hωB one_ne_zero).sqrt
  rw [Real.sq_sqrt (by positivity : (0 : ℝ) ≤ 2 / Real.pi), div_one] at hlim
  refine hlim.congr' ?_
  filter_upwards [eventually_ge_atTop 1] with n hn
  have hn0 : (n : ℝ) ≠ 0 := Nat.cast_ne_zero.mpr (by omega)
  have hl : l1 (fun i : Fin n => Z i ω) = ∑ i ∈ Finset.range n, |Z i ω| :=
    Fin.sum_univ_eq_sum_range (fun i => |Z i ω|) n
  have hs : sqNorm (fun i : Fin n => Z i ω) = ∑ i ∈ Finset.range n, Z i ω ^ 2 :=
    Fin.sum_univ_eq_sum_range (fun i => Z i ω ^ 2) n
  show Real.sqrt (((∑ i ∈ Finset.range n, |Z i ω|) / n) ^ 2 /
      ((∑ i ∈ Finset.range n, Z i ω ^ 2) / n)) = oneBitCosine (fun i : Fin n => Z i ω)
  rw [← Real.sqrt_sq (oneBitCosine_nonneg (fun i : Fin n => Z i ω)), oneBitCosine_sq, hl, hs]
  congr 1
  rcases eq_or_ne (∑ i ∈ Finset.range n, Z i ω ^ 2) 0 with hb | hb
  · rw [hb]
    simp
  · first
      | (field_simp; done)
      | (field_simp; ring)

/-- **The SRHT floor for Gaussian inputs, in probability** (stated; proof deferred). If every
`X m` has i.i.d. `N(0, 1)` coordinates, then for every choice of sign diagonals the one-bit cosine
of `srht m (ε m) *ᵥ X m` converges in probability to `√(2/π)` as `d = 2ᵐ → ∞`.

Paper claim: seed 001 §S3 and seed 002 §1 (the SRHT is pinned to the Gaussian floor), in the
special case of Gaussian inputs; the general case is `MoEGauge.srht_achieves_isotropic_floor`.

Deferred: the two proved halves are srht_preserves_iid_gaussian_law (the SRHT output is again i.i.d. N(0,1)) and gaussian_oneBitCosine_tendsto_ae (a.s. convergence along one i.i.d. sequence); joining them needs the law of the first 2^m coordinates of the i.i.d. sequence (Measure.infinitePi_map_restrict) transported along an equivalence (Fin m → Bool) ≃ Fin (2^m), with oneBitCosine invariant under that reindexing, then tendstoInMeasure_of_tendsto_ae; that assembly is not written yet. -/
theorem srht_gaussian_floor_in_probability {Ω : Type*} [MeasurableSpace Ω]
    (P : Measure Ω) [IsProbabilityMeasure P]
    (X : (m : ℕ) → Ω → (Fin m → Bool) → ℝ) (hX : ∀ m, Measurable (X m))
    (hlaw : ∀ m, P.map (X m) = Measure.pi fun _ : Fin m → Bool => gaussianReal 0 1)
    (ε : (m : ℕ) → (Fin m → Bool) → ℝ) (hε : ∀ m y, ε m y = 1 ∨ ε m y = -1) :
    TendstoInMeasure P (fun m ω => oneBitCosine (srht m (ε m) *ᵥ X m ω)) atTop
      (fun _ => Real.sqrt (2 / Real.pi)) := by
  sorry

end MoEGauge

end
