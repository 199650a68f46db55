"""The audit's check of expert-placement maps, on the repository's own maps and tampered copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bridge.audit.placements import check_placements

REPO = Path(__file__).resolve().parents[2]
MAPS = sorted((REPO / "evidence" / "placements").glob("eplb_*.json"))


@pytest.fixture
def tree(tmp_path):
    if not MAPS:
        pytest.skip("no placement maps in evidence/ yet (moegauge run --stages coactivation)")
    (tmp_path / "evidence" / "placements").mkdir(parents=True)
    (tmp_path / "evidence" / "coactivation").mkdir()
    for m in MAPS:
        shutil.copy(m, tmp_path / "evidence" / "placements" / m.name)
    src = REPO / "evidence" / "coactivation" / "expert_placement.json"
    shutil.copy(src, tmp_path / "evidence" / "coactivation" / src.name)
    return tmp_path


def test_repository_maps_pass(tree):
    assert check_placements(tree / "evidence", tree) == []


def _edit(tree, fn):
    path = tree / "evidence" / "placements" / MAPS[0].name
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))
    return [f for f in check_placements(tree / "evidence", tree) if f.file.endswith(MAPS[0].name)]


def test_a_map_that_places_an_expert_twice_is_an_error(tree):
    def dup(doc):
        doc["phy2log"][0][1] = doc["phy2log"][0][0]
    (f,) = _edit(tree, dup)
    assert f.rule == "placement.invalid" and f.severity == "error" and f.pointer.startswith("/log2phy/0/")


def test_schema_violations_and_a_missing_source_are_findings(tree):
    (f,) = _edit(tree, lambda d: d.update(format="other"))
    assert f.rule == "placement.invalid" and f.pointer == "/format"
    (g,) = _edit(tree, lambda d: d.update(format="deepseek-eplb", source_artifact="evidence/nowhere.json"))
    assert g.rule == "placement.source"


def test_a_map_from_another_run_is_a_warning(tree):
    (f,) = _edit(tree, lambda d: d["provenance"].update(git_commit="0" * 40))
    assert f.rule == "placement.source" and f.severity == "warning"
