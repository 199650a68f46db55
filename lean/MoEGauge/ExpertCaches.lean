import MoEGauge.Basic

/-!
# Expert caches and placements: two counting facts

* `MoEGauge.uniform_independent_hit_probability`: if every request is uniform over the `N`
  experts and independent of the cache's state, every policy of capacity `C` hits with
  probability `C/N` — no policy can beat it, so a cache study must show structure in the requests.
* `MoEGauge.distinct_devices_le_min`: a token that routes to `k` experts touches at most
  `min(k, D)` devices, whatever the placement of experts on `D` devices.
-/

noncomputable section

namespace MoEGauge

/-- Counting the experts of a set: `∑_{e} [e ∈ S] = |S|`. -/
theorem sum_indicator_mem_eq_card {N : ℕ} (S : Finset (Fin N)) :
    ∑ e : Fin N, (if e ∈ S then (1 : ℝ) else 0) = S.card := by
  first
    | (rw [← Finset.sum_filter, Finset.filter_mem_eq_inter, Finset.univ_inter, Finset.sum_const,
        nsmul_eq_mul, mul_one]; done)
    | (simp [Finset.sum_boole]; done)

/-- **Uniform independent requests: every policy hits with probability `C/N`.** Let the cache's
state be any random set of experts of size `C` — a state `σ` drawn with probability `w σ`, holding
the experts `S σ`, whatever policy and history produced it — and let the request be uniform over
the `N` experts and independent of the state, so the pair `(σ, e)` has probability
`w σ · (1/N)`. Then the probability that the request is in the cache is `C/N`.

Paper claim: seed 004 (LRU / LFU / co-activation caches against a null); the caches study's
uniform baseline. -/
theorem uniform_independent_hit_probability {N C : ℕ} {σ : Type*} [Fintype σ]
    (w : σ → ℝ) (hw : ∑ t, w t = 1) (S : σ → Finset (Fin N)) (hS : ∀ t, (S t).card = C) :
    ∑ t, ∑ e : Fin N, w t * (1 / N) * (if e ∈ S t then 1 else 0) = (C : ℝ) / N := by
  have hinner : ∀ t, ∑ e : Fin N, w t * (1 / N) * (if e ∈ S t then (1 : ℝ) else 0) =
      w t * ((C : ℝ) / N) := by
    intro t
    rw [← Finset.mul_sum, sum_indicator_mem_eq_card, hS t]
    ring
  rw [Finset.sum_congr rfl fun t _ => hinner t, ← Finset.sum_mul, hw, one_mul]

/-- **Distinct devices per token are at most `min(k, D)`.** For any placement `place` of the
experts on `D` devices and any token whose top-`k` set is `E` (`|E| = k`), the number of distinct
devices the token touches, `|place(E)|`, is at most `k` and at most `D`.

Paper claim: seed 004 (static expert → device placement scored by distinct devices per token). -/
theorem distinct_devices_le_min {N D k : ℕ} (place : Fin N → Fin D) (E : Finset (Fin N))
    (hk : E.card = k) : (E.image place).card ≤ min k D := by
  exact le_min (Finset.card_image_le.trans hk.le)
    ((Finset.card_le_univ _).trans_eq (Fintype.card_fin D))

end MoEGauge

end
