"""Monitoring the stable model after promotion: when to look, what the look finds, what it starts (pure).

While the rollout is Healthy with no candidate, `due_monitoring` asks every `interval` for the
stable model's traffic over a window, and `watch_monitoring` (a stage of `decide`) judges it:

1. A new stable revision starts monitoring afresh. With no baseline, its first traffic is the
   reference: the window from the start runs until `captureWindow` has passed and it holds
   `minSamples` sampled requests, then `SaveReference` stores it (it survives restarts; the
   adapter hands it back with every later window).
2. Each later check judges a sliding window that never overlaps the capture (two samples from one
   stretch of traffic would not be independent): input features and predictions by
   `analysis.drift_tests`, error rate, latency and accuracy by `analysis.quality`.
3. The results set three conditions, `DataDrift`, `PredictionDrift` and `QualityDegraded`: True
   with the evidence, False when judged fine, Unknown while there is too little to judge. A
   condition turning True opens an *episode*: a Warning event, and `TriggerRetraining` once for
   it (a condition that stays True fires nothing more); turning False again ends it.

A running rollout pauses monitoring (the stable's traffic is shared with a candidate); what was
found stays in status until the next stable is watched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from controller.analysis.drift_tests import IncomparableCounts, feature_drift, prediction_drift
from controller.analysis.quality import QualityCounts, judge_quality
from controller.api.monitoring import (
    MAX_EPISODES,
    MAX_FINDINGS,
    DataDriftSpec,
    FeatureFinding,
    ModelReference,
    MonitoringCheck,
    MonitoringCondition,
    MonitoringSpec,
    MonitoringStatus,
    PredictionDriftSpec,
    ReferenceInfo,
    RetrainingEpisode,
)
from controller.api.resource import ModelRollout
from controller.api.status import Condition, ConditionStatus, ModelRolloutStatus, Phase
from controller.engine.actions import EmitEvent, SaveReference, TriggerRetraining
from controller.engine.conditions import find_condition, set_condition
from controller.engine.inputs import MonitoringObservation, MonitoringRequest, MonitoringWindow
from controller.engine.plan import Context, Plan

__all__ = ["MonitoringReason", "due_monitoring", "next_check_at", "watch_monitoring", "watching"]


class MonitoringReason(StrEnum):
    STARTED = "MonitoringStarted"
    CAPTURING = "CapturingReference"
    CAPTURED = "ReferenceCaptured"
    REFERENCE_UNAVAILABLE = "ReferenceUnavailable"
    UNAVAILABLE = "MonitoringUnavailable"
    TOO_FEW_SAMPLES = "TooFewSamples"
    DRIFTED = "Drifted"
    NO_DRIFT = "NoDrift"
    DEGRADED = "Degraded"
    WITHIN_BOUNDS = "WithinBounds"
    NOT_WATCHED = "NotWatched"
    RETRAINING = "RetrainingTriggered"
    ENDED = "EpisodeEnded"


def watching(status: ModelRolloutStatus) -> bool:
    """Only a stable model serving alone is monitored."""
    return status.phase is Phase.HEALTHY and status.candidate_revision is None and status.stable_revision is not None


def due_monitoring(rollout: ModelRollout, now: datetime) -> MonitoringRequest | None:
    """The window to read before deciding at `now`, or None when no check is due."""
    spec, status = rollout.spec.monitoring, rollout.status
    if spec is None or not watching(status) or status.stable_revision is None:
        return None
    baseline = spec.reference.baseline
    current = status.monitoring
    if current is None or current.revision != status.stable_revision:
        # The first look only marks where the window starts.
        return MonitoringRequest(revision=status.stable_revision, window_start=now, baseline=baseline)
    if (at := next_check_at(status, spec)) is not None and now < at:
        return None
    return MonitoringRequest(revision=current.revision, window_start=_window_start(current, spec, now), baseline=baseline)


def next_check_at(status: ModelRolloutStatus, spec: MonitoringSpec | None) -> datetime | None:
    """When the next check is due; None when monitoring has not started (due at once) or is off."""
    current = status.monitoring
    if spec is None or current is None or not watching(status):
        return None
    last = current.last_check.at if current.last_check is not None else current.since
    return last + timedelta(seconds=spec.interval)


def _window_start(current: MonitoringStatus, spec: MonitoringSpec, now: datetime) -> datetime:
    if current.reference is None and current.capture_started_at is not None:
        return current.capture_started_at
    floor = current.reference.captured_to if current.reference and current.reference.source == "live" else None
    start = now - timedelta(seconds=spec.window)
    return max(start, floor or current.since, current.since)


def watch_monitoring(plan: Plan, ctx: Context) -> Plan:
    spec = ctx.spec.monitoring
    status = plan.status
    if spec is None:
        return _stop(plan) if status.monitoring is not None else plan
    if not watching(status) or status.stable_revision is None:
        return plan
    current = status.monitoring
    if current is None or current.revision != status.stable_revision:
        return _start(plan, ctx, spec, status.stable_revision)
    observation = ctx.observations.monitoring
    if observation is None:
        return plan
    if observation.window is None:
        return _unavailable(plan, ctx, current, observation.error or "no window was read")
    # With a window, an error is the reference's: a baseline that cannot be read.
    reference = _usable_reference(observation, current, spec)
    if reference is None:
        if spec.reference.baseline is not None:
            why = f"baseline {spec.reference.baseline} could not be read: {observation.error or 'not found'}"
            return _unavailable(plan, ctx, current, why, MonitoringReason.REFERENCE_UNAVAILABLE)
        return _capture(plan, ctx, spec, current, observation.window)
    return _check(plan, ctx, spec, current, reference, observation.window)


def _start(plan: Plan, ctx: Context, spec: MonitoringSpec, revision: str) -> Plan:
    baseline = spec.reference.baseline
    started = MonitoringStatus(revision=revision, since=ctx.now, capture_started_at=None if baseline else ctx.now)
    how = f"against baseline {baseline}" if baseline else f"capturing a reference from its traffic for {spec.reference.capture_window:g}s"
    plan = plan.update(monitoring=started)
    plan = _all_conditions(
        plan,
        ctx,
        ConditionStatus.UNKNOWN,
        MonitoringReason.CAPTURING if not baseline else MonitoringReason.STARTED,
        f"monitoring revision {revision} {how}",
    )
    return plan.act(EmitEvent(type="Normal", reason=MonitoringReason.STARTED.value, message=f"monitoring revision {revision} {how}"))


def _stop(plan: Plan) -> Plan:
    kinds = {c.value for c in MonitoringCondition}
    return plan.update(monitoring=None, conditions=[c for c in plan.status.conditions if c.type not in kinds])


def _usable_reference(observation: MonitoringObservation, current: MonitoringStatus, spec: MonitoringSpec) -> ModelReference | None:
    reference = observation.reference
    if reference is None:
        return None
    if spec.reference.baseline is not None:
        return reference if reference.source == "baseline" else None
    # A live reference describes one revision: another's (an older stable's) is no reference for this one.
    return reference if reference.source == "live" and reference.revision == current.revision else None


def _unavailable(
    plan: Plan, ctx: Context, current: MonitoringStatus, why: str, reason: MonitoringReason = MonitoringReason.UNAVAILABLE
) -> Plan:
    previous = current.last_check.message if current.last_check is not None else ""
    check = MonitoringCheck(at=ctx.now, window_start=None, message=why)
    plan = plan.update(monitoring=current.model_copy(update={"last_check": check}))
    plan = _all_conditions(plan, ctx, ConditionStatus.UNKNOWN, reason, why)
    # One Warning per distinct trouble, not one per check.
    return plan if previous == why else plan.act(EmitEvent(type="Warning", reason=reason.value, message=why))


def _capture(plan: Plan, ctx: Context, spec: MonitoringSpec, current: MonitoringStatus, window: MonitoringWindow) -> Plan:
    started = current.capture_started_at or current.since
    elapsed = (ctx.now - started).total_seconds()
    wanted = spec.reference.capture_window
    if elapsed < wanted or window.sampled < spec.reference.min_samples:
        message = (
            f"capturing the reference of revision {current.revision}: {window.sampled} of {spec.reference.min_samples} sampled"
            f" requests, {min(elapsed, wanted):.0f}s of {wanted:g}s"
        )
        check = MonitoringCheck(at=ctx.now, window_start=window.start, requests=window.requests, sampled=window.sampled, message=message)
        plan = plan.update(monitoring=current.model_copy(update={"last_check": check, "capture_started_at": started}))
        return _all_conditions(plan, ctx, ConditionStatus.UNKNOWN, MonitoringReason.CAPTURING, message)
    reference = ModelReference(
        source="live",
        revision=current.revision,
        captured_from=window.start,
        captured_to=window.end,
        samples=window.sampled,
        features=window.features,
        predictions=window.predictions,
        labelled=window.labelled,
        correct=window.correct,
    )
    message = (
        f"reference of revision {current.revision} captured: {window.sampled} sampled requests, {len(window.features)} features,"
        f" {window.labelled} labels, from {_hhmm(window.start)} to {_hhmm(window.end)}"
    )
    check = MonitoringCheck(at=ctx.now, window_start=window.start, requests=window.requests, sampled=window.sampled, message=message)
    info = _info(reference)
    plan = plan.update(monitoring=current.model_copy(update={"reference": info, "capture_started_at": None, "last_check": check}))
    plan = _all_conditions(
        plan, ctx, ConditionStatus.UNKNOWN, MonitoringReason.TOO_FEW_SAMPLES, "reference captured; the first window is filling"
    )
    return plan.act(SaveReference(reference=reference), EmitEvent(type="Normal", reason=MonitoringReason.CAPTURED.value, message=message))


def _info(reference: ModelReference) -> ReferenceInfo:
    return ReferenceInfo(
        source=reference.source,
        revision=reference.revision,
        captured_from=reference.captured_from,
        captured_to=reference.captured_to,
        samples=reference.samples,
        accuracy=reference.accuracy,
    )


def _check(
    plan: Plan, ctx: Context, spec: MonitoringSpec, current: MonitoringStatus, reference: ModelReference, window: MonitoringWindow
) -> Plan:
    findings: list[FeatureFinding] = []
    verdicts: dict[MonitoringCondition, Verdict] = {}
    if spec.data_drift is not None:
        try:
            findings = feature_drift(reference.features, window.features, spec.data_drift)
        except IncomparableCounts as exc:
            verdicts[MonitoringCondition.DATA_DRIFT] = (ConditionStatus.UNKNOWN, MonitoringReason.REFERENCE_UNAVAILABLE, str(exc))
        else:
            was_true = _is_true(plan, MonitoringCondition.DATA_DRIFT)
            verdicts[MonitoringCondition.DATA_DRIFT] = _data_drift_verdict(findings, spec.data_drift, window.sampled, was_true)
    prediction: FeatureFinding | None = None
    if spec.prediction_drift is not None:
        try:
            if reference.predictions is not None and window.predictions is not None:
                prediction = prediction_drift(reference.predictions, window.predictions, spec.prediction_drift)
        except IncomparableCounts as exc:
            verdicts[MonitoringCondition.PREDICTION_DRIFT] = (ConditionStatus.UNKNOWN, MonitoringReason.REFERENCE_UNAVAILABLE, str(exc))
        else:
            was_true = _is_true(plan, MonitoringCondition.PREDICTION_DRIFT)
            verdicts[MonitoringCondition.PREDICTION_DRIFT] = _prediction_verdict(prediction, spec.prediction_drift, was_true)
    quality = None
    if spec.quality is not None:
        counts = QualityCounts(
            requests=window.requests,
            errors=window.errors,
            latency_edges=window.latency_edges,
            latency_counts=window.latency_counts,
            labelled=window.labelled,
            correct=window.correct,
        )
        quality = judge_quality(counts, reference.labelled, reference.correct, spec.quality)
        if quality.broken:
            verdicts[MonitoringCondition.QUALITY_DEGRADED] = (ConditionStatus.TRUE, MonitoringReason.DEGRADED, "; ".join(quality.broken))
        elif quality.judged:
            verdicts[MonitoringCondition.QUALITY_DEGRADED] = (
                ConditionStatus.FALSE,
                MonitoringReason.WITHIN_BOUNDS,
                _quality_message(quality.error_rate, quality.latency_p99_s, quality.accuracy),
            )
        else:
            verdicts[MonitoringCondition.QUALITY_DEGRADED] = (
                ConditionStatus.UNKNOWN,
                MonitoringReason.TOO_FEW_SAMPLES,
                f"fewer than {spec.quality.min_samples} requests or labels in the window"
                f" ({window.requests} requests, {window.labelled} labels)",
            )
    check = MonitoringCheck(
        at=ctx.now,
        window_start=window.start,
        requests=window.requests,
        sampled=window.sampled,
        features_tested=len(findings),
        error_rate=quality.error_rate if quality else (window.errors / window.requests if window.requests else None),
        latency_p99_s=quality.latency_p99_s if quality else None,
        labelled=window.labelled,
        accuracy=window.correct / window.labelled if window.labelled else None,
        prediction_psi=prediction.psi if prediction else None,
        message="; ".join(f"{kind.value}: {message}" for kind, (_s, _r, message) in verdicts.items()),
    )
    updated = current.model_copy(update={"last_check": check, "findings": findings[:MAX_FINDINGS], "prediction_finding": prediction})
    if current.reference is None or current.reference.source != reference.source:
        updated = updated.model_copy(update={"reference": _info(reference)})
    plan = plan.update(monitoring=updated)
    for kind in MonitoringCondition:
        if kind in verdicts:
            plan = _judged(plan, ctx, spec, kind, *verdicts[kind], window=window)
        else:
            plan = _condition(plan, ctx, kind, ConditionStatus.UNKNOWN, MonitoringReason.NOT_WATCHED, "not watched by spec.monitoring")
    return plan


def _judged(
    plan: Plan,
    ctx: Context,
    spec: MonitoringSpec,
    kind: MonitoringCondition,
    verdict: ConditionStatus,
    reason: MonitoringReason,
    message: str,
    *,
    window: MonitoringWindow,
) -> Plan:
    before = find_condition(plan.status.conditions, kind.value)
    was_true = before is not None and before.status == ConditionStatus.TRUE
    plan = _condition(plan, ctx, kind, verdict, reason, message)
    current = plan.status.monitoring
    assert current is not None  # set by the caller
    if verdict == ConditionStatus.TRUE and not was_true:
        return _open_episode(plan, ctx, spec, kind, message, window)
    if verdict == ConditionStatus.FALSE and was_true:
        episodes = [e.model_copy(update={"ended": ctx.now}) if e.condition == kind and e.ended is None else e for e in current.episodes]
        plan = plan.update(monitoring=current.model_copy(update={"episodes": episodes}))
        return plan.act(EmitEvent(type="Normal", reason=MonitoringReason.ENDED.value, message=f"{kind.value} no longer holds: {message}"))
    return plan


def _open_episode(
    plan: Plan, ctx: Context, spec: MonitoringSpec, kind: MonitoringCondition, message: str, window: MonitoringWindow
) -> Plan:
    current = plan.status.monitoring
    assert current is not None
    episode_id = f"{ctx.rollout.namespace}.{ctx.rollout.name}.{current.revision}.{kind.value}.{int(ctx.now.timestamp())}"
    retraining = spec.retraining
    fires = retraining is not None and kind in retraining.conditions
    episode = RetrainingEpisode(id=episode_id, condition=kind, since=ctx.now, fired=fires)
    plan = plan.update(monitoring=current.model_copy(update={"episodes": [*current.episodes, episode][-MAX_EPISODES:]}))
    plan = plan.act(EmitEvent(type="Warning", reason=kind.value, message=f"revision {current.revision}: {message}"))
    if not fires or retraining is None:
        return plan
    evidence = _evidence(plan.status, kind, message, window)
    plan = plan.act(TriggerRetraining(episode=episode_id, condition=kind, retraining=retraining, evidence=evidence))
    return plan.act(
        EmitEvent(type="Normal", reason=MonitoringReason.RETRAINING.value, message=f"retraining triggered for episode {episode_id}")
    )


def _evidence(status: ModelRolloutStatus, kind: MonitoringCondition, message: str, window: MonitoringWindow) -> dict[str, Any]:
    current = status.monitoring
    assert current is not None
    return {
        "condition": kind.value,
        "message": message,
        "revision": current.revision,
        "window": {"start": window.start.isoformat() if window.start else None, "end": window.end.isoformat()},
        "reference": current.reference.to_wire() if current.reference else None,
        "check": current.last_check.to_wire() if current.last_check else None,
        "findings": _evidence_findings(current, kind),
    }


def _evidence_findings(current: MonitoringStatus, kind: MonitoringCondition) -> list[dict[str, Any]]:
    """What the condition rests on: the drifted features, the predictions' test, or (for quality) none."""
    if kind is MonitoringCondition.DATA_DRIFT:
        return [f.to_wire() for f in current.findings if f.drifted]
    if kind is MonitoringCondition.PREDICTION_DRIFT and current.prediction_finding is not None:
        return [current.prediction_finding.to_wire()]
    return []


Verdict = tuple[ConditionStatus, MonitoringReason, str]


# A drift that is flagged stays flagged while its PSI is above this share of the floor and its test
# still finds a difference: a PSI hovering about the floor would otherwise open and close an
# episode (and a retraining) at every other check.
HYSTERESIS = 0.75


def _still_drifted(finding: FeatureFinding, alpha: float, min_psi: float) -> bool:
    return finding.drifted or (finding.adjusted_p_value < alpha and finding.psi >= HYSTERESIS * min_psi)


def _data_drift_verdict(findings: list[FeatureFinding], spec: DataDriftSpec, sampled: int, was_true: bool) -> Verdict:
    drifted = [f for f in findings if (_still_drifted(f, spec.alpha, spec.min_psi) if was_true else f.drifted)]
    if drifted:
        return ConditionStatus.TRUE, MonitoringReason.DRIFTED, _drift_message(drifted, len(findings))
    min_samples = spec.min_samples
    if findings:
        return ConditionStatus.FALSE, MonitoringReason.NO_DRIFT, f"no drift in {len(findings)} features tested"
    why = f"no feature has {min_samples} values in the window yet ({sampled} sampled requests)"
    return ConditionStatus.UNKNOWN, MonitoringReason.TOO_FEW_SAMPLES, why


def _prediction_verdict(prediction: FeatureFinding | None, spec: PredictionDriftSpec, was_true: bool) -> Verdict:
    if prediction is None:
        why = f"fewer than {spec.min_samples} readable predictions in the window, or none in the reference"
        return ConditionStatus.UNKNOWN, MonitoringReason.TOO_FEW_SAMPLES, why
    if prediction.drifted or (was_true and _still_drifted(prediction, spec.alpha, spec.min_psi)):
        return ConditionStatus.TRUE, MonitoringReason.DRIFTED, _drift_message([prediction], 1)
    return ConditionStatus.FALSE, MonitoringReason.NO_DRIFT, f"predictions PSI {prediction.psi:.3f}, p={prediction.adjusted_p_value:.2g}"


def _is_true(plan: Plan, kind: MonitoringCondition) -> bool:
    found = find_condition(plan.status.conditions, kind.value)
    return found is not None and found.status == ConditionStatus.TRUE


def _all_conditions(plan: Plan, ctx: Context, verdict: ConditionStatus, reason: MonitoringReason, message: str) -> Plan:
    for kind in MonitoringCondition:
        plan = _condition(plan, ctx, kind, verdict, reason, message)
    return plan


def _condition(
    plan: Plan, ctx: Context, kind: MonitoringCondition, verdict: ConditionStatus, reason: MonitoringReason, message: str
) -> Plan:
    conditions: list[Condition] = set_condition(
        plan.status.conditions, kind.value, verdict, reason.value, message, ctx.now, ctx.rollout.generation
    )
    return plan.update(conditions=conditions)


def _drift_message(drifted: list[FeatureFinding], tested: int) -> str:
    shown = ", ".join(f"{f.feature} (PSI {f.psi:.3f}, {f.test} p={f.adjusted_p_value:.2g})" for f in drifted[:5])
    more = f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
    return f"{len(drifted)} of {tested} drifted: {shown}{more}"


def _quality_message(error_rate: float | None, p99: float | None, accuracy: float | None) -> str:
    parts = [
        f"error rate {error_rate:.4f}" if error_rate is not None else None,
        f"p99 <= {p99:g}s" if p99 is not None else None,
        f"accuracy {accuracy:.4f}" if accuracy is not None else None,
    ]
    return "within bounds: " + ", ".join(p for p in parts if p)


def _hhmm(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S") if at else "?"
