"""Measurements: which are due, and what a judged one does to tallies, evidence and the rollout.

Two kinds of scope are measured: `background` (spec.analysis, for the whole rollout once the
candidate takes live or mirrored traffic) and the current analysis step's scope (`step 3`,
`shadow`, `prePromotion`, `postPromotion`). A result for a scope that is not active any more
(the step moved on, the template changed) is dropped. Every window starts when the split in
force was confirmed by the routers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.analysis.judge import judge
from controller.analysis.observations import AnalysisResult, MetricObservation
from controller.analysis.policy import TallyOutcome, apply_result
from controller.api.metrics import MetricSpec
from controller.api.spec import ModelRolloutSpec
from controller.api.status import EVIDENCE_LIMIT, AnalysisRecord, MetricTally, ModelRolloutStatus, PauseState, Verdict
from controller.engine.confidence import windows_tested
from controller.engine.endings import report_verdict, rollback
from controller.engine.inputs import MeasurementRequest
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason
from controller.engine.traffic import takes_live_traffic, traffic_pending, traffic_since
from controller.strategies.expand import ends_in_verdict
from controller.strategies.steps import Analysis, Step

__all__ = [
    "BACKGROUND_SCOPE",
    "active_scopes",
    "analysis_done",
    "analysis_progress",
    "apply_measurements",
    "current_step",
    "due_at",
    "due_requests",
    "held",
    "tally_for",
]

BACKGROUND_SCOPE = "background"


@dataclass(frozen=True)
class Judged:
    scope: str
    metric: MetricSpec
    result: AnalysisResult
    tally: MetricTally
    outcome: TallyOutcome


def held(status: ModelRolloutStatus) -> bool:
    """Waiting on a person: paused by request, or stalled on Inconclusive results."""
    return status.manual_pause is not None or (status.pause is not None and status.pause.reason == "inconclusive")


def current_step(status: ModelRolloutStatus, steps: tuple[Step, ...]) -> Step | None:
    index = status.current_step
    return steps[index] if index is not None and 0 <= index < len(steps) else None


def active_scopes(
    status: ModelRolloutStatus, spec: ModelRolloutSpec, steps: tuple[Step, ...]
) -> dict[str, tuple[MetricSpec, ...]]:
    """The scopes measured now, with their metrics."""
    if status.candidate_revision is None or traffic_pending(status):
        return {}
    scopes: dict[str, tuple[MetricSpec, ...]] = {}
    if spec.analysis is not None and takes_live_traffic(status.traffic):
        scopes[BACKGROUND_SCOPE] = tuple(spec.analysis.metrics)
    step = current_step(status, steps)
    if isinstance(step, Analysis) and not held(status):
        scopes[step.scope] = tuple(m for m in step.metrics if tally_for(status, m, step.scope).passed < step.count)
    return scopes


def due_requests(
    status: ModelRolloutStatus, spec: ModelRolloutSpec, steps: tuple[Step, ...], now: datetime
) -> list[MeasurementRequest]:
    """The measurements whose interval has elapsed, each over the window since the split came into force."""
    since = traffic_since(status)
    due = due_at(status, spec, steps)
    return [
        MeasurementRequest(scope=scope, metric=metric, window_start=since)
        for scope, metrics in active_scopes(status, spec, steps).items()
        if scope in due and due[scope] <= now
        for metric in metrics
    ]


def due_at(status: ModelRolloutStatus, spec: ModelRolloutSpec, steps: tuple[Step, ...]) -> dict[str, datetime]:
    """When each active scope is to be measured next: its last measurement (or clock start) plus its interval."""
    due: dict[str, datetime] = {}
    for scope in active_scopes(status, spec, steps):
        interval_s, last = _cadence(status, spec, steps, scope)
        if last is not None:
            due[scope] = last + timedelta(seconds=interval_s)
    return due


def _cadence(
    status: ModelRolloutStatus, spec: ModelRolloutSpec, steps: tuple[Step, ...], scope: str
) -> tuple[float, datetime | None]:
    """The scope's interval, and when it was last measured (or its clock started)."""
    if scope == BACKGROUND_SCOPE and spec.analysis is not None:
        return spec.analysis.interval, status.background_measured_at or traffic_since(status)
    step = current_step(status, steps)
    interval_s = step.interval_s if isinstance(step, Analysis) else 0.0
    times = [t.last_measured_at for t in status.tallies if t.scope == scope and t.last_measured_at is not None]
    return interval_s, max(times, default=status.step_started_at)


def tally_for(status: ModelRolloutStatus, metric: MetricSpec, scope: str) -> MetricTally:
    found = (t for t in status.tallies if t.metric == metric.name and t.scope == scope)
    return next(found, MetricTally(metric=metric.name, scope=scope))


def analysis_done(status: ModelRolloutStatus, step: Analysis) -> bool:
    return all(tally_for(status, metric, step.scope).passed >= step.count for metric in step.metrics if not metric.dry_run)


def analysis_progress(status: ModelRolloutStatus, step: Analysis) -> str:
    """`error-rate 1/2 passed, latency 0/2 passed (last: <reason>)`."""
    parts = [
        f"{m.name} {min(tally_for(status, m, step.scope).passed, step.count)}/{step.count} passed" for m in step.metrics
    ]
    last = next((r for r in reversed(status.evidence) if r.scope == step.scope), None)
    return ", ".join(parts) + (f" (last: {last.verdict.value}: {last.reason})" if last is not None else "")


def apply_measurements(plan: Plan, ctx: Context) -> Plan:
    """Judge every observation of an active scope; roll back on a failure, stall on too many Inconclusive.

    Measurements were taken of the stored status's candidate; if this decision replaced or ended
    it, they say nothing about what runs now and are dropped.
    """
    candidate = plan.status.candidate_revision
    if candidate is None or candidate != ctx.rollout.status.candidate_revision:
        return plan
    scopes = active_scopes(plan.status, ctx.spec, ctx.steps)
    judged: list[Judged] = []
    for scoped in ctx.observations.measurements:
        metric = next((m for m in scopes.get(scoped.scope, ()) if m.name == scoped.observation.metric), None)
        if metric is not None:
            plan, one = _judge(plan, ctx, scoped.scope, metric, scoped.observation)
            judged.append(one)
    return _react(_mark_measured(plan, ctx, judged), ctx, judged)


def _judge(
    plan: Plan, ctx: Context, scope: str, metric: MetricSpec, observation: MetricObservation
) -> tuple[Plan, Judged]:
    status = plan.status
    result = judge(metric, observation, windows_tested(ctx.spec, ctx.steps))
    tally, outcome = apply_result(metric, tally_for(status, metric, scope), result, ctx.now)
    tallies = [t for t in status.tallies if (t.metric, t.scope) != (metric.name, scope)] + [tally]
    record = _record(status, ctx, scope, metric, observation, result)
    evidence = [*status.evidence, record][-EVIDENCE_LIMIT:]
    return plan.update(tallies=tallies, evidence=evidence), Judged(scope, metric, result, tally, outcome)


def _record(
    status: ModelRolloutStatus,
    ctx: Context,
    scope: str,
    metric: MetricSpec,
    observation: MetricObservation,
    result: AnalysisResult,
) -> AnalysisRecord:
    return AnalysisRecord(
        metric=metric.name,
        scope=scope,
        revision=str(status.candidate_revision),
        verdict=result.verdict,
        reason=result.reason,
        time=ctx.now,
        window_start=observation.window_start or traffic_since(status),
        window_end=observation.window_end or ctx.now,
        candidate_samples=result.candidate_samples,
        stable_samples=result.stable_samples,
        candidate_value=result.candidate_value,
        stable_value=result.stable_value,
        statistic=result.statistic,
        statistic_value=result.statistic_value,
        threshold=result.threshold,
    )


def _mark_measured(plan: Plan, ctx: Context, judged: list[Judged]) -> Plan:
    scopes = {one.scope for one in judged}
    if BACKGROUND_SCOPE in scopes:
        plan = plan.update(background_measured_at=ctx.now)
    if scopes - {BACKGROUND_SCOPE}:
        plan = plan.update(step_measurements=plan.status.step_measurements + 1)
    return plan


def _react(plan: Plan, ctx: Context, judged: list[Judged]) -> Plan:
    failed = next((one for one in judged if one.outcome is TallyOutcome.FAILED), None)
    if failed is not None:
        why = Message.ANALYSIS_FAILED.format(
            detail=failed.result.reason,
            scope=failed.scope,
            candidate=plan.status.candidate_revision,
            failures=f"{failed.tally.failed} failure{'' if failed.tally.failed == 1 else 's'}",
            limit=failed.metric.failure_limit,
        )
        if ends_in_verdict(ctx.steps):
            return report_verdict(plan, ctx, Verdict.FAILED, why)
        return rollback(plan.event(Reason.ANALYSIS_FAILED, why, "Warning"), ctx, Reason.ANALYSIS_FAILED, why)
    stalled = next((one for one in judged if one.outcome is TallyOutcome.STALLED), None)
    return _stall(plan, ctx, stalled) if stalled is not None else plan


def _stall(plan: Plan, ctx: Context, stalled: Judged) -> Plan:
    message = Message.ANALYSIS_INCONCLUSIVE.format(
        metric=stalled.metric.name,
        scope=stalled.scope,
        streak=stalled.tally.consecutive_inconclusive,
        limit=stalled.metric.inconclusive_limit,
        detail=stalled.result.reason,
    )
    plan = plan.update(pause=PauseState(reason="inconclusive", since=ctx.now, message=message))
    return plan.explain(Reason.ANALYSIS_INCONCLUSIVE, message).event(Reason.ANALYSIS_INCONCLUSIVE, message, "Warning")
