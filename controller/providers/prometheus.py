"""Prometheus metric provider: PromQL instant queries per variant over the analysis window."""

from __future__ import annotations

import math
from datetime import datetime

import httpx
from pydantic import BaseModel, ValidationError

from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import PrometheusSource
from controller.api.resource import ModelRollout
from controller.engine.inputs import MeasurementRequest

__all__ = ["PrometheusProvider", "render_query", "ProviderFailure"]


class ProviderFailure(Exception):
    """A query that could not give a number; becomes `MetricObservation.error`."""


class _Sample(BaseModel):
    value: tuple[float, str]


class _Data(BaseModel):
    resultType: str
    result: list[_Sample] | tuple[float, str]


class _Reply(BaseModel):
    status: str
    data: _Data | None = None
    error: str | None = None


def render_query(template: str, variant: str, window_s: float) -> str:
    window = f"{max(1, math.ceil(window_s))}s"
    return template.replace("{{variant}}", variant).replace("{{window}}", window)


class PrometheusProvider:
    """Measures `prometheus` metrics; one httpx client shared by every query."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def measure(self, rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> MetricObservation:
        metric = request.metric
        source = metric.prometheus
        if source is None:
            raise ValueError(f"metric {metric.name!r} has no prometheus source")
        window_s = (now - request.window_start).total_seconds() if request.window_start else 60.0
        try:
            candidate = await self._variant(source, "candidate", window_s)
            stable = await self._variant(source, "stable", window_s) if "{{variant}}" in source.query else None
        except ProviderFailure as exc:
            return MetricObservation(metric=metric.name, error=str(exc), window_start=request.window_start, window_end=now)
        return MetricObservation(
            metric=metric.name, candidate=candidate, stable=stable, window_start=request.window_start, window_end=now
        )

    async def _variant(self, source: PrometheusSource, variant: str, window_s: float) -> VariantSample:
        value = await self._query(source, render_query(source.query, variant, window_s))
        if source.samples_query is None:
            # Nothing counts the observations behind the value, so none is claimed (minSamples
            # is refused on such a source): one value read, or none.
            return VariantSample(count=0 if value is None else 1, value=value, counted=False)
        count = await self._query(source, render_query(source.samples_query, variant, window_s))
        return VariantSample(count=int(count or 0), value=value)

    async def _query(self, source: PrometheusSource, query: str) -> float | None:
        url = str(source.address).rstrip("/") + "/api/v1/query"
        try:
            response = await self._client.get(url, params={"query": query}, timeout=source.timeout)
        except httpx.HTTPError as exc:
            raise ProviderFailure(f"prometheus at {source.address} unreachable: {type(exc).__name__}: {exc}") from exc
        try:
            reply = _Reply.model_validate_json(response.content)
        except ValidationError as exc:
            raise ProviderFailure(f"prometheus answered HTTP {response.status_code} with no query result") from exc
        if reply.status != "success" or reply.data is None:
            raise ProviderFailure(f"prometheus rejected query {query!r}: {reply.error or response.status_code}")
        return _first_value(reply.data)


def _first_value(data: _Data) -> float | None:
    """The query's number: a scalar, or the first sample of a vector; no data and NaN are None."""
    if isinstance(data.result, tuple):
        raw = data.result[1]
    elif data.result:
        raw = data.result[0].value[1]
    else:
        return None
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value
