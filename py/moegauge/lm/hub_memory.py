"""Memory that three public MoE checkpoints need in bf16, computed from their architecture numbers.

The numbers of each model's public ``config.json`` that decide its size sit in
``moegauge/lm/hub_configs/*.json`` (no hub is needed). Parameters are counted by building the model
on the ``meta`` device (shapes only, no memory) with transformers' own class for it, so what is
counted is what ``from_pretrained`` would allocate; the KV cache is
``2 × layers × kv_heads × head_dim × tokens × 2 bytes``.

    python -m moegauge.lm.hub_memory      # prints the Markdown table that README.md carries
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .model import kv_geometry

CONFIG_DIR = Path(__file__).resolve().parent / "hub_configs"
BF16_BYTES = 2
KV_TOKENS = 4096
KV_BATCH = 1
GIB = 2**30
ONE_GPU_GIB = 20  # what fits a 24 GiB card beside activations and the CUDA context


@dataclass(frozen=True)
class HubMemory:
    """One row of the table."""

    hub_id: str
    parameters: int
    weight_bytes: int
    kv_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.kv_bytes

    def command(self) -> str:
        """The ``moegauge run`` line for this model: one GPU when it fits, else accelerate's device map
        with CPU then disk offload."""
        base = f"python -m moegauge run --model {self.hub_id} --model-dtype bfloat16 --no-control"
        if self.total_bytes <= ONE_GPU_GIB * GIB:
            return base + " --device cuda"
        return base + " --device-map auto --offload-folder offload/"


def load_hub_config(path: Path):
    """A transformers config from one of the hand-written architecture files."""
    from transformers import AutoConfig

    fields = json.loads(path.read_text())
    fields.pop("hub_id")
    model_type = fields.pop("model_type")
    return AutoConfig.for_model(model_type, **fields)


def count_parameters(config) -> int:
    """Parameters of the causal LM ``config`` describes, built on ``meta`` (no weights allocated)."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def hub_memory(path: Path, tokens: int = KV_TOKENS, batch: int = KV_BATCH) -> HubMemory:
    config = load_hub_config(path)
    params = count_parameters(config)
    layers, kv_heads, head_dim = kv_geometry(config)
    kv = 2 * layers * kv_heads * head_dim * tokens * batch * BF16_BYTES
    return HubMemory(hub_id=json.loads(path.read_text())["hub_id"], parameters=params,
                     weight_bytes=params * BF16_BYTES, kv_bytes=kv)


def memory_table() -> str:
    """The Markdown table of every file in ``hub_configs/`` (sorted by size)."""
    rows = sorted((hub_memory(p) for p in sorted(CONFIG_DIR.glob("*.json"))), key=lambda r: r.parameters)
    lines = [
        f"| model | parameters | weights, bf16 | KV cache, bf16, {KV_TOKENS} tokens × batch {KV_BATCH} | total | command |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| `{r.hub_id}` | {r.parameters / 1e9:.2f} B | {r.weight_bytes / GIB:.1f} GiB | "
                     f"{r.kv_bytes / GIB:.2f} GiB | {r.total_bytes / GIB:.1f} GiB | `{r.command()}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(memory_table(), end="")


if __name__ == "__main__":
    main()
