"""Real `admission.k8s.io/v1` AdmissionReviews over HTTPS to the sidecar injector, and the returned JSON patch applied.

The webhook runs with the controller's client against the real control plane (the rollout it
injects the router of is read from there) and serves with its own certificate, trusted
through the caBundle it published in the test's MutatingWebhookConfiguration.
"""

from __future__ import annotations

import base64
import copy
from functools import partial
from typing import Any

import jsonpatch
import orjson
import pytest
from kubernetes import client as k8s

from controller.api.resource import ModelRollout
from controller.kube.client import KubeClient
from controller.kube.objects import LABEL_ROUTER, router_deployment, router_role, router_role_binding, sidecar_container
from controller.kube.webhook_admission import ACCOUNT_CANNOT_READ_CONFIG, ROLLOUT_NOT_FOUND, ROLLOUT_NOT_SIDECAR
from controller.kube.webhook_inject import INJECT_KEY, SIDECAR_NAME
from controller.kube.webhook_server import WebhookConfig, WebhookServer
from tests.integration.realkube.realkit import async_wait_until
from tests.integration.webhook.webhookkit import (
    admission_review,
    chart_webhook_config,
    pod_document,
    published_bundle,
    rollout_document,
    running_webhook,
    send_review,
    trusting,
    webhook_configuration,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}


def _create_rollout(admin: k8s.ApiClient, namespace: str, name: str = "demo") -> ModelRollout:
    body = rollout_document(name, namespace, router={"resources": RESOURCES})
    created = k8s.CustomObjectsApi(admin).create_namespaced_custom_object("modelrollout.io", "v1alpha1", namespace, "modelrollouts", body)
    return ModelRollout.model_validate(created)


def _events(admin: k8s.ApiClient, namespace: str, reason: str) -> list[Any]:
    return [e for e in k8s.CoreV1Api(admin).list_namespaced_event(namespace).items if e.reason == reason]


async def _review(server: WebhookServer, admin: k8s.ApiClient, configuration: str, pod: dict[str, Any], namespace: str,
                  dry_run: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """(the answer's response, the pod with the answer's patch applied)."""
    review = admission_review(pod, namespace, dry_run=dry_run)
    answer = await send_review(server, trusting(published_bundle(admin, configuration)), review)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
    response = body["response"]
    assert response["uid"] == review["request"]["uid"] and response["allowed"] is True
    if "patch" not in response:
        return response, pod
    assert response["patchType"] == "JSONPatch"
    return response, jsonpatch.apply_patch(pod, orjson.loads(base64.b64decode(response["patch"])))


def _config(configuration: str) -> WebhookConfig:
    return WebhookConfig(listen=("127.0.0.1", 0), hosts=("127.0.0.1",), configuration=configuration, refresh_every_s=0.5)


def _setup(admin: k8s.ApiClient, namespace: str, configuration: str) -> ModelRollout:
    k8s.AdmissionregistrationV1Api(admin).create_mutating_webhook_configuration(
        webhook_configuration(configuration, namespace, "https://127.0.0.1:1/mutate-pods")
    )
    return _create_rollout(admin, namespace)


async def test_a_labelled_pod_gets_the_router_exactly_as_the_managed_router_runs_it(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    rollout = _setup(admin, real_namespace, configuration_name)
    pod = pod_document("caller", labels={INJECT_KEY: "demo", "app": "caller"})
    config = chart_webhook_config(configuration_name)  # as the chart runs the controller, on loopback
    async with running_webhook(kube, config) as server:
        _response, patched = await _review(server, admin, configuration_name, pod, real_namespace)
    chart_image = config.router_image

    caller, router = patched["spec"]["containers"]
    assert caller == pod["spec"]["containers"][0], "the caller's own container is untouched"
    assert router == sidecar_container(rollout, chart_image)
    managed = router_deployment(rollout, chart_image)["spec"]["template"]["spec"]["containers"][0]
    # Field by field against the router Deployment the controller runs: the same program, config and limits.
    for field in ("image", "readinessProbe", "livenessProbe", "securityContext", "resources"):
        assert router[field] == managed[field], field
    assert router["resources"] == RESOURCES and router["image"] == chart_image, "the image the chart gives the controller for routers"
    assert router["args"][:3] == managed["args"][:3] == ["router", "--configmap", f"{real_namespace}/demo-router"]
    assert router["args"][3:] == ["--listen", "127.0.0.1:15080", "--admin-listen", "0.0.0.0:15090"], "callers reach it on loopback"
    # The admin port by the same name (the controller finds routers by it), on the sidecar's own number; no data port exposed.
    assert [p["name"] for p in managed["ports"]] == ["data", "mr-admin"]
    assert router["ports"] == [{"name": "mr-admin", "containerPort": 15090}]
    assert router["name"] == SIDECAR_NAME
    assert patched["metadata"]["labels"] == {INJECT_KEY: "demo", "app": "caller", LABEL_ROUTER: "demo"}
    assert patched["spec"]["serviceAccountName"] == "demo-router"
    rest = copy.deepcopy(patched)
    rest["spec"]["containers"].pop()
    del rest["metadata"]["labels"][LABEL_ROUTER], rest["spec"]["serviceAccountName"]
    assert rest == pod, "nothing else changes"


async def test_a_second_pass_changes_nothing_and_an_annotation_asks_as_a_label_does(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    _setup(admin, real_namespace, configuration_name)
    async with running_webhook(kube, _config(configuration_name)) as server:
        review = partial(_review, server, admin, configuration_name, namespace=real_namespace)
        first, injected = await review(pod_document("a", annotations={INJECT_KEY: "demo"}))
        second, again = await review(injected)
        unlabelled, same = await review(pod_document("b"))
    assert "patch" in first and [c["name"] for c in injected["spec"]["containers"]] == ["caller", SIDECAR_NAME]
    assert "patch" not in second and again == injected
    assert "patch" not in unlabelled and same == pod_document("b")


async def test_a_pod_naming_a_missing_rollout_is_admitted_unchanged_with_a_warning_event(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    _setup(admin, real_namespace, configuration_name)
    pod = pod_document("lost", labels={INJECT_KEY: "nosuch"})
    async with running_webhook(kube, _config(configuration_name)) as server:
        dry, _ = await _review(server, admin, configuration_name, pod, real_namespace, dry_run=True)
        response, admitted = await _review(server, admin, configuration_name, pod, real_namespace)
    assert admitted == pod and "patch" not in response
    assert response["warnings"] == dry["warnings"]
    assert f"ModelRollout {real_namespace}/nosuch does not exist" in response["warnings"][0]
    events = _events(admin, real_namespace, ROLLOUT_NOT_FOUND)
    assert len(events) == 1, "one Event, and none for the dry run"
    assert events[0].type == "Warning" and events[0].involved_object.name == "lost" and "nosuch" in events[0].message


async def test_a_rollout_whose_router_is_a_deployment_gets_no_sidecar(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    """Its Service selects router pods by the sidecar's label: an injected caller would receive the rollout's traffic."""
    _setup(admin, real_namespace, configuration_name)
    body = rollout_document("managed", real_namespace, router={"mode": "deployment"})
    k8s.CustomObjectsApi(admin).create_namespaced_custom_object("modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", body)
    pod = pod_document("caller", labels={INJECT_KEY: "managed"})
    async with running_webhook(kube, _config(configuration_name)) as server:
        response, admitted = await _review(server, admin, configuration_name, pod, real_namespace)
    assert admitted == pod and "patch" not in response
    assert "runs its router as a Deployment" in response["warnings"][0] and "spec.router.mode: sidecar" in response["warnings"][0]
    assert [e.involved_object.name for e in _events(admin, real_namespace, ROLLOUT_NOT_SIDECAR)] == ["caller"]


async def test_an_account_that_cannot_read_the_router_config_is_named_in_a_warning_event(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    rollout = _setup(admin, real_namespace, configuration_name)
    core, rbac = k8s.CoreV1Api(admin), k8s.RbacAuthorizationV1Api(admin)
    for account in ("unbound", "bound"):
        core.create_namespaced_service_account(real_namespace, {"metadata": {"name": account}})
    rbac.create_namespaced_role(real_namespace, router_role(rollout))
    binding = router_role_binding(rollout)
    binding["subjects"].append({"kind": "ServiceAccount", "name": "bound", "namespace": real_namespace})
    rbac.create_namespaced_role_binding(real_namespace, binding)
    async with running_webhook(kube, _config(configuration_name)) as server:
        review = partial(_review, server, admin, configuration_name, namespace=real_namespace)
        unbound, injected = await review(pod_document("u", labels={INJECT_KEY: "demo"}, account="unbound"))
        bound, _ = await review(pod_document("b", labels={INJECT_KEY: "demo"}, account="bound"))
    assert injected["spec"]["serviceAccountName"] == "unbound", "a Pod's own account is kept"
    assert [c["name"] for c in injected["spec"]["containers"]] == ["caller", SIDECAR_NAME]
    assert "unbound" in unbound["warnings"][0] and "bind Role demo-router" in unbound["warnings"][0]
    assert "warnings" not in bound, "an account bound to the router's Role reads its ConfigMap"
    events = await async_wait_until("the Warning Event", lambda: _events(admin, real_namespace, ACCOUNT_CANNOT_READ_CONFIG))
    assert events[0].involved_object.kind == "ModelRollout" and "ServiceAccount unbound" in events[0].message


async def test_a_pod_without_its_account_token_is_injected_with_a_warning(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    _setup(admin, real_namespace, configuration_name)
    pod = pod_document("tokenless", labels={INJECT_KEY: "demo"})
    pod["spec"]["automountServiceAccountToken"] = False
    async with running_webhook(kube, _config(configuration_name)) as server:
        response, injected = await _review(server, admin, configuration_name, pod, real_namespace)
    assert [c["name"] for c in injected["spec"]["containers"]] == ["caller", SIDECAR_NAME]
    assert "automountServiceAccountToken: false" in response["warnings"][0]


MALFORMED: list[tuple[bytes | dict[str, Any], str]] = [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON list, not an AdmissionReview"),
    ({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}, "`.apiVersion`"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "`.request`: Field required"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"kind": {"version": "v1", "kind": "Pod"}, "operation": "CREATE"}}, "`.request.uid`: Field required"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"uid": "u", "kind": {"version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": "a pod"}}, "`.request.object`"),
]  # fmt: skip


async def test_a_malformed_review_gets_a_clear_error_and_the_webhook_serves_on(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    _setup(admin, real_namespace, configuration_name)
    async with running_webhook(kube, _config(configuration_name)) as server:
        verify = trusting(published_bundle(admin, configuration_name))
        for body, named in MALFORMED:
            answer = await send_review(server, verify, body)
            assert answer.status_code == 400 and named in answer.json()["error"], (body, answer.text)
        review = admission_review(pod_document("p", labels={INJECT_KEY: "demo"}), real_namespace)
        review["request"]["object"]["spec"]["containers"] = "not a list"
        odd = (await send_review(server, verify, review)).json()["response"]
        assert odd["allowed"] is True and "patch" not in odd and "spec.containers" in odd["warnings"][0]
        good = pod_document("q", labels={INJECT_KEY: "demo"})
        _response, patched = await _review(server, admin, configuration_name, good, real_namespace)
    assert patched["spec"]["containers"][-1]["name"] == SIDECAR_NAME
