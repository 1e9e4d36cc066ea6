"""Fixtures for the operator's tests on the real control plane (tests/conftest.py starts it once per session)."""

from __future__ import annotations

import pytest

from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import apply_crd


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def crd(control_plane: ControlPlane) -> None:
    """The working tree's ModelRollout CRD on the control plane, Established (create or replace: cheap)."""
    with control_plane.api_client() as api_client:
        apply_crd(api_client)
