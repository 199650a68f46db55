"""Key files: safetensors holding one layer's K cache, loaded and validated at the edge.

Format: a safetensors file with a floating-point tensor (default name ``keys``) shaped
(tokens, kv_heads, head_dim), or (tokens, d) for a single head. String metadata is free-form.
Any problem — missing file, not safetensors, no such tensor, wrong rank or dtype, NaN/inf, fewer than
two tokens — raises :class:`moegauge.errors.InputError` naming the file.

``d`` is the dimension being rotated (ARCHITECTURE glossary), by :data:`DIM_MEANINGS`:
``head_dim`` — each head's key is one vector (tokens·heads vectors of size head_dim);
``all_kv_heads`` — a token's heads concatenated (tokens vectors of size heads·head_dim).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .atomic import atomic_path
from .choices import DIM_MEANINGS
from .errors import InputError

DEFAULT_TENSOR = "keys"


@dataclass(frozen=True)
class KeyFile:
    """A validated key tensor: ``keys`` is (tokens, heads, head_dim), float32 or float64."""

    path: Path
    tensor: str
    keys: Tensor

    @property
    def tokens(self) -> int:
        return self.keys.shape[0]

    @property
    def heads(self) -> int:
        return self.keys.shape[1]

    @property
    def head_dim(self) -> int:
        return self.keys.shape[2]

    def vectors(self, dim_meaning: str = "head_dim") -> Tensor:
        """The key vectors as rows (n, d) for ``dim_meaning`` in :data:`DIM_MEANINGS`."""
        if dim_meaning == "head_dim":
            return self.keys.reshape(-1, self.head_dim)
        if dim_meaning == "all_kv_heads":
            return self.keys.reshape(self.tokens, -1)
        raise ValueError(f"dim_meaning must be one of {DIM_MEANINGS}, got {dim_meaning!r}")


def load_keys(path: str | Path, tensor: str | None = None) -> KeyFile:
    """Load and validate a key file (see the module docstring). Half precision is widened to float32,
    float32 to float64 when its squares would leave the float32 range.

    ``tensor`` defaults to ``keys``, or to the only tensor when the file holds exactly one.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a regular file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            names = list(fh.keys())
            name = tensor
            if name is None:
                name = DEFAULT_TENSOR if DEFAULT_TENSOR in names or len(names) != 1 else names[0]
            if name not in names:
                found = ", ".join(sorted(names)) or "none"
                raise InputError(path, f"no tensor named {name!r} (found: {found})")
            keys = fh.get_tensor(name)
    except InputError:
        raise
    except Exception as exc:  # safetensors raises its own error types, OSError, ...
        raise InputError(path, f"not a readable safetensors file ({exc})") from None
    return KeyFile(path=path, tensor=name, keys=validate_keys(keys, path, name))


def validate_keys(keys: Tensor, path: str | Path, name: str = DEFAULT_TENSOR) -> Tensor:
    """Check shape, dtype and finiteness; return (tokens, heads, head_dim) float32/float64.

    Keys whose squares would overflow (or vanish in) float32 are widened to float64, so their moments
    are computed rather than reported as NaN; keys out of float64's range are refused, naming the file.
    """
    if not keys.is_floating_point():
        raise InputError(path, f"tensor {name!r} has dtype {keys.dtype}, expected a floating-point dtype")
    if keys.dim() == 2:
        keys = keys.unsqueeze(1)
    if keys.dim() != 3:
        raise InputError(
            path,
            f"tensor {name!r} has shape {tuple(keys.shape)}, expected (tokens, heads, head_dim) or (tokens, d)",
        )
    if min(keys.shape) < 1 or keys.shape[0] < 2:
        raise InputError(path, f"tensor {name!r} has shape {tuple(keys.shape)}, need at least 2 tokens and non-empty dims")
    bad = int((~torch.isfinite(keys)).sum())
    if bad:
        raise InputError(path, f"tensor {name!r} contains {bad} NaN/inf value(s)")
    if keys.dtype != torch.float64:
        keys = keys.to(torch.float64 if needs_float64(keys) else torch.float32)
    if needs_wider_than_float64(keys):
        amax = float(keys.abs().max())
        raise InputError(path, f"tensor {name!r} has values up to |x| = {amax:.3g}: their squares overflow "
                               "float64, so β and the one-bit cosine cannot be computed; rescale the keys")
    return keys.contiguous()


def _squares_overflow(keys: Tensor, dtype: torch.dtype) -> bool:
    """Would a sum of ``keys``' squares (or the squares of its tiniest nonzero maximum) leave ``dtype``'s
    normal range? Checked in float64 on the largest magnitude, with the element count as headroom."""
    amax = float(keys.detach().abs().max().to(torch.float64)) if keys.numel() else 0.0
    info = torch.finfo(dtype)
    if amax == 0.0:
        return False
    squares = amax * amax
    return squares * max(keys.numel(), 1) >= info.max / 16 or squares <= info.tiny * 16


def needs_float64(keys: Tensor) -> bool:
    """True when float32 moments of ``keys`` would overflow (|x| ≳ 1e15) or underflow to zero
    (|x| ≲ 1e-18): such keys are measured in float64 instead of being reported as NaN."""
    return _squares_overflow(keys, torch.float32)


def needs_wider_than_float64(keys: Tensor) -> bool:
    """True when even float64 moments of ``keys`` would overflow or underflow."""
    return _squares_overflow(keys, torch.float64)


def require_nonzero_vectors(vectors: Tensor, path: str | Path) -> None:
    """Refuse all-zero key vectors: their β and one-bit cosine are undefined."""
    zero = int((vectors.abs().amax(dim=-1) == 0).sum())
    if zero:
        raise InputError(path, f"{zero} key vector(s) are all zero (one-bit cosine undefined)")


def save_keys(path: str | Path, keys: Tensor, *, tensor: str = DEFAULT_TENSOR, metadata: dict[str, str] | None = None) -> Path:
    """Write a key file atomically (for capture code, fixtures and tests)."""
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({tensor: keys.detach().contiguous().cpu()}, str(tmp), metadata=metadata)
    return Path(path)
