"""Firing retraining for a monitoring episode: the webhook and the Job, in the background, once per episode.

`fire` never waits: the reconcile that turned a condition true hands the episode over and goes
on. Each target (webhook, Job) is tried on its own, and a try that got no answer, timed out, or
was answered 5xx or 429 is tried again with capped exponential backoff; any other refusal is
final. What could not be done is logged and counted, never raised.

An episode fires once per process: a repeat while it is in flight or after it is done is dropped
(the last few thousand are remembered). Across restarts and replicas the receiver gets an
`Idempotency-Key: <episode>` header, and a Job is named after the episode so a second create
meets AlreadyExists.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx
import orjson
from prometheus_client import CollectorRegistry, Counter

from controller.api.monitoring import RetrainingWebhook
from controller.api.resource import ModelRollout
from controller.engine.actions import TriggerRetraining
from controller.errors import DependencyError
from controller.runtime.background import Background

__all__ = ["RetrainingDispatcher", "RetrainingMetrics", "JobLauncher", "RetrainingFailed", "retraining_payload"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Target = Literal["webhook", "job"]
_FIRST_BACKOFF_S = 1.0
_MAX_BACKOFF_S = 60.0
# A Job's create has no `retries` in the spec: as many as the webhook's default.
_JOB_RETRIES = 5
_REMEMBERED_EPISODES = 4096
_DETAIL_CHARS = 200


class RetrainingFailed(DependencyError):
    """One try failed; `final` when trying again cannot help (a 4xx, a Job spec the API server refused)."""

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final


class JobLauncher(Protocol):
    async def launch(self, rollout: ModelRollout, action: TriggerRetraining) -> str:
        """Create the episode's Job (an existing one counts as created) and return its name; raises RetrainingFailed."""
        ...


class RetrainingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["namespace", "rollout", "condition", "target"]
        self.triggered = Counter(
            "modelrollout_retraining_triggered", "Retrainings started: a webhook that accepted, a Job created.", labels, registry=registry
        )
        self.failed = Counter(
            "modelrollout_retraining_failed", "Retrainings given up (refused, or every try failed) or impossible here.",
            [*labels, "cause"], registry=registry,
        )  # fmt: skip
        self.retries = Counter("modelrollout_retraining_retries", "Tries after a failed one.", labels, registry=registry)


def retraining_payload(rollout: ModelRollout, action: TriggerRetraining, fired_at: datetime) -> dict[str, Any]:
    """What the webhook is sent: the episode, the model watched, and the evidence as the engine recorded it."""
    monitoring = rollout.status.monitoring
    return {
        "episode": action.episode,
        "condition": action.condition.value,
        "namespace": rollout.namespace,
        "rollout": rollout.name,
        "revision": monitoring.revision if monitoring is not None else rollout.status.stable_revision,
        "evidence": action.evidence,
        "firedAt": fired_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


class RetrainingDispatcher:
    """The `RetrainingTrigger` port: one background task per episode, drained or cancelled by `close`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        jobs: JobLauncher | None = None,
        *,
        registry: CollectorRegistry | None = None,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.metrics = RetrainingMetrics(registry if registry is not None else CollectorRegistry())
        self._http = http
        self._jobs = jobs
        self._sleep = sleep
        self._now = now
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._running = Background()
        self._told_no_cluster = False

    def fire(self, rollout: ModelRollout, action: TriggerRetraining) -> None:
        key = (rollout.namespace, rollout.name, action.episode)
        if key in self._seen:
            log.debug("retraining episode %s of %s/%s already fired", action.episode, rollout.namespace, rollout.name)
            return
        self._seen[key] = None
        if len(self._seen) > _REMEMBERED_EPISODES:
            self._seen.popitem(last=False)
        self._running.start(self._trigger(rollout, action), name=f"retrain-{rollout.name}-{action.episode}")

    async def close(self, drain_s: float = 5.0) -> None:
        """Give retrainings still being tried up to `drain_s`, then stop them."""
        await self._running.close(drain_s)

    async def _trigger(self, rollout: ModelRollout, action: TriggerRetraining) -> None:
        webhook, jobs = action.retraining.webhook, self._jobs
        tries: list[Awaitable[None]] = []
        if webhook is not None:
            body = orjson.dumps(retraining_payload(rollout, action, self._now()))
            tries.append(self._attempt(rollout, action, "webhook", webhook.retries, lambda: self._post(webhook, body, action.episode)))
        if action.retraining.job is not None and jobs is None:
            self._no_cluster(rollout, action)
        elif action.retraining.job is not None and jobs is not None:
            tries.append(self._attempt(rollout, action, "job", _JOB_RETRIES, lambda: _launch(jobs, rollout, action)))
        await asyncio.gather(*tries)

    async def _attempt(
        self, rollout: ModelRollout, action: TriggerRetraining, target: Target, retries: int, once: Callable[[], Awaitable[str]]
    ) -> None:
        labels = (rollout.namespace, rollout.name, action.condition.value, target)
        for attempt in range(retries + 1):
            try:
                done = await once()
            except RetrainingFailed as exc:
                if exc.final or attempt == retries:
                    cause = "refused" if exc.final else "undelivered"
                    self._give_up(rollout, action, labels, cause, f"{attempt + 1} tries, the last: {exc}")
                    return
                self.metrics.retries.labels(*labels).inc()
                await self._sleep(min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2**attempt))
            except Exception as exc:  # noqa: BLE001 - a bug in one target must not stop the other, nor pass silently
                log.exception("retraining %s of %s/%s: %s failed unexpectedly", action.episode, rollout.namespace, rollout.name, target)
                self._give_up(rollout, action, labels, "error", f"{type(exc).__name__}: {exc}")
                return
            else:
                self.metrics.triggered.labels(*labels).inc()
                log.info("retraining %s of %s/%s (%s): %s", action.episode, rollout.namespace, rollout.name, action.condition.value, done)
                return

    async def _post(self, webhook: RetrainingWebhook, body: bytes, episode: str) -> str:
        # Merged case-insensitively: the spec's headers may replace the user agent, not these two.
        headers = httpx.Headers({"User-Agent": "modelrollout-controller"})
        headers.update(webhook.headers)
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = episode
        try:
            response = await self._http.post(webhook.url, content=body, headers=headers, timeout=webhook.timeout)
        except httpx.InvalidURL as exc:
            raise RetrainingFailed(f"webhook {webhook.url} is no usable URL: {exc}", final=True) from exc
        except httpx.HTTPError as exc:
            text = str(exc)
            raise RetrainingFailed(f"no answer from {webhook.url}: {type(exc).__name__}{': ' + text if text else ''}", final=False) from exc
        answer = f"HTTP {response.status_code} from {webhook.url}"
        if response.is_success:
            return f"webhook answered {answer}"
        body_text = " ".join(response.text.split())[:_DETAIL_CHARS]
        retryable = response.status_code >= 500 or response.status_code == 429
        raise RetrainingFailed(answer + (f": {body_text}" if body_text else ""), final=not retryable)

    def _no_cluster(self, rollout: ModelRollout, action: TriggerRetraining) -> None:
        labels = (rollout.namespace, rollout.name, action.condition.value, "job")
        self.metrics.failed.labels(*labels, "noCluster").inc()
        if not self._told_no_cluster:
            self._told_no_cluster = True
            log.warning("spec.monitoring.retraining.job of %s/%s not created: Jobs need a cluster", rollout.namespace, rollout.name)

    def _give_up(self, rollout: ModelRollout, action: TriggerRetraining, labels: tuple[str, ...], cause: str, detail: str) -> None:
        self.metrics.failed.labels(*labels, cause).inc()
        log.warning(
            "retraining %s of %s/%s by %s not started (%s): %s", action.episode, rollout.namespace, rollout.name, labels[-1], cause, detail
        )


async def _launch(jobs: JobLauncher, rollout: ModelRollout, action: TriggerRetraining) -> str:
    return f"Job {await jobs.launch(rollout, action)} created"
