"""Artifact schema, writer, loader, provenance and atomic writes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jsonschema
import pytest

from moegauge import theorems as th
from moegauge.artifacts import (
    artifact_path,
    artifact_schema,
    build_artifact,
    dumps,
    load_artifact,
    measure,
    table,
    validate_artifact,
    write_artifact,
)
from moegauge.atomic import atomic_path, atomic_write_text
from moegauge.errors import ArtifactError, InputError
from moegauge.paths import find_repo_root, repo_relative
from moegauge.provenance import build_provenance, code_sha256, git_state, sha256_file
from moegauge.quantities import QUANTITIES


def _doc(tmp_path: Path, **over):
    keys = tmp_path / "k.bin"
    keys.write_bytes(b"abc")
    kw = dict(
        kind="beta",
        artifact_id="demo",
        description="A demo artifact.",
        measures={"beta": measure("beta", 0.7, "pooled β", n=10, d=64, dim_meaning="head_dim")},
        tables={
            "heads": table(
                "per head",
                {"head": ("index", "head index"), "name": ("label", "a label"), "beta": ("beta", "β")},
                [{"head": 0, "name": "h0", "beta": 0.6}],
            )
        },
        relies_on=[th.MOMENT_RATIO_LE_ONE, th.MOMENT_RATIO_LE_ONE],
        config={"center": "none"},
        seed=3,
        inputs=[(keys, "keys")],
        argv=["moegauge", "beta", "k.bin"],
        root=tmp_path,
    )
    kw.update(over)
    return build_artifact(**kw)


def test_schema_is_valid_and_matches_the_vocabularies():
    schema = artifact_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["$defs"]["quantity"]["enum"]) == set(QUANTITIES)
    assert set(schema["$defs"]["numeric_quantity"]["enum"]) == set(QUANTITIES) - {"label"}
    pattern = re.compile(schema["properties"]["relies_on"]["items"]["pattern"])
    assert len(set(th.ALL_THEOREMS)) == len(th.ALL_THEOREMS)
    assert all(pattern.match(name) for name in th.ALL_THEOREMS)


def test_build_write_load_roundtrip(tmp_path):
    doc = _doc(tmp_path)
    assert doc["schema"] == "moegauge/artifact" and doc["schema_version"] == 1
    assert doc["relies_on"] == [th.MOMENT_RATIO_LE_ONE]  # de-duplicated
    prov = doc["provenance"]
    assert prov["seed"] == 3 and prov["config"] == {"center": "none"}
    assert prov["command"] == ["moegauge", "beta", "k.bin"]
    assert prov["inputs"] == [{"path": "k.bin", "role": "keys", "sha256": sha256_file(tmp_path / "k.bin")}]
    assert prov["code_sha256"] == code_sha256()
    assert set(prov["packages"]) == {"python", "torch", "transformers", "numpy", "accelerate", "safetensors", "moegauge"}
    assert prov["compute"]["threads"] >= 1 and prov["compute"]["cpu_capability"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", prov["created_utc"])
    path = write_artifact(doc, tmp_path / "out" / "demo.json")
    text = path.read_text(encoding="utf-8")
    assert text == dumps(doc) and text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert load_artifact(path) == doc
    assert [p.name for p in path.parent.iterdir()] == ["demo.json"]  # no temp files left


@pytest.mark.parametrize(
    "where, mutate",
    [
        ("/measures/beta/value", lambda d: d["measures"]["beta"].update(value=math.nan)),
        ("/tables/heads/rows/0/beta", lambda d: d["tables"]["heads"]["rows"][0].update(beta=math.inf)),
        ("/provenance/config/x", lambda d: d["provenance"]["config"].update(x=-math.inf)),
    ],
)
def test_non_finite_numbers_are_refused_with_a_pointer(tmp_path, where, mutate):
    doc = _doc(tmp_path)
    mutate(doc)
    with pytest.raises(ArtifactError) as err:
        write_artifact(doc, tmp_path / "demo.json")
    assert err.value.pointer == where
    assert not (tmp_path / "demo.json").exists()
    with pytest.raises(ArtifactError):
        _doc(tmp_path, measures={"beta": measure("beta", float("nan"), "x")})


@pytest.mark.parametrize(
    "where, mutate",
    [
        ("/tables/heads/rows/0", lambda d: d["tables"]["heads"]["rows"][0].pop("name")),
        ("/tables/heads/rows/0/name", lambda d: d["tables"]["heads"]["rows"][0].update(name=3)),
        ("/tables/heads/rows/0/beta", lambda d: d["tables"]["heads"]["rows"][0].update(beta="high")),
        ("/relies_on/0", lambda d: d.update(relies_on=["MoEGauge.no_such_theorem"])),
        ("/measures/beta/quantity", lambda d: d["measures"]["beta"].update(quantity="furlongs")),
        ("/measures/beta/quantity", lambda d: d["measures"]["beta"].update(quantity="label")),
        ("/provenance", lambda d: d["provenance"].pop("seed")),
        ("", lambda d: d.update(extra=1)),
    ],
)
def test_contract_violations_name_the_pointer(tmp_path, where, mutate):
    doc = _doc(tmp_path)
    mutate(doc)
    with pytest.raises(ArtifactError) as err:
        validate_artifact(doc, "x.json")
    assert err.value.pointer == where
    assert str(err.value).startswith("x.json: ")


def test_id_must_be_the_file_stem(tmp_path):
    doc = _doc(tmp_path)
    with pytest.raises(ArtifactError):
        write_artifact(doc, tmp_path / "other.json")
    (tmp_path / "other.json").write_text(dumps(doc), encoding="utf-8")
    with pytest.raises(ArtifactError) as err:
        load_artifact(tmp_path / "other.json")
    assert err.value.pointer == "/artifact_id"


def test_load_artifact_errors(tmp_path):
    with pytest.raises(ArtifactError, match="no such file"):
        load_artifact(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(bad)
    doc = _doc(tmp_path, artifact_id="nan")
    (tmp_path / "nan.json").write_text(dumps(doc).replace('"value": 0.7', '"value": NaN'), encoding="utf-8")
    with pytest.raises(ArtifactError, match="NaN"):
        load_artifact(tmp_path / "nan.json")
    assert issubclass(ArtifactError, InputError)


def test_failed_write_keeps_the_old_file(tmp_path):
    doc = _doc(tmp_path)
    path = write_artifact(doc, tmp_path / "demo.json")
    before = path.read_bytes()
    doc["measures"]["beta"]["value"] = math.nan
    with pytest.raises(ArtifactError):
        write_artifact(doc, path)
    assert path.read_bytes() == before
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.json", "k.bin"]
    atomic_write_text(tmp_path / "sub" / "y.txt", "ok\n")
    assert (tmp_path / "sub" / "y.txt").read_text() == "ok\n"


def test_artifact_path_rules(tmp_path):
    assert artifact_path("beta", "a", root=tmp_path) == tmp_path / "evidence" / "beta" / "a.json"
    assert artifact_path("beta", "a", out=tmp_path / "x.json") == tmp_path / "x.json"
    assert artifact_path("beta", "a", out=tmp_path / "dir") == tmp_path / "dir" / "a.json"


def test_repo_root_discovery(tmp_path):
    assert find_repo_root(tmp_path) == tmp_path.resolve()  # fallback: the start itself
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "moegauge"\n', encoding="utf-8")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_repo_root(nested) == tmp_path.resolve()
    assert repo_relative(nested / "f.txt", tmp_path) == "a/b/f.txt"
    assert repo_relative("/elsewhere/f.txt", tmp_path) == "/elsewhere/f.txt"
    real_root = Path(__file__).resolve().parents[2]
    assert find_repo_root(Path(__file__).parent) == real_root


def test_code_hash_and_git_state(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    (pkg / "notes.txt").write_text("ignored")
    h1 = code_sha256(pkg)
    assert re.fullmatch(r"[0-9a-f]{64}", h1) and code_sha256(pkg) == h1
    (pkg / "notes.txt").write_text("still ignored")
    assert code_sha256(pkg) == h1
    (pkg / "sub" / "b.py").write_text("y = 3\n")
    assert code_sha256(pkg) != h1
    assert git_state(tmp_path) == (None, None)
    commit, dirty = git_state(Path(__file__).resolve().parents[2])
    assert commit is None or re.fullmatch(r"[0-9a-f]{40,64}", commit)
    assert dirty in (None, True, False)
    prov = build_provenance(argv=["x"], root=tmp_path)
    assert prov["git_commit"] is None and prov["git_dirty"] is None and prov["inputs"] == []


def test_atomic_files_get_umask_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "p.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o644
