"""The objects around the revisions: the router (Deployment or sidecars), its RBAC and the Services.

Ensured on every reconcile from the spec and the stable/candidate revisions in status; each is
written only when it is missing or differs (see `apply`), so a steady rollout costs no writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.api.resource import ModelRollout
from controller.api.spec import RouterMode
from controller.kube.apply import delete_object, ensure_object
from controller.kube.client import (
    DEPLOYMENT,
    ROLE,
    ROLE_BINDING,
    SERVICE,
    SERVICE_ACCOUNT,
    Kind,
    KubeClient,
)
from controller.kube.objects import (
    DEFAULT_ROUTER_IMAGE,
    preview_name,
    preview_service,
    rollout_service,
    router_admin_service,
    router_deployment,
    router_name,
    router_role,
    router_role_binding,
    router_service_account,
)
from controller.kube.store import Store

__all__ = ["Stores", "RouterInfra"]


@dataclass(frozen=True)
class Stores:
    """The informer caches the adapters read, one per kind."""

    rollouts: Store
    deployments: Store
    services: Store
    configmaps: Store
    endpoint_slices: Store
    service_accounts: Store
    roles: Store
    role_bindings: Store

    def of(self, kind: Kind) -> Store:
        by_kind = {
            DEPLOYMENT.name: self.deployments,
            SERVICE.name: self.services,
            SERVICE_ACCOUNT.name: self.service_accounts,
            ROLE.name: self.roles,
            ROLE_BINDING.name: self.role_bindings,
        }
        return by_kind[kind.name]




class RouterInfra:
    def __init__(self, client: KubeClient, stores: Stores, router_image: str = DEFAULT_ROUTER_IMAGE) -> None:
        self._client = client
        self._stores = stores
        self._router_image = router_image  # for rollouts that set no spec.router.image

    def _wanted(self, rollout: ModelRollout) -> list[tuple[Kind, dict[str, Any]]]:
        status = rollout.status
        objects: list[tuple[Kind, dict[str, Any]]] = [
            (SERVICE_ACCOUNT, router_service_account(rollout)),
            (ROLE, router_role(rollout)),
            (ROLE_BINDING, router_role_binding(rollout)),
            (SERVICE, router_admin_service(rollout)),
            (SERVICE, rollout_service(rollout, status.stable_revision)),
        ]
        if rollout.spec.router.mode == RouterMode.DEPLOYMENT:
            objects.append((DEPLOYMENT, router_deployment(rollout, self._router_image)))
        preview = status.candidate_revision or status.stable_revision
        if rollout.spec.strategy.blue_green is not None and preview is not None:
            objects.append((SERVICE, preview_service(rollout, preview)))
        return objects

    async def ensure(self, rollout: ModelRollout) -> None:
        for kind, desired in self._wanted(rollout):
            await ensure_object(self._client, kind, self._stores.of(kind), desired)
        await self._drop_unwanted(rollout)

    async def _drop_unwanted(self, rollout: ModelRollout) -> None:
        """A router Deployment left from deployment mode, or a preview Service from a blue-green spec."""
        namespace = rollout.namespace
        if rollout.spec.router.mode == RouterMode.SIDECAR and self._owned(self._stores.deployments, rollout, router_name(rollout)):
            await delete_object(self._client, DEPLOYMENT, self._stores.deployments, namespace, router_name(rollout))
        if rollout.spec.strategy.blue_green is None and self._owned(self._stores.services, rollout, preview_name(rollout)):
            await delete_object(self._client, SERVICE, self._stores.services, namespace, preview_name(rollout))

    @staticmethod
    def _owned(store: Store, rollout: ModelRollout, name: str) -> bool:
        live = store.get(rollout.namespace, name)
        uid = rollout.metadata.get("uid")
        references = (live or {}).get("metadata", {}).get("ownerReferences") or []
        return any(ref.get("uid") == uid for ref in references)
