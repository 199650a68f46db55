"""The 1-bit cache is handed to the model under the name its forward declares: no FutureWarning
about ``past_key_values`` (three per `moegauge run` before), and the same logits either way."""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch

from moegauge.lm.capture import capture_batch
from moegauge.lm.kcache import Fp16Cache
from moegauge.lm.model import cache_kwargs, embedded_config, kv_geometry, new_model
from moegauge.lm.perplexity import score_windows


@pytest.fixture(scope="module")
def olmoe():
    """The embedded architecture (OLMoE, top-k routing), tiny."""
    return new_model(embedded_config(hidden_size=32, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     num_key_value_heads=2, num_experts=4, num_experts_per_tok=2), seed=0)


def _future_warnings(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]


@pytest.mark.parametrize("name", ["olmoe", "mixtral", "qwen2moe"])
def test_capture_and_cached_scoring_raise_no_future_warning(request, byte_batch, name):
    model = request.getfixturevalue("olmoe") if name == "olmoe" else request.getfixturevalue("tiny_models")[name]
    layers = kv_geometry(model.config)[0]
    with torch.no_grad():
        assert _future_warnings(lambda: capture_batch(model, byte_batch, ["k_post_rope"])) == []
        assert _future_warnings(lambda: score_windows(model, byte_batch, cache_factory=lambda: Fp16Cache(layers))) == []


def test_cache_kwargs_uses_the_declared_name_and_matches_the_old_one(olmoe, byte_batch):
    tiny_olmoe = olmoe
    params = inspect.signature(type(tiny_olmoe).forward).parameters
    kw = cache_kwargs(tiny_olmoe, None)
    assert kw["use_cache"] is True and set(kw) - {"use_cache"} <= set(params)
    layers = kv_geometry(tiny_olmoe.config)[0]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        new = tiny_olmoe(input_ids=byte_batch, **cache_kwargs(tiny_olmoe, Fp16Cache(layers))).logits
        old = tiny_olmoe(input_ids=byte_batch, past_key_values=Fp16Cache(layers), use_cache=True).logits
    assert torch.equal(new, old)
