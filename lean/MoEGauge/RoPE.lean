import MoEGauge.GaugeInvariance

/-!
# A concrete rotary position encoding

RoPE rotates each coordinate pair `(2i, 2i+1)` of a query or key at position `t` by the angle
`t · θᵢ`. Here the `d = 2k` coordinates are indexed by `Fin 2 × Fin k` (a pair index and a
frequency index) and the position matrix is the block-diagonal matrix
`MoEGauge.ropeMatrix θ t = blockDiagonal (i ↦ rot(t θᵢ))`.

We prove that it satisfies the hypotheses of `MoEGauge.rope_fold_exact_iff_commute`
(`P(m)ᵀ P(n) = P(n − m)` and `P(t)` orthogonal), so a rotation folds exactly into `W_Q` and `W_K`
in front of RoPE iff it commutes with every `ropeMatrix θ t`
(`MoEGauge.rope_fold_exact_iff_commute_ropeMatrix`).
-/

open scoped Matrix

noncomputable section

namespace MoEGauge

/-- The planar rotation by the angle `φ`. -/
def rot2 (φ : ℝ) : Matrix (Fin 2) (Fin 2) ℝ :=
  !![Real.cos φ, -Real.sin φ; Real.sin φ, Real.cos φ]

/-- The transpose of a planar rotation, written out. -/
theorem rot2_transpose (φ : ℝ) :
    (rot2 φ)ᵀ = !![Real.cos φ, Real.sin φ; -Real.sin φ, Real.cos φ] := by
  ext i j
  fin_cases i <;> fin_cases j <;> first | rfl | (simp [rot2]; done)

/-- Rotations compose by subtracting angles: `rot(a)ᵀ rot(b) = rot(b − a)`. -/
theorem rot2_transpose_mul (a b : ℝ) : (rot2 a)ᵀ * rot2 b = rot2 (b - a) := by
  have e1 : Real.cos a * Real.cos b + Real.sin a * Real.sin b = Real.cos (b - a) := by
    rw [Real.cos_sub]
    ring
  have e2 : Real.cos a * -Real.sin b + Real.sin a * Real.cos b = -Real.sin (b - a) := by
    rw [Real.sin_sub]
    ring
  have e3 : -Real.sin a * Real.cos b + Real.cos a * Real.sin b = Real.sin (b - a) := by
    rw [Real.sin_sub]
    ring
  have e4 : -Real.sin a * -Real.sin b + Real.cos a * Real.cos b = Real.cos (b - a) := by
    rw [Real.cos_sub]
    ring
  first
    | (rw [rot2_transpose,
        show rot2 b = !![Real.cos b, -Real.sin b; Real.sin b, Real.cos b] from rfl,
        Matrix.mul_fin_two, e1, e2, e3, e4] <;> rfl)
    | (ext i j
       fin_cases i <;> fin_cases j <;>
         simp [rot2, Matrix.mul_apply, Fin.sum_univ_two, Real.cos_sub, Real.sin_sub] <;> ring
       done)

/-- The rotation by the angle `0` is the identity. -/
theorem rot2_zero : rot2 0 = 1 := by
  first
    | (rw [show rot2 0 = !![Real.cos 0, -Real.sin 0; Real.sin 0, Real.cos 0] from rfl,
        Real.cos_zero, Real.sin_zero, neg_zero, Matrix.one_fin_two]; done)
    | (ext i j; fin_cases i <;> fin_cases j <;> simp [rot2]; done)

/-- The RoPE position matrix at position `t` with frequencies `θ`: block-diagonal rotations by
`t · θᵢ` on the coordinate pairs, indexed by `Fin 2 × Fin k`. -/
def ropeMatrix {k : ℕ} (θ : Fin k → ℝ) (t : ℤ) : Matrix (Fin 2 × Fin k) (Fin 2 × Fin k) ℝ :=
  Matrix.blockDiagonal fun i => rot2 ((t : ℝ) * θ i)

/-- RoPE is a relative position encoding: `P(m)ᵀ P(n) = P(n − m)`.

Paper claim: ARCHITECTURE.md "Gauge / folding" (RoPE between the projection and the dot
product); hypothesis of `MoEGauge.rope_fold_exact_iff_commute`. -/
theorem ropeMatrix_transpose_mul {k : ℕ} (θ : Fin k → ℝ) (m n : ℤ) :
    (ropeMatrix θ m)ᵀ * ropeMatrix θ n = ropeMatrix θ (n - m) := by
  unfold ropeMatrix
  -- `Matrix.blockDiagonal_mul : blockDiagonal (fun k => M k * N k) = blockDiagonal M * blockDiagonal N`
  rw [Matrix.blockDiagonal_transpose, ← Matrix.blockDiagonal_mul]
  first
    | (refine congrArg Matrix.blockDiagonal (funext fun i => ?_)
       rw [rot2_transpose_mul, Int.cast_sub, sub_mul]
       done)
    | (simp only [rot2_transpose_mul, Int.cast_sub, sub_mul]; done)

/-- At position `0` RoPE is the identity. -/
theorem ropeMatrix_zero {k : ℕ} (θ : Fin k → ℝ) : ropeMatrix θ 0 = 1 := by
  unfold ropeMatrix
  simp only [Int.cast_zero, zero_mul, rot2_zero]
  first
    | exact Matrix.blockDiagonal_one
    | (simp; done)

/-- Every RoPE position matrix is orthogonal. -/
theorem ropeMatrix_mem_orthogonalGroup {k : ℕ} (θ : Fin k → ℝ) (t : ℤ) :
    ropeMatrix θ t ∈ Matrix.orthogonalGroup (Fin 2 × Fin k) ℝ := by
  apply mem_orthogonalGroup_of_transpose_mul_self
  rw [ropeMatrix_transpose_mul, sub_self, ropeMatrix_zero]

/-- **Exact folding through RoPE, concretely.** For the RoPE matrices `ropeMatrix θ` and an
orthogonal `R`, the folded scores `(P m (R q)) ⬝ (P n (R k))` equal the original ones for all
queries, keys and positions iff `R` commutes with every `ropeMatrix θ t`.

Paper claim: ARCHITECTURE.md "Gauge / folding" ("R folds into W_K and W_Q only where nothing that
fails to commute with R sits between the projection and the dot product"); seed 001 §S1. -/
theorem rope_fold_exact_iff_commute_ropeMatrix {k : ℕ} (θ : Fin k → ℝ)
    {R : Matrix (Fin 2 × Fin k) (Fin 2 × Fin k) ℝ}
    (hR : R ∈ Matrix.orthogonalGroup (Fin 2 × Fin k) ℝ) :
    (∀ (q x : Fin 2 × Fin k → ℝ) (m n : ℤ),
        (ropeMatrix θ m *ᵥ (R *ᵥ q)) ⬝ᵥ (ropeMatrix θ n *ᵥ (R *ᵥ x)) =
          (ropeMatrix θ m *ᵥ q) ⬝ᵥ (ropeMatrix θ n *ᵥ x)) ↔
      ∀ t, R * ropeMatrix θ t = ropeMatrix θ t * R :=
  rope_fold_exact_iff_commute hR (ropeMatrix θ) (ropeMatrix_transpose_mul θ)

end MoEGauge

end
