"""Charts of every router metric over a whole rollout, from a Prometheus that scrapes the routers.

With `--prometheus URL` the rollout page adds charts of request rate, error rate, p99 latency,
shadow agreement and accuracy, candidate against stable, from the rollout's start: the routers'
own counters (`modelrollout_router_*`) as the chart's PodMonitor labels them (`namespace`, and
`rollout` from the pod label `modelrollout.io/router`). Prometheus keeps them, so they survive a
restart of the dashboard and of the controller, and need no analysis to be configured.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = ["PrometheusHistory", "HistoryError", "range_step_s"]

# Points per chart at most: the step grows with the rollout's length.
_POINTS = 240


class HistoryError(Exception):
    """Prometheus could not be asked, or refused the query: the message says which and why."""


@dataclass(frozen=True)
class _Chart:
    metric: str
    unit: str
    query: str  # {sel}: the rollout's label selector; {w}: the rate window
    per_variant: bool = True


_CHARTS = (
    _Chart("request rate", "req/s", "sum by (variant) (rate(modelrollout_router_requests_total{{{sel}}}[{w}]))"),
    _Chart(
        "error rate",
        "%",
        "100 * sum by (variant) (rate(modelrollout_router_errors_total{{{sel}}}[{w}]))"
        " / sum by (variant) (rate(modelrollout_router_requests_total{{{sel}}}[{w}]))",
    ),  # fmt: skip
    _Chart(
        "p99 latency",
        "ms",
        "1000 * histogram_quantile(0.99, sum by (variant, le) (rate(modelrollout_router_request_duration_seconds_bucket{{{sel}}}[{w}])))",
    ),  # fmt: skip
    _Chart(
        "shadow agreement",
        "%",
        "100 * sum(rate(modelrollout_router_shadow_agreed_total{{{sel}}}[{w}]))"
        " / sum(rate(modelrollout_router_shadow_compared_total{{{sel}}}[{w}]))",
        per_variant=False,
    ),  # fmt: skip
    _Chart(
        "accuracy",
        "%",
        "100 * sum by (variant) (rate(modelrollout_router_feedback_correct_total{{{sel}}}[{w}]))"
        " / sum by (variant) (rate(modelrollout_router_feedback_labelled_total{{{sel}}}[{w}]))",
    ),  # fmt: skip
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def range_step_s(start: datetime, end: datetime, least_s: float) -> float:
    return max(least_s, (end - start).total_seconds() / _POINTS)


class PrometheusHistory:
    def __init__(self, address: str, http: httpx.AsyncClient, *, rate_window_s: float = 60.0, least_step_s: float = 5.0) -> None:
        self.address = address.rstrip("/")
        self._http = http
        self._window_s = rate_window_s
        self._least_step_s = least_step_s

    async def charts(self, namespace: str, name: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """One chart per metric with data, as the rollout page draws them; HistoryError when Prometheus fails."""
        step = range_step_s(start, end, self._least_step_s)
        window = f"{int(max(self._window_s, 2 * step))}s"
        selector = f'namespace="{_label(namespace)}",rollout="{_label(name)}"'
        answers = await asyncio.gather(*(self._range(c.query.format(sel=selector, w=window), start, end, step) for c in _CHARTS))
        charts = [self._chart(chart, result) for chart, result in zip(_CHARTS, answers, strict=True)]
        return [c for c in charts if c["points"]]

    async def _range(self, query: str, start: datetime, end: datetime, step: float) -> list[dict[str, Any]]:
        params = {"query": query, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}", "step": f"{step:g}"}
        try:
            response = await self._http.get(f"{self.address}/api/v1/query_range", params=params)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise HistoryError(f"Prometheus at {self.address} did not answer: {exc or type(exc).__name__}") from exc
        if response.status_code != 200 or body.get("status") != "success":
            raise HistoryError(f"Prometheus at {self.address} refused {query!r}: {body.get('error') or response.status_code}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    @staticmethod
    def _chart(chart: _Chart, result: list[dict[str, Any]]) -> dict[str, Any]:
        by_time: dict[float, dict[str, float | None]] = {}
        for series in result:
            variant = series.get("metric", {}).get("variant", "shadow") if chart.per_variant else "candidate"
            if variant not in ("stable", "candidate"):
                continue
            for stamp, text in series.get("values", []):
                value = float(text)
                by_time.setdefault(float(stamp), {})[variant] = value if value == value else None  # NaN: 0/0, no traffic
        points = [
            {"t": datetime.fromtimestamp(t, UTC).isoformat(), "candidate": v.get("candidate"), "stable": v.get("stable"), "verdict": ""}
            for t, v in sorted(by_time.items())
        ]  # fmt: skip
        return {"metric": chart.metric, "kind": "routers, from Prometheus", "unit": chart.unit, "points": points}
