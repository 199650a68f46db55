import Lean

/-!
# Axiom export for the MoEGauge library

`lake exe moegauge_axioms` (after `lake build`) imports the compiled `MoEGauge` library and prints
to stdout exactly one JSON object

```
{"schema": "moegauge.lean_axioms", "version": 1, "lean_version": "...",
 "declarations": [{"name": "MoEGauge.moment_ratio_le_one", "module": "MoEGauge.JensenFloor",
                   "axioms": ["Classical.choice", "propext", "Quot.sound"]}, ...]}
```

with one entry per non-internal constant whose defining module has `MoEGauge` as a prefix,
sorted by name, each with its axioms (as `#print axioms` reports them) sorted by name.
A proof that still contains `sorry` shows up with the axiom `sorryAx`.

`#print axioms` cannot be used inside `module` files, hence this executable. It imports `Lean`
only and loads the `.olean` files at run time, so building it does not compile Mathlib natively.
-/

open Lean

namespace MoEGaugeExport

/-- The module prefix whose declarations are exported. -/
def projectRoot : Name := `MoEGauge

/-- Whether a module belongs to the project (`MoEGauge` or `MoEGauge.*`, not `MoEGaugeExport`). -/
def isProjectModule (mod : Name) : Bool :=
  projectRoot.isPrefixOf mod

/-- Last component of a name, as a string (empty for anonymous or numeric components). -/
def lastComponent : Name → String
  | .str _ s => s
  | _ => ""

/-- Whether `s` is `pre` followed by a nonempty run of decimal digits (e.g. `eq_1`, `match_2`). -/
def isNumbered (pre s : String) : Bool :=
  let cs := s.toList
  let ps := pre.toList
  cs.take ps.length == ps && cs.length > ps.length && (cs.drop ps.length).all Char.isDigit

/-- Auto-generated names that are not user declarations: internal names (`_proof_1`, `_private`
…), reserved names (equation lemmas `eq_1`, `eq_def`, …) and compiler auxiliaries (`match_1`,
`proof_1`). -/
def isGenerated (env : Environment) (n : Name) : Bool :=
  let s := lastComponent n
  n.isInternal || isReservedName env n || s == "eq_def" || s == "eq_unfold" ||
    isNumbered "eq_" s || isNumbered "match_" s || isNumbered "proof_" s

/-- The axioms a constant depends on, computed by `Lean.collectAxioms` in `CoreM`. -/
def axiomsOf (env : Environment) (n : Name) : IO (Array Name) := do
  let ctx : Core.Context := { fileName := "<moegauge_axioms>", fileMap := default }
  let st : Core.State := { env := env }
  let (axs, _) ← (Lean.collectAxioms n : CoreM (Array Name)).toIO ctx st
  return axs

/-- Sort names by their string form. -/
def sortNames (ns : Array Name) : Array Name :=
  ns.qsort (fun a b => a.toString < b.toString)

/-- The JSON object of one declaration. -/
def declJson (n mod : Name) (axs : Array Name) : Json :=
  Json.mkObj [
    ("name", Json.str n.toString),
    ("module", Json.str mod.toString),
    ("axioms", Json.arr ((sortNames axs).map fun a => Json.str a.toString))]

end MoEGaugeExport

open MoEGaugeExport in
/-- Entry point of `lake exe moegauge_axioms`. -/
unsafe def main (_args : List String) : IO UInt32 := do
  try
    initSearchPath (← findSysroot)
    enableInitializersExecution
    let env ← importModules #[{ module := projectRoot }] {} (loadExts := true)
    let mut decls : Array (Name × Name) := #[]
    for i in [0:env.header.moduleNames.size] do
      let mod := env.header.moduleNames[i]!
      if isProjectModule mod then
        for n in env.header.moduleData[i]!.constNames do
          unless isGenerated env n do
            decls := decls.push (n, mod)
    let decls := decls.qsort (fun a b => a.1.toString < b.1.toString)
    let mut out : Array Json := #[]
    for (n, mod) in decls do
      let axs ← axiomsOf env n
      out := out.push (declJson n mod axs)
    let obj := Json.mkObj [
      ("schema", Json.str "moegauge.lean_axioms"),
      ("version", toJson (1 : Nat)),
      ("lean_version", Json.str Lean.versionString),
      ("declarations", Json.arr out)]
    IO.println obj.compress
    return 0
  catch e =>
    IO.eprintln s!"moegauge_axioms: {e}"
    return 1
