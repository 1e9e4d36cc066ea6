"""What the sidecar injector does to a Pod, as pure data: the container, the label, the account, and leaving alone."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from controller.api.resource import ModelRollout
from controller.kube.objects import DEFAULT_ROUTER_IMAGE, LABEL_ROUTER, router_deployment, sidecar_container
from controller.kube.webhook_inject import INJECT_KEY, SIDECAR_NAME, already_injected, inject, pod_patch, requested_rollout


def _rollout(router: dict[str, Any] | None = None) -> ModelRollout:
    return ModelRollout.model_validate(
        {
            "metadata": {"name": "iris", "namespace": "models"},
            "spec": {
                "template": {"spec": {"containers": [{"name": "model", "image": "model:1"}]}},
                "service": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                "router": {"mode": "sidecar", **(router or {})},
                "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
            },
        }
    )


def _pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"generateName": "caller-", "labels": {INJECT_KEY: "iris"}}, "spec": {"containers": [{"name": "app"}], **spec}}


@pytest.mark.parametrize(
    ("metadata", "asked"),
    [
        ({"labels": {INJECT_KEY: "iris"}}, "iris"),
        ({"annotations": {INJECT_KEY: " iris "}}, "iris"),
        ({"labels": {INJECT_KEY: "a"}, "annotations": {INJECT_KEY: "b"}}, "a"),
        ({"labels": {INJECT_KEY: ""}}, None),
        ({}, None),
    ],
)
def test_a_pod_asks_by_label_first_then_by_annotation(metadata: dict[str, Any], asked: str | None) -> None:
    assert requested_rollout({"metadata": metadata}) == asked


def test_the_router_goes_in_beside_the_pods_containers_with_the_label_and_the_routers_account() -> None:
    rollout = _rollout()
    pod = _pod(serviceAccountName="default", serviceAccount="default")
    injection = inject(pod, rollout, "mirror/mr:1")
    assert injection.pod["spec"]["containers"] == [{"name": "app"}, sidecar_container(rollout, "mirror/mr:1")]
    assert injection.pod["metadata"]["labels"] == {INJECT_KEY: "iris", LABEL_ROUTER: "iris"}
    assert injection.account == injection.pod["spec"]["serviceAccountName"] == injection.pod["spec"]["serviceAccount"] == "iris-router"
    assert pod == _pod(serviceAccountName="default", serviceAccount="default"), "the Pod given is not changed"
    assert jsonpatch.apply_patch(pod, pod_patch(pod, injection.pod)) == injection.pod


def test_the_injected_container_is_the_managed_routers_and_a_rollouts_image_wins() -> None:
    rollout = _rollout({"image": "own/router:3"})
    router = inject(_pod(), rollout, "mirror/mr:1").pod["spec"]["containers"][-1]
    managed = router_deployment(rollout, "mirror/mr:1")["spec"]["template"]["spec"]["containers"][0]
    assert router["image"] == managed["image"] == "own/router:3"
    assert inject(_pod(), _rollout()).pod["spec"]["containers"][-1]["image"] == DEFAULT_ROUTER_IMAGE
    assert router["securityContext"] == managed["securityContext"]
    assert router["securityContext"]["capabilities"] == {"drop": ["ALL"]}, "a restricted namespace admits it"


def test_a_pods_own_account_is_kept_and_a_second_pass_changes_nothing() -> None:
    injection = inject(_pod(serviceAccountName="scorer"), _rollout())
    assert injection.account == "scorer" == injection.pod["spec"]["serviceAccountName"]
    again = inject(copy.deepcopy(injection.pod), _rollout())
    assert already_injected(injection.pod) and again.pod == injection.pod and pod_patch(injection.pod, again.pod) == []
    assert [c["name"] for c in again.pod["spec"]["containers"]] == ["app", SIDECAR_NAME]


def test_a_pod_without_a_containers_list_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="spec.containers"):
        inject({"metadata": {}, "spec": {"containers": "app"}}, _rollout())
