import MoEGauge.Basic

/-!
# The participation ratio as an effective rank

For the eigenvalues `λ ≥ 0` of a covariance (not all zero), the participation ratio
`PR = (∑ λᵢ)² / ∑ λᵢ²` lies between `1` (one direction carries everything) and the rank, the
number of nonzero eigenvalues (all of them equal). The FFN study's `d_eff` is this number.

* `MoEGauge.participationRatio_bounds`.
-/

noncomputable section

namespace MoEGauge

/-- The participation ratio `(∑ λᵢ)² / ∑ λᵢ²` of a finite spectrum. -/
def participationRatio {n : ℕ} (ev : Fin n → ℝ) : ℝ := (∑ i, ev i) ^ 2 / ∑ i, ev i ^ 2

/-- The rank of a finite spectrum: the number of nonzero entries. -/
def spectrumRank {n : ℕ} (ev : Fin n → ℝ) : ℕ := (Finset.univ.filter fun i => ev i ≠ 0).card

/-- **`1 ≤ PR ≤ rank`.** For a spectrum `ev ≥ 0` that is not identically zero,
`1 ≤ (∑ evᵢ)² / ∑ evᵢ² ≤ #{i | evᵢ ≠ 0}`.

Paper claim: the FFN ladder's effective dimension `d_eff` (a participation ratio of covariance
eigenvalues) is between 1 and the rank. -/
theorem participationRatio_bounds {n : ℕ} (ev : Fin n → ℝ) (hnn : ∀ i, 0 ≤ ev i) (hne : ev ≠ 0) :
    1 ≤ participationRatio ev ∧ participationRatio ev ≤ spectrumRank ev := by
  have hS2 : 0 < ∑ i, ev i ^ 2 := sqNorm_pos hne
  have hle : ∀ i, ev i ≤ ∑ j, ev j := fun i =>
    Finset.single_le_sum (fun j _ => hnn j) (Finset.mem_univ i)
  -- lower bound: `∑ evᵢ² ≤ (∑ evᵢ)²`, since `evᵢ² ≤ evᵢ · ∑ evⱼ`
  have hlow : ∑ i, ev i ^ 2 ≤ (∑ i, ev i) ^ 2 := by
    have h1 : ∀ i, ev i ^ 2 ≤ ev i * ∑ j, ev j := fun i => by
      rw [sq]
      exact mul_le_mul_of_nonneg_left (hle i) (hnn i)
    calc ∑ i, ev i ^ 2 ≤ ∑ i, ev i * ∑ j, ev j := Finset.sum_le_sum fun i _ => h1 i
      _ = (∑ i, ev i) ^ 2 := by rw [← Finset.sum_mul, sq]
  -- upper bound: Cauchy–Schwarz on the support
  have hsupp1 : ∑ i ∈ Finset.univ.filter (fun i => ev i ≠ 0), ev i = ∑ i, ev i :=
    Finset.sum_filter_ne_zero _
  have hsupp2 : ∑ i ∈ Finset.univ.filter (fun i => ev i ≠ 0), ev i ^ 2 = ∑ i, ev i ^ 2 :=
    Finset.sum_filter_of_ne fun i _ h hi => h (by simp [hi])
  have hup : (∑ i, ev i) ^ 2 ≤ (spectrumRank ev : ℝ) * ∑ i, ev i ^ 2 := by
    have h := sq_sum_le_card_mul_sum_sq (s := Finset.univ.filter fun i => ev i ≠ 0) (f := ev)
    rw [hsupp1, hsupp2] at h
    exact h
  unfold participationRatio
  constructor
  · rw [le_div_iff₀ hS2, one_mul]
    exact hlow
  · rw [div_le_iff₀ hS2]
    exact hup

end MoEGauge

end
