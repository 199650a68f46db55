"""Shared test configuration: deterministic Hypothesis and torch everywhere.

CI must be deterministic, so Hypothesis is derandomised (its seed derives from the test) and keeps
no example database; set HYPOTHESIS_PROFILE=explore locally for a randomised, longer search.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    derandomize=False,
    deadline=None,
    max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seed_torch():
    """Every test starts from the same torch RNG state and thread count."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        yield
        return
    torch.manual_seed(0)
    torch.set_num_threads(2)
    yield


# Tiny random MoE models of three architectures, built locally (no hub), for fast unit tests.
def tiny_configs() -> dict:
    from transformers import MixtralConfig, Qwen2MoeConfig

    from moegauge.lm.model import embedded_config

    return {
        "olmoe": embedded_config(hidden_size=64, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=4, num_experts=4, num_experts_per_tok=2),
        "mixtral": MixtralConfig(vocab_size=256, hidden_size=64, intermediate_size=32, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                                 num_experts_per_tok=2, max_position_embeddings=512),
        "qwen2moe": Qwen2MoeConfig(vocab_size=256, hidden_size=64, intermediate_size=32, moe_intermediate_size=16,
                                   shared_expert_intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, num_experts=4, num_experts_per_tok=2,
                                   max_position_embeddings=512, decoder_sparse_step=1),
    }


@pytest.fixture(scope="session")
def tiny_models() -> dict:
    from moegauge.lm.model import new_model

    return {name: new_model(cfg, seed=0) for name, cfg in tiny_configs().items()}


@pytest.fixture(scope="session")
def tiny_olmoe(tiny_models):
    return tiny_models["olmoe"]
