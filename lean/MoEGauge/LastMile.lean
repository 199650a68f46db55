import MoEGauge.JensenFloor

/-!
# The last mile: quadratic hardness near the sign lattice

Near a sign-lattice point `s ∈ {±1}ᵈ`, write `x = s + ε u` with `|ε uᵢ| < 1` (so `sign x = s`).
Then `‖x‖₁ = d + ε ⟨s, u⟩`, `‖x‖₂² = d + 2ε⟨s, u⟩ + ε²‖u‖²` and, exactly,

`1 − c(x)² = ε² (d ‖u‖² − ⟨s, u⟩²) / (d ‖x‖₂²)`,

so the one-bit loss `1 − c(x)²` is at most `ε² ‖u‖² / ‖x‖²`: it vanishes to second order in `ε`.
The curvature coefficient `d ‖u‖² − ⟨s, u⟩²` is nonnegative (Cauchy–Schwarz) and vanishes only
along the ray through `s`.

* `MoEGauge.beta_last_mile_quadratic_hardness`: the exact identity and the `O(ε²)` bound.
* `MoEGauge.last_mile_curvature_nonneg`: the coefficient is nonnegative, zero only along `s`
  (`MoEGauge.beta_hessian_nonneg` is its deprecated alias: no Hessian is computed).
-/

open scoped Matrix

noncomputable section

namespace MoEGauge

/-- Near a sign `σ = ±1`, a perturbation of size `< 1` keeps the sign and `|σ + t| = σ (σ + t)`. -/
theorem sign_abs_of_near_sign {σ t : ℝ} (hσ : σ = 1 ∨ σ = -1) (ht : |t| < 1) :
    Real.sign (σ + t) = σ ∧ |σ + t| = σ * (σ + t) := by
  have h := abs_lt.mp ht
  rcases hσ with h1 | h1
  · subst h1
    have hp : 0 < 1 + t := by linarith [h.1]
    exact ⟨Real.sign_of_pos hp, by rw [abs_of_pos hp, one_mul]⟩
  · subst h1
    have hn : -1 + t < 0 := by linarith [h.2]
    refine ⟨Real.sign_of_neg hn, ?_⟩
    rw [abs_of_neg hn]
    ring

/-- Entries of a sign vector square to one. -/
theorem sq_eq_one_of_sign {σ : ℝ} (hσ : σ = 1 ∨ σ = -1) : σ ^ 2 = 1 := by
  rcases hσ with h | h <;> rw [h] <;> norm_num

/-- **Quadratic hardness of the last mile.** Let `s ∈ {±1}ᵈ` (`d > 0`), `u ∈ ℝᵈ`, and
`x = s + ε u` with `|ε uᵢ| < 1` for all `i`. Then `sign x = s`, the one-bit loss is exactly
`1 − c(x)² = ε² (d ‖u‖² − ⟨s, u⟩²) / (d ‖x‖²)`, and it is at most `ε² ‖u‖² / ‖x‖²`: of order `ε²`
(it vanishes to second order as `x` approaches the sign lattice, and only along the ray through `s`
does the `ε²` coefficient vanish, by `MoEGauge.last_mile_curvature_nonneg`).

Paper claim: seed 001 §S6 ("Theorems beta_last_mile_quadratic_hardness and beta_hessian_nonneg
formalize the quadratic cost near the sign lattice"); seed 002 §2 ("The last mile is
quadratically hard"). -/
theorem beta_last_mile_quadratic_hardness {d : ℕ} (hd : 0 < d) (s u : Fin d → ℝ)
    (hs : ∀ i, s i = 1 ∨ s i = -1) (ε : ℝ) (hsmall : ∀ i, |ε * u i| < 1)
    (x : Fin d → ℝ) (hx : ∀ i, x i = s i + ε * u i) :
    signVec x = s ∧
      1 - oneBitCosine x ^ 2 =
        ε ^ 2 * ((d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2) / ((d : ℝ) * sqNorm x) ∧
      1 - oneBitCosine x ^ 2 ≤ ε ^ 2 * (∑ i, u i ^ 2) / sqNorm x := by
  have hxi : ∀ i, Real.sign (x i) = s i ∧ |x i| = s i * x i := by
    intro i
    rw [hx i]
    exact sign_abs_of_near_sign (hs i) (hsmall i)
  have hs2 : ∀ i, s i ^ 2 = 1 := fun i => sq_eq_one_of_sign (hs i)
  have hx0 : ∀ i, x i ≠ 0 := by
    intro i h0
    have h1 := (hxi i).1
    rw [h0, Real.sign_zero] at h1
    rcases hs i with h2 | h2 <;> linarith
  -- the ℓ¹ norm
  have hL : l1 x = d + ε * ∑ i, s i * u i := by
    have hterm : ∀ i, |x i| = 1 + ε * (s i * u i) := by
      intro i
      rw [(hxi i).2, hx i]
      linear_combination hs2 i
    have hsum : ∑ i, |x i| = ∑ i, (1 + ε * (s i * u i)) :=
      Finset.sum_congr rfl fun i _ => hterm i
    unfold l1
    rw [hsum, Finset.sum_add_distrib, sum_const_fin, ← Finset.mul_sum]
    ring
  -- the squared ℓ² norm
  have hN : sqNorm x = d + 2 * ε * ∑ i, s i * u i + ε ^ 2 * ∑ i, u i ^ 2 := by
    have hterm : ∀ i, x i ^ 2 = 1 + 2 * ε * (s i * u i) + ε ^ 2 * u i ^ 2 := by
      intro i
      rw [hx i]
      linear_combination hs2 i
    have hsum : ∑ i, x i ^ 2 = ∑ i, (1 + 2 * ε * (s i * u i) + ε ^ 2 * u i ^ 2) :=
      Finset.sum_congr rfl fun i _ => hterm i
    unfold sqNorm
    rw [hsum, Finset.sum_add_distrib, Finset.sum_add_distrib, sum_const_fin, ← Finset.mul_sum,
      ← Finset.mul_sum]
    ring
  have hNpos : 0 < sqNorm x := sqNorm_pos_of_forall_ne_zero hx0 hd
  have hdpos : (0 : ℝ) < d := Nat.cast_pos.mpr hd
  have hden : (d : ℝ) * sqNorm x ≠ 0 := (mul_pos hdpos hNpos).ne'
  have key : (d : ℝ) * sqNorm x - l1 x ^ 2 =
      ε ^ 2 * ((d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2) := by
    rw [hL, hN]
    ring
  have hident : 1 - oneBitCosine x ^ 2 =
      ε ^ 2 * ((d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2) / ((d : ℝ) * sqNorm x) := by
    calc 1 - oneBitCosine x ^ 2 = 1 - l1 x ^ 2 / ((d : ℝ) * sqNorm x) := by
          rw [oneBitCosine_sq]
      _ = ((d : ℝ) * sqNorm x - l1 x ^ 2) / ((d : ℝ) * sqNorm x) := by
          rw [sub_div, div_self hden]
      _ = ε ^ 2 * ((d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2) / ((d : ℝ) * sqNorm x) := by
          rw [key]
  -- The identity minus the bound is `−ε² ⟨s, u⟩² / (d ‖x‖²) ≤ 0`.
  have hsplit : ε ^ 2 * ((d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2) / ((d : ℝ) * sqNorm x) =
      ε ^ 2 * (∑ i, u i ^ 2) / sqNorm x -
        ε ^ 2 * (∑ i, s i * u i) ^ 2 / ((d : ℝ) * sqNorm x) := by
    have hN0 : sqNorm x ≠ 0 := hNpos.ne'
    have hd0 : (d : ℝ) ≠ 0 := hdpos.ne'
    rw [div_sub_div _ _ hN0 (mul_ne_zero hd0 hN0),
      div_eq_div_iff (mul_ne_zero hd0 hN0) (mul_ne_zero hN0 (mul_ne_zero hd0 hN0))]
    ring
  have hrest : 0 ≤ ε ^ 2 * (∑ i, s i * u i) ^ 2 / ((d : ℝ) * sqNorm x) :=
    div_nonneg (mul_nonneg (sq_nonneg ε) (sq_nonneg _)) (mul_pos hdpos hNpos).le
  refine ⟨funext fun i => (hxi i).1, hident, ?_⟩
  rw [hident, hsplit]
  linarith

/-- **The last-mile curvature coefficient is nonnegative.** For a sign vector `s ∈ {±1}ᵈ` and
any direction `u`, `d ‖u‖² − ⟨s, u⟩² ≥ 0` (Cauchy–Schwarz), with equality iff `u` is parallel to
`s`. This is the `ε²` coefficient (up to the factor `1/(d‖x‖²)`) in
`MoEGauge.beta_last_mile_quadratic_hardness`; no derivative is computed here.

Paper claim: seed 001 §S6 ("beta_last_mile_quadratic_hardness and beta_hessian_nonneg formalize
the quadratic cost near the sign lattice"); seed 002 §2. -/
theorem last_mile_curvature_nonneg {d : ℕ} (s u : Fin d → ℝ) (hs : ∀ i, s i = 1 ∨ s i = -1) :
    0 ≤ (d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2 ∧
      ((d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2 = 0 ↔ ∃ t : ℝ, u = t • s) := by
  have hs2 : ∀ i, s i ^ 2 = 1 := fun i => sq_eq_one_of_sign (hs i)
  have hss : ∑ i, s i ^ 2 = d := by
    have h1 : ∑ i, s i ^ 2 = ∑ _i : Fin d, (1 : ℝ) := Finset.sum_congr rfl fun i _ => hs2 i
    rw [h1, sum_const_fin, mul_one]
  have hL := lagrange_identity s u
  rw [hss] at hL
  have hnn : 0 ≤ ∑ i, ∑ j, (s i * u j - s j * u i) ^ 2 :=
    Finset.sum_nonneg fun i _ => Finset.sum_nonneg fun j _ => sq_nonneg _
  refine ⟨by linarith, ?_⟩
  constructor
  · intro h0
    have hz : ∑ i, ∑ j, (s i * u j - s j * u i) ^ 2 = 0 := by
      rw [hL]
      linear_combination 2 * h0
    have hpair : ∀ i j, s i * u j - s j * u i = 0 :=
      (sum_sum_sq_eq_zero_iff (fun i j => s i * u j - s j * u i)).mp hz
    rcases Nat.eq_zero_or_pos d with hd | hd
    · subst hd
      exact ⟨0, funext fun i => Fin.elim0 i⟩
    · refine ⟨s ⟨0, hd⟩ * u ⟨0, hd⟩, funext fun j => ?_⟩
      have hp : s ⟨0, hd⟩ * u j - s j * u ⟨0, hd⟩ = 0 := hpair ⟨0, hd⟩ j
      have h1 := hs2 ⟨0, hd⟩
      simp only [Pi.smul_apply, smul_eq_mul]
      linear_combination (-(u j)) * h1 + s ⟨0, hd⟩ * hp
  · rintro ⟨t, rfl⟩
    have e1 : ∑ i, (t • s) i ^ 2 = t ^ 2 * d := by
      have h1 : ∑ i, (t • s) i ^ 2 = ∑ _i : Fin d, t ^ 2 :=
        Finset.sum_congr rfl fun i _ => by
          rw [Pi.smul_apply, smul_eq_mul, mul_pow, hs2 i, mul_one]
      rw [h1, sum_const_fin]
      ring
    have e2 : ∑ i, s i * (t • s) i = t * d := by
      have h1 : ∑ i, s i * (t • s) i = ∑ _i : Fin d, t :=
        Finset.sum_congr rfl fun i _ => by
          rw [Pi.smul_apply, smul_eq_mul]
          linear_combination t * hs2 i
      rw [h1, sum_const_fin]
      ring
    rw [e1, e2]
    ring

/-- **Deprecated name; no Hessian is computed.** Seed 001 §S6 and the evidence cite this name, so
it is kept with the statement of `MoEGauge.last_mile_curvature_nonneg`: the Cauchy–Schwarz fact
`d ‖u‖² − ⟨s, u⟩² ≥ 0` for `s ∈ {±1}ᵈ`, with equality iff `u ∥ s`. It is the nonnegativity of the
`ε²` coefficient of `1 − c(s + εu)²`, not a statement about a second derivative of `β` or `c`.

Paper claim: seed 001 §S6 ("beta_hessian_nonneg"). -/
@[deprecated last_mile_curvature_nonneg (since := "2026-12-02")]
theorem beta_hessian_nonneg {d : ℕ} (s u : Fin d → ℝ) (hs : ∀ i, s i = 1 ∨ s i = -1) :
    0 ≤ (d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2 ∧
      ((d : ℝ) * ∑ i, u i ^ 2 - (∑ i, s i * u i) ^ 2 = 0 ↔ ∃ t : ℝ, u = t • s) :=
  last_mile_curvature_nonneg s u hs

end MoEGauge

end
