import MoEGauge.JensenFloor
import MoEGauge.GaugeInvariance

/-!
# Householder reflections and the per-vector rotational ceiling

The Householder matrix `H_w = 1 − (2 / ‖w‖²) w wᵀ` is symmetric and orthogonal, and for two
vectors of equal norm it maps `x` to `y` when `w = x − y`. We use it to show that every nonzero
vector can be rotated onto the sign-lattice direction `(1, …, 1)`:
`MoEGauge.exists_orthogonal_oneBitCosine_eq_one` — the per-vector one-bit cosine ceiling over
`O(d)` is exactly `1`. This is the engine of `MoEGauge.rotationalCeiling_dc_key_eq_one_and_centered_eq_one`.
-/

open scoped Matrix

noncomputable section

namespace MoEGauge

section Householder

variable {ι : Type*} [Fintype ι] [DecidableEq ι]

/-- The Householder reflection `1 − (2 / (w ⬝ w)) · w wᵀ` across the hyperplane orthogonal to `w`. -/
def householder (w : ι → ℝ) : Matrix ι ι ℝ :=
  1 + (-2 / (w ⬝ᵥ w)) • Matrix.vecMulVec w w

/-- Coordinates of a scaled rank-one matrix applied to a vector. -/
theorem smul_vecMulVec_mulVec_apply (t : ℝ) (w v : ι → ℝ) (i : ι) :
    ((t • Matrix.vecMulVec w w) *ᵥ v) i = t * (w ⬝ᵥ v) * w i := by
  simp only [Matrix.mulVec, dotProduct, Matrix.smul_apply, Matrix.vecMulVec_apply, smul_eq_mul,
    Finset.mul_sum, Finset.sum_mul]
  refine Finset.sum_congr rfl fun j _ => ?_
  ring

/-- The Householder reflection acts by `v ↦ v − (2 (w ⬝ v) / (w ⬝ w)) w`. -/
theorem householder_mulVec (w v : ι → ℝ) :
    householder w *ᵥ v = v + ((-2 / (w ⬝ᵥ w)) * (w ⬝ᵥ v)) • w := by
  ext i
  rw [householder, Matrix.add_mulVec, Matrix.one_mulVec, Pi.add_apply, Pi.add_apply,
    smul_vecMulVec_mulVec_apply, Pi.smul_apply, smul_eq_mul]

/-- The Householder matrix is symmetric. -/
theorem householder_transpose (w : ι → ℝ) : (householder w)ᵀ = householder w := by
  unfold householder
  rw [Matrix.transpose_add, Matrix.transpose_one, Matrix.transpose_smul,
    Matrix.transpose_vecMulVec]

/-- The Householder reflection is an involution on vectors. -/
theorem householder_mulVec_mulVec (w v : ι → ℝ) (hw : w ⬝ᵥ w ≠ 0) :
    householder w *ᵥ (householder w *ᵥ v) = v := by
  have ht : (-2 / (w ⬝ᵥ w)) * (w ⬝ᵥ w) = -2 := by
    rw [div_mul_eq_mul_div, mul_div_assoc, div_self hw, mul_one]
  rw [householder_mulVec w (householder w *ᵥ v), householder_mulVec w v, dotProduct_add,
    dotProduct_smul, smul_eq_mul]
  ext i
  simp only [Pi.add_apply, Pi.smul_apply, smul_eq_mul]
  linear_combination ((-2 / (w ⬝ᵥ w)) * (w ⬝ᵥ v) * w i) * ht

/-- The Householder reflection squares to the identity. -/
theorem householder_mul_self (w : ι → ℝ) (hw : w ⬝ᵥ w ≠ 0) :
    householder w * householder w = 1 := by
  apply matrix_eq_of_mulVec_eq
  intro v
  rw [← Matrix.mulVec_mulVec, householder_mulVec_mulVec w v hw, Matrix.one_mulVec]

/-- The Householder reflection of a nonzero vector is orthogonal. -/
theorem householder_mem_orthogonalGroup (w : ι → ℝ) (hw : w ⬝ᵥ w ≠ 0) :
    householder w ∈ Matrix.orthogonalGroup ι ℝ := by
  apply mem_orthogonalGroup_of_transpose_mul_self
  rw [householder_transpose]
  exact householder_mul_self w hw

/-- A nonzero real vector has nonzero dot product with itself. -/
theorem dotProduct_self_ne_zero {w : ι → ℝ} (hw : w ≠ 0) : w ⬝ᵥ w ≠ 0 :=
  fun h0 => hw (eq_zero_of_dotProduct_self_eq_zero h0)

/-- For `x ≠ y` of equal norm, the Householder reflection along `x − y` maps `x` to `y`. -/
theorem householder_sub_mulVec {x y : ι → ℝ} (h : x ⬝ᵥ x = y ⬝ᵥ y) (hxy : x ≠ y) :
    householder (x - y) *ᵥ x = y := by
  have hw : (x - y) ⬝ᵥ (x - y) ≠ 0 := dotProduct_self_ne_zero (sub_ne_zero.mpr hxy)
  have e1 : (x - y) ⬝ᵥ (x - y) = 2 * ((x - y) ⬝ᵥ x) := by
    simp only [sub_dotProduct, dotProduct_sub]
    linear_combination (-1 : ℝ) * h - dotProduct_comm x y
  have ha : (x - y) ⬝ᵥ x ≠ 0 := by
    intro h0
    apply hw
    rw [e1, h0, mul_zero]
  have hcoef : (-2 / ((x - y) ⬝ᵥ (x - y))) * ((x - y) ⬝ᵥ x) = -1 := by
    rw [e1, div_mul_eq_mul_div, div_eq_iff (mul_ne_zero two_ne_zero ha)]
    ring
  rw [householder_mulVec, hcoef, neg_one_smul]
  abel

/-- Any two real vectors of the same norm are related by an orthogonal matrix. -/
theorem exists_orthogonal_mulVec_eq {x y : ι → ℝ} (h : x ⬝ᵥ x = y ⬝ᵥ y) :
    ∃ R ∈ Matrix.orthogonalGroup ι ℝ, R *ᵥ x = y := by
  by_cases hxy : x = y
  · exact ⟨1, one_mem _, by rw [Matrix.one_mulVec, hxy]⟩
  · exact ⟨householder (x - y),
      householder_mem_orthogonalGroup (x - y) (dotProduct_self_ne_zero (sub_ne_zero.mpr hxy)),
      householder_sub_mulVec h hxy⟩

end Householder

section Ceiling

/-- The dot product of a constant vector with itself. -/
theorem dotProduct_const_self (d : ℕ) (a : ℝ) :
    (fun _ : Fin d => a) ⬝ᵥ (fun _ : Fin d => a) = (d : ℝ) * a ^ 2 := by
  simp only [dotProduct]
  rw [sum_const_fin, sq]

/-- A positive constant vector lies on the sign lattice: its one-bit cosine is `1`. -/
theorem oneBitCosine_const {d : ℕ} (hd : 0 < d) {a : ℝ} (ha : 0 < a) :
    oneBitCosine (fun _ : Fin d => a) = 1 := by
  have hd' : (0 : ℝ) < d := Nat.cast_pos.mpr hd
  have hl1 : l1 (fun _ : Fin d => a) = (d : ℝ) * a := by
    simp only [l1]
    rw [sum_const_fin, abs_of_pos ha]
  have hsq : sqNorm (fun _ : Fin d => a) = (d : ℝ) * a ^ 2 := by
    simp only [sqNorm]
    rw [sum_const_fin]
  rw [oneBitCosine_fin, hl1, hsq, Real.sqrt_mul hd'.le, Real.sqrt_sq ha.le, ← mul_assoc,
    Real.mul_self_sqrt hd'.le]
  exact div_self (mul_pos hd' ha).ne'

/-- **Every nonzero vector can be rotated onto the sign lattice.** For `d > 0` and `x ≠ 0` there
is an orthogonal `R` with `c(R x) = 1`: the per-vector rotational ceiling of the one-bit cosine is
attained and equals `1`. -/
theorem exists_orthogonal_oneBitCosine_eq_one {d : ℕ} (hd : 0 < d) {x : Fin d → ℝ} (hx : x ≠ 0) :
    ∃ R ∈ Matrix.orthogonalGroup (Fin d) ℝ, oneBitCosine (R *ᵥ x) = 1 := by
  have hdpos : (0 : ℝ) < d := Nat.cast_pos.mpr hd
  have hxx : 0 < x ⬝ᵥ x := by
    rw [← sqNorm_eq_dotProduct]
    exact sqNorm_pos hx
  have hs : 0 < x ⬝ᵥ x / d := div_pos hxx hdpos
  have hinv : (d : ℝ) * (d : ℝ)⁻¹ = 1 := mul_inv_cancel₀ hdpos.ne'
  have hnorm : x ⬝ᵥ x = (fun _ : Fin d => Real.sqrt (x ⬝ᵥ x / d)) ⬝ᵥ
      (fun _ : Fin d => Real.sqrt (x ⬝ᵥ x / d)) := by
    rw [dotProduct_const_self, Real.sq_sqrt hs.le]
    linear_combination (-(x ⬝ᵥ x)) * hinv
  obtain ⟨R, hR, hRx⟩ := exists_orthogonal_mulVec_eq hnorm
  exact ⟨R, hR, by rw [hRx]; exact oneBitCosine_const hd (Real.sqrt_pos.mpr hs)⟩

end Ceiling

end MoEGauge

end
