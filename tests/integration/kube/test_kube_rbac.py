"""The operator under install.yaml's own RBAC on a real API server: nothing it does is refused, no Secret is readable.

The controller runs as the ServiceAccount install.yaml makes, bound to its ClusterRole and to
the leader-election Role; each router reads its ConfigMap with a token of the `<name>-router`
ServiceAccount and Role the controller itself creates. The API server's audit log is the
witness of every request they made, and of each answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api.resource import revision_of
from tests.integration.kube.backends import CONTROLLER_USER, LEASE_NAMESPACE, Real, router_user
from tests.integration.kube.conftest import GOOD, REAL_ONLY, STABLE
from tests.integration.kube.scene import Scene, canary_document, template

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

STEPS: list[dict[str, Any]] = [{"setWeight": 30}, {"analysis": {"interval": "1s", "count": 2}}, {"setWeight": 100}]
READS = ("get", "list", "watch")


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
    return status.get("phase") == "Healthy" and status.get("stableRevision") == revision_of(template(image)) and not status.get("candidateRevision")


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
            for read in (lambda: core.read_namespaced_secret("model-registry", scene.namespace), lambda: core.list_namespaced_secret(scene.namespace)):
                with pytest.raises(ApiException) as refused:
                    read()
                assert refused.value.status == 403
