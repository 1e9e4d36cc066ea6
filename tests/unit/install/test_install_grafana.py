"""The chart's Grafana dashboard: a ConfigMap the dashboard sidecar finds by label, holding the dashboard file as it is."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import promql_parser
import pytest
from chartkit import KUBE_VERSIONS, REPO_ROOT, Docs, find, schema_errors

__all__: list[str] = []

Render = Callable[[dict[str, Any]], Docs]
DASHBOARD = REPO_ROOT / "charts" / "modelrollout" / "dashboards" / "modelrollout.json"
ON = {"grafana": {"dashboard": {"enabled": True}}}


def _dashboard_maps(docs: Docs) -> list[dict[str, Any]]:
    return [doc for doc in find(docs, "ConfigMap") if "modelrollout.json" in doc.get("data", {})]


def test_off_by_default(render: Render) -> None:
    assert _dashboard_maps(render({})) == []


def test_on_it_carries_the_sidecar_label_and_the_dashboard_file(render: Render) -> None:
    [config_map] = _dashboard_maps(render(ON))
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "modelrollout-system"
    assert json.loads(config_map["data"]["modelrollout.json"]) == json.loads(DASHBOARD.read_text())


def test_label_namespace_and_annotations_follow_the_values(render: Render) -> None:
    values = {"grafana": {"dashboard": {"enabled": True, "namespace": "monitoring", "label": "dashboards", "labelValue": "ml",
                                        "annotations": {"grafana_folder": "ML"}}}}  # fmt: skip
    [config_map] = _dashboard_maps(render(values))
    metadata = config_map["metadata"]
    assert (metadata["namespace"], metadata["labels"]["dashboards"]) == ("monitoring", "ml")
    assert metadata["annotations"] == {"grafana_folder": "ML"}


def test_every_panel_query_is_valid_promql() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    targets = [t for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert targets
    for target in targets:
        promql_parser.parse(target["expr"].replace("$__rate_interval", "1m"))


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_the_config_map_passes_the_kubernetes_schemas(render: Render, kube_version: str) -> None:
    assert [error for doc in _dashboard_maps(render(ON)) for error in schema_errors(doc, kube_version)] == []
