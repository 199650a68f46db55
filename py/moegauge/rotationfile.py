"""Rotation files: a learned rotation and its centering, stored as safetensors.

Tensors ``rotation`` (d, d) and ``mean`` (d,); metadata ``centering`` and ``dim_meaning``. The
rotated keys are ``(keys - mean) @ rotation.T`` (per-channel centering) or the per-vector /
uncentered variants named by ``centering``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .atomic import atomic_path
from .centering import CENTERINGS
from .errors import InputError
from .rotation import orthogonality_error

#: A stored rotation further than this from orthogonal (max |RᵀR − I|) is refused.
ORTHOGONALITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class RotationFile:
    path: Path
    rotation: Tensor
    mean: Tensor
    centering: str
    dim_meaning: str


def save_rotation(path: str | Path, rotation: Tensor, mean: Tensor, centering: str, dim_meaning: str) -> Path:
    """Write a rotation file atomically."""
    from safetensors.torch import save_file

    tensors = {"rotation": rotation.detach().contiguous().cpu(), "mean": mean.detach().contiguous().cpu()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"centering": centering, "dim_meaning": dim_meaning})
    return Path(path)


def load_rotation(path: str | Path) -> RotationFile:
    """Load and validate a rotation file; :class:`InputError` names the file and the problem."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            names = set(fh.keys())
            if not {"rotation", "mean"} <= names:
                raise InputError(path, "a rotation file needs tensors 'rotation' and 'mean'")
            rot, mean = fh.get_tensor("rotation"), fh.get_tensor("mean")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, f"not a readable safetensors file ({exc})") from None
    if rot.dim() != 2 or rot.shape[0] != rot.shape[1] or mean.shape != (rot.shape[0],):
        raise InputError(path, f"rotation {tuple(rot.shape)} and mean {tuple(mean.shape)} do not fit (d, d) and (d,)")
    if not (rot.is_floating_point() and mean.is_floating_point()):
        raise InputError(path, "rotation and mean must be floating point")
    if not (torch.isfinite(rot).all() and torch.isfinite(mean).all()):
        raise InputError(path, "rotation or mean contains NaN/inf")
    err = orthogonality_error(rot)
    if err > ORTHOGONALITY_TOLERANCE:
        raise InputError(path, f"rotation is not orthogonal (max |R^T R - I| = {err:.3g})")
    centering = meta.get("centering", "per_channel")
    if centering not in CENTERINGS:
        raise InputError(path, f"unknown centering {centering!r} in metadata")
    return RotationFile(
        path=path,
        rotation=rot.to(torch.float32) if rot.dtype != torch.float64 else rot,
        mean=mean.to(rot.dtype if rot.dtype == torch.float64 else torch.float32),
        centering=centering,
        dim_meaning=meta.get("dim_meaning", "head_dim"),
    )
