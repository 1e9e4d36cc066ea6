"""Merge, strategic-merge and JSON patches through the official client."""

from __future__ import annotations

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

MERGE = "application/merge-patch+json"


def test_merge_patch_merges_objects_deletes_nulls_and_replaces_lists(custom: k8s.CustomObjectsApi) -> None:
    args = (MR_GROUP, MR_VERSION, "default", MR_PLURAL)
    body = modelrollout("demo")
    body["metadata"]["labels"] = {"keep": "1", "drop": "2"}
    custom.create_namespaced_custom_object(*args, body)

    patch = {
        "metadata": {"labels": {"drop": None, "new": "3"}},
        "spec": {"template": {"spec": {"containers": [{"name": "m2", "image": "model:2"}]}}},
    }
    patched = custom.patch_namespaced_custom_object(*args, "demo", patch)

    assert patched["metadata"]["labels"] == {"keep": "1", "new": "3"}
    assert patched["spec"]["template"]["spec"]["containers"] == [{"name": "m2", "image": "model:2"}]
    assert patched["spec"]["replicas"] == 2
    assert patched["metadata"]["generation"] == 2


def test_strategic_merge_patch_is_applied_as_a_merge_patch(apps: k8s.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", replicas=1))
    patched = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 4}})  # the client sends strategic-merge-patch
    assert (patched.spec.replicas, patched.spec.template.spec.containers[0].image) == (4, "model:1")


def test_json_patch_applies_operations_in_order(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("cfg", data={"a": "1", "b": "2"}))
    operations = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/data/c", "value": "3"},
    ]
    patched = core.patch_namespaced_config_map("cfg", "default", operations)
    assert patched.data == {"a": "10", "c": "3"}


def test_json_patch_whose_test_fails_is_422_and_changes_nothing(core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("cfg", data={"a": "1"}))
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "cfg", "default", [{"op": "test", "path": "/data/a", "value": "2"}, {"op": "remove", "path": "/data/a"}]
        )
    assert caught.value.status == 422
    after = core.read_namespaced_config_map("cfg", "default")
    assert (after.data, after.metadata.resource_version) == ({"a": "1"}, created.metadata.resource_version)


def test_resource_version_in_a_patch_is_a_precondition(core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("cfg", data={"v": "1"}))
    stale = created.metadata.resource_version
    core.patch_namespaced_config_map("cfg", "default", {"metadata": {"resourceVersion": stale}, "data": {"v": "2"}})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("cfg", "default", {"metadata": {"resourceVersion": stale}, "data": {"v": "3"}})
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "Conflict")
    assert core.read_namespaced_config_map("cfg", "default").data == {"v": "2"}


def test_a_patch_that_changes_nothing_keeps_the_resource_version(core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("cfg", data={"v": "1"}))
    same = core.patch_namespaced_config_map("cfg", "default", {"data": {"v": "1"}})
    assert same.metadata.resource_version == created.metadata.resource_version


def test_patch_of_a_missing_object_is_404(core: k8s.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("ghost", "default", {"data": {"v": "1"}})
    assert caught.value.status == 404


def test_unsupported_patch_types_are_415(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("cfg"))
    answer = httpx.patch(
        f"{kube.url}/api/v1/namespaces/default/configmaps/cfg",
        content=b"data: {}",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert (answer.status_code, answer.json()["reason"]) == (415, "UnsupportedMediaType")
    merged = httpx.patch(
        f"{kube.url}/api/v1/namespaces/default/configmaps/cfg", content=b'{"data": {"x": "1"}}', headers={"Content-Type": MERGE}
    )
    assert merged.json()["data"] == {"x": "1"}
