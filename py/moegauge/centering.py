"""DC-mean centering of keys, by name: subtract a mean before rotating and taking signs.

Two kinds appear in the seeds, and they are different operations:

- ``"per_channel"`` (what the seeds deploy): μ ∈ R^d is the mean of each channel over calibration
  tokens, k ↦ k − μ. μ is layer metadata of fixed size, independent of sequence length, stored once
  and added back on read.
- ``"per_vector"``: each vector's coordinate mean m(k) = (1/d)Σᵢ kᵢ, k ↦ v = k − m(k)·1. Writing
  e = 1/√d for the normalised all-ones direction, k = μ·e + v with μ = ⟨k, e⟩ = √d·m(k) and v ⟂ e,
  so ‖k‖² = μ² + ‖v‖² (``MoEGauge.dc_mean_decomposition_norm``). Costs one scalar per vector.
- ``"none"``: identity (offset zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .choices import CENTERINGS

__all__ = ["CENTERINGS", "Centered", "center", "normalise_centering", "per_channel_mean", "per_vector_mean"]


@dataclass(frozen=True)
class Centered:
    """Centered keys and the offset that was subtracted (``values + offset`` restores the keys).

    ``offset`` broadcasts against the keys: shape (d,) for per_channel and none, (..., 1) — one
    coordinate mean per vector — for per_vector.
    """

    values: Tensor
    offset: Tensor
    method: str

    def restore(self, values: Tensor | None = None) -> Tensor:
        """Add the offset back (to ``values`` if given, e.g. a dequantized reconstruction)."""
        return (self.values if values is None else values) + self.offset


def per_channel_mean(keys: Tensor) -> Tensor:
    """μ ∈ R^d: mean of each channel (last dim) over every leading (token) dim."""
    return keys.reshape(-1, keys.shape[-1]).mean(dim=0)


def per_vector_mean(keys: Tensor) -> Tensor:
    """m(k) = mean of each vector's coordinates, shape (..., 1)."""
    return keys.mean(dim=-1, keepdim=True)


def center(keys: Tensor, method: str, *, mean: Tensor | None = None) -> Centered:
    """Center ``keys`` (..., d) by ``method`` in :data:`CENTERINGS`.

    For ``"per_channel"`` a precomputed ``mean`` (e.g. from calibration keys, applied to held-out
    keys) may be given; otherwise it is computed from ``keys``. ``mean`` is refused for the others.
    """
    if method not in CENTERINGS:
        raise ValueError(f"centering must be one of {CENTERINGS}, got {method!r}")
    if mean is not None and method != "per_channel":
        raise ValueError("a precomputed mean only applies to per_channel centering")
    if method == "none":
        offset = torch.zeros(keys.shape[-1], dtype=keys.dtype, device=keys.device)
        return Centered(values=keys, offset=offset, method=method)
    if method == "per_channel":
        mu = per_channel_mean(keys) if mean is None else mean.to(keys.dtype)
        if mu.shape != (keys.shape[-1],):
            raise ValueError(f"mean must have shape ({keys.shape[-1]},), got {tuple(mu.shape)}")
        return Centered(values=keys - mu, offset=mu, method=method)
    m = per_vector_mean(keys)
    return Centered(values=keys - m, offset=m, method=method)


def normalise_centering(center_arg: bool | str | None) -> str:
    """Map the user-facing ``center=`` argument to a name: True → per_channel, False/None → none."""
    if center_arg is True:
        return "per_channel"
    if center_arg is False or center_arg is None:
        return "none"
    if center_arg in CENTERINGS:
        return str(center_arg)
    raise ValueError(f"center must be a bool or one of {CENTERINGS}, got {center_arg!r}")
