"""Monitoring a promoted model on simulated time: reference capture, drift and quality checks, episodes.

Windows are drawn as the routers would count them: numbers binned on the router's feature edges,
categories by value, so the real judges in analysis.drift_tests and analysis.quality decide.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from controller.api.monitoring import DataDriftSpec, FeatureCounts, FeatureFinding, ModelReference, MonitoringCondition
from controller.api.resource import ModelRollout, revision_of
from controller.api.status import ConditionStatus, ModelRolloutStatus, Phase, TrafficSplit
from controller.engine.actions import EmitEvent, SaveReference, TriggerRetraining
from controller.engine.conditions import find_condition
from controller.engine.decide import Decision, decide, due_monitoring
from controller.engine.inputs import MonitoringObservation, MonitoringWindow, Observations
from controller.engine.monitoring import _data_drift_verdict
from router.stats import FEATURE_EDGES
from tests.unit.engine.engine_harness import T0, template

INTERVAL = timedelta(seconds=60)
STABLE = revision_of(template("1"))


def monitored(**monitoring: Any) -> ModelRollout:
    spec = {
        "template": template("1"),
        "strategy": {"canary": {"steps": [{"setWeight": 50}, {"setWeight": 100}]}},
        "monitoring": {
            "interval": "1m",
            "window": "5m",
            "reference": {"captureWindow": "5m", "minSamples": 500},
            "quality": {"minAccuracy": 0.85, "minSamples": 200},
            "retraining": {"webhook": {"url": "http://retrain.example:8080/hook"}},
            **monitoring,
        },
    }
    status = ModelRolloutStatus(phase=Phase.HEALTHY, stable_revision=STABLE, traffic=TrafficSplit())
    return ModelRollout.model_validate(
        {"metadata": {"name": "iris", "namespace": "ml", "generation": 1}, "spec": spec, "status": status.to_wire()}
    )


def bins(values: np.ndarray) -> list[int]:
    counts = [0] * (len(FEATURE_EDGES) + 1)
    for value in values:
        counts[bisect_left(FEATURE_EDGES, float(value))] += 1
    return counts


def window(
    rng: np.random.Generator, start: datetime, end: datetime, *, n: int = 2000, shift: float = 0.0, color_new: float = 0.0,
    accuracy: float = 0.92,
) -> MonitoringWindow:  # fmt: skip
    """`n` requests of three numeric features and one categorical; `shift` moves feature "1", `color_new` is the share of a new colour."""
    colors = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    colors = np.where(rng.random(n) < color_new, "violet", colors)
    labelled = n // 2
    correct = int(rng.binomial(labelled, accuracy))
    return MonitoringWindow(
        start=start,
        end=end,
        requests=n,
        errors=0,
        latency_edges=(0.01, 0.1, 1.0),
        latency_counts=(n, 0, 0, 0),
        labelled=labelled,
        correct=correct,
        sampled=n,
        features={
            "0": FeatureCounts(bins=bins(rng.normal(5, 1, n))),
            "1": FeatureCounts(bins=bins(rng.lognormal(3 + shift, 0.5, n))),
            "2": FeatureCounts(bins=bins(rng.uniform(0, 100, n))),
            "color": FeatureCounts(categories={str(c): int(k) for c, k in zip(*np.unique(colors, return_counts=True))}),
        },
        predictions=FeatureCounts(bins=bins(rng.beta(2, 5, n))),
    )


class Watch:
    """Drives a monitored rollout: each step asks `due_monitoring`, answers it with a window, decides."""

    def __init__(self, rollout: ModelRollout, seed: int = 7) -> None:
        self.rollout = rollout
        self.now = T0
        self.rng = np.random.default_rng(seed)
        self.stored: ModelReference | None = None
        self.decisions: list[Decision] = []

    def step(self, baseline: ModelReference | None = None, error: str | None = None, **drift: Any) -> Decision:
        request = due_monitoring(self.rollout, self.now)
        observation = None
        if request is not None:
            reference = baseline if request.baseline is not None else self.stored
            start = request.window_start
            observation = MonitoringObservation(
                window=None if error else window(self.rng, start, self.now, **drift), reference=reference, error=error
            )
        decision = decide(self.rollout, Observations(monitoring=observation), self.now)
        for action in decision.actions:
            if isinstance(action, SaveReference):
                self.stored = action.reference
        self.rollout = self.rollout.model_copy(update={"status": decision.status})
        self.decisions.append(decision)
        self.now += INTERVAL
        return decision

    def condition(self, kind: MonitoringCondition) -> ConditionStatus | None:
        found = find_condition(self.rollout.status.conditions, kind.value)
        return found.status if found else None

    def triggers(self) -> list[TriggerRetraining]:
        return [a for d in self.decisions for a in d.actions if isinstance(a, TriggerRetraining)]

    def captured(self) -> Watch:
        while self.stored is None:
            self.step()
            assert self.now < T0 + timedelta(hours=1), "no reference captured within an hour"
        return self


def test_monitoring_starts_with_the_stable_and_captures_its_reference_after_the_window() -> None:
    watch = Watch(monitored())
    first = watch.step()
    assert any(isinstance(a, EmitEvent) and a.reason == "MonitoringStarted" for a in first.actions)
    assert watch.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.UNKNOWN
    saves: list[SaveReference] = []
    while not saves:
        saves = [a for a in watch.step().actions if isinstance(a, SaveReference)]
    status = watch.rollout.status.monitoring
    assert status is not None and status.reference is not None
    reference = saves[0].reference
    # Captured no earlier than captureWindow after monitoring began, from the capture's start.
    assert reference.captured_from == T0
    assert reference.captured_to is not None and reference.captured_to - T0 >= timedelta(minutes=5)
    assert reference.revision == STABLE and reference.source == "live"
    assert set(reference.features) == {"0", "1", "2", "color"}


def test_windows_after_the_capture_never_overlap_it() -> None:
    watch = Watch(monitored()).captured()
    status = watch.rollout.status.monitoring
    assert status is not None and status.reference is not None and status.reference.captured_to is not None
    request = due_monitoring(watch.rollout, watch.now)
    assert request is not None and request.window_start >= status.reference.captured_to


def test_undrifted_traffic_over_many_checks_raises_no_flag_and_triggers_nothing() -> None:
    watch = Watch(monitored()).captured()
    for _ in range(40):
        watch.step()
        assert watch.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.FALSE
        assert watch.condition(MonitoringCondition.PREDICTION_DRIFT) is ConditionStatus.FALSE
        assert watch.condition(MonitoringCondition.QUALITY_DEGRADED) is ConditionStatus.FALSE
    assert watch.triggers() == []


def test_a_shifted_feature_and_a_new_category_are_flagged_by_name_and_only_they() -> None:
    watch = Watch(monitored()).captured()
    watch.step(shift=0.5, color_new=0.2)
    assert watch.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.TRUE
    status = watch.rollout.status.monitoring
    assert status is not None
    drifted = {f.feature for f in status.findings if f.drifted}
    assert drifted == {"1", "color"}
    message = find_condition(watch.rollout.status.conditions, "DataDrift")
    assert message is not None and "1 (PSI" in message.message and "color" in message.message


def test_one_drift_episode_triggers_retraining_once_and_a_new_episode_again() -> None:
    watch = Watch(monitored()).captured()
    for _ in range(3):
        watch.step(shift=0.5)
    first = watch.triggers()
    assert len(first) == 1 and first[0].condition is MonitoringCondition.DATA_DRIFT
    assert first[0].evidence["condition"] == "DataDrift"
    assert [f["feature"] for f in first[0].evidence["findings"]] == ["1"]
    assert str(first[0].retraining.webhook.url if first[0].retraining.webhook else "").startswith("http://retrain.example")
    for _ in range(2):
        watch.step()
    assert watch.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.FALSE
    status = watch.rollout.status.monitoring
    assert status is not None and status.episodes[0].ended is not None and status.episodes[0].fired
    watch.step(shift=0.5)
    second = watch.triggers()
    assert len(second) == 2 and second[1].episode != second[0].episode


def test_accuracy_falling_below_the_bound_degrades_quality_and_triggers() -> None:
    watch = Watch(monitored()).captured()
    watch.step(accuracy=0.70)
    assert watch.condition(MonitoringCondition.QUALITY_DEGRADED) is ConditionStatus.TRUE
    assert watch.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.FALSE
    assert [t.condition for t in watch.triggers()] == [MonitoringCondition.QUALITY_DEGRADED]


def test_retraining_fires_only_for_the_conditions_it_is_on_for() -> None:
    rollout = monitored(retraining={"conditions": ["QualityDegraded"], "webhook": {"url": "http://retrain.example/hook"}})
    watch = Watch(rollout).captured()
    watch.step(shift=0.5)
    assert watch.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.TRUE
    assert watch.triggers() == []
    status = watch.rollout.status.monitoring
    assert status is not None and not status.episodes[-1].fired


def test_a_running_rollout_pauses_monitoring() -> None:
    watch = Watch(monitored()).captured()
    status = watch.rollout.status.model_copy(update={"candidate_revision": "def456", "phase": Phase.PROGRESSING})
    assert due_monitoring(watch.rollout.model_copy(update={"status": status}), watch.now) is None


def test_a_new_stable_revision_is_monitored_afresh_with_its_own_reference() -> None:
    watch = Watch(monitored()).captured()
    # As if version 2 had just been promoted.
    promoted = revision_of(template("2"))
    status = watch.rollout.status.model_copy(update={"stable_revision": promoted})
    spec = watch.rollout.spec.model_copy(update={"template": template("2")})
    watch.rollout = watch.rollout.model_copy(update={"status": status, "spec": spec})
    watch.step()
    monitoring = watch.rollout.status.monitoring
    assert monitoring is not None and monitoring.revision == promoted and monitoring.reference is None
    # The old revision's reference is no reference for the new one: it captures its own.
    watch.step()
    monitoring = watch.rollout.status.monitoring
    assert monitoring is not None and monitoring.reference is None and monitoring.capture_started_at is not None


def test_a_missing_baseline_leaves_the_conditions_unknown_with_one_warning() -> None:
    watch = Watch(monitored(reference={"baseline": "iris-training"}))
    watch.step()
    warnings = []
    for _ in range(4):
        decision = watch.step(error="ConfigMap ml/iris-training not found")
        warnings += [a for a in decision.actions if isinstance(a, EmitEvent) and a.type == "Warning"]
    assert watch.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.UNKNOWN
    assert len(warnings) == 1 and "iris-training" in warnings[0].message


def test_a_baseline_is_used_from_the_first_check() -> None:
    rng = np.random.default_rng(3)
    training = window(rng, T0, T0, n=5000)
    baseline = ModelReference(source="baseline", samples=5000, features=training.features, predictions=training.predictions)
    watch = Watch(monitored(reference={"baseline": "iris-training"}))
    watch.step(baseline=baseline)
    watch.step(baseline=baseline, shift=0.5)
    assert watch.condition(MonitoringCondition.DATA_DRIFT) is ConditionStatus.TRUE
    status = watch.rollout.status.monitoring
    assert status is not None and status.reference is not None and status.reference.source == "baseline"


def test_monitoring_removed_from_the_spec_clears_its_status_and_conditions() -> None:
    watch = Watch(monitored()).captured()
    spec = watch.rollout.spec.model_copy(update={"monitoring": None})
    watch.rollout = watch.rollout.model_copy(update={"spec": spec})
    watch.step()
    assert watch.rollout.status.monitoring is None
    assert watch.condition(MonitoringCondition.DATA_DRIFT) is None


@pytest.mark.parametrize("window_s, interval_s", [("30s", "1m")])
def test_a_window_shorter_than_the_interval_is_refused(window_s: str, interval_s: str) -> None:
    with pytest.raises(ValueError, match="shorter than interval"):
        monitored(window=window_s, interval=interval_s)


def _finding(psi: float, adjusted_p: float, drifted: bool) -> FeatureFinding:
    return FeatureFinding(
        feature="1", test="chi-squared", p_value=adjusted_p, adjusted_p_value=adjusted_p, psi=psi, samples=900, reference_samples=900,
        drifted=drifted,
    )  # fmt: skip


def test_a_flagged_drift_hovering_just_under_the_floor_stays_flagged_until_it_is_clearly_gone() -> None:
    spec = DataDriftSpec(alpha=0.01, min_psi=0.1)
    hovering = [_finding(psi=0.09, adjusted_p=1e-6, drifted=False)]
    assert _data_drift_verdict(hovering, spec, 900, was_true=True)[0] is ConditionStatus.TRUE
    # The same numbers never open an episode.
    assert _data_drift_verdict(hovering, spec, 900, was_true=False)[0] is ConditionStatus.FALSE
    gone = [_finding(psi=0.05, adjusted_p=1e-6, drifted=False)]
    assert _data_drift_verdict(gone, spec, 900, was_true=True)[0] is ConditionStatus.FALSE
    chance = [_finding(psi=0.2, adjusted_p=0.3, drifted=False)]
    assert _data_drift_verdict(chance, spec, 900, was_true=True)[0] is ConditionStatus.FALSE


def test_data_drift_evidence_holds_the_drifted_features_and_never_the_predictions() -> None:
    watch = Watch(monitored()).captured()
    watch.step(shift=0.5)
    status = watch.rollout.status.monitoring
    assert status is not None and status.prediction_finding is not None
    assert "predictions" not in {f.feature for f in status.findings}
    (trigger,) = watch.triggers()
    assert [f["feature"] for f in trigger.evidence["findings"]] == ["1"]


def test_a_baseline_that_cannot_be_read_beside_a_good_window_names_the_baseline() -> None:
    rollout = monitored(reference={"baseline": "iris-training"})
    watch = Watch(rollout)
    watch.step()
    request = due_monitoring(watch.rollout, watch.now)
    assert request is not None and request.baseline == "iris-training"
    traffic = window(watch.rng, request.window_start, watch.now)
    observation = MonitoringObservation(window=traffic, error="ConfigMap ml/iris-training not found")
    decision = decide(watch.rollout, Observations(monitoring=observation), watch.now)
    found = find_condition(decision.status.conditions, "DataDrift")
    assert found is not None and found.status is ConditionStatus.UNKNOWN and found.reason == "ReferenceUnavailable"
    assert found.message == "baseline iris-training could not be read: ConfigMap ml/iris-training not found"
