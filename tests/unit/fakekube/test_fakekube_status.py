"""Status subresource and generation semantics, for Deployments and the ModelRollout custom resource."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.fakekube import FakeKube
from tests.unit.fakekube.sample_objects import (
    MR_GROUP,
    MR_PLURAL,
    MR_VERSION,
    configmap,
    deployment,
    modelrollout,
    status_of,
)


def _mr(custom: k8s.CustomObjectsApi, verb: str, *args: Any) -> Any:
    return getattr(custom, f"{verb}_namespaced_custom_object")(MR_GROUP, MR_VERSION, "default", MR_PLURAL, *args)


def _mr_status(custom: k8s.CustomObjectsApi, verb: str, *args: Any) -> Any:
    return getattr(custom, f"{verb}_namespaced_custom_object_status")(MR_GROUP, MR_VERSION, "default", MR_PLURAL, *args)


def test_create_drops_status_for_kinds_with_a_status_subresource(apps: k8s.AppsV1Api) -> None:
    body = deployment("web") | {"status": {"readyReplicas": 5}}
    assert apps.create_namespaced_deployment("default", body).status is None
    assert apps.read_namespaced_deployment("web", "default").status is None


def test_put_to_the_main_resource_ignores_status_and_bumps_generation_on_spec_change(apps: k8s.AppsV1Api) -> None:
    created = apps.create_namespaced_deployment("default", deployment("web", replicas=1))
    apps.replace_namespaced_deployment_status(
        "web", "default", {**deployment("web"), "status": {"observedGeneration": 1, "readyReplicas": 1}}
    )

    body = deployment("web", replicas=3) | {"status": {"readyReplicas": 99}}
    updated = apps.replace_namespaced_deployment("web", "default", body)

    assert updated.spec.replicas == 3
    assert updated.status.ready_replicas == 1
    assert updated.metadata.generation == created.metadata.generation + 1


def test_put_to_status_ignores_everything_but_status_and_keeps_generation(apps: k8s.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", replicas=1))
    body = deployment("web", replicas=7) | {"status": {"observedGeneration": 1, "readyReplicas": 1}}
    body["metadata"]["labels"] = {"changed": "yes"}

    updated = apps.replace_namespaced_deployment_status("web", "default", body)

    assert (updated.spec.replicas, updated.metadata.labels, updated.metadata.generation) == (1, {"app": "web"}, 1)
    assert updated.status.ready_replicas == 1


def test_metadata_only_changes_do_not_bump_generation(apps: k8s.AppsV1Api) -> None:
    created = apps.create_namespaced_deployment("default", deployment("web"))
    patched = apps.patch_namespaced_deployment("web", "default", {"metadata": {"annotations": {"note": "x"}}})
    assert patched.metadata.generation == created.metadata.generation
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)


def test_custom_resource_update_without_resource_version_is_422(custom: k8s.CustomObjectsApi) -> None:
    _mr(custom, "create", modelrollout("demo"))
    with pytest.raises(ApiException) as caught:
        _mr(custom, "replace", "demo", modelrollout("demo", image="model:2"))
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"][0]["field"] == "metadata.resourceVersion"


def test_custom_resource_spec_change_bumps_generation_and_keeps_status(custom: k8s.CustomObjectsApi) -> None:
    created = _mr(custom, "create", modelrollout("demo"))
    with_status = _mr_status(custom, "replace", "demo", {**created, "status": {"phase": "Healthy", "observedGeneration": 1}})
    assert with_status["metadata"]["generation"] == 1

    changed = {**with_status, "spec": modelrollout("demo", image="model:2")["spec"], "status": {"phase": "Degraded"}}
    updated = _mr(custom, "replace", "demo", changed)

    assert updated["metadata"]["generation"] == 2
    assert updated["status"] == {"phase": "Healthy", "observedGeneration": 1}
    assert updated["spec"]["template"]["spec"]["containers"][0]["image"] == "model:2"


def test_custom_resource_status_update_is_conflict_checked(custom: k8s.CustomObjectsApi) -> None:
    created = _mr(custom, "create", modelrollout("demo"))
    _mr(custom, "patch", "demo", {"metadata": {"labels": {"touched": "yes"}}})
    with pytest.raises(ApiException) as caught:
        _mr_status(custom, "replace", "demo", {**created, "status": {"phase": "Progressing"}})
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "Conflict")
    assert "status" not in _mr(custom, "get", "demo")


def test_status_merge_patch_touches_only_status(custom: k8s.CustomObjectsApi) -> None:
    _mr(custom, "create", modelrollout("demo"))
    _mr_status(custom, "patch", "demo", {"status": {"phase": "Progressing", "currentStep": 0}})
    patched = _mr_status(custom, "patch", "demo", {"status": {"currentStep": 1}, "spec": {"replicas": 9}})
    assert patched["status"] == {"phase": "Progressing", "currentStep": 1}
    assert patched["spec"]["replicas"] == 2


def test_kinds_without_a_status_subresource_have_no_status_path(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("cfg"))
    assert httpx.get(f"{kube.url}/api/v1/namespaces/default/configmaps/cfg").status_code == 200
    answer = httpx.get(f"{kube.url}/api/v1/namespaces/default/configmaps/cfg/status")
    assert (answer.status_code, answer.json()["reason"]) == (404, "NotFound")
