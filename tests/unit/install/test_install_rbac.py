"""Least privilege: exactly the permissions the controller uses, no Secrets, no wildcards, no escalation.

CONTROLLER_NEEDS is a hand-written copy for a fast check of the rendered chart. The source of
truth is the real-server test tests/integration/kube/test_kube_rbac.py
(`test_the_controller_roles_grant_exactly_what_the_controller_uses`), which derives the needed
grants from the API server's audit log of whole rollouts; when the two disagree, that one wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chartkit import VALUE_SETS, Docs, controller_container, find, one

from controller.api.resource import ModelRollout
from controller.kube.objects import router_role

__all__: list[str] = []

Render = Callable[[dict[str, Any]], Docs]
Grant = tuple[str, str, str]  # (apiGroup, resource, verb)

# Owned objects: created, merge-patched back when they drift, read live when a create met
# AlreadyExists, watched through informers.
OWNED = ("create", "get", "list", "watch", "patch")
# What the controller does with each resource; a new need is a deliberate change here too. The
# source of truth is the real API server's audit log: tests/integration/kube/test_kube_rbac.py
# fails when the rendered roles grant more or less than the controller used in whole rollouts.
CONTROLLER_NEEDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("modelrollout.io", "modelrollouts"): ("get", "list", "watch"),  # the spec is the user's: no update/patch
    ("modelrollout.io", "modelrollouts/status"): ("update",),  # written whole, with the version read
    ("modelrollout.io", "modelrollouts/finalizers"): ("update",),  # blockOwnerDeletion under OwnerReferencesPermissionEnforcement
    ("apps", "deployments"): (*OWNED, "delete"),  # delete: the router Deployment when the router moves to sidecars
    ("", "services"): (*OWNED, "delete"),  # delete: the preview Service when blue-green is dropped
    ("", "serviceaccounts"): OWNED,
    ("rbac.authorization.k8s.io", "roles"): OWNED,
    ("rbac.authorization.k8s.io", "rolebindings"): OWNED,
    ("", "configmaps"): ("create", "get", "list", "watch", "update"),  # the router config is replaced whole
    ("discovery.k8s.io", "endpointslices"): ("list", "watch"),
    ("", "events"): ("create", "get", "patch"),  # get: a repeated Event's count is read, then patched
    ("batch", "jobs"): ("create",),  # a retraining Job per episode; AlreadyExists means it is there: no get
}
LEASE_NEEDS = {("coordination.k8s.io", "leases", verb) for verb in ("get", "create", "update")}
DANGEROUS_VERBS = {"*", "bind", "escalate", "impersonate", "deletecollection"}


def grants(rules: list[dict[str, Any]]) -> set[Grant]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule["verbs"]
    }


def roles(docs: Docs) -> Iterator[dict[str, Any]]:
    yield from find(docs, "ClusterRole")
    yield from find(docs, "Role")


def test_the_controller_cluster_role_grants_exactly_what_the_controller_uses(render: Render) -> None:
    expected = {(group, resource, verb) for (group, resource), verbs in CONTROLLER_NEEDS.items() for verb in verbs}
    assert grants(one(render({}), "ClusterRole", "modelrollout-controller")["rules"]) == expected


def test_leases_are_granted_only_in_the_release_namespace(render: Render) -> None:
    docs = render({})
    role = one(docs, "Role", "modelrollout-controller-leader-election")
    assert role["metadata"]["namespace"] == "modelrollout-system" and grants(role["rules"]) == LEASE_NEEDS
    args = controller_container(docs)["args"]
    lease_name = args[args.index("--lease-name") + 1]
    named = [rule for rule in role["rules"] if "resourceNames" in rule]
    assert [(rule["resourceNames"], rule["verbs"]) for rule in named] == [([lease_name], ["get", "update"])]
    assert args[args.index("--lease-namespace") + 1] == role["metadata"]["namespace"]
    binding = one(docs, "RoleBinding", "modelrollout-controller-leader-election")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "modelrollout-controller", "namespace": "modelrollout-system"}
    ]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_no_role_touches_secrets_or_uses_wildcards_or_escalation(render: Render, value_set: str) -> None:
    for role in roles(render(VALUE_SETS[value_set])):
        name = role["metadata"]["name"]
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule, name
            assert "*" not in rule.get("apiGroups", []) and "*" not in rule.get("resources", []), name
            assert not DANGEROUS_VERBS & set(rule["verbs"]), f"{name}: {rule['verbs']}"
            assert not {r for r in rule["resources"] if r.split("/")[0] == "secrets"}, name


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_bindings_only_bind_the_charts_own_roles_to_its_own_accounts(render: Render, value_set: str) -> None:
    docs = render(VALUE_SETS[value_set])
    own_roles = {(r["kind"], r["metadata"]["name"]) for r in roles(docs)}
    own_accounts = {a["metadata"]["name"] for a in find(docs, "ServiceAccount")}
    for binding in find(docs, "ClusterRoleBinding") + find(docs, "RoleBinding"):
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in own_roles
        assert {s["name"] for s in binding["subjects"]} <= own_accounts


def test_the_controller_holds_every_permission_it_grants_to_routers(render: Render) -> None:
    """The API server lets a subject create a Role only with rules it holds itself (no `escalate` here)."""
    rollout = ModelRollout.model_validate(
        {
            "apiVersion": "modelrollout.io/v1alpha1",
            "kind": "ModelRollout",
            "metadata": {"name": "iris", "namespace": "models"},
            "spec": {
                "template": {"spec": {"containers": [{"name": "model", "image": "model:1"}]}},
                "service": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
            },
        }
    )
    held = grants(one(render({}), "ClusterRole", "modelrollout-controller")["rules"])
    needed = grants(router_role(rollout)["rules"])
    assert needed and needed <= held, f"missing: {needed - held}"
