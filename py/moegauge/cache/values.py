"""The V-cache ablation of seed 001 §S8: quantized values (1 or 2 bits), their transforms, and a
transformers Cache that stores both K and V compressed.

Quantizers act on the scope's vectors y = R_V(v − μ_V) of each token: ``all_kv_heads`` (d = heads ×
head_dim, one vector per token) or ``head_dim`` (one vector per head, one shared transform), as
for keys (:class:`moegauge.lm.kcache.KeyTransform`).

* 1 bit: α·sign(y) with α = ‖y‖₁/d in fp16 (:mod:`moegauge.signquant`).
* 2 bits: a·ℓ with ℓ ∈ {−3, −1, +1, +3}^d, codes packed 4 per byte and one fp16 scale a per
  vector. a is fit by Lloyd iterations (nearest-level assignment, then the least-squares scale
  ⟨y, ℓ⟩/‖ℓ‖²), each of which cannot increase ‖y − aℓ‖². Lloyd alone can stop in a local minimum,
  so it starts from the exact minimiser over all scales: nearest-level codes for a scale a put
  level 3 on the coordinates with |y_i| ≥ 2a, i.e. on the m largest |y_i| for some m, so
  min_a ‖y − Q_a(y)‖² = min_m (‖y‖² − n_m²/e_m) with n_m = 3·(sum of the m largest |y_i|) + (sum
  of the rest), e_m = 9m + (d − m) — one sort per vector.

Transforms (:class:`ValueTransform`): none, SRHT, a rotation learned for the one-bit cosine of V
(:func:`learn_value_rotation_cosine`, via :func:`moegauge.rotation.learn_rotation`), or one learned
for the attention-output error E‖P(V − V̂)‖² (:func:`learn_value_rotation_attention`).

Unlike the key rotation, which attention only sees through q·k (gauge-invariant), V̂ = R_Vᵀ Q(R_V
(v − μ)) + μ enters the output P·V̂ directly: the rotation is exact only without quantization
(tested: the rotation-only cache leaves the logits unchanged).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor
from transformers.cache_utils import Cache, DynamicLayer

from ..hadamard import srht, srht_inverse
from ..lm.kcache import SCOPES, KeyTransform
from ..lm.model import kv_geometry
from ..rotation import cayley, initial_rotation, learn_rotation, orthogonality_error
from ..signquant import SignQuantized, dequantize, pack_signs, quantize

#: Quantized value widths (bits per coordinate, besides the per-vector fp16 scale).
VALUE_BITS = (1, 2)
#: Unquantized value storage: y stored as float16 (the fp16 V reference) or float32 (rotation-only control).
FLOAT_VALUE_BITS = {16: torch.float16, 32: torch.float32}
#: The value transforms of the ablation grid.
VALUE_TRANSFORM_KINDS = ("none", "srht", "learned_cosine", "learned_attention")

_FP16_MAX = float(torch.finfo(torch.float16).max)
_TWO_BIT_SHIFTS = torch.arange(0, 8, 2, dtype=torch.uint8)


# -- 2-bit quantizer ------------------------------------------------------------------------------
def pack_two_bit_codes(codes: Tensor) -> Tensor:
    """uint8 (..., ceil(d/4)) from codes in {0, 1, 2, 3} (..., d): code j in bits 2(j mod 4), 2(j mod 4)+1
    of byte j // 4 (least significant first); the last byte is zero-padded."""
    d = codes.shape[-1]
    c = codes.to(torch.uint8)
    if bool((c > 3).any()):
        raise ValueError("two-bit codes must lie in {0, 1, 2, 3}")
    pad = (-d) % 4
    if pad:
        c = torch.nn.functional.pad(c, (0, pad))
    c = c.reshape(*codes.shape[:-1], (d + pad) // 4, 4)
    return (c << _TWO_BIT_SHIFTS.to(c.device)).sum(dim=-1, dtype=torch.uint8)


def unpack_two_bit_codes(packed: Tensor, d: int) -> Tensor:
    """Codes (..., d) as uint8 from :func:`pack_two_bit_codes` output."""
    if packed.dtype != torch.uint8:
        raise TypeError(f"packed codes must be uint8, got {packed.dtype}")
    if packed.shape[-1] != math.ceil(d / 4):
        raise ValueError(f"{packed.shape[-1]} bytes cannot hold d={d} two-bit codes")
    c = (packed.unsqueeze(-1) >> _TWO_BIT_SHIFTS.to(packed.device)) & 3
    return c.reshape(*packed.shape[:-1], -1)[..., :d]


def two_bit_levels(codes: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """ℓ = 2c − 3 ∈ {−3, −1, +1, +3} for codes c."""
    return codes.to(dtype) * 2 - 3


def nearest_two_bit_codes(y: Tensor, scale: Tensor) -> Tensor:
    """The code of the level a·ℓ nearest to each coordinate (uint8); scale (...) ≥ 0. A zero scale
    gives the codes of sign(y)·1 (any code reconstructs 0 then)."""
    a = scale.to(y.dtype).unsqueeze(-1)
    t = torch.where(a > 0, y / torch.where(a > 0, a, torch.ones_like(a)), torch.sign(y))
    return torch.clamp(torch.floor(t / 2) + 2, 0, 3).to(torch.uint8)  # boundaries at −2a, 0, +2a


def two_bit_error(y: Tensor, scale: Tensor, codes: Tensor | None = None) -> Tensor:
    """‖y − a·ℓ‖² per vector, with the nearest codes for ``scale`` unless ``codes`` are given."""
    c = nearest_two_bit_codes(y, scale) if codes is None else codes
    r = y - scale.to(y.dtype).unsqueeze(-1) * two_bit_levels(c, y.dtype)
    return (r * r).sum(dim=-1)


def least_squares_two_bit_scale(y: Tensor, codes: Tensor) -> Tensor:
    """a = ⟨y, ℓ⟩/‖ℓ‖² for fixed codes (‖ℓ‖² ≥ d > 0), clamped at 0."""
    lev = two_bit_levels(codes, y.dtype)
    return ((y * lev).sum(dim=-1) / (lev * lev).sum(dim=-1)).clamp_min(0)


def exact_two_bit_scale(y: Tensor) -> Tensor:
    """argmin_a ‖y − Q_a(y)‖² over all a ≥ 0 (nearest-level codes), by the sorted enumeration of the
    module docstring."""
    d = y.shape[-1]
    mag = y.abs().sort(dim=-1, descending=True).values
    top = torch.nn.functional.pad(mag.cumsum(dim=-1), (1, 0))  # sum of the m largest, m = 0 … d
    total = top[..., -1:]
    m = torch.arange(d + 1, dtype=y.dtype, device=y.device)
    num = 3 * top + (total - top)
    den = 9 * m + (d - m)
    best = (num * num / den).argmax(dim=-1, keepdim=True)
    return (num.gather(-1, best) / den.expand_as(num).gather(-1, best)).squeeze(-1)


def lloyd_two_bit_scale(y: Tensor, init_scale: Tensor, iterations: int) -> tuple[Tensor, list[Tensor]]:
    """Lloyd iterations from ``init_scale``: (scale, per-vector error after the init and after each
    iteration). Each error is ≤ the one before (assignment and least-squares scale each minimise it
    with the other held)."""
    a = init_scale.to(y.dtype)
    errors = [two_bit_error(y, a)]
    for _ in range(iterations):
        codes = nearest_two_bit_codes(y, a)
        a_new = least_squares_two_bit_scale(y, codes)
        # Rounding can make a step worse by an ulp: keep the better scale so the trace is monotone.
        e_new = two_bit_error(y, a_new)
        keep = e_new <= errors[-1]
        a = torch.where(keep, a_new, a)
        errors.append(torch.where(keep, e_new, errors[-1]))
    return a, errors


def fit_two_bit_scale(y: Tensor, iterations: int = 4) -> Tensor:
    """The 2-bit scale per vector: Lloyd iterations from the exact minimiser (float32 or float64)."""
    y = y if y.dtype == torch.float64 else y.to(torch.float32)
    a, _ = lloyd_two_bit_scale(y, exact_two_bit_scale(y), iterations)
    return a


@dataclass(frozen=True)
class TwoBitQuantized:
    """Stored form of 2-bit vectors: ``codes`` uint8 (..., ceil(d/4)), ``scale`` float16 (...)."""

    codes: Tensor
    scale: Tensor
    d: int

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.codes, self.scale))


def quantize_two_bit(y: Tensor, iterations: int = 4) -> TwoBitQuantized:
    """Fit the scale, round it to fp16, and store the nearest codes for the rounded scale."""
    if not bool(torch.isfinite(y).all()):
        raise ValueError("cannot quantize non-finite values")
    y32 = y.to(torch.float32)
    a = fit_two_bit_scale(y32, iterations)
    if a.numel() and float(a.max()) > _FP16_MAX:
        raise ValueError(f"a scale {float(a.max()):.4g} overflows float16")
    a16 = a.to(torch.float16)
    codes = nearest_two_bit_codes(y32, a16.to(torch.float32))
    return TwoBitQuantized(codes=pack_two_bit_codes(codes), scale=a16, d=y.shape[-1])


def dequantize_two_bit(q: TwoBitQuantized, dtype: torch.dtype = torch.float32) -> Tensor:
    """a·ℓ, shape (..., d)."""
    return two_bit_levels(unpack_two_bit_codes(q.codes, q.d), dtype) * q.scale.to(dtype).unsqueeze(-1)


def quantize_dequantize(y: Tensor, bits: int) -> Tensor:
    """Q(y) as read back from storage (fp16 scales), for 1 or 2 bits."""
    if bits == 1:
        return dequantize(quantize(y), y.dtype)
    if bits == 2:
        return dequantize_two_bit(quantize_two_bit(y), y.dtype)
    raise ValueError(f"value bits must be one of {VALUE_BITS}, got {bits}")


def _frozen_code_reconstruction(y: Tensor, bits: int) -> Tensor:
    """Q(y) = a(y)·ℓ with the levels ℓ held constant (straight through the code assignment) and the
    least-squares scale a(y) = ⟨y, ℓ⟩/‖ℓ‖² differentiated: the exact gradient wherever the codes do
    not change (almost everywhere). The forward value is Q(y) with an unrounded (float32) scale."""
    with torch.no_grad():
        if bits == 1:
            lev = torch.where(y >= 0, 1.0, -1.0).to(y.dtype)
        elif bits == 2:
            lev = two_bit_levels(nearest_two_bit_codes(y, fit_two_bit_scale(y)), y.dtype)
        else:
            raise ValueError(f"value bits must be one of {VALUE_BITS}, got {bits}")
    a = (y * lev).sum(dim=-1, keepdim=True) / (lev * lev).sum(dim=-1, keepdim=True)
    return a * lev


# -- transforms -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValueTransform:
    """y = R_V(v − μ_V) on the scope's value vectors: ``rotation`` (d×d orthogonal), an SRHT
    ``srht_seed``, or neither; ``mean`` μ_V (d,) or None when not centering (then nothing is stored)."""

    d: int
    mean: Tensor | None = None
    rotation: Tensor | None = None
    srht_seed: int | None = None
    scope: str = "all_kv_heads"
    label: str = "none"

    def __post_init__(self):
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")
        if self.rotation is not None and self.srht_seed is not None:
            raise ValueError("give a rotation matrix or an SRHT seed, not both")
        for name, t, shape in (("mean", self.mean, (self.d,)), ("rotation", self.rotation, (self.d, self.d))):
            if t is not None and tuple(t.shape) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")

    def forward(self, v: Tensor) -> Tensor:
        x = v.to(torch.float32)
        if self.mean is not None:
            x = x - self.mean.to(torch.float32)
        if self.rotation is not None:
            return x @ self.rotation.to(torch.float32).T
        if self.srht_seed is not None:
            return srht(x, self.srht_seed)
        return x

    def inverse(self, y: Tensor) -> Tensor:
        if self.rotation is not None:
            x = y @ self.rotation.to(torch.float32)
        elif self.srht_seed is not None:
            x = srht_inverse(y, self.srht_seed)
        else:
            x = y
        return x if self.mean is None else x + self.mean.to(torch.float32)

    def metadata_nbytes(self) -> int:
        """Bytes kept per layer besides per-token data: μ_V, R_V (or the 8-byte seed), from tensors."""
        n = 0 if self.mean is None else self.mean.numel() * self.mean.element_size()
        if self.rotation is not None:
            n += self.rotation.numel() * self.rotation.element_size()
        elif self.srht_seed is not None:
            n += 8
        return n


def value_vectors(values: Tensor, scope: str) -> Tensor:
    """Rows (n, d) of the scope from values (n_tokens, kv_heads, head_dim)."""
    if scope == "all_kv_heads":
        return values.reshape(values.shape[0], -1)
    if scope == "head_dim":
        return values.reshape(-1, values.shape[-1])
    raise ValueError(f"scope must be one of {SCOPES}")


def learn_value_rotation_cosine(values: Tensor, steps: int, seed: int, center: bool = True, *,
                                scope: str = "all_kv_heads", lr: float = 1e-3) -> ValueTransform:
    """R_V maximising the mean one-bit cosine of R_V(v − μ_V) over calibration values
    (n_tokens, kv_heads, head_dim): the key pipeline's learner applied to V."""
    rows = value_vectors(values.to(torch.float32), scope)
    res = learn_rotation(rows, steps=steps, seed=seed, center=center, lr=lr)
    return ValueTransform(d=rows.shape[1], mean=res.mean.float() if center else None,
                          rotation=res.rotation.float().contiguous(), scope=scope, label="learned_cosine")


@dataclass(frozen=True)
class AttentionErrorFit:
    """What :func:`learn_value_rotation_attention` returns: the transform and the mean attention-output
    error E‖P(V − V̂)‖² per query (heads × windows × tokens) at step 0 and after each step."""

    transform: ValueTransform
    trace: tuple[float, ...]
    orthogonality_error: float


def _attention_output_error(r: Tensor, v: Tensor, mean: Tensor | None, probs: Tensor, bits: int,
                            scope: str, groups: int) -> Tensor:
    """Mean over queries of ‖Σ_t P[q, t](v_t − v̂_t)‖² for V̂ = Rᵀ Q(R(v − μ)) + μ.
    v: (w, kv_heads, T, hd); probs: (w, heads, T, T)."""
    w, kvh, t, hd = v.shape
    rows = v.transpose(1, 2).reshape(w, t, kvh * hd) if scope == "all_kv_heads" else v
    if mean is not None:
        rows = rows - mean
    y = rows @ r.T
    resid = (y - _frozen_code_reconstruction(y, bits)) @ r  # v − v̂ in the original coordinates
    if scope == "all_kv_heads":
        resid = resid.reshape(w, t, kvh, hd).transpose(1, 2)
    resid = resid.repeat_interleave(groups, dim=1)  # query head h reads KV head h // groups
    out = probs @ resid
    return (out * out).sum(dim=-1).mean()


def learn_value_rotation_attention(values: Tensor, probs: Tensor, bits: int, steps: int, seed: int, *,
                                   center: bool = True, scope: str = "all_kv_heads", lr: float = 2e-3,
                                   init: str = "identity") -> AttentionErrorFit:
    """R_V minimising E‖P(V − V̂)‖², V̂ = R_Vᵀ Q(R_V(V − μ_V)) + μ_V, on calibration windows.

    ``values`` (windows, kv_heads, T, head_dim) and ``probs`` (windows, heads, T, T) are the real
    causal attention probabilities of the same windows. R_V = Cayley(W − Wᵀ)·R₀ (W = 0 at start,
    R₀ from ``init`` and ``seed``), Adam on W, full batch. The quantizer's codes are held constant in
    the backward pass and its least-squares scale is differentiated (see
    ``_frozen_code_reconstruction``). The identity straight-through estimator (∂Q/∂y = I) is not used:
    it makes V − V̂ = −Rᵀ·sg(Q(y) − y), a residual whose size ignores R, so the loss ‖P_h E_h R‖ for
    ``head_dim`` scope does not depend on R at all and gives no learning signal. Deterministic.
    """
    w, kvh, t, hd = values.shape
    groups = probs.shape[1] // kvh
    v = values.detach().to(torch.float32)
    p = probs.detach().to(torch.float32)
    d = kvh * hd if scope == "all_kv_heads" else hd
    rows = value_vectors(v.transpose(1, 2).reshape(w * t, kvh, hd), scope)
    mean = rows.mean(dim=0) if center else None
    base = initial_rotation(d, init, seed, torch.float64).to(torch.float32)
    wp = torch.zeros(d, d, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([wp], lr=lr)
    trace: list[float] = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        r = cayley(wp - wp.T) @ base
        loss = _attention_output_error(r, v, mean, p, bits, scope, groups)
        trace.append(float(loss.detach()))
        loss.backward()
        opt.step()
    with torch.no_grad():
        rot = (cayley((wp - wp.T).to(torch.float64)) @ base.to(torch.float64)).to(torch.float32)
        trace.append(float(_attention_output_error(rot, v, mean, p, bits, scope, groups)))
    transform = ValueTransform(d=d, mean=None if mean is None else mean.detach().clone(), rotation=rot.contiguous(),
                               scope=scope, label=f"learned_attention_{bits}bit")
    return AttentionErrorFit(transform=transform, trace=tuple(trace), orthogonality_error=orthogonality_error(rot))


def attention_output_error(transform: ValueTransform, values: Tensor, probs: Tensor, bits: int) -> float:
    """E‖P(V − V̂)‖² per query for a given transform (its matrix form), as the attention learner scores it."""
    kvh = values.shape[1]
    d = transform.d
    if transform.rotation is not None:
        r = transform.rotation.to(torch.float32)
    elif transform.srht_seed is not None:
        r = srht(torch.eye(d), transform.srht_seed).T.contiguous()
    else:
        r = torch.eye(d)
    with torch.no_grad():
        return float(_attention_output_error(r, values.float(), transform.mean, probs.float(), bits, transform.scope,
                                             probs.shape[1] // kvh))


# -- recording attention inputs -------------------------------------------------------------------
@dataclass(frozen=True)
class AttentionInputs:
    """One layer's attention inputs as the attention function receives them (post-RoPE, before
    repeat_kv): queries (w, heads, T, hd), keys and values (w, kv_heads, T, hd), and the logit scale."""

    queries: Tensor
    keys: Tensor
    values: Tensor
    scaling: float

    def probabilities(self) -> Tensor:
        """Causal softmax(q·kᵀ·scaling) (w, heads, T, T) for windows scored from position 0 (no padding)."""
        groups = self.queries.shape[1] // self.keys.shape[1]
        k = self.keys.float().repeat_interleave(groups, dim=1)
        logits = self.queries.float() @ k.transpose(-1, -2) * self.scaling
        t_q, t_k = logits.shape[-2:]
        mask = torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=t_k - t_q)
        return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)


_RECORDING_PREFIX = "moegauge_recording_"
_ACTIVE_RECORDS: list[dict[int, list[tuple[Tensor, Tensor, Tensor, float]]]] = []


def _recording_name(base: str) -> str:
    """Register (once) an attention function that records its inputs, then runs ``base``."""
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, AttentionInterface

    name = _RECORDING_PREFIX + base
    if name in ALL_ATTENTION_FUNCTIONS:
        return name

    def recording_attention(module, query, key, value, attention_mask, **kwargs):
        if _ACTIVE_RECORDS:
            _ACTIVE_RECORDS[-1].setdefault(module.layer_idx, []).append(
                (query.detach().cpu(), key.detach().cpu(), value.detach().cpu(), float(kwargs["scaling"])))
        if base == "eager":  # eager is not in the interface: it is the model module's own function
            delegate = sys.modules[type(module).__module__].eager_attention_forward
        else:
            delegate = ALL_ATTENTION_FUNCTIONS[base]
        return delegate(module, query, key, value, attention_mask, **kwargs)

    AttentionInterface.register(name, recording_attention)
    AttentionMaskInterface.register(name, ALL_MASK_ATTENTION_FUNCTIONS[base])
    return name


@contextmanager
def _recording(model) -> Iterator[dict]:
    base = model.config._attn_implementation
    records: dict = {}
    model.set_attn_implementation(_recording_name(base))
    _ACTIVE_RECORDS.append(records)
    try:
        yield records
    finally:
        _ACTIVE_RECORDS.pop()
        model.set_attn_implementation(base)


@torch.no_grad()
def record_attention_inputs(model, windows: Tensor, batch_size: int = 4) -> list[AttentionInputs]:
    """Per layer, the queries, keys and values attention receives for ``windows`` [n, T] (no cache,
    full-precision keys), through an attention function registered with transformers'
    ``AttentionInterface`` that records its inputs and then runs the model's own implementation.
    Memory: O(layers · n · T · width); pass few windows."""
    with _recording(model) as records:
        for start in range(0, windows.shape[0], batch_size):
            model(input_ids=windows[start : start + batch_size], use_cache=False, logits_to_keep=1)
    out = []
    for layer in sorted(records):
        parts = records[layer]
        out.append(AttentionInputs(queries=torch.cat([p[0] for p in parts]), keys=torch.cat([p[1] for p in parts]),
                                   values=torch.cat([p[2] for p in parts]), scaling=parts[0][3]))
    return out


# -- the cache ------------------------------------------------------------------------------------
def _to_vectors(x: Tensor, scope: str) -> Tensor:
    b, h, s, hd = x.shape
    return x.transpose(1, 2).reshape(b, s, h * hd) if scope == "all_kv_heads" else x


def _from_vectors(y: Tensor, scope: str, b: int, h: int, hd: int) -> Tensor:
    return y.reshape(b, -1, h, hd).transpose(1, 2) if scope == "all_kv_heads" else y


def _nbytes(ts: list[Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in ts)


class QuantizedKVLayer(DynamicLayer):
    """One layer: keys 1-bit (α·sign of R_K(k − μ_K), as ``OneBitKLayer``) or stored as ``key_dtype``
    when ``key_transform`` is None; values quantized to ``value_bits`` after their transform, or kept
    as y in float16/float32 for ``value_bits`` 16/32. ``update`` returns the dense dequantized K and V
    of every stored token."""

    def __init__(self, key_transform: KeyTransform | None, value_transform: ValueTransform, value_bits: int,
                 key_dtype: torch.dtype = torch.float16):
        super().__init__()
        if value_bits not in VALUE_BITS and value_bits not in FLOAT_VALUE_BITS:
            raise ValueError(f"value_bits must be one of {VALUE_BITS + tuple(FLOAT_VALUE_BITS)}, got {value_bits}")
        self.key_transform, self.value_transform = key_transform, value_transform
        self.value_bits, self.key_dtype = value_bits, key_dtype
        self.cumulative_length = 0
        self.batch_size = 0
        self._key_bits: list[Tensor] = []
        self._key_scales: list[Tensor] = []
        self._key_float: list[Tensor] = []
        self._value_codes: list[Tensor] = []
        self._value_scales: list[Tensor] = []
        self._value_float: list[Tensor] = []
        self._shape: tuple[int, int] | None = None

    def lazy_initialization(self, key_states: Tensor, value_states: Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self._shape = (key_states.shape[1], key_states.shape[3])
        self.batch_size = key_states.shape[0]
        self.is_initialized = True

    def _store_keys(self, key_states: Tensor) -> Tensor:
        b = key_states.shape[0]
        h, hd = self._shape
        if self.key_transform is None:
            self._key_float.append(key_states.to(self.key_dtype))
            return torch.cat(self._key_float, dim=-2).to(key_states.dtype)
        kt = self.key_transform
        q = quantize(kt.forward(_to_vectors(key_states, kt.scope)))
        self._key_bits.append(q.bits)
        self._key_scales.append(q.scale)
        stored = SignQuantized(bits=torch.cat(self._key_bits, dim=-2), scale=torch.cat(self._key_scales, dim=-1), d=q.d)
        return _from_vectors(kt.inverse(dequantize(stored, torch.float32)), kt.scope, b, h, hd).to(key_states.dtype)

    def _store_values(self, value_states: Tensor) -> Tensor:
        b = value_states.shape[0]
        h, hd = self._shape
        vt = self.value_transform
        y = vt.forward(_to_vectors(value_states, vt.scope))
        if self.value_bits in FLOAT_VALUE_BITS:
            self._value_float.append(y.to(FLOAT_VALUE_BITS[self.value_bits]))
            y_all = torch.cat(self._value_float, dim=-2).to(torch.float32)
        elif self.value_bits == 1:
            q = quantize(y)
            self._value_codes.append(q.bits)
            self._value_scales.append(q.scale)
            y_all = dequantize(SignQuantized(bits=torch.cat(self._value_codes, dim=-2),
                                             scale=torch.cat(self._value_scales, dim=-1), d=q.d), torch.float32)
        else:
            q = quantize_two_bit(y)
            self._value_codes.append(q.codes)
            self._value_scales.append(q.scale)
            y_all = dequantize_two_bit(TwoBitQuantized(codes=torch.cat(self._value_codes, dim=-2),
                                                       scale=torch.cat(self._value_scales, dim=-1), d=q.d))
        return _from_vectors(vt.inverse(y_all), vt.scope, b, h, hd).to(value_states.dtype)

    def update(self, key_states: Tensor, value_states: Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self.cumulative_length += key_states.shape[-2]
        return self._store_keys(key_states), self._store_values(value_states)

    def get_seq_length(self) -> int:
        return self.cumulative_length

    def token_elements(self) -> int:
        """K (or V) elements of the stored tokens: batch × tokens × kv_heads × head_dim."""
        if not self.is_initialized:
            return 0
        h, hd = self._shape
        return self.batch_size * self.cumulative_length * h * hd

    def stored_nbytes(self) -> dict[str, int]:
        """Bytes held by this layer's stored tensors, by part (K: key_*, metadata; V: value_*)."""
        return {
            "key_bits": _nbytes(self._key_bits),
            "key_scales": _nbytes(self._key_scales),
            "key_float": _nbytes(self._key_float),
            "metadata": 0 if self.key_transform is None else self.key_transform.metadata_nbytes(),
            "value_codes": _nbytes(self._value_codes),
            "value_scales": _nbytes(self._value_scales),
            "value_float": _nbytes(self._value_float),
            "value_metadata": self.value_transform.metadata_nbytes(),
        }

    def stored_tensors(self) -> dict[str, list[Tensor]]:
        """The per-token stored tensors by part (for checking ``stored_nbytes`` against them)."""
        return {"key_bits": self._key_bits, "key_scales": self._key_scales, "key_float": self._key_float,
                "value_codes": self._value_codes, "value_scales": self._value_scales, "value_float": self._value_float}

    def reset(self) -> None:
        for parts in self.stored_tensors().values():
            parts.clear()
        self.cumulative_length = 0
        self.is_initialized = False

    def crop(self, tokens_to_remove: int) -> None:  # pragma: no cover - not used by greedy generation
        raise NotImplementedError("the quantized KV cache does not support cropping")


class QuantizedKVCache(Cache):
    """Every layer a :class:`QuantizedKVLayer`: 1-bit keys with ``key_transforms`` (or keys stored as
    ``key_dtype`` when None, to isolate V's effect) and values at ``value_bits`` with ``value_transforms``."""

    def __init__(self, key_transforms: list[KeyTransform] | None, value_transforms: list[ValueTransform],
                 value_bits: int, key_dtype: torch.dtype = torch.float16):
        if key_transforms is not None and len(key_transforms) != len(value_transforms):
            raise ValueError("one key transform per value transform (per layer)")
        keys = key_transforms if key_transforms is not None else [None] * len(value_transforms)
        super().__init__(layers=[QuantizedKVLayer(kt, vt, value_bits, key_dtype) for kt, vt in zip(keys, value_transforms)])

    def stored_nbytes(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for layer in self.layers:
            for name, n in layer.stored_nbytes().items():
                total[name] = total.get(name, 0) + n
        return total


def kv_compression(cache: QuantizedKVCache) -> dict[str, float]:
    """fp16 bytes / stored bytes of the K part, the V part and both, for what ``cache`` holds now
    (after a forward of T tokens): fp16 = 2 bytes per K (or V) element of every stored token; stored
    = the cache's tensors, metadata included (split by :func:`moegauge.cache.accounting.split_key_value_bytes`)."""
    from .accounting import split_key_value_bytes

    k_bytes, v_bytes = split_key_value_bytes(cache.stored_nbytes())
    elements = sum(layer.token_elements() for layer in cache.layers)
    if elements == 0:
        raise ValueError("the cache holds no tokens")
    fp16 = 2 * elements
    return {"tokens": cache.layers[0].cumulative_length, "fp16_bytes": 2 * fp16, "stored_bytes": k_bytes + v_bytes,
            "key_bytes": k_bytes, "value_bytes": v_bytes, "key_compression": fp16 / k_bytes,
            "value_compression": fp16 / v_bytes, "kv_compression": 2 * fp16 / (k_bytes + v_bytes)}


# -- the ablation grid ----------------------------------------------------------------------------
@dataclass(frozen=True)
class VAblationConfig:
    """One cell of the grid: K (``fp16`` or ``1bit_learned``) × V (``fp16`` or bits × transform)."""

    name: str
    key: str
    value: str
    value_bits: int
    key_transforms: list[KeyTransform] | None
    value_transforms: list[ValueTransform]

    def cache(self) -> QuantizedKVCache:
        return QuantizedKVCache(self.key_transforms, self.value_transforms, self.value_bits)


@dataclass
class VAblationCalibration:
    """Per-layer learned transforms and their fit records (traces, orthogonality errors)."""

    key_transforms: list[KeyTransform]
    value_cosine: list[ValueTransform]
    value_attention: dict[int, list[ValueTransform]]
    records: dict = field(default_factory=dict)


def calibrate_v_ablation(model, calibration_windows: Tensor, *, scope: str = "all_kv_heads", seed: int = 0,
                         key_steps: int = 200, cosine_steps: int = 200, attention_steps: int = 300,
                         center_values: bool = True, cosine_lr: float = 1e-3, attention_lr: float = 2e-3,
                         log: Callable[[str], None] | None = None) -> VAblationCalibration:
    """Record the calibration windows' attention inputs and learn, per layer: the centered 1-bit K
    rotation (one-bit cosine), R_V for the one-bit cosine of V, and R_V for the attention-output
    error at 1 and 2 bits. Seeds: ``seed + layer``."""
    inputs = record_attention_inputs(model, calibration_windows)
    keys_t, cos_t, att_t = [], [], {b: [] for b in VALUE_BITS}
    records: dict = {}
    for layer, rec in enumerate(inputs):
        w, kvh, t, hd = rec.values.shape
        k_rows = value_vectors(rec.keys.transpose(1, 2).reshape(w * t, kvh, hd).float(), scope)
        kres = learn_rotation(k_rows, steps=key_steps, seed=seed + layer, center=True, lr=cosine_lr)
        keys_t.append(KeyTransform(mean=kres.mean.float(), rotation=kres.rotation.float().contiguous(), scope=scope,
                                   label="learned_centered"))
        v_tokens = rec.values.transpose(1, 2).reshape(w * t, kvh, hd)
        cos_t.append(learn_value_rotation_cosine(v_tokens, cosine_steps, seed + layer, center_values, scope=scope,
                                                 lr=cosine_lr))
        probs = rec.probabilities()
        records[f"layer{layer}.key_cosine"] = (kres.trace[0].one_bit_cosine, kres.trace[-1].one_bit_cosine)
        for bits in VALUE_BITS:
            fit = learn_value_rotation_attention(rec.values, probs, bits, attention_steps, seed + layer,
                                                 center=center_values, scope=scope, lr=attention_lr)
            att_t[bits].append(fit.transform)
            records[f"layer{layer}.attention_{bits}bit"] = {
                "error_identity_centered": fit.trace[0], "error_learned": fit.trace[-1],
                "error_none": attention_output_error(ValueTransform(d=fit.transform.d, scope=scope), rec.values, probs, bits),
                "error_learned_cosine": attention_output_error(cos_t[-1], rec.values, probs, bits),
                "orthogonality_error": fit.orthogonality_error}
            if log:
                log(f"layer {layer} {bits}-bit V attention error: identity {fit.trace[0]:.4g} → {fit.trace[-1]:.4g}")
        del probs
    return VAblationCalibration(key_transforms=keys_t, value_cosine=cos_t, value_attention=att_t, records=records)


def v_ablation_configs(calibration: VAblationCalibration, model_config, *, scope: str = "all_kv_heads",
                       srht_seed: int = 0) -> list[VAblationConfig]:
    """The grid: K ∈ {fp16, 1-bit learned centered} × V ∈ {fp16} ∪ {1, 2 bits} × {none, SRHT,
    learned cosine, learned attention error}: 18 configs."""
    layers, kv_heads, head_dim = kv_geometry(model_config)
    d = kv_heads * head_dim if scope == "all_kv_heads" else head_dim
    value_kinds: list[tuple[str, int, list[ValueTransform]]] = [
        ("fp16", 16, [ValueTransform(d=d, scope=scope) for _ in range(layers)])]
    for bits in VALUE_BITS:
        value_kinds += [
            (f"{bits}bit_none", bits, [ValueTransform(d=d, scope=scope) for _ in range(layers)]),
            (f"{bits}bit_srht", bits, [ValueTransform(d=d, srht_seed=srht_seed, scope=scope, label="srht")
                                       for _ in range(layers)]),
            (f"{bits}bit_learned_cosine", bits, calibration.value_cosine),
            (f"{bits}bit_learned_attention", bits, calibration.value_attention[bits]),
        ]
    out = []
    for key_name, key_t in (("fp16", None), ("1bit_learned", calibration.key_transforms)):
        for value_name, bits, vts in value_kinds:
            out.append(VAblationConfig(name=f"K_{key_name}__V_{value_name}", key=key_name, value=value_name,
                                       value_bits=bits, key_transforms=key_t, value_transforms=vts))
    return out


def score_v_ablation(model, configs: list[VAblationConfig], heldout_windows: Tensor, *,
                     compression_tokens: tuple[Tensor, ...] = ()) -> list[dict]:
    """Per config: held-out NLL and bits per token (bits per byte for a byte-level model) through the
    config's cache, and for each 1-window token tensor in ``compression_tokens`` the
    :func:`kv_compression` of the cache after a forward of it (metadata amortised over its T tokens)."""
    from ..lm.model import cache_kwargs
    from ..lm.perplexity import score_windows

    rows = []
    for cfg in configs:
        # one window at a time, so paired per-window differences between configs can be formed
        scores = [score_windows(model, heldout_windows[i : i + 1], 1, cfg.cache) for i in range(heldout_windows.shape[0])]
        nll, tokens = sum(s.nll for s in scores), sum(s.tokens for s in scores)
        row = {"name": cfg.name, "key": cfg.key, "value": cfg.value, "value_bits": cfg.value_bits,
               "nll": nll, "tokens": tokens, "bits_per_token": nll / tokens / math.log(2),
               "window_bits_per_token": [s.bits_per_byte for s in scores]}
        for tokens in compression_tokens:
            cache = cfg.cache()
            with torch.no_grad():
                model(input_ids=tokens.reshape(1, -1), logits_to_keep=1, **cache_kwargs(model, cache))
            row[f"compression_T{tokens.numel()}"] = kv_compression(cache)
        rows.append(row)
    return rows
