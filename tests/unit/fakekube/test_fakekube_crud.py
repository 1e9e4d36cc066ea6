"""Create, get, list, replace and delete through the official client, with the real server's errors."""

from __future__ import annotations

import re

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.fakekube import FakeKube
from tests.unit.fakekube.sample_objects import configmap, status_of

UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_create_fills_server_owned_metadata(core: k8s.CoreV1Api) -> None:
    first = core.create_namespaced_config_map("default", configmap("first", data={"a": "1"}))
    second = core.create_namespaced_config_map("default", configmap("second"))

    assert UID.match(first.metadata.uid) and first.metadata.uid != second.metadata.uid
    assert first.metadata.creation_timestamp is not None
    assert first.metadata.generation == 1
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    read = core.read_namespaced_config_map("first", "default")
    assert (read.metadata.uid, read.metadata.resource_version, read.data) == (
        first.metadata.uid,
        first.metadata.resource_version,
        {"a": "1"},
    )


def test_create_of_a_taken_name_is_409_already_exists(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("taken"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", configmap("taken"))
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"
    assert status_of(caught.value)["message"] == 'configmaps "taken" already exists'


def test_same_name_in_another_namespace_is_another_object(core: k8s.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "team-b"}})
    a = core.create_namespaced_config_map("default", configmap("shared", data={"ns": "default"}))
    b = core.create_namespaced_config_map("team-b", configmap("shared", data={"ns": "team-b"}))
    assert a.metadata.uid != b.metadata.uid
    assert core.read_namespaced_config_map("shared", "team-b").data == {"ns": "team-b"}


def test_get_of_a_missing_object_is_404_naming_it(apps: k8s.AppsV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_deployment("ghost", "default")
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"], status["kind"]) == (404, "NotFound", "Status")
    assert status["message"] == 'deployments.apps "ghost" not found'
    assert status["details"] == {"name": "ghost", "kind": "deployments", "group": "apps"}


def test_generate_name_appends_a_random_suffix(core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", {"metadata": {"generateName": "cfg-"}})
    assert re.fullmatch(r"cfg-[bcdfghjklmnpqrstvwxz2456789]{5}", created.metadata.name)
    assert core.read_namespaced_config_map(created.metadata.name, "default").metadata.uid == created.metadata.uid


@pytest.mark.parametrize(
    ("create", "field"),
    [
        (lambda core: core.create_namespaced_config_map("default", configmap("Not_Valid")), "metadata.name"),
        (lambda core: core.create_namespaced_service("default", {"metadata": {"name": "9lives"}, "spec": {}}), "metadata.name"),
        (lambda core: core.create_namespaced_config_map("default", configmap("x" * 254)), "metadata.name"),
        (lambda core: core.create_namespaced_config_map("default", configmap("ok", labels={"app": "a b"})), "metadata.labels"),
        (lambda core: core.create_namespaced_config_map("default", {"metadata": {}}), "metadata.name"),
    ],
    ids=["uppercase-name", "service-name-starting-with-digit", "name-too-long", "label-value-with-space", "no-name"],
)
def test_objects_the_real_server_rejects_are_422_invalid(core: k8s.CoreV1Api, create, field: str) -> None:
    with pytest.raises(ApiException) as caught:
        create(core)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert [cause["field"] for cause in status["details"]["causes"]] == [field]
    assert core.list_namespaced_config_map("default").items == []


def test_unparsable_body_and_namespace_mismatch_are_400(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    response = httpx.post(
        f"{kube.url}/api/v1/namespaces/default/configmaps", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()["reason"]) == (400, "BadRequest")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "x", "namespace": "other"}})
    assert caught.value.status == 400
    assert "does not match the namespace" in status_of(caught.value)["message"]


def test_replace_with_a_stale_resource_version_is_409_conflict(core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("cfg", data={"v": "1"}))
    created.data = {"v": "2"}
    updated = core.replace_namespaced_config_map("cfg", "default", created)
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)

    created.data = {"v": "3"}  # still carries the first resourceVersion
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cfg", "default", created)
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "Conflict")
    assert "the object has been modified" in status_of(caught.value)["message"]
    assert core.read_namespaced_config_map("cfg", "default").data == {"v": "2"}


def test_replace_without_resource_version_is_unconditional_for_built_in_kinds(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("cfg", data={"v": "1"}))
    replaced = core.replace_namespaced_config_map("cfg", "default", configmap("cfg", data={"v": "2"}))
    assert replaced.data == {"v": "2"}


def test_replace_keeps_server_owned_fields_and_a_no_op_keeps_the_version(core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("cfg", data={"v": "1"}))
    body = configmap("cfg", data={"v": "1"})
    body["metadata"].update(uid=created.metadata.uid, resourceVersion=created.metadata.resource_version)
    same = core.replace_namespaced_config_map("cfg", "default", body)
    assert same.metadata.resource_version == created.metadata.resource_version
    assert same.metadata.creation_timestamp == created.metadata.creation_timestamp


def test_replace_naming_another_object_is_400(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("cfg"))
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cfg", "default", configmap("other"))
    assert caught.value.status == 400


def test_delete_answers_a_success_status_and_the_object_is_gone(core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("doomed"))
    answer = core.delete_namespaced_config_map("doomed", "default")
    assert (answer["kind"], answer["status"]) == ("Status", "Success")
    assert answer["details"]["uid"] == created.metadata.uid
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("doomed", "default")
    assert caught.value.status == 404
    with pytest.raises(ApiException) as again:
        core.delete_namespaced_config_map("doomed", "default")
    assert again.value.status == 404


def test_list_is_ordered_by_name_and_carries_the_current_version(core: k8s.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "team-b"}})
    for name in ("c", "a", "b"):
        core.create_namespaced_config_map("default", configmap(name))
    last = core.create_namespaced_config_map("team-b", configmap("z"))

    listed = core.list_namespaced_config_map("default")
    assert [item.metadata.name for item in listed.items] == ["a", "b", "c"]
    assert listed.metadata.resource_version == last.metadata.resource_version
    everywhere = core.list_config_map_for_all_namespaces()
    assert [(item.metadata.namespace, item.metadata.name) for item in everywhere.items] == [
        ("default", "a"), ("default", "b"), ("default", "c"), ("team-b", "z"),
    ]


def test_namespaces_are_cluster_scoped_and_default_exists(core: k8s.CoreV1Api) -> None:
    assert [ns.metadata.name for ns in core.list_namespace().items] == ["default"]
    created = core.create_namespace({"metadata": {"name": "extra"}})
    assert created.metadata.namespace is None
    assert core.read_namespace("extra").metadata.uid == created.metadata.uid


def test_unknown_paths_are_404_and_unserved_methods_405(kube: FakeKube) -> None:
    unknown = httpx.get(f"{kube.url}/apis/apps/v1/namespaces/default/statefulsets")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "NotFound")
    collection_delete = httpx.delete(f"{kube.url}/api/v1/namespaces/default/configmaps")
    assert (collection_delete.status_code, collection_delete.json()["reason"]) == (405, "MethodNotAllowed")


def test_admission_checks_reject_with_their_causes() -> None:
    def no_latest_tag(obj: dict) -> list[tuple[str, str]]:
        image = obj["spec"]["template"]["spec"]["containers"][0]["image"]
        return (
            [("spec.template.spec.containers[0].image", f'Invalid value: "{image}": must not use :latest')]
            if image.endswith(":latest")
            else []
        )

    with FakeKube(admission={"deployments": no_latest_tag}) as kube, kube.api_client() as api:
        apps = k8s.AppsV1Api(api)
        body = {
            "metadata": {"name": "web"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "m", "image": "m:latest"}]}}},
        }
        with pytest.raises(ApiException) as caught:
            apps.create_namespaced_deployment("default", body)
        assert caught.value.status == 422
        assert status_of(caught.value)["details"]["causes"][0]["field"] == "spec.template.spec.containers[0].image"
        body["spec"]["template"]["spec"]["containers"][0]["image"] = "m:1"
        assert apps.create_namespaced_deployment("default", body).metadata.generation == 1
