"""A small cluster for the controller: the API stand-in, real routers and model servers, client traffic.

Revisions' pods do not run here; the routers reach each revision at the URL of a demo model
server instead (the `upstream` adapter maps a revision to it), and each router is listed in an
EndpointSlice of `<name>-router` at its loopback admin port, as the endpoint-slice controller
would list a ready router pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.api.resource import ModelRollout, revision_of
from controller.kube.client import KubeClient, load_configuration
from controller.kube.leader import LeaseConfig
from controller.kube.manager import Controller
from controller.kube.objects import LABEL_ROLLOUT
from controller.kube.timers import Cadence
from controller.kube.wiring import Adapters, ControllerConfig
from controller.local.processes import (
    ManagedProcess,
    ProcessGroup,
    free_port,
    wait_http_ok,
)
from controller.local.traffic import TrafficConfig, TrafficGenerator, dataset_requests
from tests.fakekube import ApiError, FakeKube

__all__ = ["NAMESPACE", "Models", "RunningController", "Scene", "canary_document", "template"]

NAMESPACE = "default"
FAST = Cadence(router_poll_s=0.2, idle_router_poll_s=0.5, progressing_resync_s=5.0, idle_resync_s=30.0)


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [{"name": "model", "image": image}]}}


def canary_document(name: str, image: str, steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    metric = {"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.05, "minSamples": 20}
    return {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": NAMESPACE},
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
    kube: FakeKube
    models: Models
    workdir: Path
    processes: ProcessGroup = field(init=False)
    routers: dict[str, ManagedProcess] = field(default_factory=dict)
    data_urls: list[str] = field(default_factory=list)
    traffic: list[TrafficGenerator] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.processes = ProcessGroup(self.workdir / "logs")

    # --- the API --------------------------------------------------------------------------

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        name = document["metadata"]["name"]
        try:
            live = self.kube.store.get("modelrollouts", NAMESPACE, name)
        except ApiError:  # NotFound: create it
            return self.kube.store.create("modelrollouts", NAMESPACE, document)
        return self.kube.store.replace("modelrollouts", NAMESPACE, name, {**live, "spec": document["spec"]})

    def rollout(self, name: str) -> dict[str, Any]:
        return self.kube.store.get("modelrollouts", NAMESPACE, name)

    def status(self, name: str) -> dict[str, Any]:
        return self.rollout(name).get("status") or {}

    def must_get(self, resource: str, name: str) -> dict[str, Any]:
        found = self.get(resource, name)
        if found is None:
            raise AssertionError(f"{resource} {name} does not exist")
        return found

    def get(self, resource: str, name: str) -> dict[str, Any] | None:
        try:
            return self.kube.store.get(resource, NAMESPACE, name)
        except ApiError:  # NotFound
            return None

    def events(self, name: str) -> list[dict[str, Any]]:
        events, _version = self.kube.store.list("events", NAMESPACE)
        return [e for e in events if e.get("involvedObject", {}).get("name") == name]

    async def wait_for(self, what: str, check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            result = check()
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
        argv = [
            sys.executable, "-m", "router", "--configmap", f"{NAMESPACE}/{rollout}-router",
            "--kubeconfig", str(self.kube.kubeconfig_path),
            "--listen", f"127.0.0.1:{data_port}", "--admin-listen", f"127.0.0.1:{admin_port}", "--log-level", "warning",
        ]  # fmt: skip
        process = self.processes.start(f"router-{rollout}-{index}", argv)
        self.routers[f"{rollout}-{index}"] = process
        await wait_http_ok(f"http://127.0.0.1:{admin_port}/healthz", 20.0, process.process)
        self.data_urls.append(f"http://127.0.0.1:{data_port}")

    def list_router(self, rollout: str, index: int, admin_port: int) -> None:
        self.kube.store.create("endpointslices.discovery.k8s.io", NAMESPACE, {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{rollout}-router-{index}",
                "labels": {"kubernetes.io/service-name": f"{rollout}-router", LABEL_ROLLOUT: rollout},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True},
                           "targetRef": {"kind": "Pod", "name": f"{rollout}-router-pod-{index}"}}],
            "ports": [{"name": "admin", "port": admin_port, "protocol": "TCP"}],
        })  # fmt: skip

    def start_traffic(self, rate_per_s: float = 40.0) -> None:
        for url in self.data_urls:
            generator = TrafficGenerator(TrafficConfig(target_url=url, rate_per_s=rate_per_s, timeout_s=5.0), dataset_requests())
            generator.start()
            self.traffic.append(generator)

    async def start_controller(self, identity: str = "controller-a", lease: bool = False, workers: int = 2) -> RunningController:
        client = KubeClient(load_configuration(str(self.kube.kubeconfig_path)), threads=4)
        election = LeaseConfig(NAMESPACE, "modelrollout-controller", identity, 3.0, 2.0, 0.5) if lease else None
        config = ControllerConfig(
            workers=workers, leader_election=election, cadence=FAST, identity=identity, drain_s=5.0, router_timeout_s=1.0
        )
        controller = Controller(client, config, Adapters(upstream=self.models.upstream))
        stop = asyncio.Event()
        task = asyncio.create_task(controller.run(stop), name=f"controller-{identity}")
        return RunningController(controller, task, stop, client)

    async def close(self) -> None:
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
