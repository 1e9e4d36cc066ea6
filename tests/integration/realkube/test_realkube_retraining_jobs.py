"""Retraining Jobs on a real API server, under install.yaml's RBAC: one Job per episode, owned by the rollout.

The launcher runs as the controller's ServiceAccount, so a missing grant in the chart's
ClusterRole shows as a 403 here; a second launch of the episode (another replica, or the
controller after a restart) meets AlreadyExists and creates nothing. The real garbage collector
takes the Job away with its ModelRollout.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client as k8s

from controller.api.monitoring import MonitoringCondition
from controller.api.resource import GROUP, PLURAL, VERSION
from controller.engine.actions import TriggerRetraining
from controller.kube.client import KubeClient, load_configuration
from controller.kube.retraining_jobs import KubeJobLauncher
from controller.providers.retraining import RetrainingFailed
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import (
    CONTROLLER_ACCOUNT,
    CONTROLLER_NAMESPACE,
    CONTROLLER_USER,
    apply_controller_rbac,
    async_wait_until,
    audit_requests,
    can,
    create_rollout,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# A name long enough that the Job's name must cut it to stay within 63 characters.
NAME = "fraud-detector-with-a-rather-long-name-for-a-model-rollout"
EVIDENCE = {"features": [{"feature": "amount", "psi": 0.42, "adjustedPValue": 3e-9}], "window": "15m0s"}
JOB_TEMPLATE = {
    "backoffLimit": 0,
    "template": {"spec": {
        "initContainers": [{"name": "fetch", "image": "fetch:1"}],
        "containers": [{"name": "train", "image": "train:1", "env": [{"name": "EPOCHS", "value": "3"}]}],
    }},
}  # fmt: skip
MONITORING = {"retraining": {"conditions": ["DataDrift"], "job": JOB_TEMPLATE}}


def _jobs(control_plane: ControlPlane, namespace: str) -> list[Any]:
    with control_plane.api_client() as admin:
        return list(k8s.BatchV1Api(admin).list_namespaced_job(namespace, label_selector=f"modelrollout.io/rollout={NAME}").items)


def _job_creates(control_plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    return [
        e for e in audit_requests(control_plane, namespace=namespace, user=CONTROLLER_USER)
        if e["objectRef"].get("resource") == "jobs" and e["verb"] == "create"
    ]  # fmt: skip


async def test_one_job_per_episode_with_the_evidence_owned_by_the_rollout(
    control_plane: ControlPlane, real_namespace: str, crd: None, tmp_path: Path
) -> None:
    apply_controller_rbac(control_plane)
    # The authorizer learns of a new binding from its cache: wait for the grant under test.
    await async_wait_until("the controller's ClusterRoleBinding to take effect",
                           lambda: can(control_plane, CONTROLLER_USER, real_namespace, "create", "jobs", "batch"))  # fmt: skip
    rollout = create_rollout(control_plane, real_namespace, NAME, monitoring=MONITORING)
    assert rollout.spec.monitoring is not None and rollout.spec.monitoring.retraining is not None
    action = TriggerRetraining(
        episode="datadrift-20260304T050607Z", condition=MonitoringCondition.DATA_DRIFT,
        retraining=rollout.spec.monitoring.retraining, evidence=EVIDENCE,
    )  # fmt: skip

    kubeconfig = control_plane.token_kubeconfig(tmp_path / "controller.kubeconfig", CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT)
    names = []
    for _ in range(2):  # a second launcher for the same episode: another replica, or the controller after a restart
        client = KubeClient(load_configuration(str(kubeconfig)), threads=1)
        try:
            names.append(await KubeJobLauncher(client).launch(rollout, action))
        finally:
            client.close()

    [job] = _jobs(control_plane, real_namespace)
    assert names == [job.metadata.name, job.metadata.name]
    # 63 characters: the rollout's name cut to 44, "-retrain-" and 10 of the episode's hash.
    assert re.fullmatch(re.escape(NAME[:44]) + "-retrain-[0-9a-f]{10}", job.metadata.name), job.metadata.name
    requests = await async_wait_until("both creates in the audit log",
                                      lambda: (r := _job_creates(control_plane, real_namespace)) and len(r) >= 2 and r)  # fmt: skip
    assert [r["responseStatus"]["code"] for r in requests] == [201, 409]

    evidence = orjson.dumps(EVIDENCE).decode()
    assert job.metadata.annotations["modelrollout.io/episode"] == action.episode
    assert orjson.loads(job.metadata.annotations["modelrollout.io/evidence"]) == EVIDENCE
    [owner] = job.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("ModelRollout", NAME, rollout.metadata["uid"], True)
    pod = job.spec.template.spec
    added = [("MODELROLLOUT_EPISODE", action.episode), ("MODELROLLOUT_EVIDENCE", evidence)]
    assert [(e.name, e.value) for e in pod.init_containers[0].env] == added
    assert [(e.name, e.value) for e in pod.containers[0].env] == [("EPOCHS", "3"), *added]
    assert (pod.restart_policy, job.spec.backoff_limit) == ("Never", 0)

    with control_plane.api_client() as admin:
        k8s.CustomObjectsApi(admin).delete_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, NAME)
    # The garbage collector may first have to discover the CRD's kind (it looks every 30 s).
    await async_wait_until("the Job collected with its ModelRollout", lambda: not _jobs(control_plane, real_namespace), timeout_s=120)


async def test_a_job_spec_the_api_server_refuses_is_a_final_failure(control_plane: ControlPlane, real_namespace: str, crd: None) -> None:
    rollout = create_rollout(control_plane, real_namespace, NAME, monitoring=MONITORING)
    no_containers = TriggerRetraining.model_validate({
        "episode": "qualitydegraded-1", "condition": "QualityDegraded", "evidence": {},
        "retraining": {"job": {"template": {"spec": {"containers": []}}}},
    })  # fmt: skip
    client = KubeClient(load_configuration(str(control_plane.kubeconfig_path)), threads=1)
    try:
        with pytest.raises(RetrainingFailed) as refused:
            await KubeJobLauncher(client).launch(rollout, no_containers)
    finally:
        client.close()
    assert refused.value.final and "422" in str(refused.value)
    assert _jobs(control_plane, real_namespace) == []
