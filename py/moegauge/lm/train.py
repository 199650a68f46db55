"""Training recipe of the embedded model: a small OLMoE trained from scratch on the byte corpus.

Deterministic for a given recipe, machine type, torch version and thread count (CPU reductions
depend on the number of threads, so the recipe pins it). Progress survives a crash: the full
training state is saved atomically every ``save_every`` steps and ``train`` resumes from it. The
final checkpoint is written in bf16 to a temporary directory and swapped into place, with the
implementations it was trained with, the recipe, the corpus manifest hash, a per-step log and the
held-out bits per byte per domain — from which ``MODEL_CARD.md`` is generated.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..atomic import atomic_path
from .corpus import Corpus, build_corpus, byte_tensor, windows
from .model import (
    ATTN_IMPLEMENTATION,
    EXPERTS_IMPLEMENTATION,
    IMPLEMENTATION_FILE,
    embedded_config,
    load_model,
    new_model,
)
from .perplexity import score_windows

STATE_SUFFIX = ".train-state.pt"


@dataclass(frozen=True)
class TrainRecipe:
    steps: int = 1200
    batch_size: int = 8
    seq_len: int = 256
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 60
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 2
    save_every: int = 100
    eval_every: int = 200
    eval_windows: int = 24
    max_bytes_per_domain: int = 2_000_000
    architecture_overrides: tuple[tuple[str, object], ...] = ()

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to ``min_lr_ratio``·lr."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.steps - self.warmup)
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def heldout_bits_per_byte(model, corpus: Corpus, seq_len: int, max_windows: int | None) -> dict[str, float]:
    """Held-out bits per byte per domain (``max_windows`` windows each; None = all)."""
    out = {}
    for name, split in sorted(corpus.domains.items()):
        out[name] = score_windows(model, windows(split.heldout, seq_len, max_windows)).bits_per_byte
    return out


def _batch(streams: list[torch.Tensor], recipe: TrainRecipe, gen: torch.Generator) -> torch.Tensor:
    rows = []
    for _ in range(recipe.batch_size):
        stream = streams[int(torch.randint(len(streams), (1,), generator=gen))]
        start = int(torch.randint(stream.numel() - recipe.seq_len, (1,), generator=gen))
        rows.append(stream[start : start + recipe.seq_len])
    return torch.stack(rows)


def train(
    recipe: TrainRecipe,
    out_dir: Path,
    log: Callable[[str], None] = print,
    corpus: Corpus | None = None,
) -> dict:
    """Train, save the bf16 checkpoint to ``out_dir`` and return the training report."""
    torch.set_num_threads(recipe.threads)
    corpus = corpus or build_corpus(max_bytes_per_domain=recipe.max_bytes_per_domain)
    streams = [byte_tensor(corpus.domains[d].train) for d in sorted(corpus.domains)]
    config = embedded_config(**dict(recipe.architecture_overrides))
    model = new_model(config, recipe.seed).train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.lr, betas=(recipe.beta1, recipe.beta2),
    )
    gen = torch.Generator().manual_seed(recipe.seed)
    history: list[dict] = []
    step = 0
    state_path = out_dir.parent / (out_dir.name + STATE_SUFFIX)
    recipe_json = dataclasses.asdict(recipe)
    if state_path.is_file():
        state = torch.load(state_path, weights_only=False)
        if state["recipe"] == recipe_json and state["corpus_sha256"] == corpus.sha256:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            history, step = state["history"], state["step"]
            log(f"resuming from step {step} ({state_path})")
        else:
            log(f"ignoring {state_path}: it was made with another recipe or corpus")
    t0 = time.perf_counter()
    while step < recipe.steps:
        for group in opt.param_groups:
            group["lr"] = recipe.lr_at(step)
        batch = _batch(streams, recipe, gen)
        out = model(input_ids=batch, labels=batch, output_router_logits=True)
        out.loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip))
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        entry = {"step": step, "loss": out.loss.item(), "aux_loss": float(out.aux_loss.item()) if out.aux_loss is not None else 0.0,
                 "lr": recipe.lr_at(step - 1), "grad_norm": grad_norm}
        if step % recipe.eval_every == 0 or step == recipe.steps:
            model.eval()
            entry["heldout_bits_per_byte"] = heldout_bits_per_byte(model, corpus, recipe.seq_len, recipe.eval_windows)
            model.train()
        history.append(entry)
        if step % 20 == 0 or "heldout_bits_per_byte" in entry:
            rate = (time.perf_counter() - t0) / max(1, len(history))
            extra = f" held-out bpb {entry['heldout_bits_per_byte']}" if "heldout_bits_per_byte" in entry else ""
            log(f"step {step}/{recipe.steps} loss {entry['loss']:.3f} lr {entry['lr']:.2e} ({rate:.2f} s/step){extra}")
        if step % recipe.save_every == 0 and step < recipe.steps:
            with atomic_path(state_path) as tmp:
                torch.save({"recipe": recipe_json, "corpus_sha256": corpus.sha256, "model": model.state_dict(),
                            "optimizer": opt.state_dict(), "generator": gen.get_state(), "history": history,
                            "step": step}, tmp)
    report = _save(model.eval(), recipe, corpus, history, out_dir, log)
    state_path.unlink(missing_ok=True)
    return report


def _save(model, recipe: TrainRecipe, corpus: Corpus, history: list[dict], out_dir: Path, log) -> dict:
    """Write the bf16 checkpoint, implementation pin, training report and model card atomically."""
    from transformers import __version__ as transformers_version

    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.to(torch.bfloat16).save_pretrained(tmp, safe_serialization=True)
    (tmp / IMPLEMENTATION_FILE).write_text(json.dumps(
        {"experts_implementation": EXPERTS_IMPLEMENTATION, "attn_implementation": ATTN_IMPLEMENTATION}, indent=2) + "\n")
    # Measure the model as shipped: bf16 weights reloaded (upcast to fp32 for compute).
    shipped = load_model(tmp).model
    final = heldout_bits_per_byte(shipped, corpus, recipe.seq_len, None)
    report = {
        "schema": "moegauge/training_report", "schema_version": 1,
        "recipe": dataclasses.asdict(recipe),
        "architecture": json.loads((tmp / "config.json").read_text()),
        "parameters": sum(p.numel() for p in shipped.parameters()),
        "implementations": {"experts": EXPERTS_IMPLEMENTATION, "attention": ATTN_IMPLEMENTATION},
        "corpus": {"sha256": corpus.sha256, "domains": {
            d: {k: v for k, v in m.items() if k != "documents"} for d, m in corpus.manifest()["domains"].items()}},
        "heldout_bits_per_byte": final,
        "history": history,
        "environment": {"torch": torch.__version__, "transformers": transformers_version,
                        "python": platform.python_version(), "machine": platform.machine(), "threads": recipe.threads},
        "weights_bytes": (tmp / "model.safetensors").stat().st_size,
    }
    (tmp / "training.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    (tmp / "MODEL_CARD.md").write_text(model_card(report))
    backup = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        os.replace(out_dir, backup)
    os.replace(tmp, out_dir)
    shutil.rmtree(backup, ignore_errors=True)
    log(f"saved {out_dir} ({report['weights_bytes'] / 1e6:.1f} MB); held-out bits/byte {final}")
    return report


def model_card(report: dict) -> str:
    """The model card, generated from the training report (no number typed by hand)."""
    a, r = report["architecture"], report["recipe"]
    rows = "\n".join(f"| {d} | {bpb:.3f} | {report['corpus']['domains'][d]['train_bytes']:,} | "
                     f"{report['corpus']['domains'][d]['heldout_bytes']:,} |"
                     for d, bpb in sorted(report["heldout_bits_per_byte"].items()))
    steps_s = r["steps"] * r["batch_size"] * r["seq_len"]
    return f"""# MoEGauge embedded model: olmoe-tiny

A small Mixture-of-Experts language model trained from scratch on real text, shipped so that the
K-cache measurements run anywhere without a model hub. Generated by `python -m moegauge train`
from `training.json`; do not edit by hand.

## Architecture
OLMoE (`OlmoeForCausalLM`, transformers {report['environment']['transformers']}): {a['num_hidden_layers']} layers,
hidden {a['hidden_size']}, {a['num_attention_heads']} attention heads ({a['num_key_value_heads']} KV heads,
head_dim {a['hidden_size'] // a['num_attention_heads']}), per-projection q/k RMSNorm (OLMoE's k-norm),
RoPE θ = {a['rope_parameters']['rope_theta']:g}, {a['num_experts']} experts of intermediate size
{a['intermediate_size']}, top-{a['num_experts_per_tok']} routing, byte vocabulary ({a['vocab_size']}).
{report['parameters']:,} parameters; weights in bf16 ({report['weights_bytes'] / 1e6:.1f} MB).
Pinned implementations: experts `{report['implementations']['experts']}`, attention
`{report['implementations']['attention']}` (see `{IMPLEMENTATION_FILE}`).

## Training recipe
Seed {r['seed']}, {r['threads']} CPU threads, AdamW (β = {r['beta1']}, {r['beta2']}; weight decay {r['weight_decay']}),
peak learning rate {r['lr']:g} with {r['warmup']} warm-up steps and cosine decay to {r['min_lr_ratio']:g}×,
gradient clipping {r['grad_clip']}, {r['steps']} steps of {r['batch_size']} × {r['seq_len']} bytes
({steps_s:,} training bytes seen), router load-balancing loss coefficient {a['router_aux_loss_coef']}.
Reproduce with `python -m moegauge train` (same machine type, torch {report['environment']['torch']}).

## Corpus
Real text from the local Python installation and system licence texts (see `moegauge.lm.corpus`);
corpus manifest SHA-256 `{report['corpus']['sha256']}`.

## Held-out bits per byte (bf16 weights as shipped)
| domain | bits/byte | train bytes | held-out bytes |
|---|---|---|---|
{rows}
"""
