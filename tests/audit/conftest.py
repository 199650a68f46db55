"""Fixtures for the audit tests (the builder lives in audit_fixture.py)."""

from __future__ import annotations

import pytest
from audit_fixture import Project, make_project


@pytest.fixture
def project(tmp_path) -> Project:
    return make_project(tmp_path / "proj")
