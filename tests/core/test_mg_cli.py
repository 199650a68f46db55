"""``python -m moegauge``: each subcommand writes a valid artifact; bad input is one line, exit 2."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from moegauge import theorems as th
from moegauge.artifacts import load_artifact
from moegauge.cli import SUBCOMMAND_MODULES, build_parser, main
from moegauge.keyfile import load_keys, save_keys
from moegauge.moments import beta_moment_ratio, one_bit_cosine
from moegauge.rotationfile import load_rotation, save_rotation
from moegauge.synthetic import low_rank_keys

TOKENS, HEADS, HEAD_DIM = 96, 2, 16


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    """A cwd with no pyproject: the repo root falls back to it, so runs/ lands here."""
    monkeypatch.chdir(tmp_path)
    keys = low_rank_keys(TOKENS * HEADS, HEAD_DIM, rank=3, seed=2).reshape(TOKENS, HEADS, HEAD_DIM)
    save_keys(tmp_path / "layer0.safetensors", keys)
    return tmp_path


def _only_artifact(root: Path, kind: str) -> dict:
    files = sorted((root / "runs" / kind).glob("*.json"))
    assert len(files) == 1, files
    return load_artifact(files[0])


def test_registry_modules_follow_the_contract():
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(name)
        assert callable(module.add_parser) and callable(module.run)
    assert {"beta", "rotate", "quantize"} <= set(build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("command", ["beta", "rotate", "quantize"])
def test_help_explains_each_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "runs/" in out and "--out" in out and "--dim" in out


def test_beta_artifact(workdir, capsys):
    assert main(["beta", "layer0.safetensors", "--center", "per_channel"]) == 0
    doc = _only_artifact(workdir, "beta")
    path = capsys.readouterr().out.strip()
    assert Path(path).stem == doc["artifact_id"] == "layer0-beta-head_dim-per_channel"
    vectors = load_keys(workdir / "layer0.safetensors").vectors("head_dim")
    centered = vectors - vectors.mean(0)
    m = doc["measures"]
    assert m["beta"]["value"] == pytest.approx(float(beta_moment_ratio(centered)), rel=1e-6)
    assert m["beta"]["d"] == HEAD_DIM and m["beta"]["dim_meaning"] == "head_dim"
    assert m["one_bit_cosine_mean"]["value"] == pytest.approx(float(one_bit_cosine(centered).mean()), rel=1e-6)
    assert m["vectors"]["value"] == TOKENS * HEADS
    assert len(doc["tables"]["heads"]["rows"]) == HEADS
    assert th.DC_MEAN_DECOMPOSITION_NORM in doc["relies_on"]
    prov = doc["provenance"]
    assert prov["command"][:2] == ["moegauge", "beta"] and prov["cwd_relative"] is True
    assert prov["inputs"][0]["path"] == "layer0.safetensors" and prov["inputs"][0]["role"] == "keys"


def test_rotate_srht_and_learned_then_quantize(workdir):
    assert main(["rotate", "layer0.safetensors", "--dim", "all_kv_heads", "--seed", "3"]) == 0
    srht_doc = _only_artifact(workdir, "rotate")
    assert srht_doc["measures"]["dimension"]["value"] == HEADS * HEAD_DIM
    assert srht_doc["measures"]["beta_after"]["dim_meaning"] == "all_kv_heads"
    assert th.SRHT_ACHIEVES_ISOTROPIC_FLOOR in srht_doc["relies_on"] and srht_doc["provenance"]["seed"] == 3

    rot = workdir / "rot.safetensors"
    out = workdir / "learned" / "run1.json"
    argv = ["rotate", "layer0.safetensors", "--method", "learned", "--steps", "6", "--save-rotation", str(rot), "--out", str(out)]
    assert main(argv) == 0
    doc = load_artifact(out)
    assert doc["artifact_id"] == "run1"
    assert len(doc["tables"]["trace"]["rows"]) == 7
    assert {r["threshold"] for r in doc["tables"]["crossings"]["rows"]} == {0.85, 0.90, 0.92}
    assert doc["measures"]["orthogonality_error"]["value"] < 1e-5
    assert doc["provenance"]["config"]["held_out_tokens"] == round(0.2 * TOKENS)
    r = load_rotation(rot)
    assert r.rotation.shape == (HEAD_DIM, HEAD_DIM) and r.centering == "per_channel"

    assert main(["quantize", "layer0.safetensors", "--rotation", str(rot)]) == 0
    q = _only_artifact(workdir, "quantize")
    m = q["measures"]
    n = TOKENS * HEADS
    assert m["bytes_sign_bits"]["value"] == n * HEAD_DIM // 8
    assert m["bytes_scales"]["value"] == 2 * n
    assert m["bytes_rotation"]["value"] == 4 * HEAD_DIM * HEAD_DIM
    assert m["bytes_centering"]["value"] == 4 * HEAD_DIM
    assert m["bytes_fp16_keys"]["value"] == 2 * n * HEAD_DIM
    assert m["residual_identity_gap_max"]["value"] < 1e-6
    assert {p["role"] for p in q["provenance"]["inputs"]} == {"keys", "rotation"}
    assert th.ONE_BIT_SCALE_OPTIMAL in q["relies_on"]


def test_quantize_srht_reconstructs_in_original_coordinates(workdir):
    assert main(["quantize", "layer0.safetensors", "--rotation", "srht", "--center", "per_vector", "--out", "q"]) == 0
    doc = load_artifact(next((workdir / "q").glob("*.json")))
    m = doc["measures"]
    assert m["bytes_rotation"]["value"] == 8 and m["bytes_centering"]["value"] == 2 * TOKENS * HEADS
    assert 0 < m["residual_energy_original_mean"]["value"] < m["residual_energy_mean"]["value"] + 1e-6


def _write(path: Path, tensors: dict) -> Path:
    from safetensors.torch import save_file

    save_file(tensors, str(path))
    return path


@pytest.mark.parametrize(
    "setup, args, culprit, message",
    [
        (lambda d: None, ["beta", "missing.safetensors"], "missing.safetensors", "no such file"),
        (lambda d: (d / "junk.safetensors").write_text("hello"), ["beta", "junk.safetensors"], "junk.safetensors", "not a readable safetensors file"),
        (lambda d: _write(d / "v.safetensors", {"keys": torch.randn(5)}), ["beta", "v.safetensors"], "v.safetensors", "expected (tokens, heads, head_dim)"),
        (lambda d: _write(d / "i.safetensors", {"keys": torch.ones(4, 2, dtype=torch.int32)}), ["beta", "i.safetensors"], "i.safetensors", "floating-point"),
        (lambda d: _write(d / "n.safetensors", {"keys": torch.tensor([[1.0, float("nan")], [1.0, 2.0]])}), ["rotate", "n.safetensors"], "n.safetensors", "NaN/inf"),
        (lambda d: _write(d / "z.safetensors", {"keys": torch.zeros(3, 4)}), ["quantize", "z.safetensors", "--center", "none"], "z.safetensors", "all zero"),
        (lambda d: _write(d / "t.safetensors", {"k": torch.randn(3, 4), "q": torch.randn(3, 4)}), ["beta", "t.safetensors"], "t.safetensors", "no tensor named 'keys' (found: k, q)"),
        (lambda d: save_rotation(d / "r.safetensors", torch.eye(8), torch.zeros(8), "per_channel", "head_dim"), ["quantize", "layer0.safetensors", "--rotation", "r.safetensors"], "r.safetensors", "rotation is 8×8"),
        (lambda d: save_rotation(d / "r.safetensors", 2 * torch.eye(16), torch.zeros(16), "per_channel", "head_dim"), ["quantize", "layer0.safetensors", "--rotation", "r.safetensors"], "r.safetensors", "not orthogonal"),
        (lambda d: None, ["quantize", "layer0.safetensors", "--rotation", "nowhere.safetensors"], "nowhere.safetensors", "no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(workdir, capsys, setup, args, culprit, message):
    setup(workdir)
    before = sorted(p.name for p in workdir.rglob("*"))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"moegauge: error: {culprit}: ")
    assert message in err
    assert sorted(p.name for p in workdir.rglob("*")) == before  # nothing written


def test_python_dash_m_entry_point(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "moegauge", "beta", str(tmp_path / "absent.safetensors")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr == f"moegauge: error: {tmp_path / 'absent.safetensors'}: no such file\n"
    assert not (tmp_path / "evidence").exists()


def test_unwritable_output_is_one_line(workdir, capsys):
    (workdir / "blocker").write_text("a file, not a directory")
    assert main(["beta", "layer0.safetensors", "--out", "blocker/sub/x.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("moegauge: error: blocker") and "cannot write" in err


def test_constant_head_is_refused(workdir, capsys):
    keys = torch.randn(8, 2, 4)
    keys[:, 1, :] = 3.0  # head 1 never varies: kurtosis undefined
    save_keys(workdir / "flat.safetensors", keys)
    assert main(["beta", "flat.safetensors"]) == 2
    assert capsys.readouterr().err == "moegauge: error: flat.safetensors: KV head(s) 1 have zero variance (kurtosis undefined)\n"
