"""MoEGauge: measurement core for 1-bit K-cache quantization of MoE transformers.

The public API is re-exported here lazily (PEP 562), so ``import moegauge`` and
``python -m moegauge --help`` do not pay for importing torch until a function is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {}
for _module, _names in {
    "moments": (
        "beta_moment_ratio", "one_bit_cosine", "head_moments", "HeadMoments", "gauge_G",
        "gauge_from_moments", "beta_standard_error", "beta_se_from_moments",
        "variance_se_from_moments", "excess_kurtosis_se_from_moments", "GAUSSIAN_BETA",
        "GAUSSIAN_ONE_BIT_COSINE",
    ),
    "centering": ("center", "Centered", "per_channel_mean", "per_vector_mean"),
    "choices": ("CENTERINGS", "DIM_MEANINGS", "PARAMETRIZATIONS", "INITS"),
    "hadamard": (
        "srht", "srht_inverse", "fwht", "srht_matrix", "srht_signs", "hadamard_matrix",
        "dct_matrix", "orthogonal_transform_matrix",
    ),
    "rotation": (
        "learn_rotation", "RotationResult", "TraceEntry", "cayley", "orthogonal_map",
        "orthogonality_error", "COSINE_THRESHOLDS",
    ),
    "signquant": (
        "pack_signs", "unpack_signs", "SignQuantized", "quantize", "dequantize",
        "optimal_one_bit_scale", "one_bit_residual_energy",
    ),
    "artifacts": (
        "build_artifact", "write_artifact", "load_artifact", "validate_artifact", "measure",
        "table", "artifact_path",
    ),
    "errors": ("InputError", "ArtifactError"),
    "keyfile": ("load_keys", "save_keys", "KeyFile"),
}.items():
    for _name in _names:
        _EXPORTS[_name] = _module

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'moegauge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
