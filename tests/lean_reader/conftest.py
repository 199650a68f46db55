"""Fixtures for the bridge tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def corpus_dir() -> Path:
    return FIXTURES / "corpus"
