"""The spread table: every numeric field of the main artifacts beside each rerun's."""

from __future__ import annotations

from pathlib import Path

from moegauge.artifacts import build_artifact, measure, table, write_artifact
from moegauge.lm.spread import VARIANTS, compared_paths, numeric_fields, spread_rows


def _beta(root: Path, evidence: Path, beta: float, step: int) -> None:
    doc = build_artifact(
        kind="beta", artifact_id="beta_table_trained", description="x",
        measures={"beta_raw": measure("beta", beta, "β"), "n": measure("count", 7, "windows")},
        tables={"layers": table("t", {"layer": ("index", "layer"), "variant": ("label", "v"),
                                      "step": ("steps", "first step")},
                                [{"layer": 0, "variant": "a", "step": step}])},
        root=root)
    write_artifact(doc, evidence / "beta" / "beta_table_trained.json")


def test_numeric_fields_skip_labels_and_indices(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "moegauge"\n')
    _beta(tmp_path, tmp_path / "evidence", 0.5, 40)
    from moegauge.artifacts import load_artifact

    fields = numeric_fields(load_artifact(tmp_path / "evidence" / "beta" / "beta_table_trained.json"))
    assert fields == {"/measures/beta_raw/value": ("beta", 0.5), "/measures/n/value": ("count", 7.0),
                      "/tables/layers/rows/0/step": ("steps", 40.0)}


def test_spread_rows_take_the_largest_deviation(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "moegauge"\n')
    main = tmp_path / "evidence"
    _beta(tmp_path, main, 0.5, 40)
    runs = {}
    for v, (beta, step) in zip(("a", "b"), ((0.52, 38), (0.49, 47))):
        runs[v] = tmp_path / v
        _beta(tmp_path, runs[v], beta, step)
    rows = {}
    for q, rs in spread_rows(main, runs, ("trained",), paths=["beta/beta_table_trained.json"]).items():
        for r in rs:
            rows[r["pointer"]] = r
    assert abs(rows["/measures/beta_raw/value"]["max_abs_deviation"] - 0.02) < 1e-12
    assert rows["/tables/layers/rows/0/step"]["max_abs_deviation"] == 7
    assert rows["/measures/n/value"]["max_abs_deviation"] == 0


def test_variants_cover_kernels_threads_and_three_seeds():
    names = {v.name for v in VARIANTS}
    assert {"avx2", "threads1"} <= names and len([v for v in VARIANTS if "seed" in v.config]) >= 2
    assert "memory/memory_budget.json" in compared_paths(("trained",))
