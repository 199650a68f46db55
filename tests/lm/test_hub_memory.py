"""The README's bf16 memory table of hub MoE models is the one computed from their configs."""

from __future__ import annotations

import json

import pytest

from moegauge.lm.hub_memory import CONFIG_DIR, count_parameters, hub_memory, load_hub_config, memory_table
from moegauge.lm.model import embedded_config
from moegauge.paths import find_repo_root


def test_readme_table_is_the_generated_one():
    text = (find_repo_root() / "README.md").read_text()
    start, end = "<!-- hub-memory-table:start -->\n", "<!-- hub-memory-table:end -->"
    assert start in text and end in text
    assert text.split(start, 1)[1].split(end, 1)[0] == memory_table()


def test_meta_count_equals_a_real_model_count(tiny_models):
    """Counting on meta counts what a materialised model holds."""
    for model in tiny_models.values():
        assert count_parameters(model.config) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_configs_load_as_their_architecture_and_kv_formula(path):
    fields = json.loads(path.read_text())
    cfg = load_hub_config(path)
    assert cfg.model_type == fields["model_type"]
    for key, value in fields.items():
        if key not in ("hub_id", "model_type"):
            assert getattr(cfg, key) == value, key
    row = hub_memory(path, tokens=10, batch=3)
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    assert row.kv_bytes == 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * 10 * 3 * 2
    assert row.weight_bytes == 2 * row.parameters


def test_embedded_architecture_counts_as_documented():
    """Sanity of the counter on an architecture whose size the code states (7.5M parameters)."""
    assert round(count_parameters(embedded_config()) / 1e6, 1) == 7.5
