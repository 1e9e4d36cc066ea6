"""The controller's own Prometheus metrics and the small HTTP server for `/metrics` and `/healthz`.

Each controller builds its own registry (no process-wide state), so two controllers in one
test process keep separate counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from controller.api.status import Phase

__all__ = ["ControllerMetrics", "HealthServer"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class ControllerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.reconciles = Counter("modelrollout_reconciles", "Reconciles by outcome.", ["result"], registry=r)
        self.errors = Counter("modelrollout_reconcile_errors", "Failed reconciles by error type.", ["error"], registry=r)
        self.status_conflicts = Counter("modelrollout_status_conflicts", "Status writes refused as stale.", registry=r)
        self.rollouts = Gauge("modelrollout_rollouts", "ModelRollouts by phase.", ["phase"], registry=r)
        self.verdicts = Counter("modelrollout_analysis_verdicts", "Analysis verdicts.", ["metric", "verdict"], registry=r)
        self.rollbacks = Counter("modelrollout_rollbacks", "Candidates rolled back.", registry=r)
        self.promotions = Counter("modelrollout_promotions", "Candidates promoted to stable.", registry=r)
        self.decision_latency = Histogram(
            "modelrollout_decision_latency_seconds", "Observe, decide and act for one reconcile.", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.leader = Gauge("modelrollout_leader", "1 while this replica holds the leader Lease.", registry=r)
        self.queue_depth = Gauge("modelrollout_workqueue_depth", "Keys waiting for a worker.", registry=r)
        self.provider_outage = Gauge(
            "modelrollout_provider_outage",
            "1 while the rollout holds because the metric's provider failed more than errorLimit times in a row.",
            ["namespace", "name", "metric"],
            registry=r,
        )
        # (namespace, name) -> the metric in outage now, and every metric a series was made for.
        self._outages: dict[tuple[str, str], tuple[str | None, set[str]]] = {}

    def set_outage(self, namespace: str, name: str, metric: str | None) -> None:
        """The rollout's provider outage now: its series goes to 1, a cleared one back to 0."""
        key = (namespace, name)
        current, made = self._outages.get(key, (None, set()))
        if metric == current:
            return
        if current is not None:
            self.provider_outage.labels(namespace, name, current).set(0)
        if metric is not None:
            self.provider_outage.labels(namespace, name, metric).set(1)
            made = made | {metric}
        self._outages[key] = (metric, made)

    def forget_outages(self, namespace: str, name: str) -> None:
        """The rollout is gone: its series go too."""
        _, made = self._outages.pop((namespace, name), (None, set()))
        for metric in made:
            self.provider_outage.remove(namespace, name, metric)

    def set_phases(self, counts: dict[str, int]) -> None:
        for phase in [*(p.value for p in Phase), "Unknown"]:
            self.rollouts.labels(phase=phase).set(counts.get(phase, 0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class HealthServer:
    """`/metrics` in Prometheus text; `/healthz` 200 while `healthy()` says so, else 503."""

    def __init__(self, metrics: ControllerMetrics, healthy: Callable[[], bool]) -> None:
        self._metrics = metrics
        self._healthy = healthy
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/healthz", self._serve_health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve_metrics(self, _request: web.Request) -> web.Response:
        body = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _serve_health(self, _request: web.Request) -> web.Response:
        ok = self._healthy()
        return web.json_response({"status": "ok" if ok else "unhealthy"}, status=200 if ok else 503)
