"""Fixtures for the unreadable-predictions tests: the tests run on asyncio, beside the controller they start."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
