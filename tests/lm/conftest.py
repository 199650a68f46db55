"""Fixtures of the model tests (the tiny MoE models live in tests/conftest.py, shared with the studies)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def byte_batch() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (2, 24), generator=g)
