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
from .corpus import DEFAULT_MAX_BYTES_PER_DOMAIN, Corpus, build_corpus, byte_tensor, source_record, windows
from .model import (
    ATTN_IMPLEMENTATION,
    EMBEDDED_NAME,
    EXPERTS_IMPLEMENTATION,
    IMPLEMENTATION_FILE,
    embedded_config,
    load_model,
    new_model,
)
from .perplexity import score_windows
from .routing import router_health, router_topk

STATE_SUFFIX = ".train-state.pt"


@dataclass(frozen=True)
class TrainRecipe:
    steps: int = 1400
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
    health_windows: int = 32  # held-out windows per domain for the router-health report
    max_bytes_per_domain: int = DEFAULT_MAX_BYTES_PER_DOMAIN
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


def heldout_router_health(model, corpus: Corpus, seq_len: int, max_windows: int) -> list[dict]:
    """Per MoE layer, the router's health on held-out text of every domain (``moegauge.lm.routing``)."""
    wins = torch.cat([windows(corpus.domains[d].heldout, seq_len, max_windows) for d in sorted(corpus.domains)])
    per_layer = router_topk(model, wins)
    n_experts = model.config.num_experts
    return [{"layer": i, **router_health(t, n_experts)} for i, t in enumerate(per_layer)]


def compare_previous(previous_dir: Path, corpus: Corpus, seq_len: int) -> dict:
    """The previous embedded model measured on this corpus's held-out text (same windows as the new
    model's card), beside what its own card reported on its own corpus."""
    prev = load_model(previous_dir)
    own = {}
    report = previous_dir / "training.json"
    if report.is_file():
        own = json.loads(report.read_text()).get("heldout_bits_per_byte", {})
    return {"name": previous_dir.name, "weights_sha256": prev.weight_sha256,
            "parameters": sum(p.numel() for p in prev.model.parameters()),
            "heldout_bits_per_byte_this_corpus": heldout_bits_per_byte(prev.model, corpus, seq_len, None),
            "heldout_bits_per_byte_own_corpus": own}


def per_layer_balance_loss(router_logits, top_k: int) -> torch.Tensor:
    """Switch-Transformer load balancing, per MoE layer and averaged: E · Σᵢ fᵢ Pᵢ, where fᵢ is the
    share of the layer's top-k assignments that went to expert i and Pᵢ its mean router probability
    (1 when balanced). transformers' OLMoE loss pools the counts of all layers before multiplying,
    so one layer's dead experts can hide behind another's busy ones; this form cannot."""
    losses = []
    for logits in router_logits:
        probs = logits.float().softmax(dim=-1)
        n_experts = probs.shape[-1]
        chosen = probs.topk(top_k, dim=-1).indices.reshape(-1)
        share = torch.bincount(chosen, minlength=n_experts).float() / chosen.numel()
        losses.append(n_experts * (share * probs.mean(dim=0)).sum())
    return torch.stack(losses).mean()


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
    previous: Path | None = None,
) -> dict:
    """Train, save the bf16 checkpoint to ``out_dir`` and return the training report.

    ``previous``: a checkpoint directory to measure on the same held-out text for the model card."""
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
    spent = {"wall_seconds": 0.0, "cpu_seconds": 0.0}
    state_path = out_dir.parent / (out_dir.name + STATE_SUFFIX)
    recipe_json = dataclasses.asdict(recipe)
    if state_path.is_file():
        state = torch.load(state_path, weights_only=False)
        if state["recipe"] == recipe_json and state["corpus_sha256"] == corpus.sha256:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            history, step = state["history"], state["step"]
            spent = state.get("spent", spent)
            log(f"resuming from step {step} ({state_path})")
        else:
            log(f"ignoring {state_path}: it was made with another recipe or corpus")
    t0 = time.perf_counter()
    wall0, cpu0 = time.perf_counter(), time.process_time()

    def elapsed() -> dict:
        return {"wall_seconds": spent["wall_seconds"] + time.perf_counter() - wall0,
                "cpu_seconds": spent["cpu_seconds"] + time.process_time() - cpu0}

    while step < recipe.steps:
        for group in opt.param_groups:
            group["lr"] = recipe.lr_at(step)
        batch = _batch(streams, recipe, gen)
        out = model(input_ids=batch, output_router_logits=True)
        lm_loss = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, out.logits.shape[-1]),
                                                    batch[:, 1:].reshape(-1))
        aux = per_layer_balance_loss(out.router_logits, config.num_experts_per_tok)
        (lm_loss + config.router_aux_loss_coef * aux).backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip))
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        entry = {"step": step, "loss": lm_loss.item(), "aux_loss": aux.item(),
                 "lr": recipe.lr_at(step - 1), "grad_norm": grad_norm}
        if step % recipe.eval_every == 0 or step == recipe.steps:
            model.eval()
            entry["heldout_bits_per_byte"] = heldout_bits_per_byte(model, corpus, recipe.seq_len, recipe.eval_windows)
            entry["dead_fraction"] = [h["dead_fraction"] for h in
                                      heldout_router_health(model, corpus, recipe.seq_len, recipe.eval_windows)]
            model.train()
        history.append(entry)
        if step % 20 == 0 or "heldout_bits_per_byte" in entry:
            rate = (time.perf_counter() - t0) / max(1, len(history))
            extra = (f" held-out bpb {entry['heldout_bits_per_byte']} dead experts per layer {entry['dead_fraction']}"
                     if "heldout_bits_per_byte" in entry else "")
            log(f"step {step}/{recipe.steps} loss {entry['loss']:.3f} lr {entry['lr']:.2e} ({rate:.2f} s/step){extra}")
        if step % recipe.save_every == 0 and step < recipe.steps:
            with atomic_path(state_path) as tmp:
                torch.save({"recipe": recipe_json, "corpus_sha256": corpus.sha256, "model": model.state_dict(),
                            "optimizer": opt.state_dict(), "generator": gen.get_state(), "history": history,
                            "step": step, "spent": elapsed()}, tmp)
    spent = elapsed()
    comparison = compare_previous(previous, corpus, recipe.seq_len) if previous is not None else None
    report = _save(model.eval(), recipe, corpus, history, out_dir, log, spent, comparison)
    state_path.unlink(missing_ok=True)
    return report


def _save(model, recipe: TrainRecipe, corpus: Corpus, history: list[dict], out_dir: Path, log,
          spent: dict, comparison: dict | None) -> dict:
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
    health = heldout_router_health(shipped, corpus, recipe.seq_len, recipe.health_windows)
    report = {
        "schema": "moegauge/training_report", "schema_version": 1,
        "recipe": dataclasses.asdict(recipe),
        "architecture": json.loads((tmp / "config.json").read_text()),
        "parameters": sum(p.numel() for p in shipped.parameters()),
        "implementations": {"experts": EXPERTS_IMPLEMENTATION, "attention": ATTN_IMPLEMENTATION},
        "corpus": {"sha256": corpus.sha256, "domains": {
            d: {k: v for k, v in m.items() if k != "documents"} for d, m in corpus.manifest()["domains"].items()}},
        "heldout_bits_per_byte": final,
        "router_health": health,
        "previous_model": comparison,
        "training_time": spent,
        "history": history,
        "environment": {"torch": torch.__version__, "transformers": transformers_version,
                        "python": platform.python_version(), "machine": platform.machine(), "threads": recipe.threads,
                        "cpu_capability": torch.backends.cpu.get_cpu_capability()},
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
    prev = report.get("previous_model") or {}
    prev_this = prev.get("heldout_bits_per_byte_this_corpus", {})
    prev_own = prev.get("heldout_bits_per_byte_own_corpus", {})
    fmt = lambda v: f"{v:.3f}" if isinstance(v, (int, float)) else "—"  # noqa: E731
    rows = "\n".join(
        f"| {d} | {bpb:.3f} | {fmt(prev_this.get(d))} | {fmt(prev_own.get(d))} | "
        f"{report['corpus']['domains'][d]['train_bytes']:,} | {report['corpus']['domains'][d]['heldout_bytes']:,} |"
        for d, bpb in sorted(report["heldout_bits_per_byte"].items()))
    sources = "\n".join(
        f"| {d} | `{m['source']['package']}` | {m['source']['description']} | {m['source']['licence']} |"
        for d, m in sorted(report["corpus"]["domains"].items()) if m.get("source"))
    health = "\n".join(
        f"| {h['layer']} | {h['load_cv']:.3f} | {h['dead_fraction']:.3f} | {h['min_share']:.4f} | "
        f"{h['max_share']:.4f} | {h['distinct_per_window']:.1f} |" for h in report.get("router_health", []))
    steps_s = r["steps"] * r["batch_size"] * r["seq_len"]
    t = report.get("training_time", {})
    last = report["history"][-1] if report["history"] else {}
    prev_line = (f"`{prev['name']}` ({prev['parameters']:,} parameters), the model this one replaces, measured on "
                 "the same held-out text; its own card's figures were on its own (machine-dependent) corpus, whose "
                 "domains share only their names with these." if prev else "")
    return f"""# MoEGauge embedded model: {EMBEDDED_NAME}

A small Mixture-of-Experts language model with OLMoE's routing geometry, trained from scratch on
real text, shipped so that every study runs anywhere without a model hub. Generated by
`python -m moegauge train` from `training.json`; do not edit by hand.

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
({steps_s:,} training bytes seen), per-layer load-balancing loss (Switch form, `per_layer_balance_loss`)
with coefficient {a['router_aux_loss_coef']}.
Training took {t.get('wall_seconds', 0) / 60:.1f} wall-minutes ({t.get('cpu_seconds', 0) / 60:.1f} CPU-minutes over
all threads) on {report['environment']['machine']} (CPU kernels `{report['environment'].get('cpu_capability')}`);
final training loss {last.get('loss', float('nan')):.3f} nats/byte.
Reproduce with `python -m moegauge train` (same machine type, torch {report['environment']['torch']}).

## Corpus
Read at run time from exactly pinned pure-Python wheels (`moegauge.lm.corpus`), the same bytes on
every machine; corpus manifest SHA-256 `{report['corpus']['sha256']}`.

| domain | source | what | licence |
|---|---|---|---|
{sources}

## Held-out bits per byte (bf16 weights as shipped)
Previous model: {prev_line or "none recorded."}

| domain | this model | previous model, this text | previous model, its own card | train bytes | held-out bytes |
|---|---|---|---|---|---|
{rows}

## Router health on held-out text
{r['health_windows']} windows of {r['seq_len']} bytes per domain. Load CV is std/mean of the routed assignments per
expert; "dead" is the fraction of experts below 0.1% of them; distinct experts are counted per window
(of {a['num_experts']}).

| layer | load CV | dead fraction | min share | max share | distinct experts / window |
|---|---|---|---|---|---|
{health}
"""
