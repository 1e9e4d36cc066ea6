"""The operator under install.yaml's own RBAC on a real API server: nothing it does is refused, no Secret is readable.

The controller runs as the ServiceAccount install.yaml makes, bound to its ClusterRole and to
the leader-election Role; each router reads its ConfigMap with a token of the `<name>-router`
ServiceAccount and Role the controller itself creates. The API server's audit log is the
witness of every request they made, and of each answer; what the controller used there is
also the measure of its roles, which must grant exactly that.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api.resource import revision_of
from controller.kube.objects import LABEL_COMPONENT
from tests.integration.kube.backends import CONTROLLER_USER, LEASE_NAMESPACE, Real, router_user
from tests.integration.kube.conftest import BAD, GOOD, REAL_ONLY, STABLE
from tests.integration.kube.scene import Scene, canary_document, template

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

STEPS: list[dict[str, Any]] = [{"setWeight": 30}, {"analysis": {"interval": "1s", "count": 2}}, {"setWeight": 100}]
READS = ("get", "list", "watch")
INSTALL = Path(__file__).resolve().parents[3] / "manifests" / "install.yaml"
CONTROLLER_ROLES = {("ClusterRole", "modelrollout-controller"), ("Role", "modelrollout-controller-leader-election")}

Grant = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)

# Needed by the controller, yet no request of it may show in these rollouts' audit log. Each names
# the code path; a grant is kept only when it is used in the log or stands here with its reason.
NOT_IN_THE_LOG: dict[Grant, str] = {
    ("modelrollout.io", "modelrollouts/finalizers", "update"): (
        "never a request: OwnerReferencesPermissionEnforcement asks the authorizer for it when the controller "
        "creates an object whose owner reference sets blockOwnerDeletion (objects.owner_reference); the test server "
        "does not enable that admission plugin"
    ),
    ("modelrollout.io", "modelrollouts", "get"): "reconciler._fresh: the status write met a Conflict, read the rollout again",
    ("batch", "jobs", "create"): (
        "retraining_jobs.KubeJobLauncher: a retraining Job for a spec.monitoring episode; these rollouts monitor nothing "
        "(tests/integration/realkube/test_realkube_retraining_jobs.py creates one under this ClusterRole)"
    ),
    ("", "configmaps", "get"): "traffic._refresh: the router ConfigMap write met Conflict/AlreadyExists/NotFound, the cache was behind",
    # apply.ensure_object: a create answered AlreadyExists because the informer cache was behind; read the live one.
    **{
        (group, resource, "get"): "apply.ensure_object: create answered AlreadyExists, the cache was behind"
        for group, resource in (("apps", "deployments"), ("", "services"), ("", "serviceaccounts"),
                                ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"))
    },  # fmt: skip
}


def _audit_stamp(moment: datetime) -> str:
    """The audit log's own timestamp format (RFC 3339, microseconds, UTC), which sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _requests_by(backend: Real, users: set[str], since: str) -> list[dict[str, Any]]:
    return [
        e for e in backend.cluster.plane.audit_events()
        if e["user"]["username"] in users and e["requestReceivedTimestamp"] >= since
    ]  # fmt: skip


def _summary(event: dict[str, Any]) -> str:
    ref = event.get("objectRef") or {}
    return f"{event['user']['username']} {event['verb']} {ref.get('resource')}/{ref.get('name', '')} in {ref.get('namespace', '-')}"


def _healthy_on(scene: Scene, image: str) -> bool:
    status = scene.status("demo")
    return (
        status.get("phase") == "Healthy"
        and status.get("stableRevision") == revision_of(template(image))
        and not status.get("candidateRevision")
    )


async def _two_rollouts(scene: Scene) -> None:
    """Whole canaries under a Lease: the first stable, two routers, a candidate promoted, then the old model back.

    The second rollout's steps complete with the same messages as the first's, so their Events
    repeat: the controller then reads and patches the live Event instead of creating one.
    """
    running = await scene.start_controller(lease=True)
    scene.apply(canary_document("demo", STABLE, STEPS))
    await scene.wait_for("the first stable", partial(_healthy_on, scene, STABLE))
    for index in range(2):
        await scene.start_router("demo", index)
    scene.start_traffic()
    for image in (GOOD, STABLE):
        scene.apply(canary_document("demo", image, STEPS))
        await scene.wait_for(f"promotion of {image}", partial(_healthy_on, scene, image))
    await running.stop()  # hands the Lease back: one more write under the Role


@REAL_ONLY
async def test_no_request_of_the_controller_or_the_routers_is_refused_in_whole_rollouts(scene: Scene, backend: Real) -> None:
    since = _audit_stamp(datetime.now(UTC))
    await _two_rollouts(scene)
    users = {CONTROLLER_USER, router_user(scene.namespace, "demo")}

    requests = _requests_by(backend, users, since)
    assert {e["user"]["username"] for e in requests} == users, "both the controller and the routers were audited"
    router_reads = [e for e in requests if e["user"]["username"] != CONTROLLER_USER and e["objectRef"].get("resource") == "configmaps"]
    assert any(e["responseStatus"]["code"] == 200 for e in router_reads), "the routers read their ConfigMap with their own token"
    refused = sorted({_summary(e) for e in requests if e["responseStatus"]["code"] in (401, 403)})
    assert refused == []
    done = {(e["verb"], e["objectRef"].get("resource")) for e in requests}
    assert {("update", "leases"), ("get", "events"), ("patch", "events")} <= done, "the Lease was held and a repeated Event counted"


def _granted() -> set[Grant]:
    """What install.yaml's ClusterRole and leader-election Role give the controller's ServiceAccount."""
    documents = [d for d in yaml.safe_load_all(INSTALL.read_text()) if d]
    rules = [rule for d in documents if (d["kind"], d["metadata"]["name"]) in CONTROLLER_ROLES for rule in d["rules"]]
    assert len({(d["kind"], d["metadata"]["name"]) for d in documents} & CONTROLLER_ROLES) == 2, "both roles are in install.yaml"
    return {
        (group, resource, verb) for rule in rules for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"]
    }


def _used(event: dict[str, Any]) -> Grant:
    """The permission the request needed: a watch is audited with verb `watch`, its initial list as `list`."""
    ref = event["objectRef"]
    resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    return ref.get("apiGroup", ""), resource, event["verb"]


def _tamper(scene: Scene, label: str) -> None:
    """A hand edit of each router RBAC object: drift the controller must patch back."""
    for resource in ("serviceaccounts", "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io"):
        scene.patch(resource, "demo-router", {"metadata": {"labels": {LABEL_COMPONENT: label}}})


def _restored(scene: Scene) -> bool:
    return all(
        (scene.must_get(resource, "demo-router")["metadata"].get("labels") or {}).get(LABEL_COMPONENT) == "router"
        for resource in ("serviceaccounts", "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io")
    )


async def _every_path(scene: Scene) -> None:
    """Everything the controller writes in a rollout's life, under a Lease, ending before the rollout is deleted.

    A blue-green start whose strategy becomes a canary (the preview Service deleted), a canary
    promoted, a failing one rolled back, hand edits of the router's RBAC objects put back, and
    the router moved to sidecar mode (its Deployment deleted). Deleting the ModelRollout is the
    garbage collector's work through owner references, not the controller's, so it is not here.
    """
    running = await scene.start_controller(lease=True)
    blue_green = canary_document("demo", STABLE, STEPS)
    blue_green["spec"]["strategy"] = {"blueGreen": {"autoPromotionSeconds": 1, "scaleDownDelaySeconds": 1}}
    scene.apply(blue_green)
    await scene.wait_for("the preview Service", lambda: scene.get("services", "demo-preview") is not None)
    await scene.wait_for("the first stable", partial(_healthy_on, scene, STABLE))
    scene.apply(canary_document("demo", STABLE, STEPS))
    await scene.wait_for("the preview Service deleted", lambda: scene.get("services", "demo-preview") is None)
    for index in range(2):
        await scene.start_router("demo", index)
    scene.start_traffic(rate_per_s=60)
    scene.apply(canary_document("demo", GOOD, STEPS))
    await scene.wait_for("promotion", partial(_healthy_on, scene, GOOD))
    scene.apply(canary_document("demo", BAD, STEPS))
    await scene.wait_for("a rollback", lambda: scene.status("demo").get("phase") == "Degraded")
    _tamper(scene, "tampered")
    await scene.wait_for("the router's RBAC objects put back", partial(_restored, scene))
    scene.apply(canary_document("demo", GOOD, STEPS, router={"mode": "sidecar"}))
    await scene.wait_for("the router Deployment deleted", lambda: scene.get("deployments.apps", "demo-router") is None)
    await scene.wait_for("back on the stable", partial(_healthy_on, scene, GOOD))
    await running.stop()


@REAL_ONLY
async def test_the_controller_roles_grant_exactly_what_the_controller_uses(scene: Scene, backend: Real) -> None:
    """The audit log is the source of truth for the chart's ClusterRole and leader-election Role.

    Every (apiGroup, resource, verb) the controller's ServiceAccount asked for in whole rollouts,
    plus those in NOT_IN_THE_LOG, must be exactly what install.yaml grants it: a grant never used
    is a permission too many, a use not granted is a 403 in production.
    """
    since = _audit_stamp(datetime.now(UTC))
    await _every_path(scene)
    requests = [e for e in _requests_by(backend, {CONTROLLER_USER}, since) if e.get("objectRef")]
    refused = sorted({_summary(e) for e in requests if e["responseStatus"]["code"] in (401, 403)})
    assert refused == []
    used = {_used(e) for e in requests}
    needed = used | set(NOT_IN_THE_LOG)
    granted = _granted()
    unused, missing = sorted(granted - needed), sorted(needed - granted)
    assert not unused and not missing, f"granted but never used: {unused}\nused but not granted: {missing}"


@REAL_ONLY
async def test_neither_the_controller_nor_a_router_can_read_a_secret(scene: Scene, backend: Real) -> None:
    running = await scene.start_controller()
    scene.apply(canary_document("demo", STABLE, STEPS))
    await scene.wait_for("the router's ServiceAccount", lambda: scene.get("rolebindings.rbac.authorization.k8s.io", "demo-router"))
    await running.stop()
    users = [CONTROLLER_USER, router_user(scene.namespace, "demo")]
    # Asked of the authorizer for every read, here, in the controller's namespace and cluster-wide ("").
    allowed = [(user, verb, namespace) for user in users for verb in READS for namespace in (scene.namespace, LEASE_NAMESPACE, "")
               if backend.cluster.allowed(user, verb, "secrets", namespace)]  # fmt: skip
    assert allowed == []
    # And tried, with each one's own token.
    scene.api.create("secrets", scene.namespace, {"metadata": {"name": "model-registry"}, "stringData": {"token": "s3cret"}})
    for kubeconfig in (backend.controller_kubeconfig(), backend.router_kubeconfig("demo")):
        with backend.cluster.plane.api_client(kubeconfig) as as_account:
            core = k8s.CoreV1Api(as_account)
            for read in (
                lambda core=core: core.read_namespaced_secret("model-registry", scene.namespace),
                lambda core=core: core.list_namespaced_secret(scene.namespace),
            ):
                with pytest.raises(ApiException) as refused:
                    read()
                assert refused.value.status == 403
