"""Routers and controllers the operator tests run in-process or on loopback, on either API server.

A router process answers on 127.0.0.1, which an EndpointSlice may not hold on a real server, so
it is listed at an address of `ROUTER_RANGE` (inside the pod range, above what the loopback node
hands out), in a slice with a manager of its own that the endpoint-slice controller leaves
alone; the controller's `router_address` adapter (`reach_router`) maps that address back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from controller.kube.client import KubeClient, load_configuration
from controller.kube.manager import Controller
from controller.kube.objects import LABEL_ROLLOUT
from controller.kube.wiring import Adapters, ControllerConfig
from controller.local.processes import ProcessGroup, free_port, wait_http_ok

__all__ = ["ROUTER_RANGE", "SLICE_MANAGER", "reach_router", "router_slice", "running_controller", "start_listed_router"]

ROUTER_RANGE = ipaddress.ip_network("10.244.255.0/24")
SLICE_MANAGER = "scene.modelrollout.io"


def reach_router(address: str) -> str:
    """The `router_address` adapter: a router listed in ROUTER_RANGE answers on loopback."""
    return "127.0.0.1" if ipaddress.ip_address(address) in ROUTER_RANGE else address


def router_slice(rollout: str, index: int, admin_port: int) -> dict[str, Any]:
    """An EndpointSlice of the `<rollout>-router` Service listing router `index` at its admin port."""
    labels = {
        "kubernetes.io/service-name": f"{rollout}-router",
        "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER,
        LABEL_ROLLOUT: rollout,
    }
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{rollout}-router-{index}", "labels": labels},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [str(ROUTER_RANGE[index + 1])], "conditions": {"ready": True},
                       "targetRef": {"kind": "Pod", "name": f"{rollout}-router-pod-{index}"}}],
        "ports": [{"name": "admin", "port": admin_port, "protocol": "TCP"}],
    }  # fmt: skip


async def start_listed_router(
    processes: ProcessGroup, kubeconfig: Path, api_client: k8s.ApiClient, namespace: str, rollout: str, timeout_s: float = 60.0
) -> str:
    """A router process reading `<rollout>-router` through `kubeconfig`, listed once it answers; its data URL."""
    admin, data = free_port(), free_port()
    argv = [
        sys.executable, "-m", "router", "--configmap", f"{namespace}/{rollout}-router", "--kubeconfig", str(kubeconfig),
        "--listen", f"127.0.0.1:{data}", "--admin-listen", f"127.0.0.1:{admin}", "--log-level", "warning",
    ]  # fmt: skip
    member = processes.start(f"router-{rollout}", argv)
    await wait_http_ok(f"http://127.0.0.1:{admin}/healthz", timeout_s, member.process)
    await asyncio.to_thread(k8s.DiscoveryV1Api(api_client).create_namespaced_endpoint_slice, namespace, router_slice(rollout, 0, admin))
    return f"http://127.0.0.1:{data}"


@asynccontextmanager
async def running_controller(kubeconfig: Path, config: ControllerConfig, adapters: Adapters) -> AsyncIterator[Controller]:
    """The operator on this event loop until the block ends; then stopped as SIGTERM stops it."""
    client = KubeClient(load_configuration(str(kubeconfig)), threads=4)
    controller = Controller(client, config, adapters)
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop), name=f"controller-{config.identity}")
    try:
        yield controller
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        client.close()
