"""transformers' ``QuantizedCache`` with the backends that run on CPU (HQQ at 1/2/4 bits, quanto at
2/4 bits), and its stored bytes read from the backends' tensors.

How transformers 5.24's ``QuantizedLayer`` stores and when it quantizes: the first ``update`` (the
prefill) quantizes all prompt keys and values but returns the *original* ones, so a prefill forward
does not see the quantization; later tokens accumulate in an fp residual (``layer.keys`` /
``layer.values``, the model's dtype) and once it holds ``residual_length`` tokens, everything —
dequantized past, residual and new tokens — is re-quantized and the residual emptied. Measure a
QuantizedCache on decode steps, not on a prefill.

Where the backends keep their tensors: HQQ stores ``(W_q, meta)`` with W_q the packed codes
(uint8) and ``meta["scale"]``, ``meta["zero"]`` (plus any other tensor in meta); quanto stores a
``WeightQBitsTensor`` whose ``_data`` is a ``PackedTensor`` (its own ``_data`` uint8) with
``_scale`` and ``_shift``. ``stored_nbytes`` reads exactly these; an unknown layout is an error,
never a silent zero. hqq and optimum-quanto are the optional ``[peers]`` extra.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor


class PeerSpec(NamedTuple):
    """One HF QuantizedCache configuration to measure."""

    label: str
    backend: str
    nbits: int


PEER_SPECS: list[PeerSpec] = [
    PeerSpec("hf_hqq_1bit", "hqq", 1),
    PeerSpec("hf_hqq_2bit", "hqq", 2),
    PeerSpec("hf_hqq_4bit", "hqq", 4),
    PeerSpec("hf_quanto_2bit", "quanto", 2),
    PeerSpec("hf_quanto_4bit", "quanto", 4),
]

PROBE_PROMPT_TOKENS = 4  # the smoke forward in try_peer: a prefill of 4 tokens, then one decode step


def _describe(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"


def try_peer(backend: str, nbits: int, model: torch.nn.Module, residual_length: int = 128,
             q_group_size: int = 64) -> tuple[Callable[[], object] | None, str | None]:
    """(factory, None) if a QuantizedCache with this backend builds and runs a small forward on
    ``model`` (a prefill that quantizes, then a decode step that dequantizes); (None, "ExcType:
    message") otherwise — a missing package, an unsupported nbits, a runtime failure — so the caller
    records why a peer is absent instead of dropping it."""
    from ..lm.model import cache_kwargs

    try:
        from transformers.cache_utils import QuantizedCache

        def factory():
            return QuantizedCache(backend, model.config, nbits=nbits, residual_length=residual_length,
                                  q_group_size=q_group_size)

        cache = factory()
        device = next(model.parameters()).device
        vocab = model.config.vocab_size
        ids = (torch.arange(PROBE_PROMPT_TOKENS + 1, device=device) % vocab).unsqueeze(0)
        with torch.no_grad():
            model(input_ids=ids[:, :PROBE_PROMPT_TOKENS], **cache_kwargs(model, cache))
            model(input_ids=ids[:, PROBE_PROMPT_TOKENS:], **cache_kwargs(model, cache))
        if cache.get_seq_length() != PROBE_PROMPT_TOKENS + 1:
            raise RuntimeError(f"cache holds {cache.get_seq_length()} tokens after the probe, expected "
                               f"{PROBE_PROMPT_TOKENS + 1}")
        stored_nbytes(cache)  # a layout we cannot count is as much a failure as a crash
    except Exception as exc:  # noqa: BLE001 — every failure is returned as a recorded reason
        return None, _describe(exc)
    factory.__name__ = f"quantized_cache_{backend}_{nbits}bit"
    return factory, None


def _nbytes(t: Tensor) -> int:
    return t.numel() * t.element_size()


def _quantized_parts(prefix: str, stored) -> dict[str, int]:
    """Bytes of one backend's quantized K (or V) by part: codes, scales, zero points, other metadata."""
    parts = {f"{prefix}_codes": 0, f"{prefix}_scales": 0, f"{prefix}_zero_points": 0, f"{prefix}_quant_metadata": 0}
    if stored is None:
        return parts
    if isinstance(stored, tuple) and len(stored) == 2 and isinstance(stored[1], dict):  # HQQ: (W_q, meta)
        codes, meta = stored
        parts[f"{prefix}_codes"] = _nbytes(codes)
        for name, item in meta.items():
            if name == "scale":
                parts[f"{prefix}_scales"] += _nbytes(item)
            elif name == "zero":
                parts[f"{prefix}_zero_points"] += _nbytes(item)
            else:
                parts[f"{prefix}_quant_metadata"] += _tensor_tree_nbytes(item)
        return parts
    if hasattr(stored, "_data") and hasattr(stored, "_scale") and hasattr(stored, "_shift"):  # quanto QBitsTensor
        inner, _ = stored.__tensor_flatten__()
        if set(inner) != {"_data", "_scale", "_shift"}:
            raise TypeError(f"unexpected quanto tensor layout {inner}")
        data = stored._data
        packed = data._data if hasattr(data, "_data") else data  # PackedTensor holds the uint8 bytes
        parts[f"{prefix}_codes"] = _nbytes(packed)
        parts[f"{prefix}_scales"] = _nbytes(stored._scale)
        parts[f"{prefix}_zero_points"] = _nbytes(stored._shift)
        return parts
    raise TypeError(f"unknown quantized storage {type(stored).__name__}")


def _tensor_tree_nbytes(item) -> int:
    """Bytes of the tensors in a metadata item (nested dicts/lists/tuples); non-tensors count 0."""
    if isinstance(item, Tensor):
        return _nbytes(item)
    if isinstance(item, dict):
        return sum(_tensor_tree_nbytes(v) for v in item.values())
    if isinstance(item, (list, tuple)):
        return sum(_tensor_tree_nbytes(v) for v in item)
    return 0


def stored_nbytes(cache) -> dict[str, int]:
    """Bytes held by a QuantizedCache's stored tensors, by part (``key_*`` / ``value_*``): quantized
    codes, scales, zero points (HQQ zero / quanto shift), other quantization metadata tensors, and
    the fp residual keys and values."""
    from transformers.cache_utils import QuantizedLayer

    total: dict[str, int] = {}
    for layer in cache.layers:
        if not isinstance(layer, QuantizedLayer):
            raise TypeError(f"{type(layer).__name__} is not a transformers QuantizedLayer")
        parts = {**_quantized_parts("key", layer._quantized_keys),
                 **_quantized_parts("value", layer._quantized_values),
                 "key_residual": 0 if layer.keys is None else _nbytes(layer.keys),
                 "value_residual": 0 if layer.values is None else _nbytes(layer.values)}
        for name, n in parts.items():
            total[name] = total.get(name, 0) + n
    return total
