"""Regression fixtures for real-world Lean the reader once rejected or misread (issue 14).

Each case is valid Lean (hand-written after constructs found in Mathlib, Batteries and lakefiles);
the test states the declarations and statuses Lean's own reading implies, and the notes expected.
"""

from __future__ import annotations

import pytest

from bridge.lean.reader import LeanFile, read_bytes
from bridge.lean.status import compute_statuses


def statuses(*sources: tuple[str, str]) -> dict[str, str]:
    files = [read_bytes(text.encode(), path) for path, text in sources]
    return {r.decl.name: r.status for r in compute_statuses(files)}


def read(text: str, path: str = "T.lean") -> LeanFile:
    return read_bytes(text.encode(), path)


UNKNOWN_COMMANDS = [
    'deprecated_module "use Foo.Bar instead" (since := "2025-01-01")',
    'notation3 "∑ᶠ "(...)", "r:67:(scoped f => finsum f) => r',
    "declare_aesop_rule_sets [Foo] (default := true)",
    "register_hint (priority := 1000) simp",
    "assert_not_imported Mathlib.Order.Basic",
    "initialize_simps_projections Equiv (toFun → apply, invFun → symm_apply)",
    "simproc reduceFoo (Foo _) := fun e => do\n  return .continue",
    "simproc_decl reduceBar (Bar _) := fun _ => return .continue",
    "dsimproc_decl reduceBaz (Baz _) := fun _ => return .continue",
    "grind_pattern foo_le => foo x",
    "unset_option maxHeartbeats",
    "theorem_wanted riemann_hypothesis : ∀ s, s = s",
    "coinductive Stream' (α : Type) where\n  | cons : α → Stream' α → Stream' α",
    "register_linter_set linter.foo := linter.bar",
    "compile_def% Foo.bar",
    'syntax (name := myCmd) "my_command" ident : command',
    "my_command foo",
    'package foo where\n  leanOptions := #[⟨`autoImplicit, false⟩]',
    'require mathlib from git "https://example.invalid/mathlib4" @ "master"',
    "@[default_target]\nlean_lib Foo where\n  globs := #[.submodules `Foo]",
]


@pytest.mark.parametrize("command", UNKNOWN_COMMANDS)
def test_unknown_command_between_declarations_is_skipped_with_a_note(command):
    src = f"theorem before : 1 = 1 := rfl\n\n{command}\n\ntheorem after : 2 = 2 := by\n  sorry\n"
    f = read(src)
    by_name = {d.name: d for d in f.declarations}
    assert set(by_name) >= {"before", "after"}
    got = statuses(("T.lean", src))
    assert got["before"] == "proved" and got["after"] == "stub"
    assert not by_name["before"].sorries
    words = command.split()[0] if not command.startswith("@[") else "lean_lib"
    if words not in ("syntax",):  # `syntax` is a known command
        assert any(sev == "note" and "unknown command" in msg for _, _, sev, msg in f.diagnostics), f.diagnostics


def test_note_is_located_and_named():
    f = read("theorem a : 1 = 1 := rfl\nnotation3 \"x\" => 1\n")
    assert f.diagnostic_lines() == ["T.lean:2:1: note: unknown command 'notation3', skipped"]


def test_library_note_and_adaptation_note_keep_their_docs():
    src = (
        'library_note "my note" /-- Some library note text. -/\n'
        "/-- The real doc. -/\ntheorem a : 1 = 1 := rfl\n"
        "#adaptation_note /-- after lean4#1234 -/\n"
        "/-- Doc of b. -/\ntheorem b : 2 = 2 := rfl\n"
    )
    f = read(src)
    assert [(d.name, d.doc) for d in f.declarations] == [("a", "The real doc."), ("b", "Doc of b.")]
    assert not [d for d in f.diagnostics if d[2] == "warning"]


def test_module_as_an_identifier():
    src = "module\n\ndef module : Nat := 1\nsection module\ntheorem uses : module = 1 := rfl\nend module\n"
    assert statuses(("T.lean", src)) == {"module": "proved", "uses": "proved"}


def test_open_private_from_in():
    src = "open private foo bar from Mathlib.Foo in\ntheorem t : 1 = 1 := rfl\n"
    assert statuses(("T.lean", src)) == {"t": "proved"}


def test_end_closes_namespace_and_section_together():
    src = "namespace A\nsection B\ntheorem t : 1 = 1 := rfl\nend A.B\ntheorem u : 1 = 1 := rfl\n"
    f = read(src)
    assert [d.name for d in f.declarations] == ["A.t", "u"]
    assert not f.diagnostics


def test_keywords_inside_guillemets_and_as_constructor_names():
    src = (
        "def «theorem» : Nat := 1\n"
        "inductive Kw where\n  | opaque\n  | def\n  | instance : Kw\n"
        "theorem uses : «theorem» = 1 := rfl\n"
    )
    f = read(src)
    assert [d.name for d in f.declarations] == ["«theorem»", "Kw", "uses"]


def test_open_renaming_and_import_all():
    src = "import all Mathlib.Foo\nopen Nat renaming succ → next\ntheorem t : 1 = 1 := rfl\n"
    f = read(src)
    assert [d.name for d in f.declarations] == ["t"] and f.imports == ("Mathlib.Foo",)
    assert not f.diagnostics


def test_renamed_name_resolves_to_the_project_declaration():
    src = ("namespace A\ndef x : Nat := sorry\nend A\nopen A renaming x → y\n"
           "theorem t : y = y := rfl\n")
    assert statuses(("T.lean", src))["t"] == "in_flight"


@pytest.mark.parametrize(
    "use",
    [
        "theorem t (x : Nat) : x = x := rfl",
        "theorem t : ∀ x : Nat, x = x := fun x => rfl",
        "theorem t : ∀ x : Nat, x = x := by\n  intro x\n  rfl",
        "theorem t : ∃ x : Nat, x = x := ⟨0, rfl⟩",
        "def t : Nat → Nat\n  | x => x",
        "def t (n : Nat) : Nat := let x := n; x",
        "theorem t (h : 1 = 1) : 1 = 1 := by\n  have x : 1 = 1 := h\n  exact x",
        "theorem t (p : Nat × Nat) : p = p := by\n  obtain ⟨x, y⟩ := p\n  rfl",
        "def t (s : List Nat) : Nat := s.foldl (fun acc x => acc + x) 0",
        "theorem t {x : Nat} (hx : x = 1) : x.succ = 2 := by simp [hx]",
        "variable (x : Nat)\ntheorem t : x = x := rfl",
    ],
)
def test_bound_names_shadow_project_declarations(use):
    src = f"def x : Nat := sorry\n{use}\n"
    assert statuses(("T.lean", src))["t"] == "proved"


def test_a_global_used_before_a_same_named_binder_still_counts():
    src = "def x : Nat := sorry\ntheorem t : x = x ∧ ∀ x : Nat, x = x := ⟨rfl, fun _ => rfl⟩\n"
    assert statuses(("T.lean", src))["t"] == "in_flight"


def test_unknown_command_after_a_declaration_is_not_absorbed():
    src = "theorem a : 1 = 1 := rfl\nsimproc_decl foo (x) := sorry\ntheorem b : 1 = 1 := rfl\n"
    assert statuses(("T.lean", src)) == {"a": "proved", "b": "proved"}


def test_stray_bracket_does_not_swallow_later_theorems():
    src = "theorem a : (1 = 1 := rfl\n\ntheorem b : 2 = 2 := by\n  sorry\n\ntheorem c : 3 = 3 := rfl\n"
    f = read(src)
    assert [d.name for d in f.declarations] == ["a", "b", "c"]
    warn = [d for d in f.diagnostics if d[2] == "warning"]
    assert warn and warn[0][:2] == (3, 1) and "not closed" in warn[0][3]
    assert statuses(("T.lean", src)) == {"a": "proved", "b": "stub", "c": "proved"}


@pytest.mark.parametrize(
    "src",
    [
        "inductive Proof where\n  | sorry : Proof\n  | real : Proof\ndef p : Proof := .sorry\n",
        "inductive Proof where\n  | sorry : Proof\ndef f : Proof → Nat\n  | .sorry => 0\n",
        "structure S where\n  admit : Nat\ndef s : S := { admit := 1 }\ndef g (x : S) : Nat := x.admit\n",
    ],
)
def test_sorry_as_a_name_is_not_a_sorry(src):
    f = read(src)
    assert all(not d.sorries for d in f.declarations), [(d.name, d.sorries) for d in f.declarations]


def test_duplicate_names_across_files_are_a_warning_with_both_locations():
    a = ("A.lean", "theorem dup : 1 = 1 := rfl\n")
    b = ("B.lean", "theorem dup : 2 = 2 := by sorry\n")
    files = [read_bytes(t.encode(), p) for p, t in (a, b)]
    warnings: list[str] = []
    result = compute_statuses(files, warnings=warnings)
    assert [(r.decl.file, r.status) for r in result] == [("A.lean", "proved"), ("B.lean", "stub")]
    assert warnings == ["B.lean:1:1: warning: 'dup' is also declared at A.lean:1:1 "
                        "(kept both; uses resolve by import order)"]


def test_duplicates_resolve_by_import_order():
    a = ("P/A.lean", "theorem dup : 1 = 1 := rfl\n")
    b = ("P/B.lean", "theorem dup : 2 = 2 := by sorry\n")
    c = ("P/C.lean", "import P.A\ntheorem user : 1 = 1 := dup\n")
    got = statuses(a, b, c)
    assert got["user"] == "proved"  # C imports A, not B


def test_a_file_does_not_see_what_it_does_not_import():
    a = ("P/A.lean", "theorem a : 1 = 1 := by sorry\n")
    b = ("P/B.lean", "import P.C\nvariable {a : Nat}\ntheorem uses_a : 1 = 1 := a\n")
    c = ("P/C.lean", "theorem c : 1 = 1 := rfl\n")
    assert statuses(a, b, c)["uses_a"] == "proved"


def test_alias_and_irreducible_def_are_reported():
    src = (
        "theorem base : 1 = 1 := sorry\n"
        "alias base_alias := base\n"
        "alias ⟨mp_alias, mpr_alias⟩ := Iff.rfl\n"
        "irreducible_def seven : Nat := 7\n"
        "theorem uses_seven : seven = seven := seven_def ▸ rfl\n"
    )
    f = read(src)
    kinds = {d.name: d.kind for d in f.declarations}
    assert kinds == {"base": "theorem", "base_alias": "alias", "mp_alias": "alias", "mpr_alias": "alias",
                     "seven": "irreducible_def", "seven_def": "theorem", "uses_seven": "theorem"}
    got = statuses(("T.lean", src))
    assert got["base_alias"] == "in_flight" and got["mp_alias"] == "proved" and got["uses_seven"] == "proved"


def test_where_helpers_are_entries_linked_to_their_parent():
    src = (
        "def outer (n : Nat) : Nat := go n + aux\nwhere\n"
        "  go : Nat → Nat\n    | 0 => 0\n    | k + 1 => go k\n"
        "  /-- A helper with a gap. -/\n  aux : Nat := sorry\n"
        "theorem clean : 1 = 1 := rfl\n"
    )
    f = read(src)
    by_name = {d.name: d for d in f.declarations}
    assert set(by_name) == {"outer", "outer.go", "outer.aux", "clean"}
    assert by_name["outer.go"].parent == "outer" and by_name["outer.aux"].doc == "A helper with a gap."
    result = {r.decl.name: r for r in compute_statuses([f])}
    assert result["outer.aux"].status == "stub" and result["outer.go"].status == "proved"
    assert result["outer"].status == "in_flight" and result["outer"].blocked_by == ("outer.aux",)
    assert result["clean"].status == "proved"


def test_structure_instance_where_is_not_helpers():
    src = "instance : Inhabited Nat where\n  default := 0\n"
    f = read(src)
    assert len(f.declarations) == 1 and f.declarations[0].helpers == ()


def test_lakefile_in_the_lean_dir_is_read_without_error():
    src = (
        "import Lake\nopen Lake DSL\n\npackage moegauge where\n  leanOptions := #[⟨`autoImplicit, false⟩]\n\n"
        'require mathlib from git\n  "https://example.invalid/mathlib4" @ "v4.34.0"\n\n'
        "@[default_target]\nlean_lib MoEGauge where\n  srcDir := \"lean\"\n\n"
        "lean_exe moegauge_axioms where\n  root := `MoEGaugeExport.Axioms\n"
    )
    f = read(src, "lakefile.lean")
    assert f.declarations == []
    assert [m for _, _, sev, m in f.diagnostics if sev == "warning"] == []


@pytest.mark.parametrize(
    "use",
    [
        "theorem t : (fun n : Nat => n) = id := funext x",  # `funext h` as a term applies a proof
        "theorem t : 1 = 1 := by\n  first\n    | (rw [x]) <;> rfl\n    | exact x",  # tactic alternatives
        "def t : Option Nat → Nat\n  | .none => 0\n  | .some _ => x",
    ],
)
def test_uses_that_look_like_binders_still_count(use):
    src = f"theorem x : ∀ n : Nat, n = n := sorry\n{use}\n"
    assert statuses(("T.lean", src))["t"] == "in_flight"


def test_patterns_sharing_a_right_hand_side_bind():
    src = "def a : Nat := sorry\ndef run : Option Nat → Nat\n  | .some a\n  | .none => 0\n"
    assert statuses(("T.lean", src))["run"] == "proved"


@pytest.mark.parametrize(
    "header, status",
    [
        # `hiding x`: `x` no longer reaches A.x through the open (so t uses no project declaration) …
        ("open A hiding x\n", "proved"),
        ("open A hiding y x\n", "proved"),
        # … but an unhidden name still does, and so does the full name.
        ("open A hiding y\n", "in_flight"),
    ],
)
def test_open_hiding_keeps_the_hidden_name_out_of_reach(header, status):
    src = ("namespace A\ndef x : Nat := sorry\ndef y : Nat := 0\nend A\n" + header +
           "theorem t : x = x := rfl\n")
    assert statuses(("T.lean", src))["t"] == status


def test_hidden_name_is_still_reachable_by_its_full_name_and_inside_its_namespace():
    src = ("namespace A\ndef x : Nat := sorry\nend A\nopen A hiding x\n"
           "theorem t : A.x = A.x := rfl\nnamespace A\ntheorem u : x = x := rfl\nend A\n")
    st = statuses(("T.lean", src))
    assert st["t"] == "in_flight" and st["A.u"] == "in_flight"


def test_open_hiding_in_a_declaration_prefix():
    src = ("namespace A\ndef x : Nat := sorry\nend A\n"
           "open A hiding x in\ntheorem t : x = x := rfl\nopen A in\ntheorem u : x = x := rfl\n")
    st = statuses(("T.lean", src))
    assert st["t"] == "proved" and st["u"] == "in_flight"


def test_adaptation_note_inside_a_proof_is_part_of_the_proof():
    src = ("theorem t : 1 = 1 := by\n  #adaptation_note /-- a note\n  over two lines -/\n  simp only []\n  rfl\n"
           "#adaptation_note /-- at column 0 it is a command -/\ntheorem u : 2 = 2 := rfl\n")
    f = read(src)
    assert [d.name for d in f.declarations] == ["t", "u"]
    assert not [d for d in f.diagnostics if d[2] == "warning"], f.diagnostic_lines()


def _warnings(f: LeanFile) -> list[str]:
    return [line for line in f.diagnostic_lines() if ": warning:" in line]


def test_dotted_section_opens_one_section_per_component():
    # Lean: `section A.B` is `section A` + `section B`, so `end B` closes only the inner one
    # (Mathlib/Algebra/Category/ModuleCat/ChangeOfRings.lean).
    src = ("namespace M\n\nsection M.Unbundled\n\ntheorem inner : 1 = 1 := rfl\n\nend Unbundled\n\n"
           "theorem middle : 2 = 2 := rfl\n\nend M\n\ntheorem outer : 3 = 3 := inner\n\nend M\n")
    f = read(src)
    assert not _warnings(f), f.diagnostic_lines()
    assert [d.name for d in f.declarations] == ["M.inner", "M.middle", "M.outer"]
    assert statuses(("T.lean", src)) == {"M.inner": "proved", "M.middle": "proved", "M.outer": "proved"}


@pytest.mark.parametrize("prefix", ["set_option linter.style.longLine false in\n",
                                    "#guard_msgs in\nset_option linter.style.header true in\n\n"])
def test_in_prefix_before_a_module_doc_is_valid(prefix):
    src = f"import Foo\n\n{prefix}/-!\n# Title\n-/\n\ntheorem t : 1 = 1 := rfl\n"
    f = read(src)
    assert not _warnings(f), f.diagnostic_lines()
    assert [d.name for d in f.declarations] == ["t"]


def test_declaration_keyword_inside_widget_html_is_text():
    # ProofWidgets' HTML syntax takes words literally (Mathlib/Tactic/ClickSuggestions/TryPremises.lean):
    # a mid-line `theorem` with no name after it is not a command, and the `def` keeps its body.
    src = ("def helper : Nat := sorry\n\n"
           "def render (token : Nat) : Nat := Id.run do\n"
           "  let x := token\n"
           "  token.update <div> loading theorem in the current file </div>\n"
           "  helper\n\n"
           "theorem later : 1 = 1 := rfl\n")
    f = read(src)
    assert not _warnings(f), f.diagnostic_lines()
    assert [d.name for d in f.declarations] == ["helper", "render", "later"]
    got = statuses(("T.lean", src))
    assert got["render"] == "in_flight"  # it uses `helper` (a sorry) after the widget line
    assert got["later"] == "proved"


def test_declaration_keyword_mid_line_after_a_term_still_starts_a_command():
    src = "def x : Nat := 1 theorem t : x = 1 := rfl\n"
    assert [d.name for d in read(src).declarations] == ["x", "t"]


def test_indented_prefix_keyword_in_an_unknown_commands_where_block():
    # `declare_core_config_elab … where` (Mathlib/Tactic/Simps/Basic.lean): `omit attrs` is its syntax.
    src = ("theorem before : 1 = 1 := rfl\n\n"
           "declare_core_config_elab elabSimpsConfig Config where\n"
           "  omit attrs\n"
           "  option attr := fun cfg item => do\n"
           "    pure cfg\n\n"
           "theorem after : 2 = 2 := rfl\n")
    f = read(src)
    assert not _warnings(f), f.diagnostic_lines()
    assert any("unknown command 'declare_core_config_elab'" in line for line in f.diagnostic_lines())
    assert [d.name for d in f.declarations] == ["before", "after"]


def test_tactic_set_option_in_is_not_a_command():
    src = ("theorem t : 1 = 1 := by\n  set_option maxHeartbeats 400 in\n  rfl\n\n"
           "theorem u : 2 = 2 := by\n  sorry\n")
    f = read(src)
    assert not _warnings(f)
    assert statuses(("T.lean", src)) == {"t": "proved", "u": "stub"}


def test_alias_as_a_local_variable_is_not_a_declaration():
    # Batteries/Tactic/Alias.lean: `let alias := …` and uses of it inside an `elab_rules` body.
    src = ("def run (getRef : Nat) (f : Nat → Nat → Nat) : Nat := Id.run do\n"
           "  let alias := getRef\n"
           "  let y := f getRef alias\n"
           "  let z := f (getRef) alias\n"
           "    + f alias (getRef)\n"
           "  y + z\n\n"
           "theorem t : 1 = 1 := rfl\n\n"
           "  alias t' := t\n")
    f = read(src)
    assert not _warnings(f), f.diagnostic_lines()
    assert [(d.kind, d.name) for d in f.declarations] == [("def", "run"), ("theorem", "t"), ("alias", "t'")]


def test_a_declaration_after_an_absolute_value_at_the_end_of_a_line():
    # Mathlib/NumberTheory/SelbergSieve.lean: `… := ∑ d ∈ s, |f d|` then a blank line and a
    # theorem: the `|` closes an absolute value, it is not a constructor bar before `theorem`.
    src = ("def errSum (f : Nat → Int) : Int := |f 0|\n\n"
           "theorem errSum_zero : errSum (fun _ => 0) = 0 := by\n  sorry\n\n"
           "inductive Kind\n  | opaque\n  | theorem'\n")
    f = read(src)
    assert [d.name for d in f.declarations][:2] == ["errSum", "errSum_zero"]
    assert statuses(("T.lean", src))["errSum_zero"] == "stub"
    assert not any(d.name.endswith("opaque") and d.kind == "opaque" for d in f.declarations)


def test_a_name_declared_later_in_the_file_is_not_what_an_earlier_use_means():
    """Lean elaborates a file in order: before `axiom α` exists, `α` in an example is an auto-bound
    implicit (Aesop's AesopTest/Forward.lean uses `α` at line 32 and declares `axiom α` at 701)."""
    src = ("example (a : α) : a = a := rfl\n"
           "theorem early : later = later := rfl\n"
           "axiom α : Type\n"
           "theorem later : 1 = 1 := by sorry\n"
           "theorem late_user : later = later := rfl\n")
    result = {r.decl.name: r for r in compute_statuses([read(src)])}
    assert result["«example at T.lean:1»"].status == "proved" and result["«example at T.lean:1»"].uses == ()
    assert result["early"].status == "proved" and result["early"].uses == ()
    assert result["late_user"].status == "in_flight" and result["late_user"].blocked_by == ("later",)


def test_a_later_same_file_name_gives_way_to_the_next_ranked_visible_one():
    """In `namespace N`, `foo` means `N.foo` only once `N.foo` is declared; before, the root `foo`
    of an imported file."""
    a = ("P/A.lean", "theorem foo : 1 = 1 := by sorry\n")
    b = ("P/B.lean", "import P.A\nnamespace N\ntheorem user : 1 = 1 := foo\ntheorem foo : 1 = 1 := rfl\n"
                     "theorem user2 : 1 = 1 := foo\nend N\n")
    result = {r.decl.name: r for r in compute_statuses([read_bytes(t.encode(), p) for p, t in (a, b)])}
    assert result["N.user"].uses == ("foo",) and result["N.user"].status == "in_flight"
    assert result["N.user2"].uses == ("N.foo",) and result["N.user2"].status == "proved"


def test_a_private_best_name_elsewhere_gives_way_to_the_next_ranked_one():
    a = ("P/A.lean", "namespace N\nprivate theorem foo : 1 = 1 := rfl\nend N\n")
    b = ("P/B.lean", "theorem foo : 1 = 1 := by sorry\n")
    c = ("P/C.lean", "import P.A\nimport P.B\nnamespace N\ntheorem user : 1 = 1 := foo\nend N\n")
    result = {r.decl.name: r for r in compute_statuses([read_bytes(t.encode(), p) for p, t in (a, b, c)])}
    assert result["N.user"].uses == ("foo",) and result["N.user"].status == "in_flight"


def test_mutual_members_and_where_helpers_see_each_other_whatever_the_order():
    src = ("mutual\n"
           "def isEven : Nat → Bool\n  | 0 => true\n  | n + 1 => isOdd n\n"
           "def isOdd : Nat → Bool\n  | 0 => sorry\n  | n + 1 => isEven n\n"
           "end\n"
           "def outer : Nat := first\nwhere\n  first : Nat := second\n  second : Nat := sorry\n")
    f = read(src)
    assert {d.name: d.mutual for d in f.declarations if d.name.startswith("is")} == {"isEven": 1, "isOdd": 1}
    result = {r.decl.name: r for r in compute_statuses([f])}
    assert result["isEven"].uses == ("isOdd",) and result["isEven"].status == "in_flight"
    assert result["outer.first"].uses == ("outer.second",) and result["outer.first"].status == "in_flight"
    assert result["outer"].status == "in_flight"


def test_a_verso_document_body_is_markup_not_commands():
    """`#doc (Manual) "title" =>` (Verso; FLT's blueprint) takes the rest of the file as markup:
    prose in column 0 is neither an unknown command nor a misplaced token."""
    src = ('import VersoManual\ntheorem before : 1 = 1 := rfl\n\n#doc (Manual) "A blueprint." =>\n\n'
           "*Fermat's Last Theorem* is the claim that no $`a^n+b^n=c^n` with n at least 3. It was open\n"
           "for over 350\nyears.\n\n:::definition \"flt\" (lean := \"FLT\")\nSome text.\n:::\n")
    f = read(src)
    assert [d.name for d in f.declarations] == ["before"]
    assert f.diagnostics == []
    # not a Verso document: `#doc` without `=>` ending its line is an ordinary `#` command
    g = read("#doc foo\ntheorem after : 1 = 1 := rfl\n")
    assert [d.name for d in g.declarations] == ["after"]


def test_a_bracket_inside_a_guillemet_name_is_not_a_bracket():
    """Cedar's SMT-LIB decoder names its parsers `«(»` and `«)»`; the `(` used to open a bracket
    that swallowed the next definition (a warning, and `«)»` absorbed into `«(»`)."""
    src = "def «(» : Nat := 1\n\ndef «)» : Nat := 2\ntheorem uses_paren : «(» = 1 := by\n  sorry\n"
    f = read(src)
    assert [d.name for d in f.declarations] == ["«(»", "«)»", "uses_paren"]
    assert _warnings(f) == []
    assert statuses(("T.lean", src)) == {"«(»": "proved", "«)»": "proved", "uses_paren": "stub"}


def test_a_modifier_before_what_is_not_a_declaration_is_an_unknown_command():
    """Lake's `meta if … then` in a lakefile (cedar-spec): a note, not a warning."""
    src = ('import Lake\nopen Lake DSL\n\nmeta if get_config? env = some "dev" then\n'
           'require "leanprover" / "doc-gen4" @ git "v4.31.0"\n\npackage foo where\n')
    f = read(src, "lakefile.lean")
    assert _warnings(f) == []
    assert (4, 1, "note", "unknown command 'meta if', skipped") in f.diagnostics


def test_an_unknown_command_takes_a_doc_comment_that_follows_it_on_its_line():
    """`blueprint_comment /-- … -/` (PrimeNumberTheoremAnd's blueprint tooling) is one command, as
    `library_note "…" /-- … -/` is: the doc comment belongs to neither a following namespace nor
    the next declaration's own doc comment."""
    src = ("blueprint_comment /--\n\\section{Appendix}\nSome text.\n-/\nnamespace N\n\n"
           "blueprint_comment /--\n\\subsection{B} -/\n/-- The real doc. -/\ntheorem t : 1 = 1 := rfl\nend N\n")
    f = read(src)
    assert _warnings(f) == []
    assert [(d.name, d.doc) for d in f.declarations] == [("N.t", "The real doc.")]
    # a doc comment that begins its own line still documents the next declaration
    g = read("my_custom_command\n/-- Documented. -/\ntheorem u : 1 = 1 := rfl\n")
    assert [(d.name, d.doc) for d in g.declarations] == [("u", "Documented.")]


def test_a_verso_document_body_is_not_lexed():
    """The reference manual's prose quotes `/--` and `/-` in backticks: the body of a Verso
    document is not lexed, so they open no comment (4 files were rejected as unterminated)."""
    src = ('import VersoManual\ndef before : Nat := 1\n#doc (Manual) "Definitions" =>\n\n'
           "Doc comments begin with `/--` rather than `/-`, and a string may open with `\"`.\n")
    f = read(src)
    assert [d.name for d in f.declarations] == ["before"] and f.diagnostics == []
    # a `=>` ending a line inside a string literal is not a document start: code goes on after it
    g = read('def s : String := "#doc (x) =>\nmore"\n/-- Doc. -/\ntheorem after : 1 = 1 := rfl\n')
    assert [(d.name, d.doc) for d in g.declarations] == [("s", None), ("after", "Doc.")]
    # nor is one inside a comment
    h = read('/-\n#doc (x) =>\n-/\ntheorem after : 1 = 1 := rfl\n')
    assert [d.name for d in h.declarations] == ["after"]


def test_declaration_keywords_in_html_inside_a_term_are_text():
    """doc-gen4 writes HTML in Lean (`<span class="fn">`, `<label …>instance</label>`): away from
    column 0, `class`/`structure`/`inductive` without a name after them, `instance` without a
    header shape, and `example` not followed by a binder or `:`, are words of the term (53 false
    warnings, and a phantom instance that cut the enclosing definition)."""
    src = ('def page : Html :=\n  <div>\n    <span class="fn">[node]</span>\n'
           '    <label for="a">instance</label>\n    <label for="b">structure</label>\n'
           '    <label for="c">inductive</label>\n    <label for="d">example</label>\n  </div>\n'
           "theorem t : 1 = 1 := rfl\n")
    f = read(src)
    assert _warnings(f) == []
    assert [d.name for d in f.declarations] == ["page", "t"]
    # indented declarations with their header shape still start a command
    g = read("mutual\n  inductive A where\n    | a\n  class inductive B where\n    | b\nend\n"
             "namespace N\n  instance : Inhabited Nat := ⟨0⟩\n  instance (priority := low) named : Inhabited Nat := ⟨1⟩\n"
             "  example : True := trivial\n  structure S where\n    x : Nat\n  class C (α : Type) where\n"
             "  class abbrev D := C Nat\nend N\n")
    assert _warnings(g) == []
    assert [(d.kind, d.name) for d in g.declarations if d.parent is None] == [
        ("inductive", "A"), ("class", "B"), ("instance", "N.«instance at T.lean:8»"), ("instance", "N.named"),
        ("example", "N.«example at T.lean:10»"), ("structure", "N.S"), ("class", "N.C"), ("class", "N.D")]


def test_a_keyword_in_a_name_literal_is_not_a_command():
    """`` `open `` (a `Name` literal; the reference manual's argument parsers) on a continuation
    line started an `open` command that met `<*>` (a warning)."""
    src = ("def parse : P Config :=\n  Config.mk <$>\n    .positional `name .name <*>\n"
           "    .flag `open true <*>\n    .flag `section false\n\ntheorem t : 1 = 1 := rfl\n")
    f = read(src)
    assert _warnings(f) == []
    assert [d.name for d in f.declarations] == ["parse", "t"]
