"""Building the controller's parts from its settings: caches, adapters, the reconciler.

`Adapters` holds what differs between a cluster and a test: where a revision's model servers
are (`upstream`), where a router listed in an EndpointSlice is reached (`router_address`),
which clock the engine reads, how router stats become observations.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx

from controller.kube.client import (
    CONFIGMAP,
    DEPLOYMENT,
    ENDPOINT_SLICE,
    MODELROLLOUT,
    ROLE,
    ROLE_BINDING,
    SERVICE,
    SERVICE_ACCOUNT,
    Kind,
    KubeClient,
)
from controller.kube.cluster import KubeCluster
from controller.kube.events import KubeEventSink
from controller.kube.informer import Informer
from controller.kube.infra import RouterInfra, Stores
from controller.kube.leader import LeaseConfig
from controller.kube.objects import DEFAULT_ROUTER_IMAGE, LABEL_ROLLOUT
from controller.kube.reconciler import KubePorts, Reconciler
from controller.kube.references import ConfigMapReferenceStore
from controller.kube.retraining_jobs import KubeJobLauncher
from controller.kube.rollout_metrics import RolloutCollector
from controller.kube.router_configmap import KubeTrafficControl
from controller.kube.routerconfig import service_upstream
from controller.kube.routers import SERVICE_NAME_LABEL, RouterAddress, SliceDirectory, same_address
from controller.kube.store import Store
from controller.kube.telemetry import ControllerMetrics
from controller.kube.timers import Cadence
from controller.notify.config import NotificationsConfig
from controller.notify.delivery import Notifier, NotifierMetrics
from controller.notify.sink import NotifyingEventSink
from controller.providers.gates import WebhookGateCaller
from controller.providers.prometheus import PrometheusProvider
from controller.providers.retraining import RetrainingDispatcher
from controller.providers.router_stats import observe_router_metric
from controller.providers.secrets import SecretFiles
from controller.providers.webhook import WebhookProvider
from controller.routing.config import UpstreamResolver
from controller.routing.measure import MetricRouter, PredictionsWatch, RouterStatsSource, StatsMapper
from controller.routing.monitoring import RouterMonitor
from controller.routing.polling import RouterPoller
from controller.runtime.clock import WallClock
from controller.runtime.driver import Ports
from controller.runtime.ports import Clock, EventSink

__all__ = ["ControllerConfig", "Adapters", "Wiring", "build_wiring", "default_identity", "MANAGED_SELECTOR"]

MANAGED_SELECTOR = "app.kubernetes.io/managed-by=modelrollout"


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class ControllerConfig:
    namespaces: tuple[str, ...] = ()  # none: every namespace
    workers: int = 4
    leader_election: LeaseConfig | None = None
    metrics_listen: tuple[str, int] | None = None
    cadence: Cadence = field(default_factory=Cadence)
    requeue_rate: float = 20.0
    requeue_burst: int = 200
    drain_s: float = 10.0
    identity: str = field(default_factory=default_identity)
    router_timeout_s: float = 2.0
    watch_timeout_s: int = 300
    # The image of routers whose rollout sets no spec.router.image (managed or injected as sidecars).
    router_image: str = DEFAULT_ROUTER_IMAGE
    # Targets and what every rollout sends; None: only Events, no notifications.
    notifications: NotificationsConfig | None = None
    # Where the chart mounts the Secrets metric sources name (`<dir>/<secret>/<key>`); None: none mounted.
    provider_secrets_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers {self.workers} must be at least 1")


@dataclass(frozen=True)
class Adapters:
    upstream: UpstreamResolver = service_upstream
    router_address: RouterAddress = same_address
    clock: Clock = field(default_factory=WallClock)
    stats_mapper: StatsMapper = observe_router_metric


# kind -> (label selector of the watch, label the store indexes)
_WATCHED: dict[str, tuple[Kind, str | None, str | None]] = {
    "rollouts": (MODELROLLOUT, None, None),
    "deployments": (DEPLOYMENT, MANAGED_SELECTOR, LABEL_ROLLOUT),
    "services": (SERVICE, MANAGED_SELECTOR, None),
    "configmaps": (CONFIGMAP, MANAGED_SELECTOR, None),
    # The endpoint-slice controller copies a Service's labels onto its slices.
    "endpoint_slices": (ENDPOINT_SLICE, LABEL_ROLLOUT, SERVICE_NAME_LABEL),
    "service_accounts": (SERVICE_ACCOUNT, MANAGED_SELECTOR, None),
    "roles": (ROLE, MANAGED_SELECTOR, None),
    "role_bindings": (ROLE_BINDING, MANAGED_SELECTOR, None),
}


@dataclass
class Wiring:
    stores: Stores
    informers: list[Informer]
    reconciler: Reconciler
    clock: Clock
    forgetters: Sequence[Callable[[str, str], None]]
    http: httpx.AsyncClient
    router_session: aiohttp.ClientSession
    notifier: Notifier | None = None
    gate_caller: WebhookGateCaller | None = None
    retraining: RetrainingDispatcher | None = None

    def forget(self, namespace: str, name: str) -> None:
        """A ModelRollout is gone: drop everything kept in memory for it."""
        for forget in self.forgetters:
            forget(namespace, name)

    async def close(self) -> None:
        if self.notifier is not None:
            await self.notifier.close()
        if self.gate_caller is not None:
            await self.gate_caller.close()
        if self.retraining is not None:
            await self.retraining.close()
        await self.http.aclose()
        await self.router_session.close()


def _informers(client: KubeClient, config: ControllerConfig) -> tuple[Stores, list[Informer]]:
    stores: dict[str, Store] = {}
    informers: list[Informer] = []
    namespaces: tuple[str | None, ...] = config.namespaces or (None,)
    for field_name, (kind, selector, index) in _WATCHED.items():
        store = stores[field_name] = Store(index)
        for namespace in namespaces:
            informers.append(
                Informer(client, kind, namespace, label_selector=selector, store=store, watch_timeout_s=config.watch_timeout_s)
            )
    return Stores(**stores), informers


def build_wiring(
    client: KubeClient,
    config: ControllerConfig,
    metrics: ControllerMetrics,
    adapters: Adapters,
) -> Wiring:
    stores, informers = _informers(client, config)
    metrics.registry.register(RolloutCollector(stores.rollouts))
    clock = adapters.clock
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
    router_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200, limit_per_host=4))
    poller = RouterPoller(
        SliceDirectory(stores.endpoint_slices, adapters.router_address), router_session, clock.now, timeout_s=config.router_timeout_s
    )
    router_source = RouterStatsSource(poller, adapters.stats_mapper)
    predictions = PredictionsWatch(poller)
    monitor = RouterMonitor(poller, ConfigMapReferenceStore(client))
    traffic = KubeTrafficControl(client, stores.configmaps, poller, adapters.upstream)
    cluster = KubeCluster(client, stores.deployments, stores.services)
    prometheus = PrometheusProvider(http, SecretFiles(config.provider_secrets_dir))
    metrics_port = MetricRouter(router_source, prometheus, WebhookProvider(http))
    kube_events = KubeEventSink(client, clock.now, config.identity)
    events: EventSink = kube_events
    notifier = None
    if config.notifications is not None:
        notifier = Notifier(config.notifications, http, NotifierMetrics(metrics.registry))
        events = NotifyingEventSink(events, notifier, clock.now)
    gate_caller = WebhookGateCaller(http)
    retraining = RetrainingDispatcher(http, KubeJobLauncher(client), registry=metrics.registry, now=clock.now)
    driver = Ports(
        cluster=cluster,
        traffic=traffic,
        metrics=metrics_port,
        events=events,
        clock=clock,
        predictions=predictions,
        gates=gate_caller,
        monitoring=monitor,
        retraining=retraining,
    )
    infra = RouterInfra(client, stores, config.router_image)
    ports = KubePorts(driver=driver, cluster=cluster, traffic=traffic, infra=infra, unreadable_events=kube_events)
    reconciler = Reconciler(client, stores, ports, metrics, cadence=config.cadence)
    forgetters = [reconciler.forget, poller.forget, router_source.forget, predictions.forget, monitor.forget]
    return Wiring(stores, informers, reconciler, clock, forgetters, http, router_session, notifier, gate_caller, retraining)
