"""Webhook metric provider: POST the rollout context, read back a value or a verdict.

The reply is JSON in one of three shapes:
    {"verdict": "Passed" | "Failed" | "Inconclusive"}        the webhook judges by itself
    {"value": 0.93, "samples": 1200}                           candidate only
    {"candidate": 0.93, "stable": 0.95, "samples": 1200}       both variants
Without `samples` nothing is counted: the value is taken as it is, unless the metric sets
minSamples, which then has nothing to hold against, so the measurement is an Error saying so.
A metric judged by maxIncrease needs both variants; a reply with the candidate's value only
is an Error too, not an Inconclusive that would hold the step forever.
"""

from __future__ import annotations

from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import MetricSpec
from controller.api.resource import ModelRollout
from controller.api.status import Verdict
from controller.engine.inputs import MeasurementRequest

__all__ = ["WebhookProvider", "WebhookReply"]


class WebhookReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    verdict: Verdict | None = None
    value: float | None = None
    candidate: float | None = None
    stable: float | None = None
    samples: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _says_something(self) -> WebhookReply:
        if self.verdict is None and self.value is None and self.candidate is None:
            raise ValueError("reply has none of verdict, value, candidate")
        if self.verdict is Verdict.ERROR:
            raise ValueError("a webhook cannot answer verdict Error; fail the HTTP call instead")
        return self


class WebhookProvider:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def measure(self, rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> MetricObservation:
        metric = request.metric
        source = metric.webhook
        if source is None:
            raise ValueError(f"metric {metric.name!r} has no webhook source")
        base = {"metric": metric.name, "window_start": request.window_start, "window_end": now}
        try:
            response = await self._client.post(
                source.url, json=_context(rollout, request, now), headers=source.headers, timeout=source.timeout
            )
            response.raise_for_status()
            reply = WebhookReply.model_validate_json(response.content)
        except httpx.HTTPError as exc:
            return MetricObservation(**base, error=f"webhook {source.url} failed: {type(exc).__name__}: {exc}")
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            return MetricObservation(**base, error=f"webhook {source.url} sent an unusable reply: {problem}")
        missing = _unjudgeable(reply, metric)
        if missing is not None:
            return MetricObservation(**base, error=f"webhook {source.url} {missing}")
        return _observation(reply, base)


def _unjudgeable(reply: WebhookReply, metric: MetricSpec) -> str | None:
    """What the reply lacks for the metric's judgement, or None when it can be judged."""
    if reply.verdict is not None:
        return None
    if reply.samples is None and metric.min_samples is not None:
        return (
            f"answered no samples, but minSamples is {metric.min_samples}: add samples to the reply"
            " or remove minSamples"
        )
    if metric.max_increase is not None and reply.stable is None:
        return "answered only the candidate's value; maxIncrease needs both: reply {\"candidate\": x, \"stable\": y}"
    return None


def _context(rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> dict[str, object]:
    return {
        "rollout": rollout.name,
        "namespace": rollout.namespace,
        "metric": request.metric.name,
        "scope": request.scope,
        "stableRevision": rollout.status.stable_revision,
        "candidateRevision": rollout.status.candidate_revision,
        "windowStart": request.window_start.isoformat() if request.window_start else None,
        "windowEnd": now.isoformat(),
    }


def _observation(reply: WebhookReply, base: dict[str, str | datetime | None]) -> MetricObservation:
    if reply.verdict is not None:
        return MetricObservation(**base, verdict=reply.verdict)
    candidate_value = reply.candidate if reply.candidate is not None else reply.value
    stable = _sample(reply.stable, reply.samples) if reply.stable is not None else None
    return MetricObservation(**base, candidate=_sample(candidate_value, reply.samples), stable=stable)


def _sample(value: float | None, samples: int | None) -> VariantSample:
    """The webhook's number for one variant; without samples, uncounted (one value read)."""
    if samples is None:
        return VariantSample(count=0 if value is None else 1, value=value, counted=False)
    return VariantSample(count=samples, value=value)
