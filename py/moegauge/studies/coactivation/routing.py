"""Router traces from a model: real text per document, and the seed's Gaussian trap arm.

Works unchanged on any HF MoE whose decoder layers hold ``mlp.gate`` (OLMoE, Qwen-MoE, Mixtral in
transformers ≥ 5): forward hooks on the gates record each token's top-k (from the gate's own
logits, as the capture stage does) and the RMS norm of the router's input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ...errors import InputError
from ...lm.capture import _moe_layer_indices, decoder_layers
from ...lm.placement import input_device
from .trace import RouterTrace


def _gates(model) -> dict[int, torch.nn.Module]:
    layers = decoder_layers(model)
    gates = {}
    for idx in _moe_layer_indices(model):
        gate = getattr(getattr(layers[idx], "mlp", None), "gate", None)
        if gate is not None:
            gates[idx] = gate
    if not gates:
        raise InputError(type(model).__name__, "no MoE router (mlp.gate) found in any decoder layer")
    return gates


def _logits(out) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def document_tokens(encoder, data: bytes) -> torch.Tensor:
    """A document as one run of token ids (bytes for the embedded model)."""
    tok = getattr(encoder, "tokenizer", None)
    if tok is None:
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(torch.int64)
    ids = tok(data.decode("utf-8", errors="replace"), add_special_tokens=False)["input_ids"]
    return torch.tensor(ids, dtype=torch.int64)


def select_documents(corpus, encoder, tokens_per_domain: int, min_tokens: int = 64) -> list[tuple[dict, torch.Tensor]]:
    """Held-out documents of every domain, in order, until ``tokens_per_domain`` (the last one cut)."""
    out = []
    for name, dom in sorted(corpus.domains.items()):
        left = tokens_per_domain
        for doc in dom.heldout_docs:
            if left < min_tokens:
                break
            ids = document_tokens(encoder, doc.text)[:left]
            if ids.numel() < min_tokens:
                continue
            out.append(({"domain": name, "name": doc.name, "tokens": int(ids.numel())}, ids))
            left -= ids.numel()
    if not out:
        raise InputError("corpus", "no held-out document long enough for a router trace")
    return out


@torch.no_grad()
def capture_trace(model, docs: list[tuple[dict, torch.Tensor]], seq_len: int, batch_size: int, model_name: str,
                  progress: Callable[[int], None] | None = None) -> RouterTrace:
    """Route every document (in windows of ``seq_len``) and record each token's top-k per MoE layer."""
    k = int(model.config.num_experts_per_tok)
    n_exp = int(getattr(model.config, "num_experts", None) or getattr(model.config, "num_local_experts"))
    gates = _gates(model)
    layer_ids = sorted(gates)
    store: dict[int, torch.Tensor] = {}
    sq = {i: 0.0 for i in layer_ids}
    count = {i: 0 for i in layer_ids}

    def hook(idx):
        def fn(_mod, inp, out):
            h = inp[0].detach().reshape(-1, inp[0].shape[-1]).float()
            sq[idx] += float((h * h).sum())
            count[idx] += h.shape[0]
            store[idx] = _logits(out).detach().reshape(-1, n_exp).topk(k, dim=-1).indices.to("cpu", torch.int16)
        return fn

    handles = [gates[i].register_forward_hook(hook(i)) for i in layer_ids]
    # windows: (doc index, start); full windows batched, each document's tail alone
    pieces = []
    for di, (_, ids) in enumerate(docs):
        for s in range(0, ids.numel(), seq_len):
            pieces.append((di, s, min(seq_len, ids.numel() - s)))
    total = sum(meta["tokens"] for meta, _ in docs)
    offsets = np.cumsum([0] + [meta["tokens"] for meta, _ in docs])
    topk = np.empty((len(layer_ids), total, k), dtype=np.int16)
    dev = input_device(model)
    try:
        full = [p for p in pieces if p[2] == seq_len]
        tails = [p for p in pieces if p[2] != seq_len]
        groups = [full[i : i + batch_size] for i in range(0, len(full), batch_size)] + [[p] for p in tails]
        for group in groups:
            batch = torch.stack([docs[di][1][s : s + n] for di, s, n in group]).to(dev)
            model(input_ids=batch, use_cache=False, logits_to_keep=1)
            for li, idx in enumerate(layer_ids):
                got = store.pop(idx).numpy().reshape(len(group), group[0][2], k)
                for row, (di, s, n) in zip(got, group):
                    topk[li, offsets[di] + s : offsets[di] + s + n] = row
            if progress:
                progress(sum(p[2] for p in group))
    finally:
        for h in handles:
            h.remove()
    document = np.repeat(np.arange(len(docs)), [meta["tokens"] for meta, _ in docs])
    position = np.arange(total) - offsets[document]
    rms = [float(np.sqrt(sq[i] / max(count[i], 1))) for i in layer_ids]
    return RouterTrace(topk=topk, document=document, position=position, documents=[m for m, _ in docs],
                       num_experts=n_exp, layers=layer_ids, model=model_name, router_input_rms=rms,
                       source="<captured>")


@torch.no_grad()
def gaussian_trace(model, like: RouterTrace, seed: int, chunk: int = 16384) -> RouterTrace:
    """The seed's trap arm: i.i.d. Gaussian router inputs scaled to each router's real input RMS
    norm, routed by the real gates; same document layout as ``like`` (so the same split)."""
    if like.router_input_rms is None:
        raise InputError(like.source, "the trace records no router input norms: cannot scale the Gaussian arm")
    gates = _gates(model)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    k, n_exp = like.top_k, like.num_experts
    topk = np.empty_like(like.topk)
    for li, idx in enumerate(like.layers):
        gate = gates[idx]
        weight = next(gate.parameters())
        hidden = weight.shape[-1]
        scale = like.router_input_rms[li] / np.sqrt(hidden)
        for s in range(0, like.tokens, chunk):
            n = min(chunk, like.tokens - s)
            h = (torch.randn(n, hidden, generator=gen, dtype=torch.float32) * scale).to(weight.device, weight.dtype)
            topk[li, s : s + n] = _logits(gate(h)).reshape(n, n_exp).topk(k, dim=-1).indices.to("cpu", torch.int16).numpy()
    return RouterTrace(topk=topk, document=like.document, position=like.position, documents=like.documents,
                       num_experts=n_exp, layers=like.layers, model=f"{like.model} (Gaussian router inputs)",
                       router_input_rms=like.router_input_rms, source="<gaussian>")


def router_row_alignment(model, layers: list[int]) -> list[float]:
    """Per MoE layer: mean |cos| between distinct rows of the router's weight (its experts'
    directions). Isotropic Gaussian inputs give co-routing exactly where rows are aligned, so this
    explains a Gaussian trap gain above 1; i.i.d. random rows in d dims give about √(2/(π·d))."""
    gates = _gates(model)
    out = []
    for idx in layers:
        w = next(gates[idx].parameters()).detach().double()
        w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-300)
        c = (w @ w.T).abs()
        n = c.shape[0]
        out.append(float((c.sum() - c.diagonal().sum()) / (n * (n - 1))))
    return out
