"""Tiny random MoE models of three architectures, built locally (no hub), for fast unit tests."""

from __future__ import annotations

import pytest
import torch


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


@pytest.fixture
def byte_batch() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (2, 24), generator=g)
