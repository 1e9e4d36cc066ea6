"""Small helpers for the tests on the real control plane: the CRD, install.yaml's RBAC, waiting, the audit log.

Objects go in as the admin with create-or-replace, so every test sees what the working tree's
manifests say even when an earlier test on the same (session-wide) control plane applied an
older copy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from controller.api.resource import GROUP, PLURAL, VERSION, ModelRollout
from tests.controlplane import ControlPlane
from tests.controlplane.apply import create_or_replace

__all__ = [
    "CONTROLLER_NAMESPACE",
    "CONTROLLER_ACCOUNT",
    "CONTROLLER_USER",
    "REPO_ROOT",
    "apply_crd",
    "apply_controller_rbac",
    "create_rollout",
    "install_documents",
    "audit_requests",
    "wait_until",
    "async_wait_until",
    "can",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
CONTROLLER_NAMESPACE = "modelrollout-system"
CONTROLLER_ACCOUNT = "modelrollout-controller"
CONTROLLER_USER = f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{CONTROLLER_ACCOUNT}"
CRD_NAME = "modelrollouts.modelrollout.io"


def wait_until(what: str, check: Callable[[], Any], timeout_s: float = 30.0, every_s: float = 0.1) -> Any:
    """`check()`'s first truthy answer; AssertionError naming `what` once `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)


async def async_wait_until(
    what: str, check: Callable[[], Any], timeout_s: float = 30.0, every_s: float = 0.1, detail: Callable[[], Any] | None = None
) -> Any:
    """`wait_until` for a test on the event loop: `check` (blocking API reads) runs on a thread, so the
    controller on this loop keeps running while it waits; `detail()` is added to the timeout's message."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await asyncio.to_thread(check)
        if answer:
            return answer
        if time.monotonic() > deadline:
            extra = f"; {detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}{extra}")
        await asyncio.sleep(every_s)


def apply_crd(api_client: k8s.ApiClient) -> None:
    """The ModelRollout CRD of the working tree, applied and Established."""
    document = yaml.safe_load((REPO_ROOT / "manifests" / "crd" / "modelrollouts.yaml").read_text())
    create_or_replace(api_client, document)
    api = k8s.ApiextensionsV1Api(api_client)

    def established() -> bool:
        conditions = api.read_custom_resource_definition(CRD_NAME).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    wait_until(f"CRD {CRD_NAME} to be Established", established)


def install_documents() -> list[dict[str, Any]]:
    """Every object of manifests/install.yaml, as parsed."""
    text = (REPO_ROOT / "manifests" / "install.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def apply_controller_rbac(control_plane: ControlPlane) -> None:
    """install.yaml's Namespace, the controller's ServiceAccount, ClusterRole and ClusterRoleBinding."""
    wanted = {
        ("Namespace", CONTROLLER_NAMESPACE),
        ("ServiceAccount", CONTROLLER_ACCOUNT),
        ("ClusterRole", CONTROLLER_ACCOUNT),
        ("ClusterRoleBinding", CONTROLLER_ACCOUNT),
    }
    documents = [d for d in install_documents() if (d["kind"], d["metadata"]["name"]) in wanted]
    assert {(d["kind"], d["metadata"]["name"]) for d in documents} == wanted, "install.yaml lacks part of the controller's RBAC"
    with control_plane.api_client() as api_client:
        for document in sorted(documents, key=lambda d: d["kind"] != "Namespace"):
            create_or_replace(api_client, document)


def create_rollout(control_plane: ControlPlane, namespace: str, name: str, **spec: Any) -> ModelRollout:
    """A ModelRollout (one canary step to 100%, `spec` added) created as the admin, as the API server stored it."""
    document = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": {"spec": {"containers": [{"name": "model", "image": "model:1"}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
            **spec,
        },
    }
    with control_plane.api_client() as admin:
        created = k8s.CustomObjectsApi(admin).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, document)
    return ModelRollout.model_validate(created)


def audit_requests(control_plane: ControlPlane, *, namespace: str, user: str | None = None) -> Iterator[dict[str, Any]]:
    """Audited requests on objects of `namespace` (by `user` when given), at their final stage."""
    for event in control_plane.audit_events():
        ref = event.get("objectRef") or {}
        if ref.get("namespace") != namespace or event.get("stage") != "ResponseComplete":
            continue
        if user is None or (event.get("user") or {}).get("username") == user:
            yield event


def can(control_plane: ControlPlane, user: str, namespace: str, verb: str, resource: str, group: str = "") -> bool:
    """Whether the API server's authorizer lets `user` do `verb` on `resource` in `namespace` now."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user,
                 "groups": ["system:serviceaccounts", f"system:serviceaccounts:{CONTROLLER_NAMESPACE}", "system:authenticated"],
                 "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource, "group": group}},
    }  # fmt: skip
    with control_plane.api_client() as api_client:
        answer = k8s.AuthorizationV1Api(api_client).create_subject_access_review(review)
    return bool(answer.status.allowed)

