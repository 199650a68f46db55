"""Placement through transformers + accelerate: device maps with CPU/disk offload give the captures of a
plain load, and bad placement flags are one-line errors (exit 2) before any weight is read."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from moegauge.cli import main
from moegauge.errors import InputError
from moegauge.lm.capture import QUANTITIES, capture_to_dir, load_capture
from moegauge.lm.model import load_model
from moegauge.lm.placement import Placement, input_device, parse_max_memory, parse_size, resolve_placement


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, tiny_models):
    """The tiny OLMoE saved to disk, as a user's local checkpoint would be."""
    path = tmp_path_factory.mktemp("tiny-olmoe")
    tiny_models["olmoe"].save_pretrained(path)
    return path


def _weight_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def test_offloaded_device_map_captures_equal_the_plain_load(tiny_checkpoint, tmp_path):
    plain = load_model(tiny_checkpoint).model
    # A CPU budget of 90% of the weights: accelerate keeps the first layers in RAM and offloads the
    # rest to disk (weights on "meta", loaded by its hooks at each forward).
    budget = int(0.9 * _weight_bytes(plain))
    offloaded = load_model(tiny_checkpoint, device_map="auto", max_memory={"cpu": budget},
                           offload_folder=tmp_path / "offload").model
    placed = offloaded.hf_device_map
    assert "disk" in placed.values() and "cpu" in placed.values(), placed
    assert any(p.device.type == "meta" for p in offloaded.parameters())  # really not in RAM
    assert input_device(offloaded).type == "cpu"
    g = torch.Generator().manual_seed(3)
    batches = [torch.randint(0, 256, (2, 20), generator=g) for _ in range(3)]
    m_plain = capture_to_dir(plain, batches, tmp_path / "plain", QUANTITIES, shard_tokens=64)
    m_off = capture_to_dir(offloaded, batches, tmp_path / "off", QUANTITIES, shard_tokens=64)
    assert m_plain["tokens"] == m_off["tokens"] == 120
    for layer in range(plain.config.num_hidden_layers):
        for name in QUANTITIES:
            a = load_capture(tmp_path / "plain", name, layer)
            b = load_capture(tmp_path / "off", name, layer)
            if a.is_floating_point():
                torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
            else:
                assert torch.equal(a, b)


def test_plain_placement_passes_nothing_to_from_pretrained():
    assert resolve_placement("cpu").from_pretrained_kwargs() == {}
    p = Placement(device="cuda", device_map="auto", max_memory={0: 10, "cpu": 20}, offload_folder=None)
    assert p.from_pretrained_kwargs() == {"device_map": "auto", "max_memory": {0: 10, "cpu": 20}}
    assert Placement(device="cuda:1").from_pretrained_kwargs() == {"device_map": {"": "cuda:1"}}


@given(st.dictionaries(st.one_of(st.integers(0, 7), st.sampled_from(["cpu", "disk"])),
                       st.integers(1, 2**45), min_size=1, max_size=5))
def test_max_memory_round_trips_byte_counts(budgets):
    text = ",".join(f"{k}={v}" for k, v in budgets.items())
    assert parse_max_memory(text) == budgets


def test_sizes_use_binary_and_decimal_units():
    assert parse_size("20GiB") == 20 * 2**30
    assert parse_size("1.5 gib") == 3 * 2**29
    assert parse_size("512MB") == 512 * 10**6
    assert parse_max_memory("0=20GiB, cpu=60GiB") == {0: 20 * 2**30, "cpu": 60 * 2**30}


@pytest.mark.parametrize("text", ["0:20GiB", "gpu0=20GiB", "cpu=lots", "cpu=0", "cpu=1GiB,cpu=2GiB", ",", "=5"])
def test_malformed_max_memory_is_an_input_error(text):
    with pytest.raises(InputError):
        parse_max_memory(text)


@pytest.mark.parametrize("command", ["capture", "run"])
def test_cli_malformed_max_memory_is_one_line_exit_2(command, tmp_path, capsys):
    argv = [command, "--device-map", "auto", "--max-memory", "0=20GiB;cpu=1"]
    if command == "capture":
        argv += ["--out", str(tmp_path / "cap")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("moegauge: error: --max-memory:") and "is not a size" in err
    assert not (tmp_path / "cap").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["capture", "run"])
def test_cli_cuda_without_cuda_is_one_line_exit_2(command, tmp_path, capsys):
    argv = [command, "--device", "cuda"]
    if command == "capture":
        argv += ["--out", str(tmp_path / "cap")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("moegauge: error: --device:") and "no CUDA device is available" in err


def test_budgets_without_a_device_map_are_refused():
    with pytest.raises(InputError, match="only applies with --device-map"):
        resolve_placement("cpu", None, "cpu=1GiB")
    with pytest.raises(InputError, match="not one of"):
        resolve_placement("tpu")


def test_capture_manifest_records_the_model_dtype(tiny_checkpoint, tmp_path):
    lm = load_model(tiny_checkpoint, dtype=torch.bfloat16)
    assert next(lm.model.parameters()).dtype == torch.bfloat16
    ids = [torch.randint(0, 256, (1, 8), generator=torch.Generator().manual_seed(0))]
    m = capture_to_dir(lm.model, ids, tmp_path, ["k_post_rope"], meta={"model_dtype": "bfloat16"})
    assert json.loads((tmp_path / "manifest.json").read_text())["model_dtype"] == m["model_dtype"] == "bfloat16"
