"""What the sidecar injector does to a Pod, as data: the router container added, the label, the account.

A Pod asks for the router of ModelRollout NAME with `modelrollout.io/inject: NAME`, as a label
or an annotation. It gets exactly the container `objects.sidecar_container` builds (the one
the managed router runs, listening on loopback), the `modelrollout.io/router: NAME` label
the controller finds and polls router pods by, and, when it names no account of its own, the
`<NAME>-router` ServiceAccount, which may read the router's ConfigMap. A Pod that already has
the container is left alone, so a second pass changes nothing.

Pure: pods in, pods and RFC 6902 patches out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonpatch

from controller.api.resource import ModelRollout
from controller.kube.objects import DEFAULT_ROUTER_IMAGE, LABEL_ROUTER, router_name, sidecar_container

__all__ = ["INJECT_KEY", "SIDECAR_NAME", "Injection", "requested_rollout", "already_injected", "inject", "pod_patch"]

INJECT_KEY = "modelrollout.io/inject"
SIDECAR_NAME = "modelrollout-router"
# A Pod that names no account runs under `default`; the ServiceAccount admission plugin has
# already written that name by the time a mutating webhook sees the Pod.
_DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True)
class Injection:
    """The Pod as it should be admitted, and the ServiceAccount it will run under."""

    pod: dict[str, Any]
    account: str


def requested_rollout(pod: dict[str, Any]) -> str | None:
    """The ModelRollout the Pod asks a router of, by label first, then by annotation; None when it asks none."""
    metadata = pod.get("metadata") or {}
    for source in (metadata.get("labels") or {}, metadata.get("annotations") or {}):
        name = source.get(INJECT_KEY)
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


def already_injected(pod: dict[str, Any]) -> bool:
    containers = (pod.get("spec") or {}).get("containers") or []
    return any(isinstance(c, dict) and c.get("name") == SIDECAR_NAME for c in containers)


def _account(spec: dict[str, Any]) -> str:
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or _DEFAULT_ACCOUNT)


def inject(pod: dict[str, Any], rollout: ModelRollout, default_image: str = DEFAULT_ROUTER_IMAGE) -> Injection:
    """The Pod with the router of `rollout` beside its containers (unchanged when it has it already).

    `default_image` is the controller's router image, for a rollout that sets no `spec.router.image`.
    """
    spec = pod.get("spec") or {}
    if already_injected(pod):
        return Injection(pod, _account(spec))
    if not isinstance(spec.get("containers"), list):
        raise ValueError("the Pod has no `spec.containers` list to add the router to")
    injected = copy.deepcopy(pod)
    metadata = injected.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), LABEL_ROUTER: rollout.name}
    injected_spec = injected["spec"]
    injected_spec["containers"] = [*injected_spec["containers"], sidecar_container(rollout, default_image)]
    if _account(injected_spec) == _DEFAULT_ACCOUNT:
        injected_spec["serviceAccountName"] = router_name(rollout)
        if "serviceAccount" in injected_spec:  # the deprecated alias must not contradict the new name
            injected_spec["serviceAccount"] = router_name(rollout)
    return Injection(injected, _account(injected_spec))


def pod_patch(original: dict[str, Any], wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """The RFC 6902 operations that turn `original` into `wanted` (none when they are equal)."""
    operations: list[dict[str, Any]] = jsonpatch.make_patch(original, wanted).patch
    return operations
