"""Sidecar injector benchmark: what the webhook adds to creating a Pod, against the same API server without it.

Starts a real etcd and kube-apiserver (KUBEBUILDER_ASSETS, as the tests find them), a ModelRollout,
and the webhook in this process on loopback, then times:

1. Pod creates (server-side dry run, so nothing piles up) of Pods that ask for a router, which the
   API server sends to the webhook, against Pods that do not ask (its matchConditions skip the
   call): the ratio is the cost a caller's Pod pays for injection;
2. AdmissionReviews posted straight to the webhook over one kept-alive HTTPS connection, against
   `GET /healthz` on the same connection: the ratio is the injector's own work (one rollout read
   from the API server, the patch) over a bare round trip.

    python bench/webhook.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as `python bench/webhook.py`, this file's directory would come first on sys.path: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

import httpx  # noqa: E402
from kubernetes import client as k8s  # noqa: E402

from controller.kube.client import KubeClient, load_configuration  # noqa: E402
from controller.kube.webhook_server import MUTATE_PATH, WebhookConfig, WebhookServer  # noqa: E402
from controller.local.processes import free_port  # noqa: E402
from tests.controlplane import ASSETS_HINT, ControlPlane, find_assets  # noqa: E402
from tests.integration.realkube.realkit import apply_crd, wait_until  # noqa: E402
from tests.integration.webhook.webhookkit import (  # noqa: E402
    admission_review,
    pod_document,
    published_bundle,
    rollout_document,
    trusting,
    webhook_configuration,
)

NAMESPACE = "bench"


def _percentiles(samples_s: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def _timed(action: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def _row(name: str, samples: list[float], reference: list[float]) -> str:
    p50, p99 = _percentiles(samples)
    ref50, ref99 = _percentiles(reference)
    return f"{name:<44} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   x{p50 / ref50:5.2f} p50, x{p99 / ref99:5.2f} p99 of the reference"


def _prepare(admin: k8s.ApiClient, port: int) -> None:
    apply_crd(admin)
    core = k8s.CoreV1Api(admin)
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    for account in ("default", "demo-router"):
        core.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": account}})
    rollout = rollout_document("demo", NAMESPACE)
    k8s.CustomObjectsApi(admin).create_namespaced_custom_object("modelrollout.io", "v1alpha1", NAMESPACE, "modelrollouts", rollout)
    configuration = webhook_configuration("bench-sidecar-injector", NAMESPACE, f"https://127.0.0.1:{port}{MUTATE_PATH}")
    k8s.AdmissionregistrationV1Api(admin).create_mutating_webhook_configuration(configuration)


def _serve(kube: KubeClient, config: WebhookConfig, stop: threading.Event, ready: threading.Event) -> None:
    async def main() -> None:
        server = WebhookServer(kube, config)
        await server.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await server.stop()

    asyncio.run(main())


def run(requests: int) -> None:
    assets = find_assets()
    if assets is None:
        raise SystemExit(f"no control plane: {ASSETS_HINT}")
    # Without the controller manager: no Deployments to run here, and the namespace's accounts are made by hand.
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as workdir:
        with ControlPlane(assets, Path(workdir), controller_manager=False) as plane:
            admin = plane.api_client()
            port = free_port()
            _prepare(admin, port)
            kube = KubeClient(load_configuration(str(plane.kubeconfig_path)), threads=4)
            config = WebhookConfig(listen=("127.0.0.1", port), hosts=("127.0.0.1",), configuration="bench-sidecar-injector")
            stop, ready = threading.Event(), threading.Event()
            thread = threading.Thread(target=_serve, args=(kube, config, stop, ready), daemon=True)
            thread.start()
            ready.wait(30)
            core = k8s.CoreV1Api(admin)

            def create(pod: dict[str, Any]) -> dict[str, Any]:
                return dict(admin.sanitize_for_serialization(core.create_namespaced_pod(NAMESPACE, pod, dry_run="All")))

            asking, plain = pod_document("caller", labels={"modelrollout.io/inject": "demo"}), pod_document("caller")
            wait_until("the API server to call the webhook", lambda: len(create(asking)["spec"]["containers"]) == 2, timeout_s=60)
            _timed(lambda: create(plain), 20)  # warm both paths
            injected, reference = _timed(lambda: create(asking), requests), _timed(lambda: create(plain), requests)
            verify = trusting(published_bundle(admin, "bench-sidecar-injector"))
            with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=verify) as http:
                review = admission_review(asking, NAMESPACE)
                direct = _timed(lambda: http.post(MUTATE_PATH, json=review).raise_for_status(), requests)
                health = _timed(lambda: http.get("/healthz").raise_for_status(), requests)
            stop.set()
            thread.join(10)
            kube.close()
            print(f"{requests} requests each, one at a time, on loopback")
            print(_row("Pod create that asks for a router (injected)", injected, reference))
            print(_row("Pod create that does not ask (reference)", reference, reference))
            print(_row("AdmissionReview straight to the webhook", direct, health))
            print(_row("GET /healthz on the same connection (ref.)", health, health))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="timed requests of each kind (default 300)")
    run(parser.parse_args().requests)


if __name__ == "__main__":
    main()
