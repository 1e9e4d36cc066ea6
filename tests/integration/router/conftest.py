"""Shared processes for the router tests: a stable and a candidate model server, and routers.

The candidate predicts the stable's value plus 1e-9 (inside the default tolerance), except for
instances whose first value is below 0.2, where it is 0.5 off: a planted disagreement.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from router_harness import DISAGREE_BELOW, Backend, RouterFactory, RouterProcess


@pytest.fixture(scope="session")
def stable_backend() -> Iterator[Backend]:
    backend = Backend.start("stable")
    yield backend
    backend.stop()


@pytest.fixture(scope="session")
def candidate_backend() -> Iterator[Backend]:
    backend = Backend.start("candidate", "--offset", "1e-9", "--flip-below", str(DISAGREE_BELOW))
    yield backend
    backend.stop()


@pytest.fixture(scope="session")
def base_config(stable_backend: Backend, candidate_backend: Backend) -> dict[str, Any]:
    return {"generation": 1, "upstreams": {"stable": stable_backend.url, "candidate": candidate_backend.url}}


@pytest.fixture(scope="module")
def module_router(tmp_path_factory: pytest.TempPathFactory, base_config: dict[str, Any]) -> Iterator[RouterProcess]:
    """One router per test module; tests reconfigure it through its config file."""
    router = RouterProcess.start(tmp_path_factory.mktemp("router"), base_config)
    yield router
    router.stop()


@pytest.fixture
def start_router(tmp_path: Path) -> Iterator[RouterFactory]:
    """Start routers of a test's own; each is stopped at the end of the test."""
    started: list[RouterProcess] = []

    def start(config: dict[str, Any] | None = None, **options: Any) -> RouterProcess:
        router = RouterProcess.start(tmp_path, config, **options)
        started.append(router)
        return router

    yield start
    for router in started:
        router.stop()
