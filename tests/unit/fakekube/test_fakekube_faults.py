"""Injected faults: conflict storms, failing paths, latency, and the same over the HTTP admin API."""

from __future__ import annotations

import time

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
    modelrollout,
    status_of,
)


def test_a_conflict_storm_refuses_the_next_writes_then_lets_them_through(kube: FakeKube, custom: k8s.CustomObjectsApi) -> None:
    args = (MR_GROUP, MR_VERSION, "default", MR_PLURAL)
    custom.create_namespaced_custom_object(*args, modelrollout("demo"))
    kube.faults.conflict_storm("modelrollouts", "default", "demo", 3)

    outcomes = []
    for attempt in range(5):
        current = custom.get_namespaced_custom_object(*args, "demo")
        try:
            custom.replace_namespaced_custom_object_status(
                *args, "demo", {**current, "status": {"phase": "Progressing", "attempt": attempt}}
            )
            outcomes.append("ok")
        except ApiException as exc:
            outcomes.append(f"{exc.status} {status_of(exc)['reason']}")

    assert outcomes == ["409 Conflict"] * 3 + ["ok", "ok"]
    assert custom.get_namespaced_custom_object(*args, "demo")["status"]["attempt"] == 4


def test_a_conflict_storm_leaves_other_objects_alone(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("hit"))
    core.create_namespaced_config_map("default", configmap("spared"))
    kube.faults.conflict_storm("configmaps", "default", "hit", 1)
    assert core.patch_namespaced_config_map("spared", "default", {"data": {"a": "1"}}).data == {"a": "1"}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("hit", "default", {"data": {"a": "1"}})
    assert caught.value.status == 409


def test_failing_a_path_answers_the_status_the_given_number_of_times(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    kube.faults.fail("/api/v1/namespaces/default/configmaps", count=2)
    kube.faults.fail("/api/v1/namespaces/default/services", status=503, method="GET")

    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_config_map("default")
        assert (caught.value.status, status_of(caught.value)["reason"]) == (500, "InternalServerError")
    assert core.list_namespaced_config_map("default").items == []
    with pytest.raises(ApiException) as unavailable:
        core.list_namespaced_service("default")
    assert (unavailable.value.status, status_of(unavailable.value)["reason"]) == (503, "ServiceUnavailable")
    assert core.create_namespaced_service("default", {"metadata": {"name": "svc"}, "spec": {}}).metadata.name == "svc"

    kube.faults.clear()
    assert [s.metadata.name for s in core.list_namespaced_service("default").items] == ["svc"]


def test_latency_delays_only_matching_paths(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    kube.faults.add_latency(0.3, "/api/v1/namespaces/default/configmaps")
    started = time.monotonic()
    core.list_namespaced_service("default")
    fast = time.monotonic() - started
    started = time.monotonic()
    core.list_namespaced_config_map("default")
    slow = time.monotonic() - started
    assert slow >= 0.3 > fast


def test_the_admin_api_injects_the_same_faults_over_http(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    admin = f"{kube.url}/fakekube"
    old = core.create_namespaced_config_map("default", configmap("cfg")).metadata.resource_version
    core.patch_namespaced_config_map("cfg", "default", {"data": {"a": "1"}})

    assert (
        httpx.post(f"{admin}/conflicts", json={"resource": "configmaps", "namespace": "default", "name": "cfg", "count": 1}).status_code
        == 200
    )
    with pytest.raises(ApiException) as conflict:
        core.patch_namespaced_config_map("cfg", "default", {"data": {"a": "2"}})
    assert conflict.value.status == 409

    assert httpx.post(f"{admin}/failures", json={"prefix": "/api/v1/namespaces", "status": 500, "count": 1}).status_code == 200
    with pytest.raises(ApiException) as failed:
        core.read_namespaced_config_map("cfg", "default")
    assert failed.value.status == 500

    compacted = httpx.post(f"{admin}/compact").json()["resourceVersion"]
    assert int(compacted) > int(old)
    stats = httpx.get(f"{admin}/stats").json()
    assert stats["resourceVersion"] == compacted and stats["requests"]["patch configmaps"] == 2


def test_the_admin_api_rejects_malformed_requests(kube: FakeKube) -> None:
    answer = httpx.post(f"{kube.url}/fakekube/conflicts", json={"resource": "configmaps", "name": "x", "count": -1})
    assert (answer.status_code, answer.json()["reason"]) == (400, "BadRequest")
    unknown = httpx.post(f"{kube.url}/fakekube/conflicts", json={"resource": "widgets", "name": "x", "count": 1})
    assert unknown.status_code == 400 and "widgets" in unknown.json()["message"]
