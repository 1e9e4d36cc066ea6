"""Fixtures for every integration test: the processes a test starts, stopped by their pids when it ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.local.processes import ProcessGroup


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(tmp_path / "logs")
    try:
        yield group
    finally:
        group.stop_all()
