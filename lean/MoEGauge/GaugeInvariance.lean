import MoEGauge.Basic

/-!
# Rotations are a gauge freedom of attention

Paper-facing results (seed 001 §S1, ARCHITECTURE.md "Gauge / folding"):

* `MoEGauge.attention_score_gauge_invariance`: `(R q) ⬝ (R k) = q ⬝ k` for orthogonal `R`.
* `MoEGauge.projected_score_gauge_invariance`: replacing `W_Q, W_K` by `R W_Q, R W_K` leaves every
  attention score unchanged.
* `MoEGauge.attention_output_gauge_invariance`, `MoEGauge.attention_output_fold_projection`:
  hence the softmax attention output is unchanged.
* `MoEGauge.rope_scores_preserved_post_rope`: an orthogonal `R` applied after RoPE to both queries
  and keys preserves the scores.
* `MoEGauge.rope_fold_exact_iff_commute`: folding `R` into `W_Q, W_K` *before* a relative position
  encoding `P` (with `P(m)ᵀ P(n) = P(n − m)`) is exact for all queries, keys and positions **iff**
  `R` commutes with every `P t`.

A concrete RoPE satisfying the hypothesis is built in `MoEGauge.RoPE`.
-/

open scoped Matrix

noncomputable section

namespace MoEGauge

variable {ι : Type*} [Fintype ι] [DecidableEq ι]

/-- **Attention-score gauge invariance.** For an orthogonal matrix `R`,
`(R q) ⬝ᵥ (R k) = q ⬝ᵥ k`: rotating queries and keys by the same `R` leaves every score unchanged.

Paper claim: seed 001 §S1 ("Theorem attention_score_gauge_invariance (lean.md) proves the rotation
absorbs into W_K at deployment — it is a free gauge choice"); ARCHITECTURE.md "Gauge / folding". -/
theorem attention_score_gauge_invariance {R : Matrix ι ι ℝ}
    (hR : R ∈ Matrix.orthogonalGroup ι ℝ) (q k : ι → ℝ) :
    (R *ᵥ q) ⬝ᵥ (R *ᵥ k) = q ⬝ᵥ k := by
  have hRR : Rᵀ * R = 1 := transpose_mul_self_of_mem_orthogonalGroup hR
  rw [← Matrix.vecMul_transpose R q, ← Matrix.dotProduct_mulVec q Rᵀ (R *ᵥ k),
    Matrix.mulVec_mulVec, hRR, Matrix.one_mulVec]

/-- Orthogonal matrices preserve the squared norm. -/
theorem sqNorm_mulVec_of_mem_orthogonalGroup {R : Matrix ι ι ℝ}
    (hR : R ∈ Matrix.orthogonalGroup ι ℝ) (x : ι → ℝ) : sqNorm (R *ᵥ x) = sqNorm x := by
  rw [sqNorm_eq_dotProduct, sqNorm_eq_dotProduct, attention_score_gauge_invariance hR]

/-- **Folding a rotation into the projections.** Replacing `W_Q, W_K` by `R * W_Q, R * W_K` for
an orthogonal `R` leaves the score `(W_Q x) ⬝ (W_K y)` of every pair of token states unchanged.

Paper claim: seed 001 §S1 ("the rotation absorbs into W_K at deployment — it is a free gauge
choice"); ARCHITECTURE.md "Gauge / folding" ("R folds into W_K and W_Q"). -/
theorem projected_score_gauge_invariance {κ : Type*} [Fintype κ] {R : Matrix ι ι ℝ}
    (hR : R ∈ Matrix.orthogonalGroup ι ℝ) (WQ WK : Matrix ι κ ℝ) (x y : κ → ℝ) :
    ((R * WQ) *ᵥ x) ⬝ᵥ ((R * WK) *ᵥ y) = (WQ *ᵥ x) ⬝ᵥ (WK *ᵥ y) := by
  rw [← Matrix.mulVec_mulVec, ← Matrix.mulVec_mulVec, attention_score_gauge_invariance hR]

/-- Softmax weights `exp (s j) / ∑ⱼ' exp (s j')` of a score vector. -/
def softmax {m : ℕ} (s : Fin m → ℝ) (j : Fin m) : ℝ :=
  Real.exp (s j) / ∑ j', Real.exp (s j')

/-- Scaled dot-product attention: the output for query `i` is `∑ⱼ softmax(qᵢ ⬝ kⱼ / √d)ⱼ • vⱼ`,
with `d` the number of coordinates of queries and keys. -/
def attentionOutput {n m e : ℕ} (Q : Fin n → ι → ℝ) (K : Fin m → ι → ℝ) (V : Fin m → Fin e → ℝ)
    (i : Fin n) : Fin e → ℝ :=
  ∑ j, softmax (fun j' => Q i ⬝ᵥ K j' / Real.sqrt ((Fintype.card ι : ℕ) : ℝ)) j • V j

/-- **Attention-output gauge invariance.** Rotating all queries and keys by the same orthogonal
`R` leaves the softmax attention output unchanged.

Paper claim: seed 001 §S1 ("it is a free gauge choice"); ARCHITECTURE.md "Gauge / folding"
("show on a real model that logits are unchanged before quantization"). -/
theorem attention_output_gauge_invariance {n m e : ℕ} {R : Matrix ι ι ℝ}
    (hR : R ∈ Matrix.orthogonalGroup ι ℝ) (Q : Fin n → ι → ℝ) (K : Fin m → ι → ℝ)
    (V : Fin m → Fin e → ℝ) :
    attentionOutput (fun i => R *ᵥ Q i) (fun j => R *ᵥ K j) V = attentionOutput Q K V := by
  funext i
  simp only [attentionOutput, attention_score_gauge_invariance hR]

/-- **Folding `R` into `W_Q` and `W_K` leaves the attention output unchanged.** With token states
`X` (queries) and `Y` (keys/values), replacing the projections by `R * W_Q` and `R * W_K` for an
orthogonal `R` does not change the softmax attention output.

Paper claim: seed 001 §S1 ("the rotation absorbs into W_K at deployment"). -/
theorem attention_output_fold_projection {κ : Type*} [Fintype κ] {n m e : ℕ}
    {R : Matrix ι ι ℝ} (hR : R ∈ Matrix.orthogonalGroup ι ℝ) (WQ WK : Matrix ι κ ℝ)
    (X : Fin n → κ → ℝ) (Y : Fin m → κ → ℝ) (V : Fin m → Fin e → ℝ) :
    attentionOutput (fun i => (R * WQ) *ᵥ X i) (fun j => (R * WK) *ᵥ Y j) V =
      attentionOutput (fun i => WQ *ᵥ X i) (fun j => WK *ᵥ Y j) V := by
  simp only [← Matrix.mulVec_mulVec]
  exact attention_output_gauge_invariance hR _ _ V

/-- **Post-RoPE rotation.** If an orthogonal `R` acts *after* the position rotation on both the
query and the key, every score is preserved, whatever the position encoding `P`.

Paper claim: ARCHITECTURE.md "Gauge / folding" ("Otherwise R acts online after RoPE");
seed 001 §S1. -/
theorem rope_scores_preserved_post_rope {R : Matrix ι ι ℝ}
    (hR : R ∈ Matrix.orthogonalGroup ι ℝ) (P : ℤ → Matrix ι ι ℝ) (q k : ι → ℝ) (m n : ℤ) :
    (R *ᵥ (P m *ᵥ q)) ⬝ᵥ (R *ᵥ (P n *ᵥ k)) = (P m *ᵥ q) ⬝ᵥ (P n *ᵥ k) :=
  attention_score_gauge_invariance hR _ _

/-- A relative position encoding turns the score into a function of the offset:
if `P(m)ᵀ P(n) = P(n − m)` then `(P m x) ⬝ (P n y) = x ⬝ (P (n − m) y)`. -/
theorem rope_score_eq (P : ℤ → Matrix ι ι ℝ) (hrel : ∀ m n, (P m)ᵀ * P n = P (n - m))
    (m n : ℤ) (x y : ι → ℝ) : (P m *ᵥ x) ⬝ᵥ (P n *ᵥ y) = x ⬝ᵥ (P (n - m) *ᵥ y) := by
  rw [← Matrix.vecMul_transpose (P m) x, ← Matrix.dotProduct_mulVec x (P m)ᵀ (P n *ᵥ y),
    Matrix.mulVec_mulVec, hrel]

/-- **When does a rotation fold through RoPE?** Let `P : ℤ → Matrix` be a relative position
encoding (`P(m)ᵀ P(n) = P(n − m)`, as for RoPE) and `R` orthogonal. Folding `R` into `W_Q` and
`W_K` — i.e. using scores `(P m (R q)) ⬝ (P n (R k))` — reproduces the original scores
`(P m q) ⬝ (P n k)` for **all** queries, keys and positions **if and only if** `R` commutes with
every `P t`.

Paper claim: ARCHITECTURE.md "Gauge / folding" ("R folds into W_K and W_Q only where nothing that
fails to commute with R sits between the projection and the dot product; RoPE ... do[es]");
seed 001 §S1 ("the rotation absorbs into W_K at deployment"). -/
theorem rope_fold_exact_iff_commute {R : Matrix ι ι ℝ} (hR : R ∈ Matrix.orthogonalGroup ι ℝ)
    (P : ℤ → Matrix ι ι ℝ) (hrel : ∀ m n, (P m)ᵀ * P n = P (n - m)) :
    (∀ (q k : ι → ℝ) (m n : ℤ),
        (P m *ᵥ (R *ᵥ q)) ⬝ᵥ (P n *ᵥ (R *ᵥ k)) = (P m *ᵥ q) ⬝ᵥ (P n *ᵥ k)) ↔
      ∀ t, R * P t = P t * R := by
  constructor
  · intro h t
    have key : ∀ q k : ι → ℝ, q ⬝ᵥ ((Rᵀ * P t * R) *ᵥ k) = q ⬝ᵥ (P t *ᵥ k) := by
      intro q k
      have h1 := h q k 0 t
      rw [rope_score_eq P hrel 0 t (R *ᵥ q) (R *ᵥ k), rope_score_eq P hrel 0 t q k, sub_zero,
        ← Matrix.vecMul_transpose R q, ← Matrix.dotProduct_mulVec q Rᵀ (P t *ᵥ (R *ᵥ k)),
        Matrix.mulVec_mulVec, Matrix.mulVec_mulVec] at h1
      exact h1
    have hM : Rᵀ * P t * R = P t := matrix_eq_of_forall_dotProduct_mulVec key
    have hRRt : R * Rᵀ = 1 := mul_transpose_self_of_mem_orthogonalGroup hR
    calc R * P t = R * (Rᵀ * P t * R) := by rw [hM]
      _ = R * Rᵀ * P t * R := by simp only [mul_assoc]
      _ = P t * R := by rw [hRRt, one_mul]
  · intro hc q k m n
    rw [Matrix.mulVec_mulVec, Matrix.mulVec_mulVec, ← hc m, ← hc n, ← Matrix.mulVec_mulVec,
      ← Matrix.mulVec_mulVec]
    exact attention_score_gauge_invariance hR _ _

end MoEGauge

end
