"""References in a cluster: the live one in the ConfigMap `<name>-reference`, a baseline in the ConfigMap it names.

Both hold the reference as JSON under `reference.json`, which is what `modelrollout baseline
--name NAME -o yaml` writes for `kubectl apply`. The live one is owned by the rollout, so it goes
with it; a baseline belongs to the user. A ConfigMap holds up to 1 MiB: with the router's caps
(100 features of 61 bins or 50 categories) a reference stays far below that.
"""

from __future__ import annotations

from pydantic import ValidationError

from controller.api.monitoring import ModelReference
from controller.api.resource import ModelRollout
from controller.kube.client import CONFIGMAP, KubeClient
from controller.kube.errors import AlreadyExists, KubeError, NotFound
from controller.kube.objects import reference_configmap
from controller.routing.monitoring import ReferenceUnavailable

__all__ = ["ConfigMapReferenceStore", "REFERENCE_KEY", "reference_configmap_name"]

REFERENCE_KEY = "reference.json"


def reference_configmap_name(rollout: ModelRollout) -> str:
    return f"{rollout.name}-reference"


class ConfigMapReferenceStore:
    def __init__(self, client: KubeClient) -> None:
        self._client = client

    async def load(self, rollout: ModelRollout) -> ModelReference | None:
        try:
            configmap = await self._client.get(CONFIGMAP, rollout.namespace, reference_configmap_name(rollout))
        except NotFound:
            return None
        try:
            return ModelReference.model_validate_json((configmap.get("data") or {}).get(REFERENCE_KEY, ""))
        except ValidationError:
            # Edited by hand into something else: no reference, so a new capture replaces it.
            return None

    async def load_baseline(self, rollout: ModelRollout, name: str) -> ModelReference:
        where = f"ConfigMap {rollout.namespace}/{name}"
        try:
            configmap = await self._client.get(CONFIGMAP, rollout.namespace, name)
        except NotFound as exc:
            raise ReferenceUnavailable(f"{where} not found; create it with `modelrollout baseline DATA.csv --name {name} -o yaml`") from exc
        except KubeError as exc:
            raise ReferenceUnavailable(f"{where} could not be read: {exc}") from exc
        text = (configmap.get("data") or {}).get(REFERENCE_KEY)
        if text is None:
            raise ReferenceUnavailable(f"{where} has no {REFERENCE_KEY} key; write it with `modelrollout baseline`")
        try:
            return ModelReference.model_validate_json(text)
        except ValidationError as exc:
            raise ReferenceUnavailable(f"{where}: {REFERENCE_KEY} is not a reference: {exc.errors()[0]['msg']}") from exc

    async def save(self, rollout: ModelRollout, reference: ModelReference) -> None:
        name = reference_configmap_name(rollout)
        body = reference_configmap(rollout, name, REFERENCE_KEY, reference.model_dump_json(by_alias=True, exclude_none=True))
        try:
            await self._client.create(CONFIGMAP, rollout.namespace, body)
        except AlreadyExists:
            # A new capture replaces the old one whole (last writer wins: both describe the same revision).
            await self._client.replace(CONFIGMAP, rollout.namespace, name, body)
