"""Local mode carries out the engine's upkeep as a cluster does: the router config file is kept, and rewritten only on drift."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from runtime_ports import Journal, SimulatedClock, journal_ports

from controller.api.resource import ModelRollout, revision_of
from controller.local.cluster import EventLog, LocalCluster
from controller.local.runner import FileTrafficControl, seed_rollout
from controller.routing.polling import RouterPoller
from controller.runtime.driver import Ports, reconcile
from router.config import RouterConfig

STABLE = "baseline"


def template(version: str) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "model", "image": f"registry.example/iris:{version}"}]}}


@pytest.fixture
def closed_urls() -> Iterator[dict[str, str]]:
    """Two loopback URLs nothing listens on: both revisions stay unready, so nothing but upkeep happens."""
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    yield {"stable": f"http://127.0.0.1:{ports[0]}", "candidate": f"http://127.0.0.1:{ports[1]}"}


def on_disk(path: Path) -> RouterConfig:
    return RouterConfig.model_validate_json(path.read_bytes())


async def _walk(path: Path, urls: dict[str, str]) -> list[RouterConfig | str]:
    """Reconcile four times, deleting the file before the third and editing it before the fourth; the file after each."""
    rollout = ModelRollout.model_validate(
        {"metadata": {"name": "iris"}, "spec": {"template": template("2"), "strategy": {"canary": {"steps": [{"setWeight": 100}]}}}}
    )
    candidate = revision_of(rollout.spec.template)
    upstreams = {STABLE: urls["stable"], candidate: urls["candidate"]}
    rollout = seed_rollout(rollout, STABLE)
    clock = SimulatedClock()
    seen: list[RouterConfig | str] = []
    async with aiohttp.ClientSession() as session, httpx.AsyncClient() as client:
        traffic = FileTrafficControl(path, RouterPoller(lambda _r: [], session, clock.now), upstreams)
        traffic.write_initial(rollout, STABLE)
        seen.append(on_disk(path))
        ports = Ports(
            cluster=LocalCluster(upstreams, {}, client),
            traffic=traffic,
            metrics=journal_ports(Journal(), clock).metrics,
            events=EventLog(clock),
            clock=clock,
        )
        for tick in range(4):
            if tick == 2:
                path.unlink()
            if tick == 3:
                edited = on_disk(path).model_dump(mode="json", by_alias=True)
                edited["weights"] = {"stable": 50, "candidate": 50}
                path.write_text(RouterConfig.model_validate(edited).model_dump_json(by_alias=True))
                seen.append("edited")
            rollout = (await reconcile(ports, rollout)).rollout
            seen.append(on_disk(path))
            await clock.sleep(10)
    return seen


def test_the_router_file_is_kept_in_force_and_rewritten_only_when_it_drifted(tmp_path: Path, closed_urls: dict[str, str]) -> None:
    path = tmp_path / "router-config.json"
    initial, started, quiet, restored, edited, put_back = asyncio.run(_walk(path, closed_urls))

    assert isinstance(initial, RouterConfig) and isinstance(started, RouterConfig)
    # The rollout started: the status names the candidate, so the kept config carries its upstream, at no weight.
    assert (started.generation, started.upstreams.candidate, started.weights.candidate) == (2, closed_urls["candidate"], 0)
    assert quiet == started  # nothing drifted: nothing written, the generation stays
    assert isinstance(restored, RouterConfig) and restored.generation == 3  # deleted: written again, for the router to reload
    assert restored.model_copy(update={"generation": 2}) == started
    assert edited == "edited"
    assert isinstance(put_back, RouterConfig) and put_back.generation == 4
    assert (put_back.weights.stable, put_back.weights.candidate) == (100, 0)
