import MoEGauge.Basic

/-!
# The packed-sign score identity

The 1-bit K cache stores `s = sign(k) ∈ {±1}ᵈ` as bits, 8 per byte (coordinate `8b + j` is bit `j`
of byte `b`). The decode path scores a query `x` against `s` without expanding the bits to `±1`:
`⟨s, x⟩ = 2 · ∑_{sᵢ = +1} xᵢ − ∑ᵢ xᵢ`, byte by byte.

* `MoEGauge.packed_sign_score`: the identity over any finite index type.
* `MoEGauge.packed_sign_score_bytes`: its byte-blocked form over `Fin B × Fin 8`.
-/

open scoped Matrix

noncomputable section

namespace MoEGauge

/-- **The packed-sign score identity.** For `s ∈ {±1}^ι` and any `x`,
`∑ᵢ sᵢ xᵢ = 2 · ∑_{sᵢ = +1} xᵢ − ∑ᵢ xᵢ`: a score against sign bits needs only the sum of the
query coordinates whose bit is set, and the query's total.

Paper claim: seed 001 §S7 (the 1-bit decode path reads packed sign bits); ARCHITECTURE glossary
"1-bit K cache" (packed sign bits + a per-vector scale). -/
theorem packed_sign_score {ι : Type*} [Fintype ι] (s x : ι → ℝ) (hs : ∀ i, s i = 1 ∨ s i = -1) :
    ∑ i, s i * x i = 2 * ∑ i ∈ Finset.univ.filter (fun i => s i = 1), x i - ∑ i, x i := by
  have h : ∀ i, s i * x i = 2 * (if s i = 1 then x i else 0) - x i := by
    intro i
    rcases hs i with h1 | h1
    · rw [if_pos h1, h1]
      ring
    · have hne : ¬ s i = 1 := by
        rw [h1]
        norm_num
      rw [if_neg hne, h1]
      ring
  rw [Finset.sum_congr rfl fun i _ => h i, Finset.sum_sub_distrib, ← Finset.mul_sum,
    Finset.sum_filter]

/-- **The byte-blocked form.** With `d = 8B` coordinates indexed as `(byte, bit) ∈ Fin B × Fin 8`,
`∑ s x = ∑_b (2 · ∑_{j : bit j of byte b set} x_{b,j} − ∑_j x_{b,j})`: the score is a sum of
per-byte terms, each a function of one byte of bits and eight query coordinates.

Paper claim: seed 001 §S7 (the 1-bit decode path); ARCHITECTURE glossary "1-bit K cache". -/
theorem packed_sign_score_bytes {B : ℕ} (s x : Fin B × Fin 8 → ℝ)
    (hs : ∀ i, s i = 1 ∨ s i = -1) :
    ∑ i, s i * x i =
      ∑ b : Fin B, (2 * ∑ j ∈ Finset.univ.filter (fun j => s (b, j) = 1), x (b, j) -
        ∑ j, x (b, j)) := by
  rw [Fintype.sum_prod_type]
  exact Finset.sum_congr rfl fun b _ =>
    packed_sign_score (fun j => s (b, j)) (fun j => x (b, j)) (fun j => hs (b, j))

end MoEGauge

end
