"""The notifier against real HTTP receivers: formats, secrets from files, retries, and never waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from controller.api.resource import ModelRollout, revision_of
from controller.api.validation import load_rollouts
from controller.engine.actions import EmitEvent
from controller.local.cluster import EventLog
from controller.notify.config import NotificationsConfig
from controller.notify.delivery import Notifier, NotifierMetrics
from controller.notify.messages import notification_for
from controller.notify.sink import NotifyingEventSink
from controller.runtime.clock import WallClock
from tests.integration.notify.receivers import Receivers, receivers

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

EXAMPLE = Path(__file__).resolve().parents[3] / "manifests" / "examples" / "canary.yaml"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ROLLED_BACK = EmitEvent(
    type="Warning",
    reason="RolledBack",
    message="candidate abc rolled back, stable def serves all traffic: error-rate 0.15 over max 0.01",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _rollout(notifications: list[dict[str, Any]] | None = None) -> ModelRollout:
    rollout = load_rollouts(EXAMPLE.read_text())[0]
    spec = rollout.spec.model_copy(update={"notifications": None})
    raw = rollout.model_dump(mode="json", by_alias=True, exclude_none=True)
    raw["metadata"] = {"name": "iris", "namespace": "models", "generation": 3}
    raw["status"] = {"phase": "Progressing", "stableRevision": "def0000000", "candidateRevision": "abc0000000",
                     "currentStep": 4, "stepCount": 11}
    raw["spec"] = {**spec.to_wire(), **({"notifications": notifications} if notifications else {})}
    return ModelRollout.model_validate(raw)


def _config(r: Receivers, tmp_path: Path, **settings: Any) -> NotificationsConfig:
    (tmp_path / "url").write_text(r.url("ok/json") + "\n")
    (tmp_path / "token").write_text("s3cret\n")
    return NotificationsConfig.model_validate({
        "targets": [
            {"name": "hook", "format": "json", "urlFile": str(tmp_path / "url"), "tokenFile": str(tmp_path / "token")},
            {"name": "chat", "format": "slack", "url": r.url("ok/slack")},
            {"name": "broken", "url": r.url("fail")},
            {"name": "silent", "url": r.url("hang"), "timeoutSeconds": 60},
        ],
        "attempts": 3,
        "backoffSeconds": 0.01,
        **settings,
    })


async def _until(what: str, check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_json_and_slack_targets_get_the_rollout_revisions_step_and_reason(tmp_path: Path) -> None:
    async with receivers() as r, httpx.AsyncClient() as http:
        notifier = Notifier(_config(r, tmp_path), http)
        sink = NotifyingEventSink(EventLog(WallClock()), notifier, lambda: NOW)
        await sink.emit(_rollout([{"target": "hook"}, {"target": "chat", "events": ["rolledBack"]}]), ROLLED_BACK)
        await _until("both receivers", lambda: bool(r.bodies("json")) and bool(r.bodies("slack")))
        await notifier.close()
    [sent] = r.accepted["json"]
    assert sent.headers["Authorization"] == "Bearer s3cret"
    assert sent.body["event"] == "rolledBack" and sent.body["reason"] == "RolledBack"
    assert (sent.body["namespace"], sent.body["rollout"], sent.body["generation"]) == ("models", "iris", 3)
    assert (sent.body["stable_revision"], sent.body["candidate_revision"]) == ("def0000000", "abc0000000")
    assert (sent.body["step"], sent.body["step_count"]) == (4, 11)
    assert sent.body["message"] == ROLLED_BACK.message
    [slack] = r.bodies("slack")
    assert "models/iris" in slack["text"] and "error-rate 0.15 over max 0.01" in slack["text"]
    context = slack["blocks"][1]["elements"][0]["text"]
    assert "def0000000" in context and "abc0000000" in context and "step 4" in context


async def test_only_wanted_transitions_are_sent_once_per_target(tmp_path: Path) -> None:
    async with receivers() as r, httpx.AsyncClient() as http:
        config = _config(r, tmp_path, everyRollout=[{"target": "hook", "events": ["promoted", "rolledBack"]}])
        notifier = Notifier(config, http)
        sink = NotifyingEventSink(EventLog(WallClock()), notifier, lambda: NOW)
        rollout = _rollout([{"target": "hook"}, {"target": "chat", "events": ["promoted"]}])
        await sink.emit(rollout, EmitEvent(type="Normal", reason="ScaledDown", message="revision x scaled down"))
        await sink.emit(rollout, EmitEvent(type="Normal", reason="StepCompleted", message="step 4 (pause 30s) completed"))
        await sink.emit(rollout, ROLLED_BACK)
        await notifier.close()
    # hook: every transition from the rollout, so both; named twice, sent once each. chat wants neither.
    assert [b["reason"] for b in r.bodies("json")] == ["StepCompleted", "RolledBack"]
    assert r.bodies("slack") == []


async def test_a_receiver_answering_500_is_retried_with_backoff_then_counted(tmp_path: Path) -> None:
    async with receivers() as r, httpx.AsyncClient() as http:
        metrics = NotifierMetrics()
        notifier = Notifier(_config(r, tmp_path), http, metrics)
        sink = NotifyingEventSink(EventLog(WallClock()), notifier, lambda: NOW)
        await sink.emit(_rollout([{"target": "broken"}]), ROLLED_BACK)
        registry = metrics.registry
        failed = {"target": "broken", "event": "rolledBack", "cause": "undelivered"}
        await _until("the give-up", lambda: _count(registry, "modelrollout_notifications_failed_total", **failed) == 1)
        await notifier.close()
    assert r.failed_tries == 3
    assert _count(registry, "modelrollout_notification_retries_total", target="broken") == 2
    assert _count(registry, "modelrollout_notifications_sent_total", target="broken", event="rolledBack") == 0


async def test_emit_returns_while_a_receiver_never_answers_and_a_full_queue_drops(tmp_path: Path) -> None:
    async with receivers() as r, httpx.AsyncClient() as http:
        metrics = NotifierMetrics()
        notifier = Notifier(_config(r, tmp_path, queueSize=1), http, metrics)
        events = EventLog(WallClock())
        sink = NotifyingEventSink(events, notifier, lambda: NOW)
        rollout = _rollout([{"target": "silent"}, {"target": "nowhere"}])
        await sink.emit(rollout, ROLLED_BACK)
        await _until("the silent receiver to hold a request", lambda: r.hanging == 1)
        # The silent target's worker is held: one more waits in its queue, the third is dropped.
        await sink.emit(rollout, ROLLED_BACK)
        await sink.emit(rollout, ROLLED_BACK)
        assert len(events.events) == 3 and r.hanging == 1
        registry = metrics.registry
        dropped = {"target": "silent", "event": "rolledBack", "cause": "queueFull"}
        assert _count(registry, "modelrollout_notifications_failed_total", **dropped) == 1
        unknown = {"target": "nowhere", "event": "rolledBack", "cause": "unknownTarget"}
        assert _count(registry, "modelrollout_notifications_failed_total", **unknown) == 3
        await notifier.close(drain_s=0.05)


async def test_a_target_whose_secret_file_is_missing_is_counted_not_raised(tmp_path: Path) -> None:
    async with receivers() as r, httpx.AsyncClient() as http:
        config = _config(r, tmp_path)
        (tmp_path / "url").unlink()
        metrics = NotifierMetrics()
        notifier = Notifier(config, http, metrics)
        await NotifyingEventSink(EventLog(WallClock()), notifier, lambda: NOW).emit(_rollout([{"target": "hook"}]), ROLLED_BACK)
        failed = {"target": "hook", "event": "rolledBack", "cause": "undelivered"}
        await _until("the give-up", lambda: _count(metrics.registry, "modelrollout_notifications_failed_total", **failed) == 1)
        await notifier.close()
    assert r.bodies("json") == []


def test_revision_of_the_template_names_a_starting_candidate() -> None:
    rollout = _rollout()
    status = rollout.status.model_copy(update={"candidate_revision": None})
    started = EmitEvent(type="Normal", reason="RolloutStarted", message="rolling out")
    notification = notification_for(rollout.model_copy(update={"status": status}), started, NOW)
    assert notification is not None and notification.candidate_revision == revision_of(rollout.spec.template)
