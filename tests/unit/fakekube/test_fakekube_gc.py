"""Deletion with owner-reference garbage collection, as the real garbage collector does it."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.fakekube import FakeKube
from tests.fakekube.watch import WatchEvent
from tests.unit.fakekube.sample_objects import (
    MR_GROUP,
    MR_PLURAL,
    MR_VERSION,
    configmap,
    deployment,
    modelrollout,
    owner_of,
)


def _names(core: k8s.CoreV1Api, namespace: str = "default") -> list[str]:
    return [item.metadata.name for item in core.list_namespaced_config_map(namespace).items]


def _rollout_with_dependents(kube: FakeKube) -> dict:
    """A ModelRollout owning a Deployment that owns a ConfigMap, plus an unrelated ConfigMap."""
    rollout = kube.store.create("modelrollouts", "default", modelrollout("demo"))
    web = kube.store.create("deployments", "default", deployment("demo-abc", owners=[owner_of(rollout)]))
    kube.store.create("configmaps", "default", configmap("demo-abc-config", owners=[owner_of(web)]))
    kube.store.create("configmaps", "default", configmap("unrelated"))
    return rollout


def test_deleting_an_owner_cascades_to_dependents_of_dependents(kube: FakeKube, custom: k8s.CustomObjectsApi, core: k8s.CoreV1Api) -> None:
    _rollout_with_dependents(kube)
    custom.delete_namespaced_custom_object(MR_GROUP, MR_VERSION, "default", MR_PLURAL, "demo")
    assert kube.store.list("deployments", "default")[0] == []
    assert _names(core) == ["unrelated"]


def test_a_dependent_with_another_live_owner_survives_and_loses_the_dead_reference(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    first = kube.store.create("configmaps", "default", configmap("owner-1"))
    second = kube.store.create("configmaps", "default", configmap("owner-2"))
    kube.store.create("configmaps", "default", configmap("shared", owners=[owner_of(first), owner_of(second)]))

    core.delete_namespaced_config_map("owner-1", "default")

    survivor = core.read_namespaced_config_map("shared", "default")
    assert [reference.uid for reference in survivor.metadata.owner_references] == [second["metadata"]["uid"]]
    core.delete_namespaced_config_map("owner-2", "default")
    assert _names(core) == []


def test_orphan_propagation_keeps_dependents_without_the_reference(kube: FakeKube, apps: k8s.AppsV1Api, core: k8s.CoreV1Api) -> None:
    web = kube.store.create("deployments", "default", deployment("web"))
    kube.store.create("configmaps", "default", configmap("web-config", owners=[owner_of(web)]))

    apps.delete_namespaced_deployment("web", "default", propagation_policy="Orphan")

    orphan = core.read_namespaced_config_map("web-config", "default")
    assert orphan.metadata.owner_references is None


def test_watchers_see_every_collected_dependent_deleted(kube: FakeKube) -> None:
    _rollout_with_dependents(kube)
    seen: list[WatchEvent] = []
    for resource in ("deployments", "configmaps"):
        kube.store.watch(resource, "default", kube.store.resource_version, seen.append)

    kube.store.delete("modelrollouts", "default", "demo")

    assert [(event.type, event.object["metadata"]["name"]) for event in seen] == [("DELETED", "demo-abc"), ("DELETED", "demo-abc-config")]
    versions = [int(event.object["metadata"]["resourceVersion"]) for event in seen]
    assert versions == sorted(versions) and len(set(versions)) == 2


def test_deleting_a_namespace_deletes_what_is_in_it(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", configmap("inside"))
    core.create_namespaced_config_map("default", configmap("outside"))

    core.delete_namespace("doomed")

    assert _names(core, "doomed") == []
    assert _names(core) == ["outside"]


def test_delete_preconditions_are_checked(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("cfg"))
    wrong = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid="00000000-0000-4000-8000-000000000000"))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_config_map("cfg", "default", body=wrong)
    assert caught.value.status == 409
    right = k8s.V1DeleteOptions(
        preconditions=k8s.V1Preconditions(uid=created.metadata.uid, resource_version=created.metadata.resource_version)
    )
    core.delete_namespaced_config_map("cfg", "default", body=right)
    assert _names(core) == []


def test_a_dependent_created_after_its_owner_was_deleted_is_collected(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    rollout = kube.store.create("modelrollouts", "default", modelrollout("demo"))
    kube.store.delete("modelrollouts", "default", "demo")
    seen: list[WatchEvent] = []
    kube.store.watch("configmaps", "default", kube.store.resource_version, seen.append)

    core.create_namespaced_config_map("default", configmap("late", owners=[owner_of(rollout)]))

    assert _names(core) == []
    assert [event.type for event in seen] == ["ADDED", "DELETED"]
