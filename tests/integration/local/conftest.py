"""Demo model servers as real processes on free loopback ports, started once for these tests."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.local.processes import ProcessGroup, free_port, wait_http_ok

# name -> (extra argv, extra environment); "stable" is told a scenario to show it ignores it.
SERVERS: dict[str, tuple[list[str], dict[str, str]]] = {
    "stable": (["--variant", "stable", "--scenario", "errors"], {}),
    "good": (["--variant", "candidate", "--scenario", "good"], {}),
    "errors": (["--variant", "candidate", "--scenario", "errors"], {}),
    "latency": (["--variant", "candidate", "--scenario", "latency"], {}),
    "disagree": (["--variant", "candidate", "--scenario", "disagree"], {}),
    "drift": (["--variant", "candidate", "--scenario", "drift"], {}),
    "tuned": (["--variant", "candidate", "--extra-latency-ms", "60"], {"MODELROLLOUT_DEMO_ERROR_RATE": "0.4"}),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _wait_all(group: ProcessGroup, urls: dict[str, str]) -> None:
    processes = {member.name: member.process for member in group.members}
    await asyncio.gather(*(wait_http_ok(f"{url}/healthz", 90, processes[name]) for name, url in urls.items()))


@pytest.fixture(scope="session")
def demo_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Base URL of each server in SERVERS, all serving the model name `demo`."""
    group = ProcessGroup(Path(tmp_path_factory.mktemp("demo-model-logs")))
    urls: dict[str, str] = {}
    try:
        for name, (argv, env) in SERVERS.items():
            port = free_port()
            group.start(name, [sys.executable, "-m", "controller.local.demo_model", "--port", str(port), *argv], env)
            urls[name] = f"http://127.0.0.1:{port}"
        asyncio.run(_wait_all(group, urls))
        yield urls
    finally:
        group.stop_all()
