"""A small cluster for the controller: an API server, real routers and model servers, client traffic.

The API server is either the in-memory stand-in or a real control plane (`backends`); the Scene
reads and writes through its REST API either way, as the admin, in a namespace of its own.
What no server here provides, the harness plays:

- Revisions' Pods run nothing: on the real server a `LoopbackNode` binds them and reports them
  ready, on the stand-in the Deployments are marked ready. The routers reach each revision at the
  URL of a demo model server instead (the `upstream` adapter maps a revision to it).
- Router Pods are played by router processes on 127.0.0.1, each listed in an EndpointSlice of
  its own for `<name>-router`, as the endpoint-slice controller lists a ready router Pod. An
  EndpointSlice may not hold a loopback address, so each router is listed at an address of the
  pod range, 10.244.255.N, and the controller's `router_address` adapter maps that range back to
  127.0.0.1. On the real server the router Deployment's own Pods exist but never turn ready.
- Credentials: on the real server the controller runs as install.yaml's ServiceAccount and each
  router with a token of the `<name>-router` ServiceAccount the controller made; the stand-in
  checks none.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from controller.api.resource import PLURAL, ModelRollout, revision_of
from controller.kube.client import KubeClient, load_configuration
from controller.kube.leader import LeaseConfig
from controller.kube.manager import Controller
from controller.kube.timers import Cadence
from controller.kube.wiring import Adapters, ControllerConfig
from controller.local.loadgen import TrafficConfig, TrafficGenerator, dataset_requests
from controller.local.processes import (
    ManagedProcess,
    ProcessGroup,
    free_port,
    wait_http_ok,
)
from tests.fakekube import FakeKube
from tests.integration.kube.backends import LEASE_NAME, LEASE_NAMESPACE, Backend, StandIn
from tests.integration.kube.listing import ROUTER_RANGE, reach_router, router_slice
from tests.integration.kube.rest import Rest

__all__ = ["ROUTER_RANGE", "Models", "RunningController", "Scene", "canary_document", "reach_router", "template"]

_APPLY_ATTEMPTS = 10
FAST = Cadence(router_poll_s=0.2, idle_router_poll_s=0.5, progressing_resync_s=5.0, idle_resync_s=30.0)


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [{"name": "model", "image": image}]}}


def canary_document(name: str, image: str, steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A ModelRollout without a namespace: `Scene.apply` puts it in the scene's own."""
    metric = {"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.05, "minSamples": 20}
    return {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "template": template(image),
            "service": {"ports": [{"port": 80, "targetPort": 8080}]},
            "strategy": {"canary": {"steps": steps}},
            "analysis": {"interval": "1s", "metrics": [metric]},
            **spec,
        },
    }


@dataclass
class Models:
    """Demo model servers by image name: what each revision's pods would serve."""

    urls: dict[str, str]

    def upstream(self, rollout: ModelRollout, revision: str) -> str:
        for image, url in self.urls.items():
            if revision_of(template(image)) == revision:
                return url
        raise KeyError(f"no model server for revision {revision}")


@dataclass
class RunningController:
    controller: Controller
    task: asyncio.Task[None]
    stop_event: asyncio.Event
    client: KubeClient

    async def stop(self) -> None:
        """SIGTERM: drain, hand the Lease back, close."""
        self.stop_event.set()
        await asyncio.wait_for(self.task, 15)
        self.client.close()

    async def kill(self) -> None:
        """As abrupt as a killed process can be from inside one: every task cancelled mid-flight."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.client.close()


@dataclass
class Scene:
    backend: Backend
    models: Models
    workdir: Path
    api: Rest = field(init=False)
    processes: ProcessGroup = field(init=False)
    routers: dict[str, ManagedProcess] = field(default_factory=dict)
    data_urls: list[str] = field(default_factory=list)
    traffic: list[TrafficGenerator] = field(default_factory=list)
    controllers: list[RunningController] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.api = Rest(self.backend.admin)
        self.processes = ProcessGroup(self.workdir / "logs")

    @property
    def namespace(self) -> str:
        return self.backend.namespace

    @property
    def stand_in(self) -> FakeKube:
        """The stand-in itself, for the faults only it can make; a test that uses it runs on it alone."""
        if not isinstance(self.backend, StandIn):
            raise TypeError(f"this scene runs on the {self.backend.name} API server, not the stand-in")
        return self.backend.kube

    # --- the API --------------------------------------------------------------------------

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """`kubectl apply` of a ModelRollout's spec: created, or its spec replaced.

        The controller writes the status meanwhile, so a replace conditional on the version read
        can meet a Conflict; like kubectl, read again and retry.
        """
        body = {**document, "metadata": {**document["metadata"], "namespace": self.namespace}}
        for _attempt in range(_APPLY_ATTEMPTS):
            live = self.api.get(PLURAL, self.namespace, body["metadata"]["name"])
            if live is None:
                return self.api.create(PLURAL, self.namespace, body)
            try:
                return self.api.replace(PLURAL, self.namespace, {**live, "spec": body["spec"]})
            except ApiException as exc:
                if exc.status != 409:
                    raise
        raise AssertionError(f"applying {body['metadata']['name']} met a Conflict {_APPLY_ATTEMPTS} times in a row")

    def rollout(self, name: str) -> dict[str, Any]:
        return self.must_get(PLURAL, name)

    def status(self, name: str) -> dict[str, Any]:
        return self.rollout(name).get("status") or {}

    def must_get(self, resource: str, name: str) -> dict[str, Any]:
        found = self.get(resource, name)
        if found is None:
            raise AssertionError(f"{resource} {name} does not exist")
        return found

    def get(self, resource: str, name: str) -> dict[str, Any] | None:
        return self.api.get(resource, self.namespace, name)

    def replace(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.api.replace(resource, self.namespace, obj)

    def patch(self, resource: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.patch(resource, self.namespace, name, body)

    def delete(self, resource: str, name: str) -> None:
        self.api.delete(resource, self.namespace, name)

    def lease(self) -> dict[str, Any] | None:
        return self.api.get("leases.coordination.k8s.io", LEASE_NAMESPACE, LEASE_NAME)

    def events(self, name: str) -> list[dict[str, Any]]:
        """Events on the ModelRollout `name`; a real server's own controllers record others, on its Service of that name too."""
        wanted = {"kind": "ModelRollout", "name": name}
        return [e for e in self.api.list("events", self.namespace) if wanted.items() <= (e.get("involvedObject") or {}).items()]

    async def wait_for(self, what: str, check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        """`check()`'s first truthy answer; it runs on a thread, so the controller on this loop goes on meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            result = await asyncio.to_thread(check)
            if result:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")

    # --- processes ------------------------------------------------------------------------

    async def start_router(self, rollout: str, index: int, listed: bool = True, run: bool = True) -> int:
        """A router process for `rollout` (unless `run` is false), listed in an EndpointSlice; its admin port."""
        data_port, admin_port = free_port(), free_port()
        if listed:
            self.list_router(rollout, index, admin_port)
        if run:
            await self.run_router(rollout, index, data_port, admin_port)
        return admin_port

    async def run_router(self, rollout: str, index: int, data_port: int, admin_port: int) -> None:
        kubeconfig = await asyncio.to_thread(self.backend.router_kubeconfig, rollout)
        argv = [
            sys.executable, "-m", "router", "--configmap", f"{self.namespace}/{rollout}-router", "--kubeconfig", str(kubeconfig),
            "--listen", f"127.0.0.1:{data_port}", "--admin-listen", f"127.0.0.1:{admin_port}", "--log-level", "warning",
        ]  # fmt: skip
        process = self.processes.start(f"router-{rollout}-{index}", argv)
        self.routers[f"{rollout}-{index}"] = process
        await wait_http_ok(f"http://127.0.0.1:{admin_port}/healthz", 20.0, process.process)
        self.data_urls.append(f"http://127.0.0.1:{data_port}")

    def list_router(self, rollout: str, index: int, admin_port: int) -> None:
        self.api.create("endpointslices.discovery.k8s.io", self.namespace, router_slice(rollout, index, admin_port))

    def start_traffic(self, rate_per_s: float = 40.0) -> None:
        for url in self.data_urls:
            generator = TrafficGenerator(TrafficConfig(target_url=url, rate_per_s=rate_per_s, timeout_s=5.0), dataset_requests())
            generator.start()
            self.traffic.append(generator)

    async def start_controller(self, identity: str = "controller-a", lease: bool = False, workers: int = 2) -> RunningController:
        client = KubeClient(load_configuration(str(self.backend.controller_kubeconfig())), threads=4)
        election = LeaseConfig(LEASE_NAMESPACE, LEASE_NAME, identity, 3.0, 2.0, 0.5) if lease else None
        config = ControllerConfig(
            namespaces=(self.namespace,), workers=workers, leader_election=election, cadence=FAST, identity=identity,
            drain_s=5.0, router_timeout_s=1.0,
        )  # fmt: skip
        controller = Controller(client, config, Adapters(upstream=self.models.upstream, router_address=reach_router))
        stop = asyncio.Event()
        task = asyncio.create_task(controller.run(stop), name=f"controller-{identity}")
        running = RunningController(controller, task, stop, client)
        self.controllers.append(running)
        return running

    async def close(self) -> None:
        # A test that failed half-way leaves its controllers running: they must not outlive it.
        for running in self.controllers:
            if not running.task.done():
                await running.kill()
        for generator in self.traffic:
            await generator.stop()
        self.processes.stop_all()


async def start_models(group: ProcessGroup, scenarios: dict[str, tuple[str, str]]) -> Models:
    """One demo model server per image: image -> (variant, scenario)."""
    urls: dict[str, str] = {}
    for image, (variant, scenario) in scenarios.items():
        port = free_port()
        argv = [sys.executable, "-m", "controller.local.demo_model", "--port", str(port), "--variant", variant, "--scenario", scenario]
        member = group.start(f"model-{image.replace(':', '-')}", argv)
        urls[image] = f"http://127.0.0.1:{port}"
        await wait_http_ok(f"{urls[image]}/healthz", 60.0, member.process)
    return Models(urls)
