"""`modelrollout controller --webhook-listen ...` as a process: it publishes its CA, injects through the API server, stops on SIGTERM."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api.resource import ModelRollout
from controller.kube.objects import router_service_account
from controller.kube.webhook_inject import INJECT_KEY, SIDECAR_NAME
from controller.kube.webhook_server import MUTATE_PATH
from controller.local.processes import ProcessGroup, free_port
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import wait_until
from tests.integration.webhook.webhookkit import pod_document, published_bundle, rollout_document, webhook_configuration

pytestmark = [pytest.mark.integration]

PROGRAM = Path(sys.executable).with_name("modelrollout")


def _created(admin: k8s.ApiClient, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
    return dict(admin.sanitize_for_serialization(k8s.CoreV1Api(admin).create_namespaced_pod(namespace, pod, dry_run="All")))


def _injected(admin: k8s.ApiClient, namespace: str) -> bool:
    try:
        pod = _created(admin, namespace, pod_document("caller", labels={INJECT_KEY: "demo"}))
    except ApiException as exc:  # the namespace's default ServiceAccount may not be there yet
        if exc.status != 403:
            raise
        return False
    return [c["name"] for c in pod["spec"]["containers"]] == ["caller", SIDECAR_NAME]


def test_the_controller_process_serves_the_injector_and_stops_cleanly(
    control_plane: ControlPlane, admin: k8s.ApiClient, real_namespace: str, configuration_name: str, processes: ProcessGroup
) -> None:
    port = free_port()
    k8s.AdmissionregistrationV1Api(admin).create_mutating_webhook_configuration(
        webhook_configuration(configuration_name, real_namespace, f"https://127.0.0.1:{port}{MUTATE_PATH}")
    )
    raw = k8s.CustomObjectsApi(admin).create_namespaced_custom_object(
        "modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", rollout_document("demo", real_namespace)
    )
    k8s.CoreV1Api(admin).create_namespaced_service_account(real_namespace, router_service_account(ModelRollout.model_validate(raw)))
    controller = processes.start("controller", [
        str(PROGRAM), "controller", "--kubeconfig", str(control_plane.kubeconfig_path), "--namespace", real_namespace,
        "--metrics-listen", f"127.0.0.1:{free_port()}", "--webhook-listen", f"127.0.0.1:{port}", "--webhook-host", "127.0.0.1",
        "--webhook-configuration", configuration_name, "--router-image", "mirror.example/mr:2",
    ])  # fmt: skip
    wait_until("the controller's CA in the caBundle", lambda: published_bundle(admin, configuration_name), timeout_s=60)
    wait_until("a labelled Pod to come back injected", lambda: _injected(admin, real_namespace), timeout_s=60)
    pod = _created(admin, real_namespace, pod_document("caller", labels={INJECT_KEY: "demo"}))
    assert pod["spec"]["containers"][1]["image"] == "mirror.example/mr:2"
    controller.process.send_signal(signal.SIGTERM)
    assert controller.process.wait(timeout=60) == 0, controller.log_path.read_text() if controller.log_path else ""
