"""The dashboard's queries and the metric names they name, read with a real PromQL parser."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["DASHBOARD_PATH", "load_dashboard", "queries", "metric_names", "exported_names", "unknown_metrics"]

DASHBOARD_PATH = Path(__file__).resolve().parents[3] / "charts" / "modelrollout" / "dashboards" / "modelrollout.json"
# Grafana fills these in before Prometheus sees a query.
_GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*\w+\)$")
_SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


def load_dashboard(path: Path = DASHBOARD_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} target {target['refId']}", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            text = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            match = _LABEL_VALUES.match(text)
            yield f"variable {variable['name']}", match.group("selector") if match else text


def metric_names(expr: str) -> set[str]:
    for variable, value in _GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return set(_selectors(promql_parser.parse(expr)))


def _selectors(node: Any) -> Iterator[str]:
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            yield node.name
        return
    for child in ("expr", "lhs", "rhs", "param", "vector_selector", "args"):
        value = getattr(node, child, None)
        for item in value if isinstance(value, list) else [value]:
            if item is not None and not isinstance(item, (str, int, float)):
                yield from _selectors(item)


def exported_names(exposition: str) -> set[str]:
    """Every series name a /metrics page has or would have: family names, their samples, their type's suffixes."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in _SERIES_SUFFIXES.get(family.type, ()))
    return names


def unknown_metrics(dashboard: dict[str, Any], exported: set[str]) -> list[str]:
    """'where: name' for each metric a query names that nothing exports."""
    return [f"{where}: {name}" for where, expr in queries(dashboard) for name in sorted(metric_names(expr)) if name not in exported]
