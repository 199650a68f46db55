"""Shared test configuration: deterministic Hypothesis and torch everywhere.

CI must be deterministic, so Hypothesis is derandomised (its seed derives from the test) and keeps
no example database; set HYPOTHESIS_PROFILE=explore locally for a randomised, longer search.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    derandomize=False,
    deadline=None,
    max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seed_torch():
    """Every test starts from the same torch RNG state and thread count."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        yield
        return
    torch.manual_seed(0)
    torch.set_num_threads(2)
    yield
