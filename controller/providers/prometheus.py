"""Prometheus metric provider: PromQL instant queries per variant over the analysis window.

A source may carry a bearer token or basic auth and a CA bundle, each a Secret key mounted into
the controller (see `SecretFiles`), or skip certificate checks. A source with its own TLS
settings gets a client of its own for each query (a query every interval, so one handshake each
is cheap), which also picks up a rotated CA bundle; plain sources share one pooled client.
"""

from __future__ import annotations

import base64
import math
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from pydantic import BaseModel, ValidationError

from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import PrometheusSource
from controller.api.resource import ModelRollout
from controller.engine.inputs import MeasurementRequest
from controller.providers.secrets import SecretFiles, SecretUnavailable

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

    def __init__(self, client: httpx.AsyncClient, secrets: SecretFiles | None = None) -> None:
        self._client = client
        self._secrets = secrets or SecretFiles(None)

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
            headers = self._headers(source)
            async with self._client_for(source) as client:
                response = await client.get(url, params={"query": query}, timeout=source.timeout, headers=headers)
        except SecretUnavailable as exc:
            raise ProviderFailure(f"prometheus at {source.address}: {exc}") from exc
        except (ssl.SSLError, OSError) as exc:
            raise ProviderFailure(f"prometheus at {source.address}: the CA bundle cannot be used: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ProviderFailure(f"prometheus at {source.address} unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise ProviderFailure(
                f"prometheus at {source.address} refused the credentials (HTTP {response.status_code}): "
                f"{'check the Secret keys of bearerToken or basicAuth' if _has_credentials(source) else 'set bearerToken or basicAuth'}"
            )
        try:
            reply = _Reply.model_validate_json(response.content)
        except ValidationError as exc:
            raise ProviderFailure(f"prometheus answered HTTP {response.status_code} with no query result") from exc
        if reply.status != "success" or reply.data is None:
            raise ProviderFailure(f"prometheus rejected query {query!r}: {reply.error or response.status_code}")
        return _first_value(reply.data)


    def _headers(self, source: PrometheusSource) -> dict[str, str]:
        if source.bearer_token is not None:
            return {"authorization": f"Bearer {self._secrets.read(source.bearer_token)}"}
        if source.basic_auth is not None:
            pair = f"{self._secrets.read(source.basic_auth.username)}:{self._secrets.read(source.basic_auth.password)}"
            return {"authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        return {}

    @asynccontextmanager
    async def _client_for(self, source: PrometheusSource) -> AsyncIterator[httpx.AsyncClient]:
        if source.ca is None and not source.insecure_skip_verify:
            yield self._client
            return
        context = ssl.create_default_context(cafile=str(self._secrets.path(source.ca)) if source.ca else None)
        if source.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        async with httpx.AsyncClient(verify=context) as client:
            yield client


def _has_credentials(source: PrometheusSource) -> bool:
    return source.bearer_token is not None or source.basic_auth is not None


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
