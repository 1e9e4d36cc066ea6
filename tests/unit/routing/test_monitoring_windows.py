"""The router monitor's windows: from which round of readings a window starts, per watched revision."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.api.monitoring import ModelReference
from controller.api.resource import ModelRollout
from controller.engine.inputs import MonitoringRequest
from controller.routing.monitoring import RouterMonitor
from controller.routing.polling import ReadingsListener, RouterEndpoint, RouterReading
from router.stats import RouterStats, VariantStats

T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)


class Routers:
    """One router whose stable request count the test sets before each round."""

    def __init__(self) -> None:
        self.requests = 0

    def add_listener(self, listener: ReadingsListener) -> None:
        pass

    async def read(self, rollout: ModelRollout) -> list[RouterReading]:
        stats = RouterStats(instance_id="i1", started_at=T0 - timedelta(hours=1), generation=1, stable=VariantStats(requests=self.requests))
        body = stats.model_dump_json(by_alias=True).encode()
        return [RouterReading(RouterEndpoint("router-0", "http://127.0.0.1:9"), stats, body=body)]


class NoReferences:
    async def load(self, rollout: ModelRollout) -> ModelReference | None:
        return None

    async def load_baseline(self, rollout: ModelRollout, name: str) -> ModelReference:
        raise AssertionError("no baseline in these tests")

    async def save(self, rollout: ModelRollout, reference: ModelReference) -> None:
        pass


def rollout() -> ModelRollout:
    spec: dict[str, Any] = {
        "template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}},
        "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
        "monitoring": {"interval": "1m", "window": "5m"},
    }
    return ModelRollout.model_validate({"metadata": {"name": "m", "namespace": "ml"}, "spec": spec})


def requests_in(monitor: RouterMonitor, routers: Routers, total: int, revision: str, start: datetime, now: datetime) -> int:
    routers.requests = total
    observation = asyncio.run(monitor.observe(rollout(), MonitoringRequest(revision=revision, window_start=start), now))
    assert observation.window is not None, observation.error
    return observation.window.requests


def test_a_window_counts_from_the_round_at_its_start() -> None:
    routers = Routers()
    monitor = RouterMonitor(routers, NoReferences())
    for minute, total in enumerate([100, 160, 250, 330]):
        requests_in(monitor, routers, total, "r1", T0 + timedelta(minutes=minute), T0 + timedelta(minutes=minute))
    # Rounds at minutes 0..3; a window from minute 1 to minute 4 counts what came after the round at minute 1.
    assert requests_in(monitor, routers, 400, "r1", T0 + timedelta(minutes=1), T0 + timedelta(minutes=4)) == 400 - 160


def test_a_new_revision_never_starts_from_the_old_ones_rounds() -> None:
    routers = Routers()
    monitor = RouterMonitor(routers, NoReferences())
    requests_in(monitor, routers, 100, "r1", T0, T0)
    # The new stable's capture starts at its promotion, 30 minutes on: the old model's round must not
    # start it, so its first window is empty and the next counts from the round at the promotion.
    promoted = T0 + timedelta(minutes=30)
    assert requests_in(monitor, routers, 5000, "r2", promoted, promoted) == 0
    assert requests_in(monitor, routers, 5600, "r2", promoted, promoted + timedelta(minutes=1)) == 600


def test_a_round_from_long_before_the_start_does_not_open_the_window() -> None:
    routers = Routers()
    monitor = RouterMonitor(routers, NoReferences())
    requests_in(monitor, routers, 100, "r1", T0, T0)
    # Monitoring paused for an hour (a rollout ran): the window from now on starts empty.
    later = T0 + timedelta(hours=1)
    assert requests_in(monitor, routers, 9000, "r1", later - timedelta(minutes=5), later) == 0
