"""Who a Kubernetes bearer token belongs to, and whether that user may do something: TokenReview and SubjectAccessReview.

The dashboard acts for a person who shows it their own Kubernetes token: the API server says who
they are and whether they may patch the rollout, so the dashboard grants no more than their RBAC.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.kube.client import SUBJECT_ACCESS_REVIEW, Kind, KubeClient

__all__ = ["TOKEN_REVIEW", "KubeUser", "authenticate", "may_patch_rollout"]

TOKEN_REVIEW = Kind("TokenReview", "AuthenticationV1Api", "token_review", cluster=True)


@dataclass(frozen=True)
class KubeUser:
    username: str
    groups: tuple[str, ...] = ()


async def authenticate(client: KubeClient, token: str) -> KubeUser | None:
    """The user the API server authenticates `token` as; None when it does not."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    status = (await client.create(TOKEN_REVIEW, "", review)).get("status") or {}
    user = status.get("user") or {}
    if not status.get("authenticated") or not user.get("username"):
        return None
    return KubeUser(str(user["username"]), tuple(str(g) for g in user.get("groups") or ()))


async def may_patch_rollout(client: KubeClient, user: KubeUser, namespace: str, name: str) -> bool:
    attributes = {"group": "modelrollout.io", "resource": "modelrollouts", "verb": "patch", "namespace": namespace, "name": name}
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user.username, "groups": list(user.groups), "resourceAttributes": attributes},
    }
    return bool(((await client.create(SUBJECT_ACCESS_REVIEW, "", review)).get("status") or {}).get("allowed"))
