import MoEGauge.Householder

/-!
# DC-mean centering: what is true and what is not

Seed 001 §S5 argues: write a key as `k = μ·e + v` with `e` the unit all-ones direction and `v`
centered (`∑ vᵢ = 0`); then `‖R k‖² = μ² + ‖R v‖²`, and "centering removes [the] constraint: the
optimizer is free to use the full O(d) group. Formally, sup_R cos θ(R, v) ≥ sup_R cos θ(R, μe + v)".

* `MoEGauge.dc_mean_decomposition_norm`: the norm decomposition holds (proved).
* `MoEGauge.rotationalCeiling_dc_key_eq_one_and_centered_eq_one`: per vector, both ceilings are
  exactly `1`, so the displayed inequality holds only as an equality and cannot explain any lift.
  `MoEGauge.dc_centering_lifts_rotational_ceiling` is kept as a deprecated alias (the seeds cite it).
* `MoEGauge.dc_centering_fails_for_pure_dc`: the hypothesis `v ≠ 0` cannot be dropped.
* The **dataset-level** claim (mean one-bit cosine over a key set, per-channel centering) is
  false in general: `MoEGauge.dc_centering_lowers_mean_ceiling_d2` states the d = 2
  counterexample (deferred, with the missing pieces named); it is checked numerically in
  `tests/lean_statements/test_dc_centering_search.py`.
* `MoEGauge.per_channel_centering_energy`: what per-channel centering provably buys — it removes
  exactly `N ‖μ‖²` of energy (kept in metadata) from what the one-bit code must represent.
-/

open scoped Matrix

noncomputable section

namespace MoEGauge

/-- The unit all-ones direction `e = (1, …, 1) / √d`. -/
def unitOnes (d : ℕ) (_i : Fin d) : ℝ := 1 / Real.sqrt (d : ℝ)

/-- `e` is a unit vector (for `d > 0`). -/
theorem unitOnes_dotProduct_self {d : ℕ} (hd : 0 < d) : unitOnes d ⬝ᵥ unitOnes d = 1 := by
  have hdpos : (0 : ℝ) < d := Nat.cast_pos.mpr hd
  have hs : Real.sqrt (d : ℝ) * Real.sqrt (d : ℝ) = d := Real.mul_self_sqrt hdpos.le
  have hsne : Real.sqrt (d : ℝ) ≠ 0 := (Real.sqrt_pos.mpr hdpos).ne'
  have hinv : Real.sqrt (d : ℝ) * (Real.sqrt (d : ℝ))⁻¹ = 1 := mul_inv_cancel₀ hsne
  simp only [dotProduct, unitOnes]
  rw [sum_const_fin]
  linear_combination (-((Real.sqrt (d : ℝ))⁻¹ ^ 2)) * hs +
    (Real.sqrt (d : ℝ) * (Real.sqrt (d : ℝ))⁻¹ + 1) * hinv

/-- A centered vector is orthogonal to `e`. -/
theorem unitOnes_dotProduct_of_sum_eq_zero {d : ℕ} {v : Fin d → ℝ} (hv : ∑ i, v i = 0) :
    unitOnes d ⬝ᵥ v = 0 := by
  simp only [dotProduct, unitOnes]
  rw [← Finset.mul_sum, hv, mul_zero]

/-- Norm decomposition without a rotation: `‖μ e + v‖² = μ² + ‖v‖²` for centered `v`. -/
theorem dc_mean_decomposition_sqNorm {d : ℕ} (hd : 0 < d) (μ : ℝ) (v : Fin d → ℝ)
    (hv : ∑ i, v i = 0) : sqNorm (μ • unitOnes d + v) = μ ^ 2 + sqNorm v := by
  have hee := unitOnes_dotProduct_self hd
  have hev := unitOnes_dotProduct_of_sum_eq_zero hv
  have hve : v ⬝ᵥ unitOnes d = 0 := by rw [dotProduct_comm]; exact hev
  rw [sqNorm_eq_dotProduct, sqNorm_eq_dotProduct, add_dotProduct, dotProduct_add, dotProduct_add,
    smul_dotProduct, smul_dotProduct, dotProduct_smul, dotProduct_smul, hee, hev, hve]
  simp only [smul_eq_mul]
  ring

/-- **DC-mean decomposition of the rotated norm.** For `k = μ·e + v` with `e` the unit all-ones
direction and `∑ vᵢ = 0`, every orthogonal `R` satisfies `‖R k‖² = μ² + ‖R v‖²`.

Paper claim: seed 001 §S5 ("A key vector decomposes as k = μ·e + v ... For any orthogonal R:
‖Rk‖₂² = μ² + ‖Rv‖₂²"). -/
theorem dc_mean_decomposition_norm {d : ℕ} (hd : 0 < d) {R : Matrix (Fin d) (Fin d) ℝ}
    (hR : R ∈ Matrix.orthogonalGroup (Fin d) ℝ) (μ : ℝ) (v : Fin d → ℝ) (hv : ∑ i, v i = 0) :
    sqNorm (R *ᵥ (μ • unitOnes d + v)) = μ ^ 2 + sqNorm (R *ᵥ v) := by
  rw [sqNorm_mulVec_of_mem_orthogonalGroup hR, sqNorm_mulVec_of_mem_orthogonalGroup hR]
  exact dc_mean_decomposition_sqNorm hd μ v hv

/-- `R e` and `R v` are orthogonal when `v` is centered (the step used in seed 001 §S5). -/
theorem dc_rotated_components_orthogonal {d : ℕ} {R : Matrix (Fin d) (Fin d) ℝ}
    (hR : R ∈ Matrix.orthogonalGroup (Fin d) ℝ) {v : Fin d → ℝ} (hv : ∑ i, v i = 0) :
    (R *ᵥ unitOnes d) ⬝ᵥ (R *ᵥ v) = 0 := by
  rw [attention_score_gauge_invariance hR]
  exact unitOnes_dotProduct_of_sum_eq_zero hv

/-- The one-bit cosines of `R x` over all orthogonal `R`. -/
def rotationalCosines {d : ℕ} (x : Fin d → ℝ) : Set ℝ :=
  {c | ∃ R ∈ Matrix.orthogonalGroup (Fin d) ℝ, c = oneBitCosine (R *ᵥ x)}

/-- The per-vector rotational ceiling `sup_{R ∈ O(d)} c(R x)` of the one-bit cosine. -/
def rotationalCeiling {d : ℕ} (x : Fin d → ℝ) : ℝ :=
  sSup (rotationalCosines x)

/-- The per-vector rotational ceiling of a nonzero vector is `1`, and it is attained. -/
theorem rotationalCeiling_eq_one {d : ℕ} (hd : 0 < d) {x : Fin d → ℝ} (hx : x ≠ 0) :
    rotationalCeiling x = 1 := by
  unfold rotationalCeiling
  apply IsGreatest.csSup_eq
  refine ⟨?_, ?_⟩
  · obtain ⟨R, hR, h⟩ := exists_orthogonal_oneBitCosine_eq_one hd hx
    show ∃ R ∈ Matrix.orthogonalGroup (Fin d) ℝ, (1 : ℝ) = oneBitCosine (R *ᵥ x)
    exact ⟨R, hR, h.symm⟩
  · intro c hc
    obtain ⟨R, _, rfl⟩ := hc
    exact oneBitCosine_le_one _

/-- The rotational ceiling of the zero vector is `0` (every rotation keeps it at `0`). -/
theorem rotationalCeiling_zero (d : ℕ) : rotationalCeiling (0 : Fin d → ℝ) = 0 := by
  unfold rotationalCeiling
  apply IsGreatest.csSup_eq
  refine ⟨?_, ?_⟩
  · show ∃ R ∈ Matrix.orthogonalGroup (Fin d) ℝ, (0 : ℝ) = oneBitCosine (R *ᵥ (0 : Fin d → ℝ))
    refine ⟨1, one_mem _, ?_⟩
    rw [Matrix.mulVec_zero, oneBitCosine_zero]
  · intro c hc
    obtain ⟨R, _, rfl⟩ := hc
    exact le_of_eq (by rw [Matrix.mulVec_zero, oneBitCosine_zero])

/-- `μ e + v ≠ 0` as soon as the centered part `v` is nonzero. -/
theorem dc_key_ne_zero {d : ℕ} (hd : 0 < d) (μ : ℝ) {v : Fin d → ℝ} (hv : ∑ i, v i = 0)
    (hv0 : v ≠ 0) : μ • unitOnes d + v ≠ 0 := by
  intro h
  have h1 := dc_mean_decomposition_sqNorm hd μ v hv
  rw [h, sqNorm_zero] at h1
  have h2 := sqNorm_pos hv0
  nlinarith [sq_nonneg μ]

/-- **Per vector, centering leaves the rotational ceiling at `1`.** For `k = μ·e + v` with `e` the
unit all-ones direction, `∑ vᵢ = 0` and `v ≠ 0`, both per-vector rotational ceilings are exactly
`1`: `sup_R c(R (μ e + v)) = 1 = sup_R c(R v)`, each attained by a Householder reflection onto the
sign-lattice direction. So per vector, centering neither lifts nor lowers the ceiling; the
hypothesis `v ≠ 0` cannot be dropped (`MoEGauge.dc_centering_fails_for_pure_dc`).

Paper claim: seed 001 §S5 ("sup_R cos θ(R, v) ≥ sup_R cos θ(R, μe + v)") — true per vector only in
this degenerate form (equality at `1`); the dataset-level reading is false
(`MoEGauge.dc_centering_lowers_mean_ceiling_d2`). -/
theorem rotationalCeiling_dc_key_eq_one_and_centered_eq_one {d : ℕ} (hd : 0 < d) (μ : ℝ)
    (v : Fin d → ℝ) (hv : ∑ i, v i = 0) (hv0 : v ≠ 0) :
    rotationalCeiling (μ • unitOnes d + v) = 1 ∧ rotationalCeiling v = 1 :=
  ⟨rotationalCeiling_eq_one hd (dc_key_ne_zero hd μ hv hv0), rotationalCeiling_eq_one hd hv0⟩

/-- **Deprecated name; it proves no lift.** Seed 001 §S5 and the evidence cite this name, so it is
kept, with the statement of `MoEGauge.rotationalCeiling_dc_key_eq_one_and_centered_eq_one`: for
`k = μ·e + v` with `∑ vᵢ = 0` and `v ≠ 0`, both per-vector rotational ceilings are `1`. Nothing here
implies that centering raises any ceiling.

The seed's general claim — for a *set* of keys, the maximum over `R ∈ O(d)` of the **mean**
one-bit cosine after per-channel mean-centering is at least the maximum without centering — is
**false**. Counterexample (d = 2): keys `kᵢ = (1, 0) + ε uᵢ` with unit `uᵢ` at 0°, 120°, 240°.
The per-channel mean is `(1, 0)` and the centered keys are `ε uᵢ`, whose ceiling is
`(1 + √3)/3 ≈ 0.9107` for every `ε`, while the uncentered ceiling is `≈ 0.99725` at `ε = 0.1`
and tends to `1` as `ε → 0` (stated, deferred: `MoEGauge.dc_centering_lowers_mean_ceiling_d2`;
checked numerically in `tests/lean_statements/test_dc_centering_search.py`). The measured
centering lift is an empirical property of real K caches, not a theorem.

Paper claim: seed 001 §S5 ("Formally, sup_R cos θ(R, v) ≥ sup_R cos θ(R, μe + v), which is
dc_centering_lifts_rotational_ceiling in DCMeanCentering.lean") — only the degenerate per-vector
equality holds. -/
@[deprecated rotationalCeiling_dc_key_eq_one_and_centered_eq_one (since := "2026-12-02")]
theorem dc_centering_lifts_rotational_ceiling {d : ℕ} (hd : 0 < d) (μ : ℝ) (v : Fin d → ℝ)
    (hv : ∑ i, v i = 0) (hv0 : v ≠ 0) :
    rotationalCeiling (μ • unitOnes d + v) = 1 ∧ rotationalCeiling v = 1 :=
  rotationalCeiling_dc_key_eq_one_and_centered_eq_one hd μ v hv hv0

/-- **The per-vector lift fails for a pure DC key.** If `v = 0` and `μ ≠ 0`, the centered
vector has rotational ceiling `0` while the uncentered key `μ e` has ceiling `1`.

Paper claim: seed 001 §S5 (the inequality `sup_R cos θ(R, v) ≥ sup_R cos θ(R, μe + v)`);
this shows its hypothesis `v ≠ 0` is necessary. -/
theorem dc_centering_fails_for_pure_dc {d : ℕ} (hd : 0 < d) {μ : ℝ} (hμ : μ ≠ 0) :
    rotationalCeiling (0 : Fin d → ℝ) = 0 ∧ rotationalCeiling (μ • unitOnes d) = 1 := by
  refine ⟨rotationalCeiling_zero d, rotationalCeiling_eq_one hd ?_⟩
  intro h
  have h1 := dc_mean_decomposition_sqNorm hd μ 0 (by simp)
  rw [add_zero, h, sqNorm_zero, add_zero] at h1
  have hμ2 : μ ^ 2 = 0 := h1.symm
  first
    | exact hμ ((pow_eq_zero_iff two_ne_zero).mp hμ2)
    | exact hμ (pow_eq_zero hμ2)

/-- The per-channel mean `(1/N) ∑ₙ kₙ` of a set of `N` keys. -/
def meanVec {d N : ℕ} (k : Fin N → Fin d → ℝ) : Fin d → ℝ := (N : ℝ)⁻¹ • ∑ n, k n

/-- **What per-channel centering provably buys: energy.** For keys `k₁, …, k_N` (`N > 0`) with
per-channel mean `m` and any orthogonal `R`, `∑ₙ ‖R (kₙ − m)‖² = ∑ₙ ‖kₙ‖² − N ‖m‖²`: centering
removes exactly `N ‖m‖²` of energy, which is stored exactly as metadata, so the one-bit code
only has to represent the rest (its residual after the optimal scale is
`∑ₙ (1 − c(R(kₙ − m))²) ‖kₙ − m‖²`, by `MoEGauge.one_bit_relative_residual`).

Paper claim: seed 001 §S5 (centering and the `μ²` term of the norm decomposition) and §S7
("DC-mean metadata"); ARCHITECTURE glossary "DC-mean centering". -/
theorem per_channel_centering_energy {d N : ℕ} (hN : 0 < N) (k : Fin N → Fin d → ℝ)
    {R : Matrix (Fin d) (Fin d) ℝ} (hR : R ∈ Matrix.orthogonalGroup (Fin d) ℝ) :
    ∑ n, sqNorm (R *ᵥ (k n - meanVec k)) = ∑ n, sqNorm (k n) - (N : ℝ) * sqNorm (meanVec k) := by
  simp only [sqNorm_mulVec_of_mem_orthogonalGroup hR, attention_score_gauge_invariance hR,
    sqNorm_eq_dotProduct]
  have hN' : (N : ℝ) ≠ 0 := Nat.cast_ne_zero.mpr hN.ne'
  have hsum : ∑ n, k n = (N : ℝ) • meanVec k := by
    unfold meanVec
    rw [smul_smul, mul_inv_cancel₀ hN', one_smul]
  have hterm : ∀ n, (k n - meanVec k) ⬝ᵥ (k n - meanVec k) =
      k n ⬝ᵥ k n - 2 * (k n ⬝ᵥ meanVec k) + meanVec k ⬝ᵥ meanVec k := by
    intro n
    simp only [sub_dotProduct, dotProduct_sub]
    rw [dotProduct_comm (meanVec k) (k n)]
    ring
  have hcross : ∑ n, k n ⬝ᵥ meanVec k = (N : ℝ) * (meanVec k ⬝ᵥ meanVec k) := by
    rw [← sum_dotProduct, hsum, smul_dotProduct, smul_eq_mul]
  rw [Finset.sum_congr rfl fun n _ => hterm n, Finset.sum_add_distrib, Finset.sum_sub_distrib,
    ← Finset.mul_sum, hcross, sum_const_fin]
  ring

/-- The dataset-level rotational ceiling: the largest mean one-bit cosine `(1/N) ∑ₙ c(R kₙ)` of a
key set over all orthogonal `R` (a supremum; the set is bounded by `1`). -/
def meanRotationalCeiling {d N : ℕ} (k : Fin N → Fin d → ℝ) : ℝ :=
  sSup {c | ∃ R ∈ Matrix.orthogonalGroup (Fin d) ℝ, c = (∑ n, oneBitCosine (R *ᵥ k n)) / N}

/-- The three-key counterexample set in `d = 2`: `kₙ = (1, 0) + (1/10)·uₙ` with `uₙ` the unit
vectors at 0°, 120° and 240°. -/
def dcCounterexampleKeys : Fin 3 → Fin 2 → ℝ :=
  ![![1 + 1 / 10, 0], ![1 - 1 / 20, Real.sqrt 3 / 20], ![1 - 1 / 20, -(Real.sqrt 3 / 20)]]

/-- **Per-channel centering lowers the dataset-level ceiling (d = 2 counterexample; deferred).**
For the three keys `dcCounterexampleKeys` (per-channel mean `(1, 0)`), the centered key set has
ceiling exactly `(1 + √3)/3 ≈ 0.9107`, strictly below the ceiling of the uncentered keys
(≈ 0.99725 numerically), so the seed's dataset-level centering claim is false.

Paper claim: seed 001 §S5 (the dataset-level reading of "centering removes this constraint");
its refutation, checked numerically in `tests/lean_statements/test_dc_centering_search.py`.

Deferred: needs every element of Matrix.orthogonalGroup (Fin 2) ℝ written as a rotation or a reflection by an angle (Mathlib classifies ℂ ≃ₗᵢ[ℝ] ℂ in linear_isometry_complex, but has no transfer to 2×2 orthogonal matrices), then the bound (|cos t|+|sin t|) + (|cos(t+2π/3)|+|sin(t+2π/3)|) + (|cos(t+4π/3)|+|sin(t+4π/3)|) ≤ √2·(1+√3) for all t, and one explicit rotation whose uncentered mean cosine exceeds (1+√3)/3. -/
theorem dc_centering_lowers_mean_ceiling_d2 :
    meanRotationalCeiling (fun n => dcCounterexampleKeys n - meanVec dcCounterexampleKeys) =
        (1 + Real.sqrt 3) / 3 ∧
      (1 + Real.sqrt 3) / 3 < meanRotationalCeiling dcCounterexampleKeys := by
  sorry

end MoEGauge

end
