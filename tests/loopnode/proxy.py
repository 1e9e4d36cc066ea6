"""kube-proxy and cluster DNS for a real API server's Services, inside the end-to-end's namespace.

There is no kube-proxy and no cluster DNS on the loopback node, so `ServiceProxy` plays both
from what the API server holds:

- for every Service with a cluster IP, a TCP forwarder listens on `clusterIP:port` and sends
  each connection to one ready endpoint `IP:port` of the Service's EndpointSlices (kept by the
  real kube-controller-manager from Pod readiness), taken in turn, as kube-proxy balances
  connections; with no ready endpoint the connection is closed at once, as kube-proxy rejects
  it. The Service range (10.96.0.0/16) is on the namespace's `lo`, so every cluster IP is
  local there (`tests.loopnode.netns`);
- each such Service's names (`<svc>.<ns>.svc.cluster.local`, `<svc>.<ns>.svc`, `<svc>.<ns>`)
  resolve to its cluster IP through the namespace's `/etc/hosts` (`tests.loopnode.hosts`).
  Headless Services get no name: the controller finds routers through EndpointSlices, not DNS.

Only TCP ports are forwarded; NodePorts, externalIPs and session affinity are not played.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from typing import Any

from kubernetes import client as k8s

from tests.loopnode.hosts import HostsFile, service_names
from tests.loopnode.watching import Mirror

__all__ = ["ServiceProxy"]

log = logging.getLogger(__name__)

Listener = tuple[str, int]  # (cluster IP, port)
Backend = tuple[str, int]  # (endpoint IP, port)
_CHUNK = 65536


def _ready(endpoint: dict[str, Any]) -> bool:
    conditions = endpoint.get("conditions") or {}
    # The API says a missing `ready` means ready; a terminating endpoint takes no new connections.
    return conditions.get("ready") is not False and not conditions.get("terminating")


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(_CHUNK):
            sink.write(chunk)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if sink.can_write_eof():
                sink.write_eof()  # half-close: the other direction may still be answering


class ServiceProxy:
    """Forwarders and host names for the Services of `api_client`'s cluster; `start()`, then `stop()`."""

    def __init__(self, api_client: k8s.ApiClient, hosts: HostsFile | None, cluster_domain: str = "cluster.local") -> None:
        core, discovery = k8s.CoreV1Api(api_client), k8s.DiscoveryV1Api(api_client)
        self._hosts = hosts
        self._domain = cluster_domain
        self._services = Mirror(api_client, core.list_service_for_all_namespaces, self._changed, "services")
        self._slices = Mirror(api_client, discovery.list_endpoint_slice_for_all_namespaces, self._changed, "endpointslices")
        self._backends: dict[Listener, list[Backend]] = {}
        self._servers: dict[Listener, asyncio.Server] = {}
        self._turn = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="service-proxy", daemon=True)
        self._sync_pending = False
        self._lock = threading.Lock()
        self._connections: set[asyncio.Task[None]] = set()

    def start(self) -> ServiceProxy:
        self._thread.start()
        self._services.start()
        self._slices.start()
        return self

    def stop(self) -> None:
        self._services.stop()
        self._slices.stop()
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def backends(self, namespace: str, service: str, port: int) -> list[Backend]:
        """The ready endpoints a Service's port forwards to now (for tests and diagnostics)."""
        for obj in self._services.objects():
            meta, spec = obj["metadata"], obj["spec"]
            if (meta["namespace"], meta["name"]) == (namespace, service):
                return list(self._backends.get((spec.get("clusterIP", ""), port), []))
        return []

    # --- keeping up with the API server ---------------------------------------------------

    def _changed(self, _obj: dict[str, Any] | None = None) -> None:
        # Called from the watch threads; many changes in a burst make one sync on the loop.
        with self._lock:
            if self._sync_pending:
                return
            self._sync_pending = True
        asyncio.run_coroutine_threadsafe(self._sync(), self._loop)

    def _desired(self) -> tuple[dict[Listener, list[Backend]], dict[str, list[str]]]:
        ready: dict[tuple[str, str, str], list[Backend]] = {}
        for endpoint_slice in self._slices.objects():
            meta = endpoint_slice["metadata"]
            service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
            if service is None:
                continue
            addresses = [a for e in endpoint_slice.get("endpoints") or [] if _ready(e) for a in e.get("addresses") or []]
            for port in endpoint_slice.get("ports") or []:
                found = ready.setdefault((meta["namespace"], service, port.get("name") or ""), [])
                found.extend((address, int(port["port"])) for address in addresses)
        listeners: dict[Listener, list[Backend]] = {}
        names: dict[str, list[str]] = {}
        for service in self._services.objects():
            meta, spec = service["metadata"], service["spec"]
            cluster_ip = spec.get("clusterIP")
            if not cluster_ip or cluster_ip == "None":
                continue
            names[cluster_ip] = service_names(meta["name"], meta["namespace"], self._domain)
            for port in spec.get("ports") or []:
                if port.get("protocol", "TCP") == "TCP":
                    listeners[(cluster_ip, int(port["port"]))] = sorted(
                        ready.get((meta["namespace"], meta["name"], port.get("name") or ""), [])
                    )
        return listeners, names

    async def _sync(self) -> None:
        with self._lock:
            self._sync_pending = False
        listeners, names = self._desired()
        self._backends = listeners
        for listener in [known for known in self._servers if known not in listeners]:
            self._servers.pop(listener).close()
        for listener in listeners:
            if listener not in self._servers:
                await self._listen(listener)
        if self._hosts is not None:
            await asyncio.to_thread(self._hosts.publish, names)

    async def _listen(self, listener: Listener) -> None:
        ip, port = listener
        try:
            self._servers[listener] = await asyncio.start_server(
                lambda r, w: self._forward(listener, r, w), ip, port, reuse_address=True
            )
        except OSError as exc:
            log.warning("service proxy: cannot listen on %s:%s: %s", ip, port, exc)

    async def _close_all(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    # --- forwarding -----------------------------------------------------------------------

    async def _forward(self, listener: Listener, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        backends = self._backends.get(listener) or []
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        try:
            if not backends:
                return
            ip, port = backends[next(self._turn) % len(backends)]
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(ip, port)
            except OSError:
                return
            try:
                await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
            finally:
                upstream_writer.close()
        finally:
            client_writer.close()
