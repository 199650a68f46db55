import Mathlib

/-!
# MoEGauge: shared definitions

This file fixes the vocabulary used by every other module of the MoEGauge Lean library
(see `ARCHITECTURE.md`, glossary).

* `MoEGauge.l1`, `MoEGauge.sqNorm`: the ℓ¹ norm and the squared ℓ² norm of a finite real vector.
* `MoEGauge.cosine`: the cosine between two vectors.
* `MoEGauge.signVec`: the coordinatewise sign (`Real.sign`), i.e. the one-bit code of a vector.
* `MoEGauge.oneBitCosine`: the one-bit cosine `c(x) = ‖x‖₁ / (√d · ‖x‖₂)` (a cosine, not `β`).
* `MoEGauge.momentRatio`: the empirical moment ratio `β(x) = (∑ |xᵢ|)² / (n · ∑ xᵢ²)`.

All quotients use Lean's convention `a / 0 = 0`, so every definition is total.

The file also collects small algebraic lemmas shared by several paper-facing theorems:
the Lagrange identity behind Cauchy–Schwarz, facts about `Real.sign`, and the bookkeeping
that turns membership in `Matrix.orthogonalGroup` into `Rᵀ * R = 1` and back.
-/

open scoped Matrix

noncomputable section

namespace MoEGauge

section Definitions

variable {ι : Type*} [Fintype ι]

/-- The ℓ¹ norm `∑ i, |x i|` of a finite real vector. -/
def l1 (x : ι → ℝ) : ℝ := ∑ i, |x i|

/-- The squared Euclidean norm `∑ i, x i ^ 2` of a finite real vector. -/
def sqNorm (x : ι → ℝ) : ℝ := ∑ i, x i ^ 2

/-- The cosine `⟨x, y⟩ / (‖x‖₂ · ‖y‖₂)` between two finite real vectors
(it is `0` when either vector is `0`, by `a / 0 = 0`). -/
def cosine (x y : ι → ℝ) : ℝ :=
  (∑ i, x i * y i) / (Real.sqrt (sqNorm x) * Real.sqrt (sqNorm y))

/-- The coordinatewise sign vector `i ↦ Real.sign (x i)`: the one-bit code of `x`. -/
def signVec (x : ι → ℝ) (i : ι) : ℝ := Real.sign (x i)

/-- The one-bit cosine `c(x) = ‖x‖₁ / (√d · ‖x‖₂)`, where `d` is the number of coordinates
(ARCHITECTURE glossary: the cosine between `x` and `sign x` when no coordinate is zero). -/
def oneBitCosine (x : ι → ℝ) : ℝ :=
  l1 x / (Real.sqrt ((Fintype.card ι : ℕ) : ℝ) * Real.sqrt (sqNorm x))

/-- The empirical moment ratio `β(x) = (∑ |xᵢ|)² / (n · ∑ xᵢ²)` of a sample `x : Fin n → ℝ`
(ARCHITECTURE glossary: `β = (E|K₁|)² / E[K₁²]`, here for the empirical measure of `x`). -/
def momentRatio {n : ℕ} (x : Fin n → ℝ) : ℝ := l1 x ^ 2 / ((n : ℝ) * sqNorm x)

end Definitions

section Norms

variable {ι : Type*} [Fintype ι]

/-- The ℓ¹ norm is nonnegative. -/
theorem l1_nonneg (x : ι → ℝ) : 0 ≤ l1 x :=
  Finset.sum_nonneg fun i _ => abs_nonneg (x i)

/-- The squared norm is nonnegative. -/
theorem sqNorm_nonneg (x : ι → ℝ) : 0 ≤ sqNorm x :=
  Finset.sum_nonneg fun i _ => sq_nonneg (x i)

/-- The squared norm is the dot product of a vector with itself. -/
theorem sqNorm_eq_dotProduct (x : ι → ℝ) : sqNorm x = x ⬝ᵥ x := by
  unfold sqNorm dotProduct
  exact Finset.sum_congr rfl fun i _ => sq (x i)

/-- A nonzero vector has positive squared norm. -/
theorem sqNorm_pos {x : ι → ℝ} (hx : x ≠ 0) : 0 < sqNorm x := by
  obtain ⟨i, hi⟩ := Function.ne_iff.mp hx
  have hi' : x i ≠ 0 := hi
  have hpos : 0 < x i ^ 2 := lt_of_le_of_ne (sq_nonneg (x i)) (Ne.symm (pow_ne_zero 2 hi'))
  exact lt_of_lt_of_le hpos
    (Finset.single_le_sum (fun j _ => sq_nonneg (x j)) (Finset.mem_univ i))

/-- The zero vector has squared norm `0`. -/
theorem sqNorm_zero : sqNorm (0 : ι → ℝ) = 0 := by
  unfold sqNorm
  exact Finset.sum_eq_zero fun i _ => by simp

/-- The zero vector has ℓ¹ norm `0`. -/
theorem l1_zero : l1 (0 : ι → ℝ) = 0 := by
  unfold l1
  exact Finset.sum_eq_zero fun i _ => by simp

/-- A constant summed over a finite type is the cardinality times the constant. -/
theorem sum_const_card (c : ℝ) : ∑ _i : ι, c = (Fintype.card ι : ℝ) * c := by
  simp [Finset.sum_const, nsmul_eq_mul, Finset.card_univ]

/-- A constant summed over `Fin d` is `d` times the constant. -/
theorem sum_const_fin (d : ℕ) (c : ℝ) : ∑ _i : Fin d, c = (d : ℝ) * c := by
  simp [Finset.sum_const, nsmul_eq_mul]

/-- The one-bit cosine of a vector indexed by `Fin d`, with `d` written explicitly. -/
theorem oneBitCosine_fin {d : ℕ} (x : Fin d → ℝ) :
    oneBitCosine x = l1 x / (Real.sqrt (d : ℝ) * Real.sqrt (sqNorm x)) := by
  unfold oneBitCosine
  rw [Fintype.card_fin]

/-- The one-bit cosine is nonnegative. -/
theorem oneBitCosine_nonneg (x : ι → ℝ) : 0 ≤ oneBitCosine x := by
  unfold oneBitCosine
  exact div_nonneg (l1_nonneg x) (mul_nonneg (Real.sqrt_nonneg _) (Real.sqrt_nonneg _))

/-- The one-bit cosine of the zero vector is `0`. -/
theorem oneBitCosine_zero : oneBitCosine (0 : ι → ℝ) = 0 := by
  unfold oneBitCosine
  rw [l1_zero, zero_div]

/-- The square of the one-bit cosine: `c(x)² = ‖x‖₁² / (d · ‖x‖₂²)`. -/
theorem oneBitCosine_sq {d : ℕ} (x : Fin d → ℝ) :
    oneBitCosine x ^ 2 = l1 x ^ 2 / ((d : ℝ) * sqNorm x) := by
  rw [oneBitCosine_fin, div_pow, mul_pow, Real.sq_sqrt (Nat.cast_nonneg d),
    Real.sq_sqrt (sqNorm_nonneg x)]

end Norms

section Sums

variable {ι : Type*} [Fintype ι]

/-- A product of two sums is the double sum of the products. -/
theorem sum_mul_sum_eq (f g : ι → ℝ) :
    (∑ i, f i) * (∑ j, g j) = ∑ i, ∑ j, f i * g j := by
  rw [Finset.sum_mul]
  refine Finset.sum_congr rfl fun i _ => ?_
  rw [Finset.mul_sum]

/-- **Lagrange's identity**: `∑ᵢ ∑ⱼ (aᵢbⱼ − aⱼbᵢ)² = 2 ((∑ aᵢ²)(∑ bᵢ²) − (∑ aᵢbᵢ)²)`.
It is the sum-of-squares certificate behind the Cauchy–Schwarz inequality and its equality case. -/
theorem lagrange_identity (a b : ι → ℝ) :
    ∑ i, ∑ j, (a i * b j - a j * b i) ^ 2 =
      2 * ((∑ i, a i ^ 2) * (∑ i, b i ^ 2) - (∑ i, a i * b i) ^ 2) := by
  have hX : (∑ i, a i ^ 2) * (∑ j, b j ^ 2) = ∑ i, ∑ j, a i ^ 2 * b j ^ 2 :=
    sum_mul_sum_eq _ _
  have hY : (∑ i, b i ^ 2) * (∑ j, a j ^ 2) = ∑ i, ∑ j, b i ^ 2 * a j ^ 2 :=
    sum_mul_sum_eq _ _
  have hZ : (∑ i, a i * b i) * (∑ j, a j * b j) = ∑ i, ∑ j, (a i * b i) * (a j * b j) :=
    sum_mul_sum_eq _ _
  have hexp : ∀ i j, (a i * b j - a j * b i) ^ 2 =
      a i ^ 2 * b j ^ 2 + b i ^ 2 * a j ^ 2 - 2 * ((a i * b i) * (a j * b j)) := by
    intro i j
    ring
  have hsplit : ∑ i, ∑ j, (a i ^ 2 * b j ^ 2 + b i ^ 2 * a j ^ 2 - 2 * ((a i * b i) * (a j * b j)))
      = ∑ i, ∑ j, a i ^ 2 * b j ^ 2 + ∑ i, ∑ j, b i ^ 2 * a j ^ 2
          - 2 * ∑ i, ∑ j, (a i * b i) * (a j * b j) := by
    simp only [Finset.sum_add_distrib, Finset.sum_sub_distrib, Finset.mul_sum]
  calc ∑ i, ∑ j, (a i * b j - a j * b i) ^ 2
      = ∑ i, ∑ j, (a i ^ 2 * b j ^ 2 + b i ^ 2 * a j ^ 2 - 2 * ((a i * b i) * (a j * b j))) :=
        Finset.sum_congr rfl fun i _ => Finset.sum_congr rfl fun j _ => hexp i j
    _ = ∑ i, ∑ j, a i ^ 2 * b j ^ 2 + ∑ i, ∑ j, b i ^ 2 * a j ^ 2
          - 2 * ∑ i, ∑ j, (a i * b i) * (a j * b j) := hsplit
    _ = 2 * ((∑ i, a i ^ 2) * (∑ i, b i ^ 2) - (∑ i, a i * b i) ^ 2) := by
        rw [← hX, ← hY, ← hZ]
        ring

/-- A double sum of squares vanishes exactly when every term does. -/
theorem sum_sum_sq_eq_zero_iff (f : ι → ι → ℝ) :
    ∑ i, ∑ j, f i j ^ 2 = 0 ↔ ∀ i j, f i j = 0 := by
  have hrow : ∀ i ∈ (Finset.univ : Finset ι), 0 ≤ ∑ j, f i j ^ 2 :=
    fun i _ => Finset.sum_nonneg fun j _ => sq_nonneg (f i j)
  constructor
  · intro h i j
    have hi : ∑ j, f i j ^ 2 = 0 :=
      (Finset.sum_eq_zero_iff_of_nonneg hrow).mp h i (Finset.mem_univ i)
    have hcol : ∀ j ∈ (Finset.univ : Finset ι), 0 ≤ f i j ^ 2 := fun j _ => sq_nonneg (f i j)
    have hij : f i j ^ 2 = 0 := (Finset.sum_eq_zero_iff_of_nonneg hcol).mp hi j (Finset.mem_univ j)
    first
      | exact (pow_eq_zero_iff two_ne_zero).mp hij
      | exact pow_eq_zero hij
      | nlinarith [sq_nonneg (f i j)]
  · intro h
    exact Finset.sum_eq_zero fun i _ => Finset.sum_eq_zero fun j _ => by simp [h i j]

end Sums

section Sign

/-- `t · sign t = |t|` for every real `t`. -/
theorem mul_sign_eq_abs (t : ℝ) : t * Real.sign t = |t| := by
  rcases lt_trichotomy t 0 with h | h | h
  · rw [Real.sign_of_neg h, abs_of_neg h]
    ring
  · rw [h, Real.sign_zero, abs_zero, mul_zero]
  · rw [Real.sign_of_pos h, abs_of_pos h, mul_one]

/-- The sign of a nonzero real squares to `1`. -/
theorem sign_sq_of_ne_zero {t : ℝ} (ht : t ≠ 0) : Real.sign t ^ 2 = 1 := by
  rcases lt_trichotomy t 0 with h | h | h
  · rw [Real.sign_of_neg h]
    norm_num
  · exact absurd h ht
  · rw [Real.sign_of_pos h]
    norm_num

end Sign

section Orthogonal

variable {n : Type*} [Fintype n] [DecidableEq n]

/-- An orthogonal matrix satisfies `Rᵀ * R = 1`. -/
theorem transpose_mul_self_of_mem_orthogonalGroup {R : Matrix n n ℝ}
    (hR : R ∈ Matrix.orthogonalGroup n ℝ) : Rᵀ * R = 1 := by
  have h := hR
  rw [Matrix.mem_orthogonalGroup_iff'] at h
  first
    | exact h
    | simpa [Matrix.star_eq_conjTranspose, Matrix.conjTranspose_eq_transpose_of_trivial] using h

/-- An orthogonal matrix satisfies `R * Rᵀ = 1`. -/
theorem mul_transpose_self_of_mem_orthogonalGroup {R : Matrix n n ℝ}
    (hR : R ∈ Matrix.orthogonalGroup n ℝ) : R * Rᵀ = 1 := by
  have h := hR
  rw [Matrix.mem_orthogonalGroup_iff] at h
  first
    | exact h
    | simpa [Matrix.star_eq_conjTranspose, Matrix.conjTranspose_eq_transpose_of_trivial] using h

/-- A real matrix with `Rᵀ * R = 1` is orthogonal. -/
theorem mem_orthogonalGroup_of_transpose_mul_self {R : Matrix n n ℝ} (h : Rᵀ * R = 1) :
    R ∈ Matrix.orthogonalGroup n ℝ := by
  rw [Matrix.mem_orthogonalGroup_iff']
  first
    | exact h
    | simpa [Matrix.star_eq_conjTranspose, Matrix.conjTranspose_eq_transpose_of_trivial] using h

/-- A real matrix with `R * Rᵀ = 1` is orthogonal. -/
theorem mem_orthogonalGroup_of_mul_transpose_self {R : Matrix n n ℝ} (h : R * Rᵀ = 1) :
    R ∈ Matrix.orthogonalGroup n ℝ := by
  rw [Matrix.mem_orthogonalGroup_iff]
  first
    | exact h
    | simpa [Matrix.star_eq_conjTranspose, Matrix.conjTranspose_eq_transpose_of_trivial] using h

/-- A vector with zero dot product with itself is zero (real scalars). -/
theorem eq_zero_of_dotProduct_self_eq_zero {v : n → ℝ} (h : v ⬝ᵥ v = 0) : v = 0 := by
  by_contra hv
  have hpos := sqNorm_pos hv
  rw [sqNorm_eq_dotProduct, h] at hpos
  exact lt_irrefl 0 hpos

/-- Two square matrices that agree on every vector are equal. -/
theorem matrix_eq_of_mulVec_eq {A B : Matrix n n ℝ} (h : ∀ v, A *ᵥ v = B *ᵥ v) : A = B := by
  ext i j
  have h1 := congrFun (h (Pi.single j 1)) i
  have eA : (A *ᵥ Pi.single j 1) i = A i j := by
    first
      | (simp [Matrix.mulVec, dotProduct, Pi.single_apply]; done)
      | (simp; done)
  have eB : (B *ᵥ Pi.single j 1) i = B i j := by
    first
      | (simp [Matrix.mulVec, dotProduct, Pi.single_apply]; done)
      | (simp; done)
  rw [← eA, ← eB]
  exact h1

/-- Two square matrices with the same bilinear form `q ⬝ᵥ (A *ᵥ k)` are equal. -/
theorem matrix_eq_of_forall_dotProduct_mulVec {A B : Matrix n n ℝ}
    (h : ∀ q k : n → ℝ, q ⬝ᵥ (A *ᵥ k) = q ⬝ᵥ (B *ᵥ k)) : A = B := by
  apply matrix_eq_of_mulVec_eq
  intro k
  have h1 := h (A *ᵥ k - B *ᵥ k) k
  have h2 : (A *ᵥ k - B *ᵥ k) ⬝ᵥ (A *ᵥ k - B *ᵥ k) = 0 := by
    rw [dotProduct_sub, h1, sub_self]
  exact sub_eq_zero.mp (eq_zero_of_dotProduct_self_eq_zero h2)

end Orthogonal

end MoEGauge

end
