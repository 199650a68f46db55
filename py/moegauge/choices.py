"""Names of the options the math accepts, torch-free so the CLI can list them without importing torch."""

from __future__ import annotations

#: DC-mean centerings (see :mod:`moegauge.centering`).
CENTERINGS = ("none", "per_channel", "per_vector")
#: Which d a key vector has (see :mod:`moegauge.keyfile`).
DIM_MEANINGS = ("head_dim", "all_kv_heads")
#: Orthogonal parametrisations of :func:`moegauge.rotation.learn_rotation`.
PARAMETRIZATIONS = ("cayley", "matrix_exp")
#: Optimisers of :func:`moegauge.rotation.learn_rotation` (torch.optim.Adam / torch.optim.RAdam).
OPTIMIZERS = ("adam", "radam")
#: Starting rotations of :func:`moegauge.rotation.learn_rotation`.
INITS = ("identity", "srht", "random")
#: Samples per-head moments are taken over (see :func:`moegauge.moments.head_moments`).
HEAD_MOMENT_REDUCTIONS = ("pooled", "per_channel")
