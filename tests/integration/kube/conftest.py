"""Fixtures for the controller's integration tests: model servers (once), the API stand-in and a Scene (per test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from controller.local.processes import ProcessGroup
from tests.fakekube import FakeKube
from tests.integration.kube.scene import Models, Scene, start_models

STABLE, GOOD, BAD = "model:v1", "model:v2", "model:v3-errors"


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


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    # Deployments turn ready shortly after each change, as the deployment controller would make them.
    with FakeKube(ready_after_s=0.1) as fake:
        yield fake


@pytest.fixture
async def scene(kube: FakeKube, models: Models, tmp_path: Path) -> AsyncIterator[Scene]:
    scene = Scene(kube, models, tmp_path)
    try:
        yield scene
    finally:
        await scene.close()
