"""Capture of attention keys, queries, values and router choices from any HF causal LM.

Per layer, whichever of these are asked for (shapes are per captured token):

* ``k_pre_norm``: the key projection output, before the model's k-norm (OLMoE has one over all KV
  heads; models without a k-norm have no separate pre-norm point and record it equal to pre-RoPE);
* ``k_pre_rope``: keys after the k-norm, before RoPE ([kv_heads, head_dim]);
* ``k_post_rope``: keys as the KV cache stores them ([kv_heads, head_dim]) — taken from the cache
  update itself, so it is exactly what attention sees;
* ``q_pre_rope`` / ``q_post_rope``: queries around RoPE ([heads, head_dim]); post-RoPE queries use the
  model's own ``apply_rotary_pos_emb`` with the position embeddings the layer received;
* ``v``: values as cached ([kv_heads, head_dim]);
* ``router_topk``: the top-k expert indices of each token (MoE layers; int16).

Tensors are streamed to sharded safetensors files (``shard-00000.safetensors`` …, at most
``shard_tokens`` tokens each) with a ``manifest.json``. A background thread writes each shard while
the next batches run (disk I/O overlaps compute); a flush waits for the previous write, so memory
stays bounded by two shards. Files are written atomically; the manifest is written last, so a
directory without one is incomplete.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_path, atomic_write_text
from ..errors import InputError
from .model import cache_kwargs, kv_geometry
from .placement import input_device

QUANTITIES = ("k_pre_norm", "k_pre_rope", "k_post_rope", "q_pre_rope", "q_post_rope", "v", "router_topk")
MANIFEST = "manifest.json"


def decoder_layers(model) -> list:
    """The decoder layers of a Llama-style HF causal LM (OLMoE, Mixtral, Qwen2-MoE, ...)."""
    base = getattr(model, "model", model)
    layers = getattr(base, "layers", None)
    if layers is None:
        raise InputError(type(model).__name__, "no decoder layers found at model.model.layers")
    return list(layers)


def _off_device(t: torch.Tensor) -> torch.Tensor:
    """A captured tensor, detached and on the host as soon as it exists (a no-op on CPU), so a model
    on GPUs or spread by accelerate never holds captures in device memory."""
    return t.detach().to("cpu", non_blocking=False)


class _RecordingCache:
    """Builds a DynamicCache whose ``update`` also records the post-RoPE keys and the values."""

    def __init__(self, record_keys: bool = True, record_values: bool = True):
        from transformers import DynamicCache

        recorder = self
        self.record_keys, self.record_values = record_keys, record_values
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}

        class Recording(DynamicCache):
            def update(self, key_states, value_states, layer_idx, *args, **kwargs):
                if recorder.record_keys:
                    recorder.keys[layer_idx] = _off_device(key_states)
                if recorder.record_values:
                    recorder.values[layer_idx] = _off_device(value_states)
                return super().update(key_states, value_states, layer_idx, *args, **kwargs)

        self.cache = Recording()


@dataclass
class _Hooks:
    """Forward hooks collecting the pre-RoPE tensors of one forward pass."""

    what: frozenset[str]
    top_k: int | None = None
    store: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    handles: list = field(default_factory=list)

    def install(self, model) -> None:
        for idx, layer in enumerate(decoder_layers(model)):
            attn = layer.self_attn
            k_norm = getattr(attn, "k_norm", None)
            q_norm = getattr(attn, "q_norm", None)
            if "k_pre_norm" in self.what:
                self._out(attn.k_proj, idx, "k_pre_norm")
            if "k_pre_rope" in self.what:
                self._out(k_norm if k_norm is not None else attn.k_proj, idx, "k_pre_rope")
            if self.what & {"q_pre_rope", "q_post_rope"}:
                self._out(q_norm if q_norm is not None else attn.q_proj, idx, "q_pre_rope")
            if "q_post_rope" in self.what:
                handle = attn.register_forward_pre_hook(self._position_hook(idx), with_kwargs=True)
                self.handles.append(handle)
            gate = getattr(getattr(layer, "mlp", None), "gate", None)
            if "router_topk" in self.what and gate is not None and self.top_k:
                self.handles.append(gate.register_forward_hook(self._router_hook(idx)))

    def _out(self, module, idx: int, name: str) -> None:
        def hook(_mod, _inp, out):
            self.store[(idx, name)] = _off_device(out)

        self.handles.append(module.register_forward_hook(hook))

    def _position_hook(self, idx: int):
        def hook(_mod, args, kwargs):
            pe = kwargs.get("position_embeddings")
            if pe is None and len(args) > 1:
                pe = args[1]
            self.store[(idx, "position_embeddings")] = None if pe is None else tuple(_off_device(t) for t in pe)

        return hook

    def _router_hook(self, idx: int):
        """The router's top-k of its logits, taken from the gate itself (routers return
        ``(logits, scores, indices)``; a plain linear gate returns the logits)."""

        def hook(_mod, _inp, out):
            logits = out[0] if isinstance(out, tuple) else out
            top = logits.detach().reshape(-1, logits.shape[-1]).topk(self.top_k, dim=-1).indices
            self.store[(idx, "router_topk")] = _off_device(top.to(torch.int16))

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()


def _rope_fn(attn):
    module = sys.modules[type(attn).__module__]
    fn = getattr(module, "apply_rotary_pos_emb", None)
    if fn is None:
        raise InputError(type(attn).__name__, "no apply_rotary_pos_emb in the model's module: cannot rotate queries")
    return fn


@torch.no_grad()
def capture_batch(model, input_ids: torch.Tensor, what: Iterable[str]) -> dict[str, torch.Tensor]:
    """One forward pass; returns ``{"layer{L}.{name}": tensor}`` with tokens flattened in front."""
    what = frozenset(what)
    unknown = what - set(QUANTITIES)
    if unknown:
        raise ValueError(f"unknown capture quantities {sorted(unknown)}; known: {', '.join(QUANTITIES)}")
    layers_n, kv_heads, head_dim = kv_geometry(model.config)
    heads = model.config.num_attention_heads
    b, s = input_ids.shape
    k = getattr(model.config, "num_experts_per_tok", None)
    hooks = _Hooks(what, top_k=k)
    hooks.install(model)
    rec = _RecordingCache(record_keys="k_post_rope" in what, record_values="v" in what)
    try:
        # Router choices come from hooks on the gates: output_router_logits would also compute the
        # auxiliary load-balancing loss on every forward, for nothing.
        model(input_ids=input_ids.to(input_device(model)), **cache_kwargs(model, rec.cache), logits_to_keep=1)
    finally:
        hooks.remove()
    tensors: dict[str, torch.Tensor] = {}
    layers = decoder_layers(model)
    for idx in range(layers_n):
        if "k_post_rope" in what:
            tensors[f"layer{idx}.k_post_rope"] = rec.keys[idx].transpose(1, 2).reshape(b * s, kv_heads, head_dim)
        if "v" in what:
            tensors[f"layer{idx}.v"] = rec.values[idx].transpose(1, 2).reshape(b * s, kv_heads, head_dim)
        if "k_pre_norm" in what:
            tensors[f"layer{idx}.k_pre_norm"] = hooks.store[(idx, "k_pre_norm")].reshape(b * s, kv_heads, head_dim)
        if "k_pre_rope" in what:
            tensors[f"layer{idx}.k_pre_rope"] = hooks.store[(idx, "k_pre_rope")].reshape(b * s, kv_heads, head_dim)
        q = hooks.store.get((idx, "q_pre_rope"))
        if q is not None:
            q = q.reshape(b, s, heads, head_dim)
            if "q_pre_rope" in what:
                tensors[f"layer{idx}.q_pre_rope"] = q.reshape(b * s, heads, head_dim)
            if "q_post_rope" in what:
                cos, sin = hooks.store[(idx, "position_embeddings")]
                qt = q.transpose(1, 2)
                q_rot, _ = _rope_fn(layers[idx].self_attn)(qt, qt, cos, sin)
                tensors[f"layer{idx}.q_post_rope"] = q_rot.transpose(1, 2).reshape(b * s, heads, head_dim)
    if "router_topk" in what:
        for idx in _moe_layer_indices(model):
            top = hooks.store.get((idx, "router_topk"))
            if top is not None:
                tensors[f"layer{idx}.router_topk"] = top
    return {name: t.float().contiguous() if t.is_floating_point() else t.contiguous() for name, t in tensors.items()}


def _moe_layer_indices(model) -> list[int]:
    """Indices of decoder layers that have a router (dense layers in a mixed stack are skipped)."""
    out = []
    for idx, layer in enumerate(decoder_layers(model)):
        mlp = getattr(layer, "mlp", None) or getattr(layer, "block_sparse_moe", None)
        if mlp is not None and hasattr(mlp, "experts"):
            out.append(idx)
    return out


def capture_to_dir(
    model,
    batches: Iterable[torch.Tensor],
    out_dir: Path,
    what: Iterable[str],
    shard_tokens: int = 8192,
    meta: dict | None = None,
    progress: Callable[[int], None] | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict:
    """Capture every batch and stream the tensors to ``out_dir`` in shards; return the manifest.

    ``dtype`` is the storage type of floating tensors (float32 by default, what the measurements
    use; float16 halves the bytes written)."""
    from safetensors.torch import save_file

    from ..provenance import sha256_file

    what = tuple(sorted(set(what)))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # a directory without a manifest is incomplete
    buffer: dict[str, list[torch.Tensor]] = defaultdict(list)
    buffered = 0
    shards: list[dict] = []
    total = 0
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capture-writer")
    pending: Future | None = None

    def write(path: Path, tensors: dict[str, torch.Tensor], tokens: int) -> dict:
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp))
        return {"file": path.name, "tokens": tokens, "sha256": sha256_file(path)}

    def flush() -> None:
        nonlocal buffered, pending
        if not buffered:
            return
        if pending is not None:
            shards.append(pending.result())
        path = out_dir / f"shard-{len(shards):05d}.safetensors"
        tensors = {name: torch.cat(parts) for name, parts in sorted(buffer.items())}
        pending = writer.submit(write, path, tensors, buffered)
        buffer.clear()
        buffered = 0

    try:
        for batch in batches:
            for name, t in capture_batch(model, batch, what).items():
                buffer[name].append(t.to(dtype) if t.is_floating_point() else t)
            n = batch.numel()
            buffered += n
            total += n
            if progress is not None:
                progress(n)
            if buffered >= shard_tokens:
                flush()
        flush()
        if pending is not None:
            shards.append(pending.result())
    finally:
        writer.shutdown(wait=True)
    layers_n, kv_heads, head_dim = kv_geometry(model.config)
    manifest = {
        "schema": "moegauge/capture_manifest", "schema_version": 1,
        "quantities": list(what), "tokens": total, "dtype": str(dtype).removeprefix("torch."),
        "layers": layers_n, "kv_heads": kv_heads, "heads": model.config.num_attention_heads, "head_dim": head_dim,
        "moe_layers": _moe_layer_indices(model), "top_k": getattr(model.config, "num_experts_per_tok", None),
        "shards": shards, **(meta or {}),
    }
    atomic_write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def load_capture(out_dir: Path, name: str, layer: int) -> torch.Tensor:
    """Concatenate one captured tensor (``layer{L}.{name}``) over all shards of a capture."""
    from safetensors import safe_open

    manifest_path = out_dir / MANIFEST
    if not manifest_path.is_file():
        raise InputError(out_dir, "no manifest.json: not a (complete) capture directory")
    manifest = json.loads(manifest_path.read_text())
    key = f"layer{layer}.{name}"
    parts = []
    for shard in manifest["shards"]:
        with safe_open(str(out_dir / shard["file"]), framework="pt") as fh:
            if key not in fh.keys():
                raise InputError(out_dir / shard["file"], f"no tensor {key!r} (captured: {manifest['quantities']})")
            parts.append(fh.get_tensor(key))
    return torch.cat(parts).float() if parts and parts[0].is_floating_point() else torch.cat(parts)


def storage_dtype_effect(reference_dir: Path, other_dir: Path, name: str = "k_post_rope") -> dict[str, float]:
    """How much a capture stored in another dtype moves the measurements, against ``reference_dir``
    (the same windows stored in float32): the largest per-layer difference of β (pooled over a layer's
    keys, all KV heads concatenated) and of the mean one-bit cosine, both computed in float64."""
    from ..moments import beta_moment_ratio, one_bit_cosine

    layers = json.loads((reference_dir / MANIFEST).read_text())["layers"]
    beta_diff = cos_diff = 0.0
    for layer in range(layers):
        a = load_capture(reference_dir, name, layer).double().flatten(1)
        b = load_capture(other_dir, name, layer).double().flatten(1)
        beta_diff = max(beta_diff, abs(beta_moment_ratio(a).item() - beta_moment_ratio(b).item()))
        cos_diff = max(cos_diff, abs(one_bit_cosine(a).mean().item() - one_bit_cosine(b).mean().item()))
    return {"max_beta_diff": beta_diff, "max_one_bit_cosine_diff": cos_diff, "layers": layers}
