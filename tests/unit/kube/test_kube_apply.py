"""Drift: only fields the controller sets count; what the API server adds, omits or canonicalizes does not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from controller.api.resource import ModelRollout
from controller.kube.apply import covers
from controller.kube.objects import router_admin_service

RolloutFactory = Callable[..., ModelRollout]


def test_extra_live_fields_are_not_drift() -> None:
    desired = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "m", "image": "a:1"}]}}}}
    live = {
        "status": {"readyReplicas": 2},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate"},
            "template": {"spec": {"containers": [{"name": "m", "image": "a:1", "imagePullPolicy": "IfNotPresent"}]}},
        },
    }
    assert covers(live, desired)


def test_a_changed_owned_field_is_drift() -> None:
    desired = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "m", "image": "a:1"}]}}}}
    edited_image = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "m", "image": "a:2"}]}}}}
    scaled = {"spec": {"replicas": 5, "template": desired["spec"]["template"]}}
    assert not covers(edited_image, desired)
    assert not covers(scaled, desired)


def test_lists_must_match_in_length_and_order() -> None:
    desired = {"ports": [{"port": 80}, {"port": 81}]}
    assert not covers({"ports": [{"port": 80}]}, desired)
    assert not covers({"ports": [{"port": 81}, {"port": 80}]}, desired)
    assert covers({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]}, desired)


def test_numbers_compare_by_value_but_booleans_are_not_numbers() -> None:
    assert covers({"a": 1.0}, {"a": 1})
    assert not covers({"a": 1}, {"a": True})
    assert not covers({"a": "1"}, {"a": 1})
    assert not covers({"a": 0}, {"a": False})


def test_the_router_service_as_a_real_server_keeps_it_is_not_drift(make_rollout: RolloutFactory) -> None:
    """The API server does not store `publishNotReadyAddresses: false`; comparing with what was sent
    patched the Service on every reconcile (105 PATCHes in one short run on a real control plane)."""
    desired = router_admin_service(make_rollout())
    assert desired["spec"]["publishNotReadyAddresses"] is False
    live = copy.deepcopy(desired)
    del live["spec"]["publishNotReadyAddresses"]  # as kube-apiserver v1.36 answers it, with its defaults
    live["metadata"].update(uid="u-1", resourceVersion="812", creationTimestamp="2025-03-01T12:00:00Z")
    live["spec"].update(clusterIPs=["None"], type="ClusterIP", sessionAffinity="None", ipFamilies=["IPv4"],
                        ipFamilyPolicy="SingleStack", internalTrafficPolicy="Cluster")  # fmt: skip
    live["status"] = {"loadBalancer": {}}
    assert covers(live, desired)


@pytest.mark.parametrize(
    "desired",
    [{"flag": False}, {"args": []}, {"labels": {}}, {"initialDelaySeconds": 0}, {"hostname": ""}, {"creationTimestamp": None}],
    ids=["false", "empty-list", "empty-map", "zero", "empty-string", "null"],
)
def test_a_zero_value_the_server_omits_is_met_by_an_absent_field(desired: dict[str, Any]) -> None:
    assert covers({"other": 1}, desired)


@pytest.mark.parametrize(
    ("live", "desired"),
    [
        ({"flag": True}, {"flag": False}),
        ({"args": ["--x"]}, {"args": []}),
        ({"initialDelaySeconds": 5}, {"initialDelaySeconds": 0}),
        ({"creationTimestamp": "2025-03-01T12:00:00Z"}, {"creationTimestamp": None}),
        ({}, {"flag": True}),
        ({}, {"replicas": 1}),
    ],
    ids=["true-for-false", "args-added", "delay-set", "null-set", "true-absent", "one-absent"],
)
def test_a_field_set_away_from_its_zero_value_or_a_missing_non_zero_one_is_drift(live: dict[str, Any], desired: dict[str, Any]) -> None:
    assert not covers(live, desired)


def test_resource_quantities_compare_by_value_as_the_server_keeps_them_canonical() -> None:
    desired = {"resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}, "limits": {"cpu": "1000m", "memory": "0.25G"}}}
    kept = {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "250M"}}}
    assert covers(kept, desired)
    edited = copy.deepcopy(kept)
    edited["resources"]["requests"]["cpu"] = "750m"
    assert not covers(edited, desired)
    dropped = copy.deepcopy(kept)
    del dropped["resources"]["limits"]["memory"]
    assert not covers(dropped, desired)
    assert covers({"volume": {"emptyDir": {"sizeLimit": "1Gi"}}}, {"volume": {"emptyDir": {"sizeLimit": "1024Mi"}}})


def test_only_quantity_fields_compare_as_quantities() -> None:
    assert not covers({"args": ["1"]}, {"args": ["1000m"]})
    assert not covers({"env": {"LIMIT": "1"}}, {"env": {"LIMIT": "1000m"}})
    assert not covers({"requests": {"note": "a"}}, {"requests": {"note": "b"}})  # not a quantity: plain equality
