import MoEGauge.Basic
import MoEGauge.JensenFloor
import MoEGauge.GaugeInvariance
import MoEGauge.RoPE
import MoEGauge.Householder
import MoEGauge.DCMeanCentering
import MoEGauge.LastMile
import MoEGauge.SRHTFloor

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
-/
