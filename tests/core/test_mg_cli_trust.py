"""CLIs a person can trust: every bad number, clobbered input, misplaced --out, overflowing key file,
corrupt checkpoint or Ctrl-C ends in one line naming the flag or file, with exit 2 (130 for Ctrl-C),
no traceback and nothing written."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from moegauge.artifacts import load_artifact
from moegauge.cli import SUBCOMMAND_MODULES, build_parser, main
from moegauge.cli import _common
from moegauge.errors import InputError
from moegauge.keyfile import save_keys
from moegauge.moments import beta_moment_ratio
from moegauge.synthetic import low_rank_keys

TOKENS, HEADS, HEAD_DIM = 64, 2, 16
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    """A cwd with no pyproject: the repo root falls back to it."""
    monkeypatch.chdir(tmp_path)
    keys = low_rank_keys(TOKENS * HEADS, HEAD_DIM, rank=3, seed=5).reshape(TOKENS, HEADS, HEAD_DIM)
    save_keys(tmp_path / "k.safetensors", keys)
    return tmp_path


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _input_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("moegauge: error: ") and "Traceback" not in err, err
    return err


# --- numbers -------------------------------------------------------------------------------------

BAD_NUMBERS = [
    (["rotate", "k.safetensors", "--method", "learned", "--lr"], "--lr", v) for v in ("-1", "nan", "inf", "0", "x")
] + [
    (["rotate", "k.safetensors", "--batch-size"], "--batch-size", v) for v in ("0", "-3", "2.5")
] + [
    (["rotate", "k.safetensors", "--steps"], "--steps", "-1"),
    (["rotate", "k.safetensors", "--seed"], "--seed", "-1"),
    (["rotate", "k.safetensors", "--held-out-fraction"], "--held-out-fraction", "1"),
    (["rotate", "k.safetensors", "--held-out-fraction"], "--held-out-fraction", "nan"),
    (["quantize", "k.safetensors", "--seed"], "--seed", "-2"),
    (["capture", "--out", "caps", "--batch-size"], "--batch-size", "0"),
    (["capture", "--out", "caps", "--batch-size"], "--batch-size", "-3"),
    (["capture", "--out", "caps", "--windows"], "--windows", "0"),
    (["capture", "--out", "caps", "--seq-len"], "--seq-len", "-3"),
    (["capture", "--out", "caps", "--shard-tokens"], "--shard-tokens", "0"),
    (["run", "--rotation-steps"], "--rotation-steps", "0"),
    (["run", "--ppl-windows"], "--ppl-windows", "-3"),
    (["train", "--steps"], "--steps", "0"),
    (["train", "--threads"], "--threads", "0"),
    (["train", "--seed"], "--seed", "-1"),
]


@pytest.mark.parametrize("argv, flag, value", BAD_NUMBERS)
def test_out_of_range_numbers_are_one_line_naming_the_flag(workdir, capsys, argv, flag, value):
    before = _tree(workdir)
    err = _usage_error([*argv, value], capsys)
    assert f"argument {flag}: must be" in err and repr(value) in err
    assert _tree(workdir) == before


def test_every_numeric_option_is_range_checked():
    """No subcommand option parses with a bare int/float: each uses a checked type from _common."""
    checked = {_common.positive_int, _common.nonnegative_int, _common.positive_finite_float,
               _common.fraction_below_one}
    sub = build_parser()._subparsers._group_actions[0]
    seen = 0
    for name, parser in sub.choices.items():
        for action in parser._actions:
            assert action.type not in (int, float), f"{name} {action.option_strings} is unchecked"
            seen += action.type in checked
    assert seen >= 15
    assert len(sub.choices) == len(SUBCOMMAND_MODULES)


@given(st.integers(min_value=-10**6, max_value=10**6))
def test_integer_types_accept_exactly_their_range(n):
    for fn, lo in ((_common.positive_int, 1), (_common.nonnegative_int, 0)):
        if n >= lo:
            assert fn(str(n)) == n
        else:
            with pytest.raises(argparse.ArgumentTypeError):
                fn(str(n))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_types_accept_exactly_their_range(x):
    text = repr(x)
    if math.isfinite(x) and x > 0:
        assert _common.positive_finite_float(text) == x
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            _common.positive_finite_float(text)
    if math.isfinite(x) and 0 <= x < 1:
        assert _common.fraction_below_one(text) == x
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            _common.fraction_below_one(text)


# --- outputs never clobber inputs --------------------------------------------------------------


def test_save_rotation_over_the_key_file_is_refused(workdir, capsys):
    before = _tree(workdir)
    err = _input_error(["rotate", "k.safetensors", "--method", "learned", "--steps", "2",
                        "--save-rotation", "k.safetensors"], capsys)
    assert err.startswith("moegauge: error: k.safetensors: --save-rotation would overwrite an input")
    assert _tree(workdir) == before


def test_an_input_reached_through_a_symlink_is_still_refused(workdir, capsys):
    (workdir / "alias.safetensors").symlink_to(workdir / "k.safetensors")
    before = _tree(workdir)
    err = _input_error(["rotate", "k.safetensors", "--method", "learned", "--steps", "2",
                        "--save-rotation", "alias.safetensors"], capsys)
    assert "would overwrite an input" in err
    assert _tree(workdir) == before


def test_save_rotation_onto_the_artifact_itself_is_refused(workdir, capsys):
    err = _input_error(["rotate", "k.safetensors", "--method", "learned", "--steps", "2",
                        "--save-rotation", "a.json", "--out", "a.json"], capsys)
    assert "--save-rotation would overwrite an input" in err
    assert not (workdir / "a.json").exists()


def test_save_rotation_without_a_learned_rotation_is_refused(workdir, capsys):
    err = _input_error(["rotate", "k.safetensors", "--save-rotation", "r.safetensors"], capsys)
    assert "needs --method learned" in err


def test_quantize_out_onto_its_rotation_file_is_refused(workdir, capsys):
    assert main(["rotate", "k.safetensors", "--method", "learned", "--steps", "2",
                 "--save-rotation", "rot.json.safetensors"]) == 0
    capsys.readouterr()
    (workdir / "rot.json").symlink_to(workdir / "rot.json.safetensors")
    before = _tree(workdir)
    err = _input_error(["quantize", "k.safetensors", "--rotation", "rot.json.safetensors", "--out", "rot.json"], capsys)
    assert "--out would overwrite an input" in err
    assert _tree(workdir) == before


def _fake_checkpoint(d: Path) -> Path:
    from moegauge.lm.model import embedded_config

    d.mkdir()
    embedded_config(num_hidden_layers=1, hidden_size=16, intermediate_size=8, num_attention_heads=2,
                    num_key_value_heads=2, num_experts=4, num_experts_per_tok=2).save_pretrained(d)
    return d


def test_capture_into_the_model_directory_is_refused(workdir, capsys):
    ckpt = _fake_checkpoint(workdir / "ckpt")
    before = _tree(workdir)
    err = _input_error(["capture", "--model", str(ckpt), "--out", str(ckpt)], capsys)
    assert "--out would overwrite an input" in err
    assert _tree(workdir) == before


def test_train_over_the_previous_checkpoint_is_refused(workdir, capsys):
    ckpt = _fake_checkpoint(workdir / "ckpt")
    err = _input_error(["train", "--out", "ckpt", "--previous", "ckpt", "--steps", "1"], capsys)
    assert "--out would overwrite an input" in err


# --- --out: file or directory, never silently the other ------------------------------------------


@pytest.mark.parametrize(
    "setup, argv, culprit, message",
    [
        (None, ["beta", "k.safetensors", "--out", "x.txt"], "x.txt", "must be a .json file or a directory"),
        (lambda d: (d / "d.json").mkdir(), ["beta", "k.safetensors", "--out", "d.json"], "d.json", "this is a directory"),
        (lambda d: (d / "blob").write_text("x"), ["quantize", "k.safetensors", "--out", "blob"], "blob", "existing file"),
        (lambda d: (d / "blob").write_text("x"), ["capture", "--out", "blob"], "blob", "existing file"),
        (None, ["capture", "--out", "caps.txt"], "caps.txt", "looks like a file suffix"),
        (None, ["train", "--out", "model.bin"], "model.bin", "looks like a file suffix"),
        (lambda d: (d / "r.safetensors").mkdir(),
         ["rotate", "k.safetensors", "--method", "learned", "--save-rotation", "r.safetensors"], "r.safetensors",
         "this is a directory"),
    ],
)
def test_out_file_versus_directory(workdir, capsys, setup, argv, culprit, message):
    if setup is not None:
        setup(workdir)
    before = _tree(workdir)
    err = _input_error(argv, capsys)
    assert err.startswith(f"moegauge: error: {culprit}: ") and message in err
    assert _tree(workdir) == before


def test_existing_directory_with_a_dot_is_still_a_directory(workdir, capsys):
    (workdir / "out.v2").mkdir()
    assert main(["beta", "k.safetensors", "--out", "out.v2"]) == 0
    assert len(list((workdir / "out.v2").glob("*.json"))) == 1


# --- default place of ad-hoc artifacts ---------------------------------------------------------


@pytest.mark.parametrize("argv, kind", [(["beta"], "beta"), (["rotate"], "rotate"), (["quantize"], "quantize")])
def test_ad_hoc_artifacts_go_to_runs_not_evidence(workdir, capsys, argv, kind):
    assert main([*argv, "k.safetensors"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.parent == workdir / "runs" / kind
    assert load_artifact(path)["kind"] == kind
    assert not (workdir / "evidence").exists()


def test_runs_is_git_ignored():
    lines = (REPO / ".gitignore").read_text().splitlines()
    assert f"{_common.RUNS_DIRNAME}/" in lines


# --- key magnitudes ------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e30, 1e-30, 1e-20, 1e20])
def test_huge_and_tiny_keys_are_measured_not_nan(workdir, capsys, scale):
    """β is scale invariant: keys ×1e30 (squares overflow float32) give the β of the keys themselves."""
    keys = low_rank_keys(TOKENS * HEADS, HEAD_DIM, rank=3, seed=5).reshape(TOKENS, HEADS, HEAD_DIM)
    save_keys(workdir / "big.safetensors", (keys.double() * scale).float())
    assert main(["beta", "big.safetensors", "--out", "big.json"]) == 0
    assert main(["rotate", "big.safetensors", "--out", "rot.json"]) == 0
    assert main(["rotate", "big.safetensors", "--method", "learned", "--steps", "3", "--out", "learned.json"]) == 0
    m = load_artifact(workdir / "big.json")["measures"]
    expected = float(beta_moment_ratio(keys.reshape(-1, HEAD_DIM).double()))
    assert m["beta"]["value"] == pytest.approx(expected, rel=1e-5)
    assert main(["rotate", "k.safetensors", "--out", "rot_unscaled.json"]) == 0  # the same keys, unscaled
    for name in ("rot.json", "learned.json"):
        r = load_artifact(workdir / name)["measures"]
        assert all(math.isfinite(v["value"]) for v in r.values())
    unscaled = load_artifact(workdir / "rot_unscaled.json")["measures"]
    scaled = load_artifact(workdir / "rot.json")["measures"]
    for key in ("beta_before", "beta_after", "one_bit_cosine_after"):
        assert scaled[key]["value"] == pytest.approx(unscaled[key]["value"], rel=1e-5)


def test_keys_beyond_float64_are_named(workdir, capsys):
    save_keys(workdir / "huge.safetensors", torch.full((4, 8), 1e200, dtype=torch.float64) * torch.randn(4, 8).sign())
    err = _input_error(["beta", "huge.safetensors"], capsys)
    assert err.startswith("moegauge: error: huge.safetensors: ") and "overflow float64" in err


def test_quantize_names_what_overflowed(workdir, capsys):
    keys = low_rank_keys(TOKENS * HEADS, HEAD_DIM, rank=3, seed=5).reshape(TOKENS, HEADS, HEAD_DIM)
    save_keys(workdir / "big.safetensors", keys * 1e30)
    err = _input_error(["quantize", "big.safetensors"], capsys)
    assert err.startswith("moegauge: error: big.safetensors: ") and "float16" in err


def test_a_non_finite_measure_is_blamed_on_the_input_not_written(workdir, capsys, monkeypatch):
    """Whatever overflows downstream, the artifact is not written and the input file is named."""
    import moegauge.moments as moments

    monkeypatch.setattr(moments, "beta_standard_error", lambda x: float("inf"))
    err = _input_error(["beta", "k.safetensors"], capsys)
    assert err.startswith("moegauge: error: k.safetensors: /measures/beta_standard_error") and "inf" in err
    assert not (workdir / "runs").exists()


# --- checkpoints ---------------------------------------------------------------------------------


def _checkpoint_with_weights(d: Path, weights: bytes) -> Path:
    _fake_checkpoint(d)
    (d / "model.safetensors").write_bytes(weights)
    return d


def _truncated_safetensors(tmp: Path) -> bytes:
    from safetensors.torch import save_file

    save_file({"w": torch.randn(64, 64)}, str(tmp))
    return tmp.read_bytes()[:-100]


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
@pytest.mark.parametrize("command", ["run", "capture"])
def test_corrupt_checkpoint_is_one_line_naming_the_file(workdir, capsys, kind, command):
    weights = b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}" if kind == "garbage" else _truncated_safetensors(workdir / "t.st")
    ckpt = _checkpoint_with_weights(workdir / "ckpt", weights)
    argv = ["run", "--model", str(ckpt)] if command == "run" else ["capture", "--model", str(ckpt), "--out", "caps"]
    err = _input_error(argv, capsys)
    assert err.startswith(f"moegauge: error: {ckpt / 'model.safetensors'}: not a readable safetensors file")
    assert not (workdir / "caps").exists() and not (workdir / "evidence").exists()


def test_load_model_names_a_corrupt_config(workdir):
    from moegauge.lm.model import load_model

    ckpt = _fake_checkpoint(workdir / "ckpt")
    (ckpt / "config.json").write_text("{not json")
    with pytest.raises(InputError) as exc:
        load_model(ckpt)
    assert exc.value.path == str(ckpt / "config.json")


# --- Ctrl-C --------------------------------------------------------------------------------------


def test_keyboard_interrupt_is_one_line_and_exit_130(workdir, capsys, monkeypatch):
    import moegauge.cli.beta as beta

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(beta, "run", interrupted)
    assert main(["beta", "k.safetensors"]) == 130
    assert capsys.readouterr().err == "moegauge: interrupted\n"


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the child's CPU time")
def test_sigint_to_a_running_command_is_one_line_and_exit_130(tmp_path):
    """A real SIGINT to `python -m moegauge rotate --method learned` in its optimisation loop."""
    keys = torch.randn(4096, 1, 64)
    save_keys(tmp_path / "k.safetensors", keys)
    proc = subprocess.Popen(
        [sys.executable, "-m", "moegauge", "rotate", "k.safetensors", "--method", "learned", "--steps", "1000000"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a parent started in the background may ignore SIGINT, and children inherit that: restore it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # Wait until the child has spent 8 CPU-seconds (imports take ~4): inside the loop, whatever the
        # machine's load (1e6 steps never finish).
        deadline = time.monotonic() + 240
        while _cpu_seconds(proc.pid) < 8 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err == "moegauge: interrupted\n"
    assert not (tmp_path / "runs").exists()


# --- packaging -----------------------------------------------------------------------------------


def test_every_importable_directory_is_a_listed_package():
    """setuptools warns about each importable directory missing from `packages` (the ~170 lines)."""
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = set(cfg["tool"]["setuptools"]["packages"])
    roots = cfg["tool"]["setuptools"]["package-dir"]
    found = set()
    for top, rel in roots.items():
        base = REPO / rel
        for d in [base, *[p for p in base.rglob("*") if p.is_dir()]]:
            parts = d.relative_to(base).parts
            if any(not part.isidentifier() for part in parts):
                continue  # data directories such as embedded/olmoe-64x8/ or __pycache__-like names
            if any(part == "__pycache__" for part in parts):
                continue
            found.add(".".join((top, *parts)))
    assert found == packages
    assert isinstance(cfg["project"]["license"], str)
    assert cfg["tool"]["setuptools"]["package-data"]["moegauge.embedded"] == ["*/*"]
