"""Monitoring through a real router: features counted by the router process, windows read from its
/stats by the controller's RouterMonitor, the reference stored in a file, and the real engine judging.

The engine's clock is simulated (checks a minute apart) while the traffic and the counting are real.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from router_harness import RouterFactory, send_many

from controller.api.monitoring import MonitoringCondition
from controller.api.resource import ModelRollout, revision_of
from controller.api.status import ConditionStatus, ModelRolloutStatus, Phase, TrafficSplit
from controller.engine.actions import SaveReference
from controller.engine.conditions import find_condition
from controller.engine.decide import decide, due_monitoring
from controller.engine.inputs import Observations
from controller.local.references import FileReferenceStore
from controller.routing.monitoring import RouterMonitor
from controller.routing.polling import RouterEndpoint, RouterPoller

pytestmark = pytest.mark.integration

T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
TEMPLATE: dict[str, Any] = {"metadata": {"labels": {"app": "m"}}, "spec": {"containers": [{"name": "model", "image": "m:1"}]}}


def rollout() -> ModelRollout:
    spec = {
        "template": TEMPLATE,
        "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
        "monitoring": {"interval": "1m", "window": "1m", "reference": {"captureWindow": "1m", "minSamples": 1000}},
    }
    status = ModelRolloutStatus(phase=Phase.HEALTHY, stable_revision=revision_of(TEMPLATE), traffic=TrafficSplit())
    return ModelRollout.model_validate({"metadata": {"name": "m", "namespace": "local"}, "spec": spec, "status": status.to_wire()})


def requests(rng: np.random.Generator, n: int, *, income_shift: float = 0.0, new_colour: float = 0.0) -> list[dict[str, Any]]:
    """KServe v1 instances by position: score (feature 0, also the prediction), income, age, colour."""
    colours = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    colours = np.where(rng.random(n) < new_colour, "violet", colours)
    score, income, age = rng.beta(2, 5, n), rng.lognormal(10 + income_shift, 0.4, n), rng.normal(40, 9, n)
    return [
        {"instances": [[round(float(s), 4), round(float(i), 2), round(float(a), 1), str(c)]]}
        for s, i, a, c in zip(score, income, age, colours)
    ]


class Checks:
    """The driver's part for monitoring alone: ask, read through the real router, decide, store."""

    def __init__(self, monitor: RouterMonitor) -> None:
        self.monitor = monitor
        self.rollout = rollout()
        self.now = T0

    async def check(self) -> None:
        request = due_monitoring(self.rollout, self.now)
        assert request is not None, "a check is due every minute"
        observation = await self.monitor.observe(self.rollout, request, self.now)
        assert observation.error is None, observation.error
        decision = decide(self.rollout, Observations(monitoring=observation), self.now)
        for action in decision.actions:
            if isinstance(action, SaveReference):
                await self.monitor.save_reference(self.rollout, action)
        self.rollout = self.rollout.model_copy(update={"status": decision.status})
        self.now += timedelta(minutes=1)

    def condition(self, kind: MonitoringCondition) -> ConditionStatus | None:
        found = find_condition(self.rollout.status.conditions, kind.value)
        return found.status if found else None

    def drifted(self) -> set[str]:
        monitoring = self.rollout.status.monitoring
        assert monitoring is not None
        return {f.feature for f in monitoring.findings if f.drifted}


def test_planted_drift_through_a_real_router_flags_exactly_the_drifted_features(
    start_router: RouterFactory, base_config: dict[str, Any], tmp_path: Path
) -> None:
    router = start_router({**base_config, "featureSamplePercent": 100})
    url = router.url + "/v1/models/m:predict"
    rng = np.random.default_rng(11)

    async def scenario() -> Checks:
        async with aiohttp.ClientSession() as session:
            poller = RouterPoller(lambda _r: [RouterEndpoint("router-0", router.admin)], session, lambda: datetime.now(UTC), reuse_s=0)
            store = FileReferenceStore(tmp_path)
            checks = Checks(RouterMonitor(poller, store))
            await checks.check()  # monitoring starts: the window's first snapshot
            await asyncio.to_thread(send_many, url, requests(rng, 3000))
            await checks.check()  # a minute of traffic: the reference is captured and stored
            assert (await store.load(checks.rollout)) is not None
            for _ in range(3):  # undrifted windows
                await asyncio.to_thread(send_many, url, requests(rng, 2000))
                await checks.check()
                assert checks.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.FALSE, checks.rollout.status.monitoring
                assert checks.condition(MonitoringCondition.PREDICTION_DRIFT) is ConditionStatus.FALSE
            await asyncio.to_thread(send_many, url, requests(rng, 2000, income_shift=0.5, new_colour=0.2))
            await checks.check()
            return checks

    checks = asyncio.run(scenario())
    assert checks.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.TRUE
    # Position 1 is income, position 3 the colour: exactly those, not the score or the age.
    assert checks.drifted() == {"1", "3"}
    monitoring = checks.rollout.status.monitoring
    assert monitoring is not None and monitoring.reference is not None and monitoring.reference.samples >= 3000
    assert [e.condition for e in monitoring.episodes] == [MonitoringCondition.DATA_DRIFT]
