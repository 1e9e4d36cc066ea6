"""Plays the kubelet of one Node on a real control plane: binds Pending Pods, reports their status.

There is no kubelet or container runtime here, so this harness does their part against the
real API server: it registers a Ready Node, binds every unscheduled Pod of the watched
namespaces to it, gives each Pod an IP from the pod range, starts it through a `PodRuntime`
and reports it Running, and Ready only once the runtime says its containers answer. A Pod
being deleted is stopped and then removed, as the kubelet confirms a graceful deletion.

The node keeps itself alive as a kubelet does: it renews its Lease in `kube-node-lease` and
its Ready condition's heartbeat every `heartbeat_s`. Without that the real controller-manager's
node lifecycle controller finds the node's status stale after its grace period (50 s) and
marks every Pod on it not ready. A Pod whose Ready condition someone else changed is reported
again, since the node is the source of truth for it.

The default runtime runs nothing and calls every Pod ready at once: enough for Deployments to
report available replicas. `tests.loopnode.runtime` runs containers as processes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

__all__ = ["LoopbackNode", "PodRuntime", "ReadyAtOnce", "pod_key"]

log = logging.getLogger(__name__)


def pod_key(pod: dict[str, Any]) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


class PodRuntime(Protocol):
    """What runs a Pod's containers: started once with the Pod and its IP, asked for readiness, stopped."""

    def start(self, pod: dict[str, Any], ip: str) -> None: ...
    def ready(self, key: str) -> bool: ...
    def stop(self, key: str) -> None: ...


class ReadyAtOnce:
    """Runs nothing; every Pod is ready as soon as it is started."""

    def start(self, pod: dict[str, Any], ip: str) -> None:
        return None

    def ready(self, key: str) -> bool:
        return True

    def stop(self, key: str) -> None:
        return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reported_ready(pod: dict[str, Any]) -> bool | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return None


def _pod_status(pod: dict[str, Any], ip: str, host_ip: str, ready: bool, started: str) -> dict[str, Any]:
    flag = "True" if ready else "False"
    conditions = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
        {"type": "Initialized", "status": "True", "lastTransitionTime": started},
        {"type": "ContainersReady", "status": flag, "lastTransitionTime": _now()},
        {"type": "Ready", "status": flag, "lastTransitionTime": _now()},
    ]
    containers = [
        {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": ready, "restartCount": 0,
         "started": True, "state": {"running": {"startedAt": started}}}
        for c in pod["spec"].get("containers") or []
    ]  # fmt: skip
    return {
        "phase": "Running", "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": ip, "podIPs": [{"ip": ip}], "startTime": started, "containerStatuses": containers,
    }  # fmt: skip


class LoopbackNode:
    """One Node whose Pods get addresses from `pod_cidr` (the node itself takes the range's first)."""

    def __init__(
        self, api_client: k8s.ApiClient, *, name: str = "loopback", pod_cidr: str = "10.244.0.0/16",
        namespaces: Iterable[str] | None = None, runtime: PodRuntime | None = None, poll_s: float = 0.1,
        heartbeat_s: float = 10.0,
    ) -> None:  # fmt: skip
        self.name = name
        self._core = k8s.CoreV1Api(api_client)
        self._coordination = k8s.CoordinationV1Api(api_client)
        self._heartbeat_s = heartbeat_s
        self._namespaces = set(namespaces) if namespaces is not None else None
        self._runtime = runtime or ReadyAtOnce()
        self._poll_s = poll_s
        network = ipaddress.ip_network(pod_cidr)
        hosts = network.hosts()
        self.host_ip = str(next(hosts))
        self._free = hosts
        self._pods: dict[str, dict[str, Any]] = {}  # key -> {"ip", "ready", "started", "pod"}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watch: k8s_watch.Watch | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> LoopbackNode:
        self._register()
        for target in (self._watch_pods, self._report_readiness, self._heartbeat):
            thread = threading.Thread(target=target, name=f"loopnode-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._watch is not None:
            self._watch.stop()
        for thread in self._threads:
            thread.join(5)
        with self._lock:
            keys = list(self._pods)
        for key in keys:
            self._runtime.stop(key)

    def __enter__(self) -> LoopbackNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def ip_of(self, key: str) -> str | None:
        with self._lock:
            entry = self._pods.get(key)
            return entry["ip"] if entry else None

    def _register(self) -> None:
        node = {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "labels": {"kubernetes.io/hostname": self.name}},
            "spec": {"podCIDR": str(ipaddress.ip_network(f"{self.host_ip}/16", strict=False))},
        }  # fmt: skip
        with contextlib.suppress(ApiException):
            self._core.create_node(node)
        status = {"status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "loopback node",
                            "lastHeartbeatTime": _now(), "lastTransitionTime": _now()}],
            "addresses": [{"type": "InternalIP", "address": self.host_ip}, {"type": "Hostname", "address": self.name}],
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
        }}  # fmt: skip
        self._core.patch_node_status(self.name, status)
        self._renew_lease()

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self._heartbeat_s):
            try:
                self._renew_lease()
                ready = {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "loopback node",
                    "lastHeartbeatTime": _now(),
                }
                self._core.patch_node_status(self.name, {"status": {"conditions": [ready]}})
            except ApiException as exc:
                log.warning("loopback node: heartbeat failed: %s", exc.reason)

    def _renew_lease(self) -> None:
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": _micro_now()}
        try:
            self._coordination.patch_namespaced_lease(self.name, "kube-node-lease", {"spec": spec})
        except ApiException as exc:
            if exc.status != 404:
                raise
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": self.name}, "spec": spec}
            with contextlib.suppress(ApiException):  # created meanwhile: renewed at the next beat
                self._coordination.create_namespaced_lease("kube-node-lease", lease)

    # --- pods -----------------------------------------------------------------------------

    def _watch_pods(self) -> None:
        while not self._stopping.is_set():
            self._watch = k8s_watch.Watch()
            try:
                for event in self._watch.stream(self._core.list_pod_for_all_namespaces, timeout_seconds=30, _request_timeout=60):
                    if self._stopping.is_set():
                        return
                    pod = self._core.api_client.sanitize_for_serialization(event["object"])
                    self._on_pod(event["type"], pod)
            except Exception as exc:  # noqa: BLE001 -- a broken watch is reopened, as a kubelet does
                if not self._stopping.is_set():
                    log.warning("loopback node: pod watch ended: %s", exc)
                    self._stopping.wait(0.5)

    def _on_pod(self, kind: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        if self._namespaces is not None and meta["namespace"] not in self._namespaces:
            return
        key = pod_key(pod)
        node_name = pod["spec"].get("nodeName")
        if kind == "DELETED":
            self._forget(key)
        elif meta.get("deletionTimestamp"):
            if node_name == self.name:
                self._forget(key)
                with contextlib.suppress(ApiException):  # the kubelet's confirmation: the Pod is gone
                    self._core.delete_namespaced_pod(meta["name"], meta["namespace"], grace_period_seconds=0)
        elif not node_name:
            self._bind(pod)
        elif node_name == self.name and key not in self._pods:
            self._run(pod)
        elif node_name == self.name:
            self._reassert(key, pod)

    def _bind(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]}, "target": {"kind": "Node", "name": self.name}}
        try:
            self._core.create_namespaced_binding(meta["namespace"], binding, _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:  # already bound: its MODIFIED event comes next
                log.warning("loopback node: cannot bind %s: %s", pod_key(pod), exc.reason)

    def _run(self, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        with self._lock:
            if key in self._pods:
                return
            ip = str(next(self._free))
            self._pods[key] = {"ip": ip, "ready": None, "started": _now(), "pod": pod}
        try:
            self._runtime.start(pod, ip)
        except Exception as exc:  # noqa: BLE001 -- a Pod that cannot start stays not ready, as a crashing container would
            log.warning("loopback node: %s did not start: %s", key, exc)

    def _reassert(self, key: str, pod: dict[str, Any]) -> None:
        """Someone else changed the Pod's readiness (the node lifecycle controller does): report it again."""
        with self._lock:
            entry = self._pods.get(key)
            if entry is not None and entry["ready"] is not None and _reported_ready(pod) != entry["ready"]:
                entry["ready"] = None

    def _forget(self, key: str) -> None:
        with self._lock:
            entry = self._pods.pop(key, None)
        if entry is not None:
            self._runtime.stop(key)

    def _report_readiness(self) -> None:
        while not self._stopping.wait(self._poll_s):
            with self._lock:
                entries = list(self._pods.items())
            for key, entry in entries:
                ready = self._runtime.ready(key)
                if ready != entry["ready"]:
                    self._write_status(entry, ready)

    def _write_status(self, entry: dict[str, Any], ready: bool) -> None:
        pod = entry["pod"]
        meta = pod["metadata"]
        try:
            self._core.patch_namespaced_pod_status(
                meta["name"], meta["namespace"], {"status": _pod_status(pod, entry["ip"], self.host_ip, ready, entry["started"])}
            )
            entry["ready"] = ready
        except ApiException as exc:
            if exc.status != 404:
                log.warning("loopback node: cannot report %s: %s", pod_key(pod), exc.reason)
