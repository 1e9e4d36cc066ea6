"""The sidecar injector behind a real kube-apiserver: Pods created through the API come back injected, or not.

The webhook runs as install.yaml's controller ServiceAccount, under install.yaml's own roles,
so it proves those roles suffice: it adds its CA to the caBundle of the chart's configuration
(pointed at loopback, as ../shared/kube-assets says, and at this test's namespace only) and
reads the rollout. The API server calls it over HTTPS for every Pod that asks for a router.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api.resource import ModelRollout
from controller.kube.client import KubeClient, load_configuration
from controller.kube.objects import LABEL_ROUTER, router_service_account
from controller.kube.webhook_inject import INJECT_KEY, SIDECAR_NAME
from controller.kube.webhook_server import DEFAULT_CONFIGURATION, MUTATE_PATH, WebhookConfig
from controller.local.processes import free_port
from tests.controlplane import ControlPlane
from tests.controlplane.apply import create_or_replace
from tests.integration.realkube.realkit import (
    CONTROLLER_ACCOUNT,
    CONTROLLER_NAMESPACE,
    CONTROLLER_USER,
    apply_controller_rbac,
    async_wait_until,
    install_documents,
)
from tests.integration.webhook.webhookkit import pod_document, rollout_document, running_webhook, webhook_configuration

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

WEBHOOK_ROLE = "modelrollout-controller-webhook"


@pytest.fixture
def controller_kube(control_plane: ControlPlane, tmp_path: Path) -> Iterator[KubeClient]:
    """The controller's client with a token of install.yaml's ServiceAccount, bound by install.yaml's roles only."""
    apply_controller_rbac(control_plane)
    with control_plane.api_client() as admin:
        for document in install_documents():
            if document["kind"] in ("ClusterRole", "ClusterRoleBinding") and document["metadata"]["name"] == WEBHOOK_ROLE:
                create_or_replace(admin, document)
    kubeconfig = control_plane.token_kubeconfig(tmp_path / "controller.kubeconfig", CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT)
    client = KubeClient(load_configuration(str(kubeconfig)), threads=4)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def chart_configuration(admin: k8s.ApiClient, real_namespace: str) -> Iterator[str]:
    """The chart's configuration name (the only one the controller may patch), pointed at a loopback port, deleted after."""
    port = free_port()
    registration = k8s.AdmissionregistrationV1Api(admin)
    url = f"https://127.0.0.1:{port}{MUTATE_PATH}"
    create_or_replace_configuration(registration, webhook_configuration(DEFAULT_CONFIGURATION, real_namespace, url))
    yield url
    try:
        registration.delete_mutating_webhook_configuration(DEFAULT_CONFIGURATION)
    except ApiException as exc:
        if exc.status != 404:
            raise


def create_or_replace_configuration(registration: k8s.AdmissionregistrationV1Api, body: dict[str, Any]) -> None:
    try:
        registration.delete_mutating_webhook_configuration(body["metadata"]["name"])
    except ApiException as exc:
        if exc.status != 404:
            raise
    registration.create_mutating_webhook_configuration(body)


def _create_pod(admin: k8s.ApiClient, namespace: str, pod: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    created = k8s.CoreV1Api(admin).create_namespaced_pod(namespace, pod, dry_run="All" if dry_run else None)
    return dict(admin.sanitize_for_serialization(created))


def _injected(pod: dict[str, Any]) -> bool:
    return any(c["name"] == SIDECAR_NAME for c in pod["spec"]["containers"])


def _injected_in_a_dry_run(admin: k8s.ApiClient, namespace: str, pod: dict[str, Any]) -> bool:
    try:
        return _injected(_create_pod(admin, namespace, pod, dry_run=True))
    except ApiException as exc:  # the namespace's default ServiceAccount may not be there yet
        if exc.status != 403:
            raise
        return False


async def test_pods_created_through_the_api_server_come_back_injected_or_unchanged_and_never_blocked(
    control_plane: ControlPlane, admin: k8s.ApiClient, controller_kube: KubeClient, real_namespace: str, chart_configuration: str
) -> None:
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    rollout = k8s.CustomObjectsApi(admin).create_namespaced_custom_object(
        "modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", rollout_document("demo", real_namespace)
    )
    core = k8s.CoreV1Api(admin)
    core.create_namespaced_service_account(real_namespace, router_service_account(ModelRollout.model_validate(rollout)))
    core.create_namespaced_service_account(real_namespace, {"metadata": {"name": "scorer"}})
    port = int(chart_configuration.rsplit(":", 1)[1].split("/")[0])
    config = WebhookConfig(listen=("127.0.0.1", port), hosts=("127.0.0.1",), refresh_every_s=0.5)
    labelled = pod_document("caller", labels={INJECT_KEY: "demo"})
    async with running_webhook(controller_kube, config):
        # The API server reads the configuration (with the caBundle just published) through a cache of its own.
        ready = partial(_injected_in_a_dry_run, admin, real_namespace, labelled)
        await async_wait_until("the API server to call the webhook with its CA", ready)
        injected = await asyncio.to_thread(_create_pod, admin, real_namespace, labelled)
        plain = await asyncio.to_thread(_create_pod, admin, real_namespace, pod_document("plain"))
        # Its own account, not bound to the router's Role: the webhook asks the authorizer (a SubjectAccessReview).
        own_account = pod_document("own", labels={INJECT_KEY: "demo"}, account="scorer")
        own = await asyncio.to_thread(_create_pod, admin, real_namespace, own_account)
    down = await asyncio.to_thread(_create_pod, admin, real_namespace, pod_document("while-down", labels={INJECT_KEY: "demo"}))

    assert [c["name"] for c in injected["spec"]["containers"]] == ["caller", SIDECAR_NAME]
    assert injected["metadata"]["labels"][LABEL_ROUTER] == "demo" and injected["spec"]["serviceAccountName"] == "demo-router"
    router = injected["spec"]["containers"][1]
    assert router["args"][:3] == ["router", "--configmap", f"{real_namespace}/demo-router"]
    assert [c["name"] for c in plain["spec"]["containers"]] == ["caller"] and LABEL_ROUTER not in (plain["metadata"].get("labels") or {})
    assert plain["spec"]["serviceAccountName"] == "default"
    assert own["spec"]["serviceAccountName"] == "scorer" and _injected(own)
    assert [c["name"] for c in down["spec"]["containers"]] == ["caller"], "with the webhook down the Pod is created as it is"
    asked = [
        (e["objectRef"].get("apiGroup", ""), e["objectRef"].get("resource"), e["verb"], e["responseStatus"]["code"])
        for e in control_plane.audit_events()
        if e.get("stage") == "ResponseComplete" and e["requestReceivedTimestamp"] >= since
        and (e.get("user") or {}).get("username") == CONTROLLER_USER and e.get("objectRef")
    ]  # fmt: skip
    assert [a for a in asked if a[3] in (401, 403)] == [], "install.yaml's roles let the webhook do all it did"
    # The webhook's own ClusterRole grants exactly what it used; reading rollouts and recording Events are the controller's.
    webhook_groups = ("admissionregistration.k8s.io", "authorization.k8s.io")
    used = {(group, resource, verb) for group, resource, verb, _code in asked if group in webhook_groups}
    assert used == _granted_to_the_webhook()


def _granted_to_the_webhook() -> set[tuple[str, str, str]]:
    (role,) = [d for d in install_documents() if d["kind"] == "ClusterRole" and d["metadata"]["name"] == WEBHOOK_ROLE]
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def _restricted_caller(name: str) -> dict[str, Any]:
    """A caller Pod that meets the restricted Pod Security Standard on its own."""
    pod = pod_document(name, labels={INJECT_KEY: "demo"})
    pod["spec"]["securityContext"] = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    pod["spec"]["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return pod


async def test_in_a_restricted_namespace_an_injected_pod_still_meets_the_standard(
    admin: k8s.ApiClient, controller_kube: KubeClient, real_namespace: str, chart_configuration: str
) -> None:
    """Pod Security admission judges the Pod after the webhook: the router must not be what it refuses."""
    core = k8s.CoreV1Api(admin)
    core.patch_namespace(real_namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    rollout = k8s.CustomObjectsApi(admin).create_namespaced_custom_object(
        "modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", rollout_document("demo", real_namespace)
    )
    core.create_namespaced_service_account(real_namespace, router_service_account(ModelRollout.model_validate(rollout)))
    port = int(chart_configuration.rsplit(":", 1)[1].split("/")[0])
    config = WebhookConfig(listen=("127.0.0.1", port), hosts=("127.0.0.1",), refresh_every_s=0.5)
    async with running_webhook(controller_kube, config):
        ready = partial(_called, admin, real_namespace, _restricted_caller("probe"))
        await async_wait_until("the API server to call the webhook with its CA", ready)
        created = await asyncio.to_thread(_create_pod, admin, real_namespace, _restricted_caller("caller"))
    assert [c["name"] for c in created["spec"]["containers"]] == ["caller", SIDECAR_NAME]


def _called(admin: k8s.ApiClient, namespace: str, pod: dict[str, Any]) -> bool:
    """The webhook answered a dry run: the Pod came back injected, or Pod Security refused the injected Pod."""
    try:
        return _injected(_create_pod(admin, namespace, pod, dry_run=True))
    except ApiException as exc:
        if exc.status == 403 and "violates PodSecurity" in str(exc.body):
            raise AssertionError(f"the injected Pod breaks the restricted standard: {exc.body}") from exc
        if exc.status != 403:
            raise
        return False
