"""Monitoring references on a real API server, under install.yaml's own RBAC: the live reference in a
ConfigMap owned by the rollout (it survives a controller restart), a baseline from the ConfigMap
`modelrollout baseline --name` would write, and clear errors for a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client as k8s

from controller.api.monitoring import FeatureCounts, ModelReference
from controller.kube.client import KubeClient, load_configuration
from controller.kube.objects import LABEL_COMPONENT
from controller.kube.references import REFERENCE_KEY, ConfigMapReferenceStore, reference_configmap_name
from controller.routing.monitoring import ReferenceUnavailable
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import (
    CONTROLLER_ACCOUNT,
    CONTROLLER_NAMESPACE,
    CONTROLLER_USER,
    apply_controller_rbac,
    async_wait_until,
    can,
    create_rollout,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _reference(revision: str, samples: int) -> ModelReference:
    return ModelReference(
        source="live",
        revision=revision,
        captured_from=datetime(2024, 6, 1, 12, tzinfo=UTC),
        captured_to=datetime(2024, 6, 1, 12, 10, tzinfo=UTC),
        samples=samples,
        features={"age": FeatureCounts(bins=[0, 3, samples - 3]), "colour": FeatureCounts(categories={"red": samples})},
        labelled=10,
        correct=9,
    )


async def test_live_references_and_baselines_in_configmaps_under_install_yaml_rbac(
    control_plane: ControlPlane, real_namespace: str, crd: None, tmp_path: Path
) -> None:
    apply_controller_rbac(control_plane)
    await async_wait_until("the controller's ClusterRoleBinding to take effect",
                           lambda: can(control_plane, CONTROLLER_USER, real_namespace, "create", "configmaps"))  # fmt: skip
    rollout = create_rollout(control_plane, real_namespace, "iris", monitoring={"reference": {"captureWindow": "10m"}})
    with control_plane.api_client() as admin:
        baseline = ModelReference(source="baseline", samples=500, features={"age": FeatureCounts(bins=[10, 490])})
        k8s.CoreV1Api(admin).create_namespaced_config_map(
            real_namespace,
            {"metadata": {"name": "iris-training"}, "data": {REFERENCE_KEY: baseline.model_dump_json(by_alias=True)}},
        )
        k8s.CoreV1Api(admin).create_namespaced_config_map(real_namespace, {"metadata": {"name": "not-a-baseline"}, "data": {"x": "1"}})

    kubeconfig = control_plane.token_kubeconfig(tmp_path / "controller.kubeconfig", CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT)
    client = KubeClient(load_configuration(str(kubeconfig)), threads=2)
    try:
        store = ConfigMapReferenceStore(client)
        assert await store.load(rollout) is None
        await store.save(rollout, _reference("rev1", 100))
        await store.save(rollout, _reference("rev2", 200))  # a new capture replaces the old one
        # A fresh store (a restarted controller) reads what was saved.
        loaded = await ConfigMapReferenceStore(client).load(rollout)
        assert loaded == _reference("rev2", 200)
        assert await store.load_baseline(rollout, "iris-training") == baseline
        with pytest.raises(ReferenceUnavailable, match=f"ConfigMap {real_namespace}/missing not found; create it with"):
            await store.load_baseline(rollout, "missing")
        with pytest.raises(ReferenceUnavailable, match=f"has no {REFERENCE_KEY} key"):
            await store.load_baseline(rollout, "not-a-baseline")
    finally:
        client.close()

    with control_plane.api_client() as admin:
        live = k8s.CoreV1Api(admin).read_namespaced_config_map(reference_configmap_name(rollout), real_namespace)
    owners = live.metadata.owner_references or []
    assert [(o.kind, o.name, o.uid) for o in owners] == [("ModelRollout", "iris", rollout.metadata["uid"])]
    assert live.metadata.labels[LABEL_COMPONENT] == "reference"
