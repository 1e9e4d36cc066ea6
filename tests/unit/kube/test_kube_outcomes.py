"""What the controller counts from one decision: new verdicts, promotions, rollbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.api.status import ModelRolloutStatus
from controller.kube.outcomes import promoted, record_outcome, rolled_back
from controller.kube.telemetry import ControllerMetrics

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _status(**fields: Any) -> ModelRolloutStatus:
    return ModelRolloutStatus.model_validate(fields)


def _record(metric: str, verdict: str, second: int) -> dict[str, Any]:
    time = T0.replace(second=second).isoformat()
    return {"metric": metric, "scope": "background", "revision": "c1", "verdict": verdict, "reason": "r", "time": time}


def _value(metrics: ControllerMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_rollback_is_a_rejected_candidate_and_a_promotion_a_candidate_become_stable() -> None:
    running = _status(phase="Progressing", stableRevision="s1", candidateRevision="c1")
    assert rolled_back(running, _status(phase="Degraded", stableRevision="s1", rejectedRevision="c1"))
    assert not rolled_back(running, _status(phase="Healthy", stableRevision="c1"))
    assert promoted(running, _status(phase="Healthy", stableRevision="c1"))
    assert not promoted(running, running)
    again = _status(phase="Degraded", stableRevision="s1", rejectedRevision="c1")
    assert not rolled_back(again, again)  # the same rollback read back after a restart


def test_only_new_evidence_is_counted() -> None:
    metrics = ControllerMetrics()
    before = _status(evidence=[_record("errors", "Passed", 1)])
    after = _status(evidence=[_record("errors", "Passed", 1), _record("errors", "Failed", 2), _record("latency", "Passed", 2)])
    record_outcome(metrics, before, after)
    record_outcome(metrics, after, after)
    assert _value(metrics, "modelrollout_analysis_verdicts_total", metric="errors", verdict="Failed") == 1
    assert _value(metrics, "modelrollout_analysis_verdicts_total", metric="errors", verdict="Passed") == 0
    assert _value(metrics, "modelrollout_analysis_verdicts_total", metric="latency", verdict="Passed") == 1
