"""The sidecar injector's answer to one admission request: find the rollout, inject, check the account, warn.

Every outcome admits the Pod (the webhook is there to help, never to block): a Pod that asks
for no router, or for one of a ModelRollout that does not exist, cannot be read or is not in
sidecar mode, is admitted unchanged with a warning in the answer (kubectl prints it) and a
Warning Event. A Pod that
runs under an account the API server would not let read the router's ConfigMap is injected
all the same, with a Warning Event on the ModelRollout saying which account to bind. A
dry-run request records no Event: the webhook declares `sideEffects: None`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pydantic

from controller.api.resource import ModelRollout
from controller.api.spec import RouterMode
from controller.engine.actions import EmitEvent
from controller.kube.client import EVENT, MODELROLLOUT, SUBJECT_ACCESS_REVIEW, KubeClient
from controller.kube.errors import KubeError, NotFound
from controller.kube.events import COMPONENT, KubeEventSink
from controller.kube.leader import micro_time
from controller.kube.objects import DEFAULT_ROUTER_IMAGE, router_name
from controller.kube.webhook_inject import INJECT_KEY, Injection, inject, pod_patch, requested_rollout
from controller.kube.webhook_review import AdmissionRequest, review_response

__all__ = [
    "PodInjector",
    "ROLLOUT_NOT_FOUND",
    "ROLLOUT_UNREADABLE",
    "ROLLOUT_NOT_SIDECAR",
    "POD_NOT_INJECTABLE",
    "ACCOUNT_CANNOT_READ_CONFIG",
]

log = logging.getLogger(__name__)

ROLLOUT_NOT_FOUND = "SidecarRolloutNotFound"
ROLLOUT_UNREADABLE = "SidecarRolloutUnreadable"
ROLLOUT_NOT_SIDECAR = "SidecarModeOff"
POD_NOT_INJECTABLE = "SidecarNotInjectable"
ACCOUNT_CANNOT_READ_CONFIG = "SidecarAccountCannotReadConfig"


class _NotInjected(Exception):
    """The Pod is admitted without the router; `reason` and the message say why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _pod_label(pod: dict[str, Any], namespace: str) -> str:
    metadata = pod.get("metadata") or {}
    name = metadata.get("name") or f"{metadata.get('generateName') or ''}<generated>"
    return f"{namespace}/{name}"


class PodInjector:
    def __init__(self, client: KubeClient, now: Callable[[], datetime], instance: str, router_image: str = DEFAULT_ROUTER_IMAGE) -> None:
        self._client = client
        self._now = now
        self._instance = instance
        self._router_image = router_image
        self._rollout_events = KubeEventSink(client, now, instance)

    async def review(self, request: AdmissionRequest) -> dict[str, Any]:
        """The AdmissionReview answer to `request`: allowed always, with a patch when the router goes in."""
        pod = request.object
        wanted = requested_rollout(pod) if pod is not None and request.kind.kind == "Pod" and request.operation == "CREATE" else None
        if pod is None or wanted is None:
            return review_response(request.uid)
        namespace = request.namespace or str((pod.get("metadata") or {}).get("namespace") or "default")
        try:
            rollout = await self._rollout(namespace, wanted)
            injection = self._inject(pod, rollout, self._router_image)
        except _NotInjected as refusal:
            await self._warn_pod(request, namespace, pod, refusal.reason, str(refusal))
            return review_response(request.uid, warnings=[str(refusal)])
        patch = pod_patch(pod, injection.pod)
        warnings = await self._check_account(request, rollout, injection, _pod_label(pod, namespace)) if patch else []
        return review_response(request.uid, patch, warnings)

    async def _rollout(self, namespace: str, name: str) -> ModelRollout:
        def refusal(reason: str, why: str) -> _NotInjected:
            return _NotInjected(reason, f"{INJECT_KEY}: ModelRollout {namespace}/{name} {why}; the Pod runs without the router")

        try:
            raw = await self._client.get(MODELROLLOUT, namespace, name)
        except NotFound as exc:
            raise refusal(ROLLOUT_NOT_FOUND, "does not exist") from exc
        except KubeError as exc:
            raise refusal(ROLLOUT_UNREADABLE, f"could not be read ({exc})") from exc
        try:
            rollout = ModelRollout.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise refusal(ROLLOUT_UNREADABLE, f"has an invalid spec ({exc.errors()[0]['msg']})") from exc
        # In deployment mode the rollout's Service selects router pods by the label a sidecar carries:
        # an injected caller would be sent the rollout's own traffic.
        if rollout.spec.router.mode != RouterMode.SIDECAR:
            raise refusal(ROLLOUT_NOT_SIDECAR, "runs its router as a Deployment (set spec.router.mode: sidecar for sidecars)")
        return rollout

    @staticmethod
    def _inject(pod: dict[str, Any], rollout: ModelRollout, router_image: str) -> Injection:
        try:
            return inject(pod, rollout, router_image)
        except ValueError as exc:
            raise _NotInjected(POD_NOT_INJECTABLE, f"{INJECT_KEY}: {exc}; the Pod runs without the router") from exc

    async def _check_account(self, request: AdmissionRequest, rollout: ModelRollout, injection: Injection, pod: str) -> list[str]:
        """A warning (and an Event on the rollout) when the Pod's router will not be able to read its ConfigMap."""
        if (injection.pod.get("spec") or {}).get("automountServiceAccountToken") is False:
            message = (
                f"Pod {pod} sets automountServiceAccountToken: false, so its router has no token to read ConfigMap "
                f"{router_name(rollout)} with and cannot start: leave the token mounted"
            )
        elif injection.account == router_name(rollout) or await self._can_read_config(rollout, injection.account):
            return []
        else:
            message = (
                f"Pod {pod} runs under ServiceAccount {injection.account}, which may not read ConfigMap {router_name(rollout)}, "
                f"so its router cannot start: bind Role {router_name(rollout)} to it "
                f"(kubectl create rolebinding -n {rollout.namespace} {injection.account}-{router_name(rollout)} "
                f"--role {router_name(rollout)} --serviceaccount {rollout.namespace}:{injection.account})"
            )
        if not request.dry_run:
            await self._rollout_events.emit(rollout, EmitEvent(type="Warning", reason=ACCOUNT_CANNOT_READ_CONFIG, message=message))
        return [message]

    async def _can_read_config(self, rollout: ModelRollout, account: str) -> bool:
        """Asked of the API server's authorizer, so every RoleBinding the user made counts, not only ours."""
        namespace = rollout.namespace
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{namespace}:{account}",
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
                "resourceAttributes": {"namespace": namespace, "verb": "get", "resource": "configmaps", "name": router_name(rollout)},
            },
        }
        try:
            answer = await self._client.create(SUBJECT_ACCESS_REVIEW, "", review)
        except KubeError as exc:
            log.warning("could not ask whether ServiceAccount %s/%s may read its router's ConfigMap: %s", namespace, account, exc)
            return True  # unknown: say nothing rather than something wrong
        return bool((answer.get("status") or {}).get("allowed"))

    async def _warn_pod(self, request: AdmissionRequest, namespace: str, pod: dict[str, Any], reason: str, message: str) -> None:
        """A Warning Event about the Pod; a Deployment's Pods share one name prefix, so their repeats share one Event."""
        if request.dry_run:
            return
        metadata = pod.get("metadata") or {}
        name = str(metadata.get("name") or metadata.get("generateName") or "pod")
        digest = hashlib.sha256(f"{namespace}|{name}|{reason}|{message}".encode()).hexdigest()[:16]
        stamp = self._now()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name.rstrip('-.')}.{digest}", "namespace": namespace},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": namespace},
            "type": "Warning",
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._instance,
            "firstTimestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lastTimestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventTime": micro_time(stamp),
            "action": reason,
            "count": 1,
        }
        try:
            await self._client.create(EVENT, namespace, body)
        except KubeError as exc:  # a repeat (AlreadyExists) or a refusal: the answer's warning still says it
            log.info("event %s about %s/%s not recorded: %s", reason, namespace, name, exc)
