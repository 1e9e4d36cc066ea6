"""Polling real router admin endpoints on loopback: shared rounds, unreadable routers, windows of counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import MetricSpec
from controller.api.resource import ModelRollout
from controller.engine.inputs import MeasurementRequest
from controller.routing.measure import RouterStatsSource
from controller.routing.polling import RouterEndpoint, RouterPoller
from router.stats import ErrorCounts, RouterStats, VariantStats

pytestmark = pytest.mark.anyio

RolloutFactory = Callable[..., ModelRollout]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeRouterAdmin:
    """A router's admin port: `/stats` with counts the test sets, and how often it was asked."""

    candidate_requests: int = 0
    candidate_errors: int = 0
    asked: int = 0
    url: str = ""
    runner: web.AppRunner | None = field(default=None, repr=False)

    async def stats(self, _request: web.Request) -> web.Response:
        self.asked += 1
        await asyncio.sleep(0.01)
        errors = ErrorCounts.model_validate({"status5xx": self.candidate_errors})
        body = RouterStats(
            instance_id="r-1", started_at=T0, generation=4,
            stable=VariantStats(requests=1000), candidate=VariantStats(requests=self.candidate_requests, errors=errors),
        )  # fmt: skip
        return web.Response(body=body.model_dump_json(by_alias=True), content_type="application/json")


@pytest.fixture
async def admin() -> AsyncIterator[FakeRouterAdmin]:
    router = FakeRouterAdmin()
    app = web.Application()
    app.router.add_get("/stats", router.stats)
    router.runner = web.AppRunner(app)
    await router.runner.setup()
    site = web.TCPSite(router.runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    router.url = f"http://127.0.0.1:{port}"
    yield router
    await router.runner.cleanup()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _error_rate(metric: MetricSpec, stats: RouterStats, start: datetime | None, now: datetime) -> MetricObservation:
    candidate = stats.candidate
    sample = VariantSample(count=candidate.requests, successes=candidate.errors.total)
    return MetricObservation(metric=metric.name, candidate=sample, window_start=start, window_end=now)


async def test_concurrent_readers_share_one_round_and_an_unreachable_router_is_an_error(
    admin: FakeRouterAdmin, make_rollout: RolloutFactory
) -> None:
    endpoints = [RouterEndpoint("r-1", admin.url), RouterEndpoint("r-2", "http://127.0.0.1:9")]
    async with aiohttp.ClientSession() as session:
        poller = RouterPoller(lambda _r: endpoints, session, Clock(), timeout_s=1.0)
        rounds = await asyncio.gather(*(poller.read(make_rollout()) for _ in range(5)))
    assert admin.asked == 1
    assert all(r is rounds[0] for r in rounds)
    good, bad = rounds[0]
    assert good.stats is not None and good.stats.generation == 4
    assert bad.stats is None and bad.error is not None and "127.0.0.1:9/stats" in bad.error


async def test_a_measurement_counts_only_what_happened_since_the_window_started(
    admin: FakeRouterAdmin, make_rollout: RolloutFactory
) -> None:
    clock = Clock()
    rollout = make_rollout()
    metric = MetricSpec.model_validate({"name": "errors", "router": {"metric": "errorRate"}, "max": 0.1})
    async with aiohttp.ClientSession() as session:
        poller = RouterPoller(lambda _r: [RouterEndpoint("r-1", admin.url)], session, clock, reuse_s=0.0)
        source = RouterStatsSource(poller, _error_rate)
        admin.candidate_requests, admin.candidate_errors = 500, 50  # before the split came into force
        await poller.read(rollout)  # the reconcile that confirmed the split read the routers
        window_start = clock.now
        clock.now += timedelta(seconds=30)
        admin.candidate_requests, admin.candidate_errors = 600, 52
        request = MeasurementRequest(scope="background", metric=metric, window_start=window_start)
        observation = await source.measure(rollout, request, clock.now)
    assert observation.error is None
    assert observation.candidate == VariantSample(count=100, successes=2)
    assert observation.window_start == window_start


async def test_with_no_router_to_read_the_measurement_is_an_error_not_a_zero(make_rollout: RolloutFactory) -> None:
    metric = MetricSpec.model_validate({"name": "errors", "router": {"metric": "errorRate"}, "max": 0.1})
    async with aiohttp.ClientSession() as session:
        source = RouterStatsSource(RouterPoller(lambda _r: [], session, Clock()), _error_rate)
        observation = await source.measure(make_rollout(), MeasurementRequest(scope="background", metric=metric, window_start=T0), T0)
    assert observation.error is not None and "no ready router pods" in observation.error
