"""Owned objects: names, owner references, selectors that match, the sidecar snippet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controller.api.resource import ModelRollout
from controller.kube import objects

RolloutFactory = Callable[..., ModelRollout]


def _all_objects(rollout: ModelRollout) -> list[dict[str, Any]]:
    template = rollout.spec.template
    return [
        objects.revision_deployment(rollout, "abc", template, 2),
        objects.revision_service(rollout, "abc"),
        objects.router_configmap(rollout, "{}"),
        objects.router_deployment(rollout),
        objects.router_service_account(rollout),
        objects.router_role(rollout),
        objects.router_role_binding(rollout),
        objects.rollout_service(rollout),
        objects.router_admin_service(rollout),
        objects.preview_service(rollout, "abc"),
    ]


def test_every_owned_object_points_at_its_rollout(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout()
    for obj in _all_objects(rollout):
        (reference,) = obj["metadata"]["ownerReferences"]
        assert reference == {
            "apiVersion": "modelrollout.io/v1alpha1",
            "kind": "ModelRollout",
            "name": "fraud",
            "uid": "uid-fraud",
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert obj["metadata"]["namespace"] == "ml"
        assert obj["metadata"]["labels"][objects.LABEL_ROLLOUT] == "fraud"


def test_a_revision_deployment_selects_its_own_pods_only(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout()
    deployment = objects.revision_deployment(rollout, "abc", rollout.spec.template, 3)
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["metadata"]["name"] == "fraud-abc"
    assert deployment["spec"]["replicas"] == 3
    assert selector.items() <= pod_labels.items()
    assert selector[objects.LABEL_REVISION] == "abc"
    assert rollout.spec.template.get("metadata") is None  # the user's template is not changed in place


def test_router_pods_are_found_through_the_admin_service(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout()
    admin = objects.router_admin_service(rollout)
    pod = objects.router_deployment(rollout)["spec"]["template"]
    assert admin["spec"]["clusterIP"] == "None"
    assert admin["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    port_names = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert admin["spec"]["ports"][0]["targetPort"] in port_names


def test_the_sidecar_matches_the_admin_service_and_listens_on_localhost(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout(router={"mode": "sidecar"})
    container = objects.sidecar_container(rollout)
    admin = objects.router_admin_service(rollout)
    assert admin["spec"]["ports"][0]["targetPort"] in {p["name"] for p in container["ports"]}
    args = container["args"]
    assert args[args.index("--listen") + 1].startswith("127.0.0.1:")
    assert args[args.index("--configmap") + 1] == "ml/fraud-router"


@pytest.mark.parametrize("mode, selects", [("deployment", objects.LABEL_ROUTER), ("sidecar", objects.LABEL_REVISION)])
def test_the_entry_service_goes_to_routers_or_straight_to_stable(make_rollout: RolloutFactory, mode: str, selects: str) -> None:
    rollout = make_rollout(router={"mode": mode})
    service = objects.rollout_service(rollout, stable_revision="abc")
    assert service["metadata"]["name"] == "fraud"
    assert selects in service["spec"]["selector"]


def test_the_router_may_read_only_its_own_configmap(make_rollout: RolloutFactory) -> None:
    (rule,) = objects.router_role(make_rollout())["rules"]
    assert rule["resources"] == ["configmaps"]
    assert rule["resourceNames"] == ["fraud-router"]
    assert set(rule["verbs"]) <= {"get", "list", "watch"}


def test_quantities_given_as_numbers_are_sent_as_strings(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout()
    container = {"name": "m", "image": "x", "resources": {"requests": {"cpu": 0.5, "memory": 1024}, "limits": {"cpu": "2"}}}
    volume = {"name": "scratch", "emptyDir": {"sizeLimit": 512}}
    template = {"spec": {"containers": [container], "volumes": [volume]}}
    pod = objects.revision_deployment(rollout, "abc", template, 1)["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "0.5", "memory": "1024"}, "limits": {"cpu": "2"}}
    assert pod["volumes"][0]["emptyDir"]["sizeLimit"] == "512"
    assert container["resources"]["requests"]["cpu"] == 0.5  # the user's template is not changed in place
