"""Acting for a person who shows their own Kubernetes token: who they are, and whether they may patch the rollout."""

from __future__ import annotations

from controller.dashboard.security import Denied
from controller.kube.client import KubeClient
from controller.kube.errors import KubeError
from controller.kube.reviews import authenticate, may_patch_rollout

__all__ = ["kube_user_for"]


async def kube_user_for(client: KubeClient, token: str, namespace: str, name: str) -> str:
    """The user name the API server gives `token`, once it says that user may patch the rollout; else Denied."""
    try:
        user = await authenticate(client, token)
        if user is None:
            raise Denied(401, "the bearer token is neither the dashboard's nor one the Kubernetes API server accepts")
        if not await may_patch_rollout(client, user, namespace, name):
            raise Denied(403, f"{user.username} may not patch modelrollout {namespace}/{name}, which every action needs")
    except KubeError as exc:
        raise Denied(502, f"the Kubernetes API could not check the token: {exc}") from exc
    return user.username
