import Lake
open Lake DSL

-- Lake configuration of the MoEGauge Lean library (sources under `lean/`).
-- Pinned: Lean `v4.34.0` (see `lean-toolchain`) and Mathlib tag `v4.34.0`.

package moegauge where
  leanOptions := #[⟨`autoImplicit, false⟩]

require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "v4.34.0"

-- The proofs: root module `MoEGauge` (`lean/MoEGauge.lean`).
@[default_target]
lean_lib MoEGauge where
  srcDir := "lean"

-- `lake exe moegauge_axioms` (run after `lake build`) prints one JSON object with the axioms
-- every `MoEGauge` declaration depends on (the bridge's kernel check).
lean_exe moegauge_axioms where
  srcDir := "lean"
  root := `MoEGaugeExport.Axioms
  supportInterpreter := true
