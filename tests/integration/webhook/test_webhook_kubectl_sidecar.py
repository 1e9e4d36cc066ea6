"""`kubectl modelrollout sidecar NAME`: the fragment printed is what the injector adds, for the rollout on the API server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from controller.api.resource import ModelRollout
from controller.kube.objects import DEFAULT_ROUTER_IMAGE, LABEL_ROUTER, sidecar_container
from controller.kube.webhook_inject import INJECT_KEY, inject
from tests.controlplane import ControlPlane
from tests.integration.webhook.webhookkit import pod_document, rollout_document

pytestmark = [pytest.mark.integration]

PLUGIN = Path(sys.executable).with_name("kubectl-modelrollout")


def _sidecar(control_plane: ControlPlane, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(PLUGIN), "sidecar", *args, "-n", namespace, "--kubeconfig", str(control_plane.kubeconfig_path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_the_printed_fragment_is_what_the_injector_adds(control_plane: ControlPlane, admin: k8s.ApiClient, real_namespace: str) -> None:
    router = {"resources": {"limits": {"memory": "96Mi"}}, "image": "registry.local/router:7"}
    body = rollout_document("demo", real_namespace, router=router)
    raw = k8s.CustomObjectsApi(admin).create_namespaced_custom_object("modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", body)
    rollout = ModelRollout.model_validate(raw)

    as_yaml, as_json, commented = (_sidecar(control_plane, real_namespace, "demo", *out) for out in (["-o", "yaml"], ["-o", "json"], []))
    assert as_yaml.returncode == as_json.returncode == commented.returncode == 0, as_yaml.stderr + as_json.stderr + commented.stderr
    fragment = yaml.safe_load(as_yaml.stdout)
    assert json.loads(as_json.stdout) == fragment == yaml.safe_load(commented.stdout)
    assert fragment["spec"]["containers"] == [sidecar_container(rollout)]
    assert fragment["spec"]["containers"][0]["image"] == "registry.local/router:7"
    injected = inject(pod_document("caller", labels={INJECT_KEY: "demo"}), rollout).pod
    assert fragment["metadata"]["labels"] == {LABEL_ROUTER: "demo"} and LABEL_ROUTER in injected["metadata"]["labels"]
    assert fragment["spec"]["serviceAccountName"] == injected["spec"]["serviceAccountName"] == "demo-router"
    assert injected["spec"]["containers"][-1] == fragment["spec"]["containers"][0]
    assert "http://127.0.0.1:15080" in commented.stdout and f"{INJECT_KEY}: demo" in commented.stdout


def test_a_missing_rollout_is_named_and_fails(control_plane: ControlPlane, admin: k8s.ApiClient, real_namespace: str) -> None:
    done = _sidecar(control_plane, real_namespace, "nosuch")
    assert done.returncode == 1 and f"modelrollout {real_namespace}/nosuch not found" in done.stdout + done.stderr


def test_a_rollout_without_an_image_gets_the_router_image_given(
    control_plane: ControlPlane, admin: k8s.ApiClient, real_namespace: str
) -> None:
    body = rollout_document("plain", real_namespace)
    k8s.CustomObjectsApi(admin).create_namespaced_custom_object("modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", body)
    default = _sidecar(control_plane, real_namespace, "plain", "-o", "yaml")
    mirrored = _sidecar(control_plane, real_namespace, "plain", "-o", "yaml", "--router-image", "mirror/mr:1")
    assert yaml.safe_load(default.stdout)["spec"]["containers"][0]["image"] == DEFAULT_ROUTER_IMAGE
    assert yaml.safe_load(mirrored.stdout)["spec"]["containers"][0]["image"] == "mirror/mr:1"


def test_a_rollout_whose_router_is_a_deployment_is_printed_with_a_warning(
    control_plane: ControlPlane, admin: k8s.ApiClient, real_namespace: str
) -> None:
    body = rollout_document("managed", real_namespace, router={"mode": "deployment"})
    k8s.CustomObjectsApi(admin).create_namespaced_custom_object("modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", body)
    done = _sidecar(control_plane, real_namespace, "managed", "-o", "yaml")
    assert done.returncode == 0 and yaml.safe_load(done.stdout)["spec"]["containers"][0]["name"] == "modelrollout-router"
    assert "runs its router as a Deployment" in done.stderr and "spec.router.mode: sidecar" in done.stderr
