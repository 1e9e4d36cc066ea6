"""`/metrics` in Prometheus text agrees with `/stats`; health endpoints answer."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from router_harness import RouterProcess, send_many

pytestmark = pytest.mark.integration


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_and_stats_tell_the_same_story(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    module_router.reconfigure({**base_config, "weights": {"stable": 80, "candidate": 20}})
    send_many(module_router.url + "/v1/models/m:predict", [{"instances": [[0.42]]}] * 200)
    send_many(module_router.url + "/labels", [{"instances": [[0.9]]}] * 10)
    stats = module_router.stats()
    metrics = samples(module_router.metrics())
    assert all(name.startswith("modelrollout_router_") for name, _ in metrics)
    for variant in ("stable", "candidate"):
        assert metrics[("modelrollout_router_requests_total", (("variant", variant),))] == stats[variant]["requests"]
        latency_count = metrics[("modelrollout_router_request_duration_seconds_bucket", (("le", "+Inf"), ("variant", variant)))]
        assert latency_count == stats[variant]["requests"]
        in_bin = metrics[("modelrollout_router_predictions_bucket", (("le", "0.45"), ("variant", variant)))]
        below = metrics[("modelrollout_router_predictions_bucket", (("le", "0.4"), ("variant", variant)))]
        assert in_bin - below == stats[variant]["predictions"]["counts"][stats[variant]["predictions"]["edges"].index(0.45)]
    labels = sum(
        v for (name, tags), v in metrics.items() if name == "modelrollout_router_prediction_labels_total" and ("label", "high") in tags
    )
    assert labels == 10
    assert metrics[("modelrollout_router_config_generation", ())] == stats["generation"]
    started = [tags for name, tags in metrics if name == "modelrollout_router_start_time_seconds"]
    assert started == [(("instance_id", stats["instanceId"]),)]


def test_health_and_unknown_admin_paths(module_router: RouterProcess) -> None:
    assert module_router.client.get(f"{module_router.admin}/healthz").json() == {"status": "ok"}
    ready = module_router.client.get(f"{module_router.admin}/readyz").json()
    assert ready["ready"] is True and ready["generation"] == module_router.generation
    assert module_router.client.get(f"{module_router.admin}/nope").status_code == 404
    assert module_router.client.post(f"{module_router.admin}/stats").status_code == 405
