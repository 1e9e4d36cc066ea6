"""The chart's dashboard runs the real command: rendered with actions allowed, its container's command and
arguments are started as a process against the real control plane, under the dashboard's own
ServiceAccount and the chart's RBAC. It serves; refuses an action without a token; acts with the
dashboard's token; and acts for a person showing their own Kubernetes token only when their RBAC lets
them patch the rollout, naming them in the Event.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from chartkit import Docs, one
from kubernetes import client as k8s

from controller.local.processes import ProcessGroup, free_port
from tests.controlplane import ControlPlane
from tests.controlplane.apply import create_or_replace
from tests.integration.realkube.realkit import apply_crd, can, wait_until

pytestmark = pytest.mark.integration

Render = Callable[[dict[str, Any]], Docs]
RELEASE_NAMESPACE = "modelrollout-system"
ACCOUNT = "modelrollout-dashboard"
TOKEN = "chart-test-token"


def _rollout(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": "iris", "namespace": namespace},
        "spec": {
            "template": {"spec": {"containers": [{"name": "model", "image": "model:1"}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
        },
    }


def _person(control_plane: ControlPlane, namespace: str, account: str, may_patch: bool, workdir: Path) -> str:
    """A ServiceAccount's token; with `may_patch`, a Role lets it patch ModelRollouts in `namespace`."""
    with control_plane.api_client() as admin:
        create_or_replace(admin, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}})
        if may_patch:
            rule = {"apiGroups": ["modelrollout.io"], "resources": ["modelrollouts"], "verbs": ["get", "patch"]}
            role = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": account, "namespace": namespace},
                "rules": [rule],
            }
            binding = {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": account, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
            }  # fmt: skip
            create_or_replace(admin, role)
            create_or_replace(admin, binding)
    if may_patch:
        user = f"system:serviceaccount:{namespace}:{account}"
        wait_until(f"{account}'s Role in force", lambda: can(control_plane, user, namespace, "patch", "modelrollouts", "modelrollout.io"))
    kubeconfig = yaml.safe_load(control_plane.token_kubeconfig(workdir / f"{account}.kubeconfig", namespace, account).read_text())
    return str(kubeconfig["users"][0]["user"]["token"])


def _argv(container: dict[str, Any], port: int, token_file: Path, kubeconfig: Path) -> list[str]:
    """The container's command line with what a pod provides replaced: the binary's path, the port, the Secret's file."""
    command = [str(Path(sys.executable).parent / container["command"][0]), *container["command"][1:]]
    args = [
        re.sub(r"^--port=\d+$", f"--port={port}", a).replace("/var/run/modelrollout-dashboard/token", str(token_file))
        for a in container["args"]
    ]
    return [*command, *args, f"--kubeconfig={kubeconfig}"]  # in a pod: the ServiceAccount's own credentials


def test_the_charts_dashboard_command_serves_and_acts_only_with_the_token(
    render: Render, control_plane: ControlPlane, real_namespace: str, tmp_path: Path
) -> None:
    docs = render({"dashboard": {"enabled": True, "allowActions": True}, "watchNamespaces": [real_namespace]})
    container = one(docs, "Deployment", ACCOUNT)["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["kubectl-modelrollout", "dashboard"]
    with control_plane.api_client() as admin:
        apply_crd(admin)
        create_or_replace(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": RELEASE_NAMESPACE}})
        for doc in docs:
            if doc["metadata"]["labels"].get("app.kubernetes.io/component") == "dashboard" and doc["kind"] not in ("Deployment", "Service"):
                create_or_replace(admin, doc)
        k8s.CustomObjectsApi(admin).create_namespaced_custom_object(
            "modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", _rollout(real_namespace)
        )
    user = f"system:serviceaccount:{RELEASE_NAMESPACE}:{ACCOUNT}"
    wait_until("the dashboard's RoleBinding in force", lambda: can(control_plane, user, real_namespace, "create", "events"))
    kubeconfig = control_plane.token_kubeconfig(tmp_path / "dashboard.kubeconfig", RELEASE_NAMESPACE, ACCOUNT)
    alice_token = _person(control_plane, real_namespace, "alice", True, tmp_path)
    bob_token = _person(control_plane, real_namespace, "bob", False, tmp_path)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    port = free_port()

    group = ProcessGroup(tmp_path / "logs")
    try:
        member = group.start("dashboard", _argv(container, port, token_file, kubeconfig))
        base = f"http://127.0.0.1:{port}"
        wait_until("the dashboard to answer", lambda: _ok(f"{base}/healthz") or member.process.poll() is not None, timeout_s=60)
        assert member.process.poll() is None, "the dashboard exited; its log is in " + str(tmp_path / "logs")
        with httpx.Client(base_url=base) as http:
            listed = http.get("/api/rollouts").json()["rows"]
            assert [(r["namespace"], r["name"]) for r in listed] == [(real_namespace, "iris")]
            page = http.get(f"/rollouts/{real_namespace}/iris")
            csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
            assert csrf is not None and TOKEN not in page.text
            action = f"/api/rollouts/{real_namespace}/iris/actions/pause"
            refused = http.post(action, headers={"X-CSRF-Token": csrf.group(1)})
            assert refused.status_code == 401 and "bearer token" in refused.json()["error"]
            done = http.post(action, headers={"X-CSRF-Token": csrf.group(1), "Authorization": f"Bearer {TOKEN}"})
            assert done.status_code == 202, done.text
            assert http.post(action, headers={"X-CSRF-Token": csrf.group(1), "Authorization": f"Bearer {TOKEN}"}).status_code == 409

            # The pause is handled (as a controller would mark it): a person's own token may ask next.
            _handled(control_plane, real_namespace)
            bob = http.post(action, headers={"X-CSRF-Token": csrf.group(1), "Authorization": f"Bearer {bob_token}"})
            assert bob.status_code == 403 and f"system:serviceaccount:{real_namespace}:bob may not patch" in bob.json()["error"], bob.text
            forged = http.post(action, headers={"X-CSRF-Token": csrf.group(1), "Authorization": "Bearer not-a-token"})
            assert (
                forged.status_code == 401 and "neither the dashboard's nor one the Kubernetes API server accepts" in forged.json()["error"]
            )
            alice = http.post(
                f"/api/rollouts/{real_namespace}/iris/actions/resume",
                headers={"X-CSRF-Token": csrf.group(1), "Authorization": f"Bearer {alice_token}"},
            )
            assert alice.status_code == 202, alice.text
    finally:
        group.stop_all()
    with control_plane.api_client() as admin:
        live = k8s.CustomObjectsApi(admin).get_namespaced_custom_object(
            "modelrollout.io", "v1alpha1", real_namespace, "modelrollouts", "iris"
        )
        events = k8s.CoreV1Api(admin).list_namespaced_event(real_namespace).items
    assert '"action":"resume"' in live["metadata"]["annotations"]["modelrollout.io/request"]
    asked = [e.message for e in events if e.reason == "ActionRequested"]
    assert any("pause requested by a holder of the dashboard token" in m for m in asked), asked
    assert any(f"resume requested by system:serviceaccount:{real_namespace}:alice from the dashboard" in m for m in asked), asked


def _handled(control_plane: ControlPlane, namespace: str) -> None:
    """Mark the rollout's request handled, as the controller does once it has acted on it."""
    with control_plane.api_client() as admin:
        api = k8s.CustomObjectsApi(admin)
        live = api.get_namespaced_custom_object("modelrollout.io", "v1alpha1", namespace, "modelrollouts", "iris")
        handled = json.loads(live["metadata"]["annotations"]["modelrollout.io/request"])["id"]
        api.patch_namespaced_custom_object_status(
            "modelrollout.io", "v1alpha1", namespace, "modelrollouts", "iris", {"status": {"lastRequestId": handled}}
        )


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
