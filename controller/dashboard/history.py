"""A cluster rollout's history, rebuilt from what survives restarts: its status and its Events.

The evidence trail in status holds the recent judged measurements (at most `EVIDENCE_LIMIT`),
each with the candidate's and the stable's values and its time: the charts are drawn from it,
so they need no store of their own and survive a restart of the dashboard or the controller.
Step start and end times come from the controller's Events (`RolloutStarted`, `StepCompleted`),
which the API server keeps for its event TTL (one hour by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from controller.api.metrics import MetricSpec, RouterMetric
from controller.api.resource import ModelRollout
from controller.api.status import AnalysisRecord, ModelRolloutStatus
from controller.local.report import RolloutReport, SeriesPoint, StepRecord
from controller.local.session import SessionOutcome, outcome_of
from controller.strategies.expand import expand
from controller.strategies.steps import describe

__all__ = [
    "MetricPoint",
    "MetricSeries",
    "metric_series",
    "step_records",
    "step_names",
    "report_of",
    "event_time",
    "rollout_events",
    "current_records",
]

_STEP_DONE = re.compile(r"^step (\d+) \((.*)\) completed$")
# Router metrics whose values are seconds: shown in milliseconds.
_SECONDS = {
    RouterMetric.LATENCY_P50,
    RouterMetric.LATENCY_P90,
    RouterMetric.LATENCY_P99,
    RouterMetric.LATENCY,
    RouterMetric.SHADOW_LATENCY_P99,
}


@dataclass(frozen=True)
class MetricPoint:
    t: datetime
    candidate: float | None
    stable: float | None
    verdict: str


@dataclass(frozen=True)
class MetricSeries:
    """One analysed metric over the current rollout: candidate and stable values at each judgement."""

    metric: str
    kind: str  # the router metric (errorRate, ...), or prometheus / webhook
    unit: str
    points: tuple[MetricPoint, ...]


def _specs(obj: dict[str, Any]) -> dict[str, MetricSpec]:
    try:
        rollout = ModelRollout.model_validate(obj)
    except ValidationError:
        return {}
    specs = list(rollout.spec.analysis.metrics) if rollout.spec.analysis else []
    for step in rollout.spec.strategy.canary.steps if rollout.spec.strategy.canary else []:
        if step.analysis is not None:
            specs.extend(step.analysis.metrics or [])
    return {spec.name: spec for spec in specs}


def _kind(spec: MetricSpec | None) -> tuple[str, str, float]:
    """(kind, unit, scale) of a metric's values."""
    if spec is None or spec.router is None:
        return ("prometheus" if spec and spec.prometheus else "webhook" if spec and spec.webhook else "metric", "", 1.0)
    metric = spec.router.metric
    if metric in _SECONDS:
        return metric.value, "ms", 1000.0
    return metric.value, "req/s" if metric is RouterMetric.REQUEST_RATE else "", 1.0


def current_records(status: ModelRolloutStatus) -> list[AnalysisRecord]:
    """The evidence of the rollout in progress, or of the last one when none is."""
    revision = status.candidate_revision or (status.evidence[-1].revision if status.evidence else None)
    return [record for record in status.evidence if record.revision == revision]


def metric_series(obj: dict[str, Any], status: ModelRolloutStatus) -> list[MetricSeries]:
    specs = _specs(obj)
    by_metric: dict[str, list[AnalysisRecord]] = {}
    for record in current_records(status):
        by_metric.setdefault(record.metric, []).append(record)
    series = []
    for name, records in by_metric.items():
        kind, unit, scale = _kind(specs.get(name))
        points = tuple(
            MetricPoint(r.time, None if r.candidate_value is None else r.candidate_value * scale,
                        None if r.stable_value is None else r.stable_value * scale, r.verdict.value)
            for r in sorted(records, key=lambda r: r.time)
        )  # fmt: skip
        series.append(MetricSeries(name, kind, unit, points))
    return series


def event_time(event: dict[str, Any]) -> datetime | None:
    stamp = event.get("lastTimestamp") or event.get("eventTime") or (event.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return None
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def rollout_events(events: list[dict[str, Any]], obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The Events about this object (by uid), oldest first."""
    uid = (obj.get("metadata") or {}).get("uid")
    mine = [e for e in events if (e.get("involvedObject") or {}).get("uid") == uid]
    return sorted(mine, key=lambda e: event_time(e) or datetime.min.replace(tzinfo=UTC))


def rollout_start(obj: dict[str, Any], events: list[dict[str, Any]], now: datetime) -> datetime:
    """When the rollout in progress (or the last one) started: its RolloutStarted Event, else what status and metadata say."""
    starts = [event_time(e) for e in rollout_events(events, obj) if e.get("reason") in ("RolloutStarted", "Initialized")]
    if known := [t for t in starts if t is not None]:
        return known[-1]
    status = ModelRolloutStatus.model_validate(obj.get("status") or {}) if obj.get("status") else ModelRolloutStatus()
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    return status.step_started_at or (datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else now)


def step_records(obj: dict[str, Any], status: ModelRolloutStatus, events: list[dict[str, Any]], now: datetime) -> list[StepRecord]:
    """The current rollout's steps with their start and end times, as far as Events and status tell."""
    names = step_names(obj)
    ordered = rollout_events(events, obj)
    starts = [e for e in ordered if e.get("reason") in ("RolloutStarted", "CandidateReplaced")]
    begun = event_time(starts[-1]) if starts else status.step_started_at
    if begun is None:
        return []
    finished: dict[int, datetime] = {}
    for event in ordered:
        when = event_time(event)
        match = _STEP_DONE.match(str(event.get("message") or "")) if event.get("reason") == "StepCompleted" else None
        if match and when is not None and when >= begun:
            finished[int(match.group(1))] = when
    last = status.current_step if status.current_step is not None else (max(finished) if finished else -1)
    records, start = [], begun
    for index in range(last + 1):
        end = finished.get(index)
        if index == status.current_step:
            start, end = status.step_started_at or start, None
        name = names[index] if index < len(names) else f"step {index}"
        records.append(StepRecord(index=index, kind=name.split(" ")[0], description=name, started_at=start, finished_at=end))
        start = end or now
    return records


def step_names(obj: dict[str, Any]) -> list[str]:
    try:
        return [describe(step) for step in expand(ModelRollout.model_validate(obj).spec)]
    except (ValidationError, ValueError):
        return []


# The report's SeriesPoint field for each router metric it has a chart for.
_POINT_FIELDS = {
    RouterMetric.REQUEST_RATE.value: "request_rate",
    RouterMetric.ERROR_RATE.value: "error_rate",
    RouterMetric.LATENCY_P99.value: "p99_ms",
    RouterMetric.LATENCY_P50.value: "p50_ms",
    RouterMetric.SHADOW_AGREEMENT.value: "agreement",
    RouterMetric.PREDICTION_DRIFT.value: "drift_psi",
}


def _series_points(series: list[MetricSeries]) -> list[SeriesPoint]:
    """The report's per-variant points, from the router metrics it charts."""
    points: list[SeriesPoint] = []
    for one in series:
        if one.kind not in _POINT_FIELDS:
            continue
        field_name = _POINT_FIELDS[one.kind]
        variant_of = ("shadow", None) if one.kind == RouterMetric.SHADOW_AGREEMENT.value else ("candidate", "stable")
        for point in one.points:
            for variant, value in zip(variant_of, (point.candidate, point.stable), strict=True):
                if variant is not None and value is not None:
                    points.append(SeriesPoint.model_validate({"t": point.t, "variant": variant, field_name: value}))
    return sorted(points, key=lambda p: p.t)


def _outcome(obj: dict[str, Any], status: ModelRolloutStatus) -> SessionOutcome:
    if status.reason == "InvalidSpec":
        return SessionOutcome.INVALID
    try:
        ended = outcome_of(ModelRollout.model_validate(obj))
    except ValidationError:
        return SessionOutcome.INVALID
    # Still rolling out when exported: the report says so as the local runner does when time runs out.
    return ended or SessionOutcome.TIMED_OUT


def report_of(obj: dict[str, Any], status: ModelRolloutStatus, events: list[dict[str, Any]], now: datetime) -> RolloutReport:
    """The same report local mode writes, for a rollout in a cluster."""
    steps = step_records(obj, status, events, now)
    records = current_records(status)
    times = [s.started_at for s in steps] + [r.time for r in records]
    started = min(times) if times else now
    metadata = obj.get("metadata") or {}
    return RolloutReport(
        rollout=f"{metadata.get('namespace')}/{metadata.get('name')}",
        outcome=_outcome(obj, status),
        verdict=status.shadow_verdict,
        reason=f"{status.reason or 'no decision yet'}: {status.message}" if status.message else (status.reason or "no decision yet"),
        started_at=started,
        finished_at=max(now, started),
        steps=steps,
        analysis=records,
        series=_series_points(metric_series(obj, status)),
    )
