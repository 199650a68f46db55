import MoEGauge.Basic
import MoEGauge.JensenFloor
import MoEGauge.GaugeInvariance
import MoEGauge.RoPE
import MoEGauge.Householder
import MoEGauge.DCMeanCentering
import MoEGauge.LastMile
import MoEGauge.SRHTFloor
import MoEGauge.SRHTGaussianFloor
import MoEGauge.QJL
import MoEGauge.Gauge
import MoEGauge.SignPacking
import MoEGauge.ExpertCaches
import MoEGauge.EffectiveRank

/-!
# MoEGauge

Root module of the MoEGauge Lean library: the formal side of the K-cache paper
(seeds 001 and 002). Every declaration lives in the namespace `MoEGauge`.

* `MoEGauge.Basic`: shared definitions (one-bit cosine, moment ratio, …) and small lemmas.
* `MoEGauge.JensenFloor`: `β ≤ 1`, the one-bit cosine formula, the optimal one-bit scale and the
  Gaussian floor `β = 2/π`.
* `MoEGauge.GaugeInvariance`, `MoEGauge.RoPE`: rotations are a gauge freedom of attention, and
  exactly when they fold through RoPE.
* `MoEGauge.Householder`, `MoEGauge.DCMeanCentering`: the DC-mean decomposition and what
  centering does (and does not) do to the rotational ceiling.
* `MoEGauge.LastMile`: quadratic hardness near the sign lattice.
* `MoEGauge.SRHTFloor`: the randomized Hadamard transform and its (deferred) isotropic floor.
* `MoEGauge.SRHTGaussianFloor`: the Gaussian case of the floor (orthogonal invariance of i.i.d.
  Gaussians, the strong law for the one-bit cosine).
* `MoEGauge.QJL`: the mean of QJL's sign estimator (deferred).
* `MoEGauge.Gauge`: seed 000's gauge scales as `1/c²` while attention does not change.
* `MoEGauge.SignPacking`: the packed-sign score identity of the 1-bit decode path.
* `MoEGauge.ExpertCaches`: uniform-request hit rate `C/N`; distinct devices per token `≤ min(k, D)`.
* `MoEGauge.EffectiveRank`: `1 ≤` participation ratio `≤` rank.
-/
