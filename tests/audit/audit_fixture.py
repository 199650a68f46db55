"""A small, clean project to audit, and helpers to plant one fault at a time."""

from __future__ import annotations

import json
from pathlib import Path

from moegauge import theorems as T
from moegauge.artifacts import build_artifact, measure, table, write_artifact

LEAN = """namespace MoEGauge

theorem moment_ratio_le_one : 1 = 1 := rfl
theorem cos_sign_quant_formula : 2 = 2 := rfl
theorem gaussian_moment_ratio_floor_eq : 3 = 3 := rfl
theorem one_bit_scale_optimal : 4 = 4 := rfl
theorem dc_centering_lifts_rotational_ceiling : 5 = 5 := rfl
/-- The floor.
Deferred: needs a CLT that Mathlib does not have. -/
theorem srht_achieves_isotropic_floor : 6 = 6 := sorry
theorem half_done : 7 = 7 := by
  have h : 1 = 1 := rfl
  sorry

end MoEGauge
"""


def claim(id, value, quantity, source=None, theorems=(T.MOMENT_RATIO_LE_ONE,), paper_facing=True, **extra):
    d = {"id": id, "sentence": f"the sentence of {id}", "value": value, "quantity": quantity,
         "theorems": list(theorems), "appears_in": ["fixture §1"], "paper_facing": paper_facing}
    if source is not None:
        d["source"] = source
    d.update(extra)
    return d


ART = "evidence/beta/beta_demo.json"


def field(name: str) -> dict:
    return {"artifact": ART, "pointer": f"/measures/{name}/value"}


CLEAN_CLAIMS = [
    claim("beta_srht", "0.637", "beta", field("beta_srht"),
          theorems=(T.MOMENT_RATIO_LE_ONE, T.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ), asserts="gaussian_floor",
          context={"n": 4096, "d": 256}),
    claim("cos_srht", "0.798", "one_bit_cosine", field("cos_srht"),
          theorems=(T.COS_SIGN_QUANT_FORMULA, T.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ), asserts="gaussian_floor",
          context={"n": 4096, "d": 256}),
    claim("ppl_srht", "942", "ppl", field("ppl_srht"), theorems=()),
    claim("ppl_learned", "25.7", "ppl", field("ppl_learned"), theorems=()),
    claim("gap", "36.6", "ratio", {"formula": "a / b", "bindings": {"a": {"claim": "ppl_srht"}, "b": {"claim": "ppl_learned"}}},
          theorems=()),
    claim("layer_cos_range", "0.79–0.81", "one_bit_cosine",
          {"range_of": [{"artifact": ART, "pointer": f"/tables/layers/rows/{i}/cos"} for i in range(3)]},
          theorems=(T.COS_SIGN_QUANT_FORMULA,)),
    claim("residual", "36%", "residual_energy", {"formula": "1 - c^2", "bindings": {"c": {"claim": "cos_srht"}}},
          theorems=(T.ONE_BIT_SCALE_OPTIMAL,), asserts="residual_energy_of", about="cos_srht"),
]


class Project:
    def __init__(self, root: Path):
        self.root = root

    @property
    def claims_path(self) -> Path:
        return self.root / "evidence" / "claims" / "claims.json"

    @property
    def artifact_path(self) -> Path:
        return self.root / ART

    def claims(self) -> list[dict]:
        return json.loads(self.claims_path.read_text())["claims"]

    def write_claims(self, claims: list[dict]) -> None:
        self.claims_path.write_text(json.dumps({"schema": "moegauge/claims", "schema_version": 1, "set": "fixture",
                                                "description": "fixture claims", "claims": claims}, indent=1))

    def edit_artifact(self, fn) -> None:
        doc = json.loads(self.artifact_path.read_text())
        fn(doc)
        self.artifact_path.write_text(json.dumps(doc, indent=1))


def make_project(root: Path) -> Project:
    (root / "lean").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "moegauge"\n')
    (root / "lean" / "Demo.lean").write_text(LEAN)
    (root / "data").mkdir()
    (root / "data" / "keys.bin").write_bytes(b"keys")
    doc = build_artifact(
        kind="beta", artifact_id="beta_demo", description="fixture",
        measures={"beta_srht": measure("beta", 0.6371, "β after SRHT"),
                  "cos_srht": measure("one_bit_cosine", 0.7982, "cosine after SRHT"),
                  "ppl_srht": measure("ppl", 942.2, "ppl"), "ppl_learned": measure("ppl", 25.71, "ppl")},
        tables={"layers": table("per layer", {"layer": ("index", "layer"), "cos": ("one_bit_cosine", "cos")},
                                [{"layer": i, "cos": c} for i, c in enumerate((0.7921, 0.8013, 0.8088))])},
        relies_on=[T.MOMENT_RATIO_LE_ONE], inputs=[(root / "data" / "keys.bin", "keys")], root=root, seed=0)
    write_artifact(doc, root / ART)
    p = Project(root)
    p.claims_path.parent.mkdir(parents=True)
    p.write_claims(CLEAN_CLAIMS)
    return p

