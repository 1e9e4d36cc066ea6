"""Retraining Jobs: a batch/v1 Job per monitoring episode, from `spec.monitoring.retraining.job`.

The Job is named after the rollout and a hash of the episode, so a second create for the same
episode (another replica, or this one after a restart) meets AlreadyExists, which counts as
done. Its containers get the episode and the evidence in environment variables, the Job the same
in annotations, and an owner reference to the ModelRollout takes it away with the rollout.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson

from controller.api.resource import ModelRollout
from controller.engine.actions import TriggerRetraining
from controller.kube.client import JOB, KubeClient
from controller.kube.errors import AlreadyExists, KubeError
from controller.kube.objects import LABEL_COMPONENT, LABEL_ROLLOUT, owner_reference
from controller.providers.retraining import RetrainingFailed

__all__ = [
    "KubeJobLauncher",
    "retraining_job",
    "job_name",
    "evidence_text",
    "EPISODE_ANNOTATION",
    "EVIDENCE_ANNOTATION",
    "EPISODE_ENV",
    "EVIDENCE_ENV",
    "MAX_EVIDENCE_CHARS",
]

EPISODE_ANNOTATION = "modelrollout.io/episode"
EVIDENCE_ANNOTATION = "modelrollout.io/evidence"
EPISODE_ENV = "MODELROLLOUT_EPISODE"
EVIDENCE_ENV = "MODELROLLOUT_EVIDENCE"
# All annotations of an object share 256 KiB; a container's environment variable is one exec
# string, which Linux caps at 128 KiB. The evidence is kept well below both.
MAX_EVIDENCE_CHARS = 32 * 1024
# A Job's name is also its Pods' `job-name` label value: at most 63 characters.
_NAME_CHARS = 63
_HASH_CHARS = 10


def job_name(rollout: ModelRollout, episode: str) -> str:
    """`<rollout>-retrain-<hash>`, the rollout's name cut so the whole stays within 63 characters."""
    digest = hashlib.sha256(f"{rollout.namespace}/{rollout.name}/{episode}".encode()).hexdigest()[:_HASH_CHARS]
    suffix = f"-retrain-{digest}"
    return rollout.name[: _NAME_CHARS - len(suffix)].rstrip("-.") + suffix


def evidence_text(evidence: dict[str, Any]) -> str:
    """The evidence as JSON; when too long, a JSON object saying so with the start of it."""
    text = orjson.dumps(evidence).decode()
    if len(text) <= MAX_EVIDENCE_CHARS:
        return text
    return orjson.dumps({"truncated": True, "chars": len(text), "head": text[: MAX_EVIDENCE_CHARS // 2]}).decode()


def retraining_job(rollout: ModelRollout, action: TriggerRetraining) -> dict[str, Any]:
    """The Job for one episode: the template's spec, the episode and evidence added to every container."""
    evidence = evidence_text(action.evidence)
    spec = copy.deepcopy(action.retraining.job or {})
    pod = spec.setdefault("template", {}).setdefault("spec", {})
    # A Job's Pods must not restart in place forever (the Pod default, Always, is refused for Jobs).
    pod.setdefault("restartPolicy", "Never")
    added = [{"name": EPISODE_ENV, "value": action.episode}, {"name": EVIDENCE_ENV, "value": evidence}]
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        kept = [e for e in container.get("env") or [] if e.get("name") not in (EPISODE_ENV, EVIDENCE_ENV)]
        container["env"] = kept + added
    metadata = {
        "name": job_name(rollout, action.episode),
        "namespace": rollout.namespace,
        "labels": {LABEL_ROLLOUT: rollout.name, LABEL_COMPONENT: "retraining", "app.kubernetes.io/managed-by": "modelrollout"},
        "annotations": {EPISODE_ANNOTATION: action.episode, EVIDENCE_ANNOTATION: evidence},
        "ownerReferences": [owner_reference(rollout)],
    }
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


class KubeJobLauncher:
    """The `JobLauncher` of a cluster: creates the episode's Job in the rollout's namespace."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client

    async def launch(self, rollout: ModelRollout, action: TriggerRetraining) -> str:
        job = retraining_job(rollout, action)
        name = str(job["metadata"]["name"])
        try:
            await self._client.create(JOB, rollout.namespace, job)
        except AlreadyExists:
            pass  # created for this episode before: by another replica, or by this one before a restart
        except KubeError as exc:
            # No answer, a 5xx or 429 may pass; any other refusal (a bad Job spec, no RBAC) will not.
            final = 400 <= exc.status < 500 and exc.status != 429
            raise RetrainingFailed(f"Job {name} not created: {exc}", final=final) from exc
        return name
