"""End to end on kind: the chart installs the operator, a good candidate is promoted, a bad one rolled back.

Real images built from the repository's Dockerfiles (controller, router, demo model server in
three versions), a real API server, real routers and real traffic from inside the cluster.
Opt-in and slow (minutes): see conftest.py for what it needs.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from controller.api.resource import GROUP, PLURAL, VERSION, revision_of

# Building the images alone can take longer than the suite's default per-test limit.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

__all__: list[str] = []

E2E_DIR = Path(__file__).resolve().parent
ROLLOUT_NAME = "demo-model"
OPERATOR_NAMESPACE = "modelrollout-system"
CONTROLLER_ACCOUNT = "system:serviceaccount:modelrollout-system:modelrollout-controller"
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, timeout_s: float, explain: Callable[[], str]) -> T:
    """Poll `check` every 2 s until it returns something; fail naming `what` and showing `explain()`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(2)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}\n{explain()}")


class Cluster:
    """The few API calls the scenario makes, through the official client."""

    def __init__(self, api_client: Any, namespace: str) -> None:
        from kubernetes import client

        self.namespace = namespace
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.auth = client.AuthorizationV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)

    def rollout(self) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, ROLLOUT_NAME)

    def status(self) -> dict[str, Any]:
        return self.rollout().get("status") or {}

    def set_model_image(self, image: str) -> None:
        # A JSON patch: exactly one field changes, whatever the client would do with a merge.
        patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}]
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, ROLLOUT_NAME, patch)

    def controller_logs(self, lines: int = 60) -> str:
        pods = self.core.list_namespaced_pod(
            OPERATOR_NAMESPACE, label_selector="app.kubernetes.io/component=controller"
        )
        return "\n".join(
            f"--- {pod.metadata.name}\n"
            + self.core.read_namespaced_pod_log(pod.metadata.name, OPERATOR_NAMESPACE, tail_lines=lines)
            for pod in pods.items
        )

    def explain(self) -> str:
        return f"status: {json.dumps(self.status(), indent=2, default=str)}\n{self.controller_logs()}"


@pytest.fixture
def cluster(api_client: Any, operator: dict[str, Any]) -> Iterator[Cluster]:
    from kubernetes import client

    name = f"e2e-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name}})
    yield Cluster(api_client, name)
    core.delete_namespace(name)


def rollout_manifest(model_image: str, router_image: str) -> dict[str, Any]:
    manifest = yaml.safe_load((E2E_DIR / "manifests" / "rollout.yaml").read_text(encoding="utf-8"))
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = model_image
    manifest["spec"]["router"]["image"] = router_image
    return manifest


def template_with(manifest: dict[str, Any], model_image: str) -> dict[str, Any]:
    template = copy.deepcopy(manifest["spec"]["template"])
    template["spec"]["containers"][0]["image"] = model_image
    return template


def start_traffic(cluster: Cluster, image: str) -> None:
    script = (E2E_DIR / "load_clients.py").read_text(encoding="utf-8")
    cluster.core.create_namespaced_config_map(
        cluster.namespace, {"metadata": {"name": "e2e-traffic"}, "data": {"load_clients.py": script}}
    )
    deployment = yaml.safe_load((E2E_DIR / "manifests" / "traffic.yaml").read_text(encoding="utf-8"))
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = image
    cluster.apps.create_namespaced_deployment(cluster.namespace, deployment)


def settled_on(cluster: Cluster, revision: str) -> dict[str, Any] | None:
    """The status once `revision` is stable, Healthy, Ready, with no candidate; else None."""
    status = cluster.status()
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
    if status.get("phase") == "Healthy" and status.get("stableRevision") == revision and ready:
        return status if status.get("candidateRevision") is None else None
    return None


def verdicts(status: dict[str, Any], revision: str) -> set[tuple[str, str]]:
    return {(r["metric"], r["verdict"]) for r in status.get("evidence", []) if r.get("revision") == revision}


def test_good_candidate_is_promoted_then_bad_candidate_rolled_back(cluster: Cluster, images: dict[str, str]) -> None:
    manifest = rollout_manifest(images["model-v1"], images["router"])
    v1, v2, bad = (
        revision_of(template_with(manifest, images[role])) for role in ("model-v1", "model-v2", "model-v2-bad")
    )
    cluster.custom.create_namespaced_custom_object(GROUP, VERSION, cluster.namespace, PLURAL, manifest)
    wait_for(lambda: settled_on(cluster, v1), f"the first revision {v1} to be stable", 300, cluster.explain)
    router = cluster.apps.read_namespaced_deployment(f"{ROLLOUT_NAME}-router", cluster.namespace)
    assert router.spec.template.spec.containers[0].image == images["router"]
    start_traffic(cluster, images["model-v1"])

    cluster.set_model_image(images["model-v2"])
    promoted = wait_for(lambda: settled_on(cluster, v2), f"candidate {v2} to be promoted", 600, cluster.explain)
    assert promoted["traffic"]["stable"] == 100 and promoted["traffic"].get("mirror", 0) == 0
    assert {("shadow-agreement", "Passed"), ("error-rate", "Passed")} <= verdicts(promoted, v2)

    cluster.set_model_image(images["model-v2-bad"])

    def rolled_back() -> dict[str, Any] | None:
        status = cluster.status()
        return status if status.get("phase") == "Degraded" and status.get("rejectedRevision") == bad else None

    degraded = wait_for(rolled_back, f"candidate {bad} to be rolled back", 600, cluster.explain)
    assert degraded["stableRevision"] == v2
    assert degraded["traffic"]["stable"] == 100 and degraded["traffic"].get("mirror", 0) == 0
    assert any(verdict == "Failed" for _metric, verdict in verdicts(degraded, bad))
    stalled = [c for c in degraded.get("conditions", []) if c.get("type") == "Stalled"]
    assert stalled and stalled[0]["status"] == "True"
    wait_for(lambda: _scaled_down(cluster, bad), f"candidate {bad} to be scaled down", 120, cluster.explain)


def _scaled_down(cluster: Cluster, revision: str) -> bool | None:
    from kubernetes.client.exceptions import ApiException

    try:
        deployment = cluster.apps.read_namespaced_deployment(f"{ROLLOUT_NAME}-{revision}", cluster.namespace)
    except ApiException as exc:
        return True if exc.status == 404 else None
    return True if (deployment.spec.replicas or 0) == 0 else None


def test_two_replicas_share_one_lease(cluster: Cluster) -> None:
    pods = cluster.core.list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="app.kubernetes.io/component=controller")
    names = {pod.metadata.name for pod in pods.items}
    assert len(names) == 2

    def holder() -> str | None:
        leases = cluster.coordination.list_namespaced_lease(OPERATOR_NAMESPACE).items
        holders = [lease.spec.holder_identity for lease in leases if lease.spec.holder_identity]
        # The identity names the replica: its pod name (also its hostname), perhaps with a suffix.
        return next((h for h in holders if any(name in h for name in names)), None)

    wait_for(holder, "one controller replica to hold the Lease", 120, cluster.explain)


@pytest.mark.parametrize(
    ("verb", "resource", "group", "allowed"),
    [
        ("get", "secrets", "", False),
        ("list", "secrets", "", False),
        ("delete", "nodes", "", False),
        ("create", "clusterroles", "rbac.authorization.k8s.io", False),
        ("patch", "modelrollouts", "modelrollout.io", True),
        ("create", "roles", "rbac.authorization.k8s.io", True),
    ],
)
def test_controller_account_has_least_privilege(
    cluster: Cluster, verb: str, resource: str, group: str, allowed: bool
) -> None:
    review = {
        "spec": {
            "user": CONTROLLER_ACCOUNT,
            "groups": ["system:serviceaccounts", "system:serviceaccounts:modelrollout-system", "system:authenticated"],
            "resourceAttributes": {"namespace": cluster.namespace, "verb": verb, "resource": resource, "group": group},
        }
    }
    answer = cluster.auth.create_subject_access_review(review)
    assert answer.status.allowed is allowed, f"{verb} {resource}: {answer.status.reason or 'no reason given'}"
