"""transformers' QuantizedCache peers (moegauge.cache.hf_peers): which backends run, failures
recorded not raised, stored bytes against an independent walk of the tensors, generation.

hqq and optimum-quanto are the optional ``[peers]`` extra: tests needing one skip without it."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from moegauge.cache.accounting import bits_per_element, split_key_value_bytes
from moegauge.cache.hf_peers import PEER_SPECS, stored_nbytes, try_peer
from moegauge.lm.model import cache_kwargs, kv_geometry

BACKEND_MODULES = {"hqq": "hqq", "quanto": "optimum.quanto"}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _require(backend: str) -> None:
    module = BACKEND_MODULES[backend]
    if not _available(module):
        pytest.skip(f"{module} is not installed (optional [peers] extra)")


def _walk_tensor_bytes(item) -> int:
    """Bytes of every tensor reachable from ``item``; tensor subclasses (quanto) are opened into
    their inner tensors with ``__tensor_flatten__``; an independent count of what a layer stores."""
    if isinstance(item, torch.Tensor):
        if hasattr(item, "__tensor_flatten__") and type(item) is not torch.Tensor:
            names, _ = item.__tensor_flatten__()
            return sum(_walk_tensor_bytes(getattr(item, n)) for n in names)
        return item.numel() * item.element_size()
    if isinstance(item, dict):
        return sum(_walk_tensor_bytes(v) for v in item.values())
    if isinstance(item, (list, tuple)):
        return sum(_walk_tensor_bytes(v) for v in item)
    return 0


def test_peer_specs_cover_the_cpu_backends():
    assert [(s.backend, s.nbits) for s in PEER_SPECS] == [("hqq", 1), ("hqq", 2), ("hqq", 4), ("quanto", 2),
                                                          ("quanto", 4)]
    assert len({s.label for s in PEER_SPECS}) == len(PEER_SPECS)


def test_an_unknown_backend_is_reported_not_raised(tiny_olmoe):
    factory, error = try_peer("no-such-backend", 2, tiny_olmoe)
    assert factory is None and error.startswith("ValueError: Unknown quantization backend")


def test_a_missing_package_is_reported_not_raised(tiny_olmoe, monkeypatch):
    import transformers.cache_utils as cu

    monkeypatch.setattr(cu, "is_optimum_quanto_available", lambda: False)
    factory, error = try_peer("quanto", 2, tiny_olmoe)
    assert factory is None and error.startswith("ImportError: You need to install optimum-quanto")


def test_an_unsupported_nbits_is_reported_not_raised(tiny_olmoe):
    _require("quanto")
    factory, error = try_peer("quanto", 3, tiny_olmoe)
    assert factory is None and error.startswith("ValueError:") and "nbits" in error


def test_a_runtime_failure_is_caught_by_the_probe_forward(tiny_olmoe, monkeypatch):
    """Construction succeeds; the failure only shows on the decode step, which try_peer runs."""
    _require("hqq")
    import transformers.cache_utils as cu

    def broken(self, qtensor):
        raise RuntimeError("dequantization kernel unavailable")

    monkeypatch.setattr(cu.HQQQuantizedLayer, "_dequantize", broken)
    factory, error = try_peer("hqq", 2, tiny_olmoe)
    assert factory is None and error == "RuntimeError: dequantization kernel unavailable"


@pytest.mark.parametrize("spec", PEER_SPECS, ids=[s.label for s in PEER_SPECS])
def test_each_cpu_backend_runs_and_its_bytes_match_its_tensors(tiny_olmoe, spec):
    """Prefill 24 tokens, decode 11 with residual_length 8 (re-quantizing once, leaving 3 in the
    residual): the byte count by part equals an independent walk of every tensor the layers hold,
    codes are packed at nbits, and K bits per element lie between nbits and nbits + 16."""
    _require(spec.backend)
    factory, error = try_peer(spec.backend, spec.nbits, tiny_olmoe, residual_length=8, q_group_size=16)
    assert error is None and factory is not None
    cache = factory()
    ids = torch.randint(0, 256, (2, 35), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        tiny_olmoe(input_ids=ids[:, :24], **cache_kwargs(tiny_olmoe, cache))
        for t in range(24, 35):
            tiny_olmoe(input_ids=ids[:, t:t + 1], **cache_kwargs(tiny_olmoe, cache))
    assert cache.get_seq_length() == 35
    parts = stored_nbytes(cache)
    assert sum(parts.values()) == sum(_walk_tensor_bytes(vars(layer)) for layer in cache.layers)
    layers, heads, head_dim = kv_geometry(tiny_olmoe.config)
    quantized = 2 * heads * 32 * head_dim * layers  # 24 + 8 tokens were re-quantized at the 8th decode step
    assert parts["key_codes"] == parts["value_codes"] == quantized * spec.nbits // 8
    assert parts["key_residual"] == parts["value_residual"] == 2 * heads * 3 * head_dim * layers * 4  # float32
    assert parts["key_scales"] > 0 and parts["key_zero_points"] > 0
    k_bytes, v_bytes = split_key_value_bytes(parts)
    k_bits = bits_per_element(k_bytes, 2 * 35, layers, heads, head_dim)  # batch folded into tokens
    assert spec.nbits < k_bits < spec.nbits + 16


@pytest.mark.parametrize("spec", PEER_SPECS, ids=[s.label for s in PEER_SPECS])
def test_generate_works_with_each_cpu_backend(tiny_olmoe, spec):
    _require(spec.backend)
    factory, error = try_peer(spec.backend, spec.nbits, tiny_olmoe, residual_length=4, q_group_size=16)
    assert error is None
    cache = factory()
    prompt = torch.tensor([[72, 101, 108, 108, 111], [104, 105, 32, 116, 104]])
    out = tiny_olmoe.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=8, do_sample=False,
                              pad_token_id=0, **cache_kwargs(tiny_olmoe, cache))
    assert out.shape == (2, 13)
    assert cache.get_seq_length() == 12
    assert stored_nbytes(cache)["key_codes"] > 0


def test_stored_nbytes_refuses_a_cache_that_is_not_quantized():
    from transformers.cache_utils import Cache, DynamicLayer

    with pytest.raises(TypeError):
        stored_nbytes(Cache(layers=[DynamicLayer()]))
