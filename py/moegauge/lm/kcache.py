"""The 1-bit K cache: a transformers Cache storing keys as packed sign bits plus a per-vector fp16
scale (with the layer's mean and rotation), and values in fp16.

Where the rotation acts. Keys reach the cache after RoPE (and, in OLMoE, after the k-norm), and
this cache transforms them there: y = R(k − μ), quantized to α·sign(y). Attention then receives
k̂ = Rᵀŷ + μ, which for every query q gives q·k̂ = (Rq)·ŷ + q·μ — the rotation is applied online,
after RoPE, to the query–key product. This is exact for any orthogonal R
(``MoEGauge.attention_score_gauge_invariance``). Folding R into W_K and W_Q instead would be exact
only if R commuted with every RoPE rotation (``MoEGauge.rope_fold_exact_iff_commute``) and with
OLMoE's k-norm weights; a learned or random R does neither, so it is not folded.

Scope: ``all_kv_heads`` transforms each token's keys of all KV heads as one vector (d = heads ×
head_dim, the seeds' "OLMoE d = 2048"); ``head_dim`` transforms each head's key separately, with a
shared transform or one per KV head (``KeyTransform`` with a 3-D rotation / 2-D mean). Memory is
read from the stored tensors (``stored_nbytes``), not from a formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache, DynamicLayer

from ..hadamard import srht, srht_inverse
from ..signquant import SignQuantized, dequantize, quantize

SCOPES = ("all_kv_heads", "head_dim")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the transform and the scores are computed in: float64 for a float64 model (so
    equivalence tests can be exact), float32 otherwise (fp16/bf16 inputs and fp16-stored rotations
    are upcast)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


@dataclass(frozen=True)
class KeyTransform:
    """y = R(k − μ) on the scope's vectors: ``rotation`` (d×d, orthogonal) or an SRHT ``srht_seed``,
    or neither (identity); ``mean`` μ (d,) — zeros when not centering.

    Per-head transforms (scope ``head_dim`` only): ``rotation`` may be (kv_heads, d, d), one R per
    KV head, and ``mean`` (kv_heads, d). Their inputs then carry the KV-head axis at dim −3 (the
    cache's (batch, kv_heads, tokens, head_dim) layout), so head h is transformed by R_h and μ_h.
    The rotation may be stored in any float dtype (e.g. fp16 to halve the metadata); it is applied
    in float32, or float64 for float64 inputs.
    """

    mean: torch.Tensor
    rotation: torch.Tensor | None = None
    srht_seed: int | None = None
    scope: str = "all_kv_heads"
    label: str = "identity"

    def __post_init__(self):
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")
        if self.rotation is not None and self.srht_seed is not None:
            raise ValueError("give a rotation matrix or an SRHT seed, not both")
        if self.mean.ndim not in (1, 2):
            raise ValueError(f"mean must be (d,) or (kv_heads, d), got shape {tuple(self.mean.shape)}")
        if self.rotation is not None and self.rotation.ndim not in (2, 3):
            raise ValueError(f"rotation must be (d, d) or (kv_heads, d, d), got shape {tuple(self.rotation.shape)}")
        if self.per_head and self.scope != "head_dim":
            raise ValueError("per-head means and rotations need scope 'head_dim'")
        d = self.d
        if self.rotation is not None:
            if tuple(self.rotation.shape[-2:]) != (d, d):
                raise ValueError(f"rotation of shape {tuple(self.rotation.shape)} does not act on d={d}")
            if self.rotation.ndim == 3 and self.mean.ndim == 2 and self.rotation.shape[0] != self.mean.shape[0]:
                raise ValueError("per-head rotation and mean disagree on the number of KV heads")

    @property
    def d(self) -> int:
        return self.mean.shape[-1]

    @property
    def per_head(self) -> bool:
        """True when μ or R differ between KV heads (``mean`` 2-D or ``rotation`` 3-D)."""
        return self.mean.ndim == 2 or (self.rotation is not None and self.rotation.ndim == 3)

    @property
    def heads(self) -> int | None:
        """Number of KV heads the per-head parameters cover (None for a shared transform)."""
        if self.rotation is not None and self.rotation.ndim == 3:
            return self.rotation.shape[0]
        return self.mean.shape[0] if self.mean.ndim == 2 else None

    def _check_heads(self, x: torch.Tensor) -> None:
        if self.per_head and (x.ndim < 3 or x.shape[-3] != self.heads):
            raise ValueError(f"a per-head transform of {self.heads} heads needs inputs (..., {self.heads}, tokens, d), "
                             f"got shape {tuple(x.shape)}")

    def mean_for(self, dtype: torch.dtype) -> torch.Tensor:
        """μ in ``dtype``, shaped to broadcast against (..., heads, tokens, d) inputs when per-head."""
        mu = self.mean.to(dtype)
        return mu.unsqueeze(-2) if mu.ndim == 2 else mu

    def rotation_for(self, dtype: torch.dtype) -> torch.Tensor | None:
        """R in ``dtype`` ((d, d) or (heads, d, d)), or None for SRHT / identity."""
        return None if self.rotation is None else self.rotation.to(dtype)

    def forward(self, k: torch.Tensor) -> torch.Tensor:
        self._check_heads(k)
        cdt = compute_dtype(k.dtype)
        x = k.to(cdt) - self.mean_for(cdt)
        if self.rotation is not None:
            return x @ self.rotation_for(cdt).transpose(-1, -2)
        if self.srht_seed is not None:
            return srht(x, self.srht_seed)
        return x

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check_heads(y)
        cdt = compute_dtype(y.dtype)
        y = y.to(cdt)
        if self.rotation is not None:
            x = y @ self.rotation_for(cdt)
        elif self.srht_seed is not None:
            x = srht_inverse(y, self.srht_seed)
        else:
            x = y
        return x + self.mean_for(cdt)

    def metadata_nbytes(self) -> int:
        """Bytes of what the layer must keep besides the per-token data: μ and R (or the seed), in
        their stored dtypes."""
        n = self.mean.numel() * self.mean.element_size()
        if self.rotation is not None:
            n += self.rotation.numel() * self.rotation.element_size()
        elif self.srht_seed is not None:
            n += 8
        return n

    @classmethod
    def identity(cls, d: int, scope: str = "all_kv_heads") -> "KeyTransform":
        return cls(mean=torch.zeros(d), scope=scope)


class OneBitKLayer(DynamicLayer):
    """One layer of the 1-bit K cache. ``quantize=False`` keeps y = R(k − μ) in float32 instead
    (the rotation-only control: logits must then match the uncompressed model)."""

    def __init__(self, transform: KeyTransform, quantize_keys: bool = True, value_dtype: torch.dtype = torch.float16):
        super().__init__()
        self.transform = transform
        self.quantize_keys = quantize_keys
        self.value_dtype = value_dtype
        self.cumulative_length = 0
        self._bits: list[torch.Tensor] = []
        self._scales: list[torch.Tensor] = []
        self._exact: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []
        self._shape: tuple[int, int] | None = None  # (kv_heads, head_dim)

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self._shape = (key_states.shape[1], key_states.shape[3])
        self.is_initialized = True

    def _to_vectors(self, k: torch.Tensor) -> torch.Tensor:
        b, h, s, hd = k.shape
        if self.transform.scope == "all_kv_heads":
            return k.transpose(1, 2).reshape(b, s, h * hd)
        return k

    def _from_vectors(self, y: torch.Tensor, b: int) -> torch.Tensor:
        h, hd = self._shape
        if self.transform.scope == "all_kv_heads":
            return y.reshape(b, -1, h, hd).transpose(1, 2)
        return y

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self.cumulative_length += key_states.shape[-2]
        y = self.transform.forward(self._to_vectors(key_states))
        if self.quantize_keys:
            q = quantize(y)
            self._bits.append(q.bits)
            self._scales.append(q.scale)
        else:
            self._exact.append(y)
        self._values.append(value_states.to(self.value_dtype))
        # Attention sees every stored key, reconstructed: Rᵀ·(α·sign y) + μ.
        if self.quantize_keys:
            stored = SignQuantized(bits=torch.cat(self._bits, dim=-2), scale=torch.cat(self._scales, dim=-1),
                                   d=y.shape[-1])
            y_all = dequantize(stored, compute_dtype(key_states.dtype))
        else:
            y_all = torch.cat(self._exact, dim=-2)
        keys = self._from_vectors(self.transform.inverse(y_all), key_states.shape[0]).to(key_states.dtype)
        values = torch.cat(self._values, dim=-2).to(value_states.dtype)
        return keys, values

    def get_seq_length(self) -> int:
        return self.cumulative_length

    def stored_nbytes(self) -> dict[str, int]:
        """Bytes held by the stored tensors of this layer, by part."""
        def size(ts):
            return sum(t.numel() * t.element_size() for t in ts)

        return {
            "key_bits": size(self._bits),
            "key_scales": size(self._scales),
            "key_float": size(self._exact),
            "values": size(self._values),
            "metadata": self.transform.metadata_nbytes(),
        }

    def reset(self) -> None:
        self._bits, self._scales, self._exact, self._values = [], [], [], []
        self.cumulative_length = 0
        self.is_initialized = False

    def crop(self, tokens_to_remove: int) -> None:  # pragma: no cover - not used by greedy generation
        raise NotImplementedError("the 1-bit K cache does not support cropping")


class Fp16Layer(DynamicLayer):
    """An uncompressed layer storing K and V in fp16 (the baseline of the memory budget)."""

    def update(self, key_states, value_states, *args, **kwargs):
        keys, values = super().update(key_states.to(torch.float16), value_states.to(torch.float16), *args, **kwargs)
        return keys.to(key_states.dtype), values.to(value_states.dtype)

    def stored_nbytes(self) -> dict[str, int]:
        if not self.is_initialized:
            return {"keys": 0, "values": 0}
        return {"keys": self.keys.numel() * self.keys.element_size(),
                "values": self.values.numel() * self.values.element_size()}


class OneBitKCache(Cache):
    """A Cache whose layers in ``one_bit_layers`` (default: all) are 1-bit K layers with the given
    per-layer transforms; the other layers keep full-precision keys (``DynamicLayer``), or fp16 keys
    and values with ``fp16_baseline=True``."""

    def __init__(
        self,
        transforms: list[KeyTransform],
        one_bit_layers: set[int] | None = None,
        quantize_keys: bool = True,
        value_dtype: torch.dtype = torch.float16,
    ):
        layers = []
        for idx, t in enumerate(transforms):
            if one_bit_layers is None or idx in one_bit_layers:
                layers.append(OneBitKLayer(t, quantize_keys=quantize_keys, value_dtype=value_dtype))
            else:
                layers.append(DynamicLayer())
        super().__init__(layers=layers)

    def stored_nbytes(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for layer in self.layers:
            parts = layer.stored_nbytes() if hasattr(layer, "stored_nbytes") else {
                "keys": layer.keys.numel() * layer.keys.element_size() if layer.is_initialized else 0,
                "values": layer.values.numel() * layer.values.element_size() if layer.is_initialized else 0}
            for k, v in parts.items():
                total[k] = total.get(k, 0) + v
        return total


class Fp16Cache(Cache):
    """Every layer stores K and V in fp16: the reference the memory budget divides by."""

    def __init__(self, num_layers: int):
        super().__init__(layers=[Fp16Layer() for _ in range(num_layers)])

    def stored_nbytes(self) -> dict[str, int]:
        total = {"keys": 0, "values": 0}
        for layer in self.layers:
            for k, v in layer.stored_nbytes().items():
                total[k] += v
        return total
