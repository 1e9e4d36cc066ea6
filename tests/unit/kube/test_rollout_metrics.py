"""The controller's per-rollout gauges, monitoring included, read from the rollouts' stored status."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from controller.kube.rollout_metrics import RolloutCollector
from controller.kube.store import Store


def _rollout() -> dict[str, object]:
    return {
        "metadata": {"namespace": "ml", "name": "iris", "resourceVersion": "7"},
        "spec": {},
        "status": {
            "phase": "Healthy",
            "conditions": [
                {"type": "DataDrift", "status": "True", "reason": "Drifted", "lastTransitionTime": "2024-06-01T12:00:00Z"},
                {"type": "PredictionDrift", "status": "False", "reason": "NoDrift", "lastTransitionTime": "2024-06-01T12:00:00Z"},
                {"type": "QualityDegraded", "status": "Unknown", "reason": "TooFewSamples", "lastTransitionTime": "2024-06-01T12:00:00Z"},
            ],
            "monitoring": {
                "revision": "abc",
                "since": "2024-06-01T11:00:00Z",
                "lastCheck": {"at": "2024-06-01T12:00:00Z", "windowStart": None, "requests": 900, "accuracy": 0.91},
                "findings": [
                    {"feature": "age", "test": "chi-squared", "pValue": 1e-9, "adjustedPValue": 3e-9, "psi": 0.42,
                     "samples": 800, "referenceSamples": 900, "drifted": True},
                ],
                "predictionFinding": {"feature": "predictions", "test": "ks", "pValue": 0.5, "adjustedPValue": 0.5, "psi": 0.02,
                                      "samples": 800, "referenceSamples": 900, "drifted": False},
                "episodes": [{"id": "e1", "condition": "DataDrift", "since": "2024-06-01T12:00:00Z", "fired": True}],
            },
        },
    }


def test_monitoring_conditions_findings_and_last_check_are_exported() -> None:
    store = Store()
    store.put(_rollout())
    registry = CollectorRegistry()
    registry.register(RolloutCollector(store))
    text = generate_latest(registry).decode()
    assert 'modelrollout_monitoring_condition{condition="DataDrift",name="iris",namespace="ml"} 1.0' in text
    assert 'modelrollout_monitoring_condition{condition="PredictionDrift",name="iris",namespace="ml"} 0.0' in text
    # Unknown says nothing either way, so it is left out rather than read as 0.
    assert 'condition="QualityDegraded"' not in text
    assert 'modelrollout_monitoring_feature_psi{drifted="true",feature="age",name="iris",namespace="ml"} 0.42' in text
    assert 'modelrollout_monitoring_prediction_psi{drifted="false",name="iris",namespace="ml"} 0.02' in text
    assert 'modelrollout_monitoring_last_value{name="iris",namespace="ml",value="accuracy"} 0.91' in text
    assert 'modelrollout_monitoring_last_value{name="iris",namespace="ml",value="requests"} 900.0' in text
    assert 'modelrollout_monitoring_episodes{condition="DataDrift",name="iris",namespace="ml"} 1.0' in text
