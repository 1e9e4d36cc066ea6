"""Per-rollout gauges read from the rollouts' status at scrape time: phase, step, split, last measured values.

A collector over the informer's store, not counters kept by the reconciler: what it exports is
what the stored status says now, on every replica (a standby's warm cache included), so a
dashboard shows the same whichever replica it scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.api.status import Phase
from controller.kube.store import Store

__all__ = ["RolloutCollector"]

_GATE_SCOPE = "gate"


class RolloutCollector(Collector):
    def __init__(self, rollouts: Store) -> None:
        self._rollouts = rollouts

    def describe(self) -> Iterator[Metric]:
        # Nothing up front: registering must not read the store before the informers have filled it.
        return iter(())

    def collect(self) -> Iterator[Metric]:
        key = ["namespace", "name"]
        phase = GaugeMetricFamily("modelrollout_rollout_phase", "1 for the phase each rollout is in.", labels=[*key, "phase"])
        step = GaugeMetricFamily("modelrollout_rollout_step", "The step a running rollout is at, counted from 0.", labels=key)
        steps = GaugeMetricFamily("modelrollout_rollout_steps", "How many steps a running rollout has.", labels=key)
        split = GaugeMetricFamily(
            "modelrollout_rollout_traffic_percent",
            "The split in force: stable and candidate weight, mirrored share.",
            labels=[*key, "variant"],
        )
        value = GaugeMetricFamily(
            "modelrollout_analysis_last_value",
            "Each metric's latest value by variant, from the evidence trail; source: the router measurement, prometheus or webhook.",
            labels=[*key, "metric", "source", "variant"],
        )
        condition = GaugeMetricFamily(
            "modelrollout_monitoring_condition",
            "1 when a monitoring condition (DataDrift, PredictionDrift, QualityDegraded) is True, 0 when False; absent while Unknown.",
            labels=[*key, "condition"],
        )
        feature_psi = GaugeMetricFamily(
            "modelrollout_monitoring_feature_psi",
            "PSI of each tested input feature (and of the predictions) against the reference, from the last check.",
            labels=[*key, "feature", "drifted"],
        )
        prediction_psi = GaugeMetricFamily(
            "modelrollout_monitoring_prediction_psi",
            "PSI of the stable model's predictions against the reference's, from the last check.",
            labels=[*key, "drifted"],
        )
        check = GaugeMetricFamily(
            "modelrollout_monitoring_last_value",
            "The last monitoring check's window: requests, sampled, errorRate, latencyP99Seconds, accuracy, labelled.",
            labels=[*key, "value"],
        )
        episodes = GaugeMetricFamily(
            "modelrollout_monitoring_episodes", "Monitoring episodes kept in status, by condition.", labels=[*key, "condition"]
        )
        for obj in self._rollouts.values():
            meta, status = obj.get("metadata") or {}, obj.get("status") or {}
            labels = [str(meta.get("namespace", "")), str(meta.get("name", ""))]
            for name in (p.value for p in Phase):
                phase.add_metric([*labels, name], 1.0 if status.get("phase") == name else 0.0)
            if status.get("currentStep") is not None:
                step.add_metric(labels, float(status["currentStep"]))
                steps.add_metric(labels, float(status.get("stepCount") or 0))
            traffic = status.get("traffic") or {}
            for variant, default in (("stable", 100), ("candidate", 0), ("mirror", 0)):
                split.add_metric([*labels, variant], float(traffic.get(variant, default)))
            sources = _sources(obj.get("spec") or {})
            for metric, record in _latest(status.get("evidence") or []).items():
                for variant in ("candidate", "stable"):
                    measured = record.get(f"{variant}Value")
                    if measured is not None:
                        value.add_metric([*labels, metric, sources.get(metric, "unknown"), variant], float(measured))
            _monitoring(labels, status, condition, feature_psi, prediction_psi, check, episodes)
        yield from (phase, step, steps, split, value, condition, feature_psi, prediction_psi, check, episodes)


_MONITORING_CONDITIONS = ("DataDrift", "PredictionDrift", "QualityDegraded")
_CHECK_VALUES = (
    ("requests", "requests"), ("sampled", "sampled"), ("errorRate", "errorRate"), ("latencyP99S", "latencyP99Seconds"),
    ("accuracy", "accuracy"), ("labelled", "labelled"),
)  # fmt: skip


def _monitoring(
    labels: list[str],
    status: dict[str, Any],
    condition: GaugeMetricFamily,
    feature_psi: GaugeMetricFamily,
    prediction_psi: GaugeMetricFamily,
    check: GaugeMetricFamily,
    episodes: GaugeMetricFamily,
) -> None:
    for found in status.get("conditions") or []:
        if found.get("type") in _MONITORING_CONDITIONS and found.get("status") in ("True", "False"):
            condition.add_metric([*labels, found["type"]], 1.0 if found["status"] == "True" else 0.0)
    monitoring = status.get("monitoring") or {}
    for finding in monitoring.get("findings") or []:
        feature_psi.add_metric([*labels, str(finding.get("feature")), str(bool(finding.get("drifted"))).lower()], float(finding["psi"]))
    predictions = monitoring.get("predictionFinding")
    if predictions:
        prediction_psi.add_metric([*labels, str(bool(predictions.get("drifted"))).lower()], float(predictions["psi"]))
    last = monitoring.get("lastCheck") or {}
    for field, name in _CHECK_VALUES:
        if last.get(field) is not None:
            check.add_metric([*labels, name], float(last[field]))
    counts: dict[str, int] = {}
    for episode in monitoring.get("episodes") or []:
        counts[str(episode.get("condition"))] = counts.get(str(episode.get("condition")), 0) + 1
    for kind, count in counts.items():
        episodes.add_metric([*labels, kind], float(count))


def _latest(evidence: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each metric; gate answers carry no value."""
    return {record["metric"]: record for record in evidence if record.get("scope") != _GATE_SCOPE and "metric" in record}


def _sources(spec: Any) -> dict[str, str]:
    """metric name -> its router measurement (e.g. predictionDrift), or prometheus / webhook, wherever the spec lists it."""
    found: dict[str, str] = {}
    if isinstance(spec, dict):
        if isinstance(spec.get("name"), str) and any(k in spec for k in ("router", "prometheus", "webhook")):
            router = spec.get("router")
            kind = "prometheus" if "prometheus" in spec else "webhook"
            found[spec["name"]] = str(router.get("metric")) if isinstance(router, dict) else kind
        for item in spec.values():
            found.update(_sources(item))
    elif isinstance(spec, list):
        for item in spec:
            found.update(_sources(item))
    return found
