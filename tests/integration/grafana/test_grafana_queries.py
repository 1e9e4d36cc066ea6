"""Every metric the Grafana dashboard queries is one the live router or the live controller exports.

The names come from the real `/metrics` pages of a router process serving traffic and of a
`modelrollout controller` process managing a rollout on the real control plane, not from a list
kept by hand; the queries are read with a PromQL parser.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s

from controller.api.resource import GROUP, PLURAL, VERSION
from controller.local.processes import ProcessGroup, free_port
from tests.controlplane import ControlPlane
from tests.integration.grafana.dashboardkit import exported_names, load_dashboard, unknown_metrics
from tests.integration.realkube.realkit import apply_crd, wait_until

pytestmark = pytest.mark.integration


def _page(url: str, has: str) -> str:
    """The /metrics page once it holds `has`."""
    return str(wait_until(f"{url} with {has}", lambda: (text := _get(url)) and has in text and text))


def _get(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


@pytest.fixture
def router_metrics(processes: ProcessGroup, tmp_path: Path) -> Iterator[str]:
    """A router with a stable, a candidate and a mirrored share, after some traffic."""
    model = processes.start("model", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port := free_port())])
    upstream = f"http://127.0.0.1:{port}"
    wait_until("the model server", lambda: _get(upstream) is not None)
    config = tmp_path / "router.json"
    config.write_text(json.dumps({
        "generation": 1, "upstreams": {"stable": upstream, "candidate": upstream},
        "weights": {"stable": 90, "candidate": 10}, "mirrorPercent": 50,
    }))  # fmt: skip
    data, admin = free_port(), free_port()
    processes.start("router", [sys.executable, "-m", "router", "--config", str(config), "--listen", f"127.0.0.1:{data}",
                               "--admin-listen", f"127.0.0.1:{admin}"])  # fmt: skip
    wait_until("the router", lambda: _get(f"http://127.0.0.1:{admin}/readyz") is not None)
    for _ in range(20):
        httpx.get(f"http://127.0.0.1:{data}/")
    assert model.process.poll() is None
    yield _page(f"http://127.0.0.1:{admin}/metrics", "modelrollout_router_requests_total")


@pytest.fixture
def controller_metrics(control_plane: ControlPlane, real_namespace: str, processes: ProcessGroup, tmp_path: Path) -> Iterator[str]:
    """A controller managing one rollout, with notifications configured (their counters exist only then)."""
    notifications = tmp_path / "notifications.yaml"
    notifications.write_text("targets: [{name: chat, format: slack, url: 'http://127.0.0.1:9/hook'}]\n")
    port = free_port()
    with control_plane.api_client() as api_client:
        apply_crd(api_client)
        processes.start("controller", [
            sys.executable, "-m", "controller", "controller", "--kubeconfig", str(control_plane.kubeconfig_path),
            "--namespace", real_namespace, "--metrics-listen", f"127.0.0.1:{port}", "--notifications-config", str(notifications),
        ])  # fmt: skip
        rollout = {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ModelRollout", "metadata": {"name": "fraud"},
            "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}},
                     "strategy": {"canary": {"steps": [{"setWeight": 100}]}}},
        }  # fmt: skip
        k8s.CustomObjectsApi(api_client).create_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, rollout)
        yield _page(f"http://127.0.0.1:{port}/metrics", f'modelrollout_rollout_phase{{name="fraud",namespace="{real_namespace}"')


def test_every_metric_the_dashboard_queries_is_exported_by_the_router_or_the_controller(
    router_metrics: str, controller_metrics: str
) -> None:
    exported = exported_names(router_metrics) | exported_names(controller_metrics)
    assert unknown_metrics(load_dashboard(), exported) == []


def test_a_query_naming_a_metric_nobody_exports_is_reported(router_metrics: str) -> None:
    dashboard: dict[str, Any] = copy.deepcopy(load_dashboard())
    panel = next(p for p in dashboard["panels"] if p.get("targets"))
    panel["targets"][0]["expr"] = "sum(rate(modelrollout_router_requets_total[$__rate_interval]))"
    unknown = unknown_metrics(dashboard, exported_names(router_metrics))
    assert f"panel {panel['title']!r} target A: modelrollout_router_requets_total" in unknown
