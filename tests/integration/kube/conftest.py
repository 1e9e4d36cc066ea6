"""Fixtures for the controller's integration tests: model servers (once), an API server and a Scene (per test).

A test runs on the stand-in unless it says otherwise: `ON_BOTH` runs it on the stand-in and on
the real control plane (as `test[stand-in]` and `test[real]`), `REAL_ONLY` on the real one.
The real variants skip, with a line saying how to get the binaries, where there are none.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from controller.local.processes import ProcessGroup
from tests.controlplane import ControlPlane
from tests.integration.kube.backends import Backend, Real, RealCluster, StandIn
from tests.integration.kube.scene import Models, Scene, start_models

__all__ = ["BAD", "GOOD", "ON_BOTH", "REAL_ONLY", "STABLE"]

STABLE, GOOD, BAD = "model:v1", "model:v2", "model:v3-errors"
STAND_IN, REAL = "stand-in", "real"
ON_BOTH = pytest.mark.parametrize("backend", [STAND_IN, REAL], indirect=True)
REAL_ONLY = pytest.mark.parametrize("backend", [REAL], indirect=True)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Models]:
    """A stable model, a good candidate and a candidate answering 15% of requests with 500."""
    group = ProcessGroup(tmp_path_factory.mktemp("models"))
    scenarios = {STABLE: ("stable", "good"), GOOD: ("candidate", "good"), BAD: ("candidate", "errors")}
    try:
        yield asyncio.run(start_models(group, scenarios))
    finally:
        group.stop_all()


@pytest.fixture(scope="session")
def real_cluster(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> RealCluster:
    """The session's control plane with the CRD and install.yaml's RBAC: applied once, as a user installs."""
    return RealCluster(control_plane, tmp_path_factory.mktemp("real-cluster"))


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The stand-in (a fresh one), or a fresh namespace of the real control plane."""
    chosen: Backend
    if getattr(request, "param", STAND_IN) == REAL:
        # Asked for only here, so a session that runs no real variant starts no control plane.
        chosen = Real(request.getfixturevalue("real_cluster"), request.getfixturevalue("real_namespace"), tmp_path)
    else:
        chosen = StandIn(f"t-{uuid.uuid4().hex[:10]}")
    try:
        yield chosen
    finally:
        chosen.close()


@pytest.fixture
async def scene(backend: Backend, models: Models, tmp_path: Path) -> AsyncIterator[Scene]:
    scene = Scene(backend, models, tmp_path)
    try:
        yield scene
    finally:
        await scene.close()
