"""The retraining dispatcher against a real HTTP receiver on loopback: once per episode, retried, never waited on."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from controller.api.monitoring import MonitoringCondition, RetrainingSpec
from controller.api.resource import ModelRollout
from controller.engine.actions import TriggerRetraining
from controller.local.processes import free_port
from controller.providers.retraining import RetrainingDispatcher, RetrainingFailed
from tests.unit.conftest import RolloutFactory

pytestmark = pytest.mark.anyio

FIRED_AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
EVIDENCE = {
    "features": [{"feature": "amount", "test": "ks", "pValue": 1e-9, "adjustedPValue": 3e-9, "psi": 0.42, "drifted": True}],
    "window": {"start": "2026-03-04T04:51:07Z", "end": "2026-03-04T05:06:07Z"},
}


def _refusals() -> dict[str, list[tuple[int, str]]]:
    return {"flaky": [(503, "warming up")] * 2, "busy": [(429, "slow down")], "bad": [(400, "unknown model")] * 100}


@dataclass
class Receiver:
    """A retraining endpoint: a path answers its `refusals` in turn, then accepts; `/slow` holds
    each request until `release` is set."""

    base: str = ""
    refusals: dict[str, list[tuple[int, str]]] = field(default_factory=_refusals)
    received: list[tuple[str, Any, dict[str, str]]] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    def bodies(self, path: str) -> list[Any]:
        return [body for where, body, _ in self.received if where == path]

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.tries[path] = self.tries.get(path, 0) + 1
        if refusals := self.refusals.get(path):
            status, text = refusals.pop(0)
            return web.Response(status=status, text=text)
        if path == "slow":
            self.held.set()
            await self.release.wait()
        self.received.append((path, await request.json(), {k.lower(): v for k, v in request.headers.items()}))
        return web.Response(text="queued")


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    state, app = Receiver(), web.Application()
    app.router.add_post("/{path}", state.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        state.base = str(server.make_url("")).rstrip("/")
        try:
            yield state
        finally:
            state.release.set()


@dataclass
class Sleeps:
    """Records the backoff asked for and returns at once."""

    asked: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@pytest.fixture
def rollout(make_rollout: RolloutFactory) -> ModelRollout:
    return make_rollout(status={"phase": "Healthy", "stableRevision": "5f1c0ffee0"})


def _action(episode: str = "datadrift-1", **retraining: Any) -> TriggerRetraining:
    return TriggerRetraining(
        episode=episode,
        condition=MonitoringCondition.DATA_DRIFT,
        retraining=RetrainingSpec.model_validate(retraining),
        evidence=EVIDENCE,
    )


def _webhook(url: str, retries: int = 3, **fields: Any) -> dict[str, Any]:
    return {"webhook": {"url": url, "retries": retries, "timeout": "5s"} | fields}


async def _until(what: str, check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def _count(registry: CollectorRegistry, name: str, target: str = "webhook", **labels: str) -> float:
    every = {"namespace": "ml", "rollout": "fraud", "condition": "DataDrift", "target": target, **labels}
    return registry.get_sample_value(name, every) or 0.0


@asynccontextmanager
async def dispatcher(**kwargs: Any) -> AsyncIterator[tuple[RetrainingDispatcher, CollectorRegistry, Sleeps]]:
    registry, sleeps = CollectorRegistry(), Sleeps()
    async with httpx.AsyncClient() as http:
        retraining = RetrainingDispatcher(http, registry=registry, sleep=sleeps, now=lambda: FIRED_AT, **kwargs)
        try:
            yield retraining, registry, sleeps
        finally:
            await retraining.close()


async def test_the_receiver_gets_the_episode_and_its_evidence_once_with_an_idempotency_key(rollout: ModelRollout) -> None:
    async with receiver() as r, dispatcher() as (retraining, registry, _):
        action = _action(**_webhook(r.url("ok"), headers={"X-Team": "fraud", "idempotency-key": "mine"}))
        retraining.fire(rollout, action)
        retraining.fire(rollout, action)  # the same episode again while the first is in flight
        await _until("the delivery", lambda: _count(registry, "modelrollout_retraining_triggered_total") == 1)
        retraining.fire(rollout, action)  # and once it is done
        retraining.fire(rollout, _action("datadrift-2", **_webhook(r.url("ok"))))
        await _until("the second episode", lambda: len(r.received) == 2)
        await retraining.close()
    first, second = r.received
    assert first[1] == {
        "episode": "datadrift-1", "condition": "DataDrift", "namespace": "ml", "rollout": "fraud", "revision": "5f1c0ffee0",
        "evidence": EVIDENCE, "firedAt": "2026-03-04T05:06:07Z",
    }  # fmt: skip
    headers = {k.lower(): v for k, v in first[2].items()}
    assert (headers["idempotency-key"], headers["x-team"], headers["content-type"]) == ("datadrift-1", "fraud", "application/json")
    assert second[1]["episode"] == "datadrift-2" and second[2]["idempotency-key"] == "datadrift-2"
    assert r.tries == {"ok": 2}
    assert _count(registry, "modelrollout_retraining_triggered_total") == 2


async def test_a_503_is_retried_with_doubling_backoff_until_it_is_accepted(rollout: ModelRollout) -> None:
    async with receiver() as r, dispatcher() as (retraining, registry, sleeps):
        retraining.fire(rollout, _action(**_webhook(r.url("flaky"))))
        await _until("the delivery", lambda: _count(registry, "modelrollout_retraining_triggered_total") == 1)
    assert r.tries == {"flaky": 3} and len(r.bodies("flaky")) == 1
    assert sleeps.asked == [1.0, 2.0]
    assert _count(registry, "modelrollout_retraining_retries_total") == 2
    assert _count(registry, "modelrollout_retraining_failed_total", cause="undelivered") == 0


async def test_a_429_is_retried(rollout: ModelRollout) -> None:
    async with receiver() as r, dispatcher() as (retraining, registry, _):
        retraining.fire(rollout, _action(**_webhook(r.url("busy"))))
        await _until("the delivery", lambda: _count(registry, "modelrollout_retraining_triggered_total") == 1)
    assert r.tries == {"busy": 2}


async def test_a_400_is_final_and_counted(rollout: ModelRollout, caplog: pytest.LogCaptureFixture) -> None:
    async with receiver() as r, dispatcher() as (retraining, registry, sleeps):
        retraining.fire(rollout, _action(**_webhook(r.url("bad"), retries=5)))
        await _until("the refusal", lambda: _count(registry, "modelrollout_retraining_failed_total", cause="refused") == 1)
    assert r.tries == {"bad": 1} and sleeps.asked == []
    assert _count(registry, "modelrollout_retraining_triggered_total") == 0
    assert "HTTP 400" in caplog.text and "unknown model" in caplog.text


async def test_retries_run_out_on_a_receiver_that_keeps_failing(rollout: ModelRollout) -> None:
    async with receiver() as r, dispatcher() as (retraining, registry, sleeps):
        r.refusals["flaky"] = [(503, "down for good")] * 100
        retraining.fire(rollout, _action(**_webhook(r.url("flaky"), retries=2)))
        await _until("giving up", lambda: _count(registry, "modelrollout_retraining_failed_total", cause="undelivered") == 1)
    assert r.tries == {"flaky": 3} and sleeps.asked == [1.0, 2.0]


async def test_no_answer_is_retried(rollout: ModelRollout) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/gone"
    async with dispatcher() as (retraining, registry, sleeps):
        retraining.fire(rollout, _action(**_webhook(nobody, retries=3)))
        await _until("giving up", lambda: _count(registry, "modelrollout_retraining_failed_total", cause="undelivered") == 1)
    assert sleeps.asked == [1.0, 2.0, 4.0]
    assert _count(registry, "modelrollout_retraining_retries_total") == 3


async def test_fire_returns_while_the_receiver_still_holds_the_request(rollout: ModelRollout) -> None:
    async with receiver() as r, dispatcher() as (retraining, registry, _):
        retraining.fire(rollout, _action(**_webhook(r.url("slow"))))
        # fire has returned: the receiver has not even been released yet.
        assert not r.release.is_set() and r.received == []
        await asyncio.wait_for(r.held.wait(), 30)
        assert _count(registry, "modelrollout_retraining_triggered_total") == 0
        r.release.set()
        await _until("the delivery", lambda: _count(registry, "modelrollout_retraining_triggered_total") == 1)
    assert len(r.bodies("slow")) == 1


async def test_close_stops_a_retraining_still_waiting_on_its_receiver(rollout: ModelRollout) -> None:
    async with receiver() as r, dispatcher() as (retraining, registry, _):
        retraining.fire(rollout, _action(**_webhook(r.url("slow"), timeout="10m")))
        await asyncio.wait_for(r.held.wait(), 30)
        # Not cancelled, the try would wait out its 10-minute timeout.
        await asyncio.wait_for(retraining.close(drain_s=0), 30)
        assert _count(registry, "modelrollout_retraining_triggered_total") == 0


@dataclass
class Launcher:
    """A JobLauncher that refuses the first `failures` launches, finally when `final`."""

    failures: int = 0
    final: bool = False
    launched: list[str] = field(default_factory=list)
    calls: int = 0

    async def launch(self, rollout: ModelRollout, action: TriggerRetraining) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RetrainingFailed("the API server answered 503", final=self.final)
        self.launched.append(action.episode)
        return f"{rollout.name}-retrain-x"


JOB = {"template": {"spec": {"containers": [{"name": "train", "image": "train:1"}]}}}


async def test_the_job_and_the_webhook_both_fire_and_a_job_launch_is_retried(rollout: ModelRollout) -> None:
    launcher = Launcher(failures=1)
    async with receiver() as r, dispatcher(jobs=launcher) as (retraining, registry, _):
        retraining.fire(rollout, _action(**_webhook(r.url("ok")), job=JOB))
        await _until("the Job", lambda: _count(registry, "modelrollout_retraining_triggered_total", target="job") == 1)
        await _until("the webhook", lambda: _count(registry, "modelrollout_retraining_triggered_total") == 1)
    assert launcher.launched == ["datadrift-1"] and launcher.calls == 2
    assert _count(registry, "modelrollout_retraining_retries_total", target="job") == 1


async def test_a_refused_job_is_not_retried_and_does_not_stop_the_webhook(rollout: ModelRollout) -> None:
    launcher = Launcher(failures=10, final=True)
    async with receiver() as r, dispatcher(jobs=launcher) as (retraining, registry, _):
        retraining.fire(rollout, _action(**_webhook(r.url("ok")), job=JOB))
        await _until("the webhook", lambda: _count(registry, "modelrollout_retraining_triggered_total") == 1)
        await _until("the refusal", lambda: _count(registry, "modelrollout_retraining_failed_total", target="job", cause="refused") == 1)
    assert launcher.calls == 1


async def test_without_a_cluster_a_job_is_counted_as_impossible_and_warned_of_once(
    rollout: ModelRollout, caplog: pytest.LogCaptureFixture
) -> None:
    async with receiver() as r, dispatcher() as (retraining, registry, _):
        with caplog.at_level(logging.WARNING, logger="controller.providers.retraining"):
            for episode in ("datadrift-1", "datadrift-2"):
                retraining.fire(rollout, _action(episode, **_webhook(r.url("ok")), job=JOB))
            await _until("both webhooks", lambda: _count(registry, "modelrollout_retraining_triggered_total") == 2)
    assert _count(registry, "modelrollout_retraining_failed_total", target="job", cause="noCluster") == 2
    assert [rec.getMessage() for rec in caplog.records if "Jobs need a cluster" in rec.getMessage()] == [
        "spec.monitoring.retraining.job of ml/fraud not created: Jobs need a cluster"
    ]
