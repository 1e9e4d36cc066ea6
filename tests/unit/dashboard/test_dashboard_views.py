"""What the dashboard's pages show, from the objects the API server returns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.api.resource import revision_of
from controller.dashboard.history import metric_series, report_of, step_records
from controller.dashboard.views import detail, read_status, row
from controller.local.session import SessionOutcome

NOW = datetime(2025, 3, 1, 12, 10, tzinfo=UTC)
METRICS = [
    {"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.05},
    {"name": "p99", "router": {"metric": "latencyP99"}, "max": 0.5},
]


def _record(metric: str, minute: int, candidate: float, stable: float, revision: str = "bbbbbbbbbb") -> dict[str, Any]:
    return {"metric": metric, "scope": "background", "revision": revision, "verdict": "Passed", "reason": "ok",
            "time": f"2025-03-01T12:0{minute}:00Z", "candidateValue": candidate, "stableValue": stable}  # fmt: skip


def _rollout(**status: Any) -> dict[str, Any]:
    base = {"observedGeneration": 1, "phase": "Paused", "reason": "WaitingForPromote", "message": "waiting",
            "stableRevision": "aaaaaaaaaa", "candidateRevision": "bbbbbbbbbb", "currentStep": 1, "stepCount": 4,
            "stepStartedAt": "2025-03-01T12:03:00Z", "trafficSummary": "70/30", "traffic": {"stable": 70, "candidate": 30}}  # fmt: skip
    return {
        "apiVersion": "modelrollout.io/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": "demo", "namespace": "ml", "uid": "u1", "generation": 1, "creationTimestamp": "2025-03-01T11:00:00Z"},
        "spec": {"template": {"spec": {"containers": [{"name": "model", "image": "model:2"}]}},
                 "strategy": {"canary": {"steps": [{"setWeight": 30}, {"pause": {}}, {"setWeight": 100}]}},
                 "analysis": {"interval": "1m", "metrics": METRICS}},
        "status": {**base, **status},
    }  # fmt: skip


def _event(reason: str, message: str, minute: int, uid: str = "u1") -> dict[str, Any]:
    return {"involvedObject": {"uid": uid}, "reason": reason, "message": message, "type": "Normal",
            "lastTimestamp": f"2025-03-01T12:0{minute}:00Z"}  # fmt: skip


EVENTS = [
    _event("RolloutStarted", "rolling out revision bbbbbbbbbb over stable aaaaaaaaaa (canary, 4 steps)", 1),
    _event("StepCompleted", "step 0 (setWeight 30) completed", 3),
    _event("StepCompleted", "step 0 (setWeight 30) completed", 2, uid="someone-else"),
]


def test_a_row_has_what_the_list_shows() -> None:
    assert row(_rollout(), NOW) == {
        "namespace": "ml", "name": "demo", "phase": "Paused", "step": "2/4", "split": "70/30", "stable": "aaaaaaaaaa",
        "candidate": "bbbbbbbbbb", "health": "Progressing", "age": "1h", "created": "2025-03-01T11:00:00Z", "reason": "WaitingForPromote",
    }  # fmt: skip


def test_actions_are_enabled_only_where_the_phase_allows_them_and_say_what_they_do() -> None:
    actions = {a["action"]: a for a in detail(_rollout(), [], [], [], NOW)["actions"]}
    assert {name for name, a in actions.items() if a["enabled"]} == {"promote", "promote-full", "abort", "pause", "resume", "undo"}
    assert (
        actions["abort"]["confirm"]
        == "Roll demo back now: all traffic to stable aaaaaaaaaa, candidate bbbbbbbbbb scaled down and rejected."
    )
    healthy = {a["action"] for a in detail(_rollout(phase="Healthy", candidateRevision=None), [], [], [], NOW)["actions"] if a["enabled"]}
    assert healthy == {"retry", "undo"}


def test_charts_follow_the_current_candidates_evidence_in_the_metrics_units() -> None:
    evidence = [_record("error-rate", 1, 0.01, 0.02, revision="old0000000"), _record("error-rate", 2, 0.03, 0.02),
                _record("p99", 2, 0.120, 0.100), _record("error-rate", 4, 0.04, 0.02)]  # fmt: skip
    obj = _rollout(evidence=evidence)
    charts = {s.metric: s for s in metric_series(obj, read_status(obj))}
    assert [(p.candidate, p.stable) for p in charts["error-rate"].points] == [(0.03, 0.02), (0.04, 0.02)]
    assert charts["p99"].unit == "ms" and [(p.candidate, p.stable) for p in charts["p99"].points] == [(120.0, 100.0)]


def test_the_step_timeline_comes_from_this_objects_events() -> None:
    obj = _rollout()
    steps = step_records(obj, read_status(obj), EVENTS, NOW)
    assert [(s.index, s.description, s.started_at.minute, s.finished_at and s.finished_at.minute) for s in steps] == [
        (0, "setWeight 30", 1, 3),
        (1, "pause until promoted", 3, None),
    ]


def test_a_cluster_rollout_exports_the_report_local_mode_writes() -> None:
    promoted = revision_of({"spec": {"containers": [{"name": "model", "image": "model:2"}]}})
    obj = _rollout(phase="Healthy", reason="Promoted", candidateRevision=None, currentStep=None, stableRevision=promoted,
                   evidence=[_record("error-rate", 2, 0.03, 0.02, revision=promoted)])  # fmt: skip
    report = report_of(obj, read_status(obj), EVENTS, NOW)
    assert report.rollout == "ml/demo" and report.reason == "Promoted: waiting"
    assert [(p.variant, p.error_rate) for p in report.series] == [("candidate", 0.03), ("stable", 0.02)]
    assert report.outcome is SessionOutcome.PROMOTED


def test_the_page_shows_monitoring_findings_and_episodes_only_for_a_monitored_model() -> None:
    assert detail(_rollout(phase="Healthy", candidateRevision=None), [], [], [], NOW)["monitoring"] is None
    monitoring = {
        "revision": "aaaaaaaaaa",
        "since": "2025-03-01T12:00:00Z",
        "reference": {"source": "live", "revision": "aaaaaaaaaa", "samples": 1200},
        "lastCheck": {"at": "2025-03-01T12:30:00Z", "windowStart": "2025-03-01T12:15:00Z", "requests": 900, "sampled": 45},
        "findings": [{"feature": "age", "test": "ks", "pValue": 0.001, "adjustedPValue": 0.004, "psi": 0.3,
                      "samples": 45, "referenceSamples": 600, "drifted": True}],
        "episodes": [{"id": "ml.demo.aaaaaaaaaa.DataDrift.1", "condition": "DataDrift", "since": "2025-03-01T12:30:00Z", "fired": True}],
    }  # fmt: skip
    shown = detail(_rollout(phase="Healthy", candidateRevision=None, monitoring=monitoring), [], [], [], NOW)["monitoring"]
    assert shown["reference"] == "live, 1200 samples of revision aaaaaaaaaa"
    assert [(f["feature"], f["drifted"]) for f in shown["findings"]] == [("age", True)]
    assert [e["condition"] for e in shown["episodes"]] == ["DataDrift"]
    assert shown["check"]["requests"] == 900
