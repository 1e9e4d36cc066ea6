"""The optional Deployment readiness mode: status catches up with the spec after a delay."""

from __future__ import annotations

import time

from kubernetes import client as k8s

from tests.fakekube import FakeKube
from tests.unit.fakekube.sample_objects import deployment
from tests.unit.fakekube.watching import wait_until

DELAY_S = 0.2


def _ready(apps: k8s.AppsV1Api, name: str) -> tuple[int | None, int | None]:
    status = apps.read_namespaced_deployment_status(name, "default").status
    return (status.observed_generation, status.ready_replicas) if status else (None, None)


def test_a_deployment_becomes_ready_after_the_delay_and_again_after_a_change() -> None:
    with FakeKube(ready_after_s=DELAY_S) as kube, kube.api_client() as api:
        apps = k8s.AppsV1Api(api)
        created_at = time.monotonic()
        apps.create_namespaced_deployment("default", deployment("web", replicas=2))
        assert _ready(apps, "web") == (None, None)

        wait_until(lambda: _ready(apps, "web") == (1, 2), what="web ready at generation 1")
        assert time.monotonic() - created_at >= DELAY_S

        apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
        assert _ready(apps, "web") == (1, 2)
        wait_until(lambda: _ready(apps, "web") == (2, 3), what="web ready at generation 2")
        status = apps.read_namespaced_deployment_status("web", "default").status
        assert (status.replicas, status.updated_replicas, status.available_replicas) == (3, 3, 3)
        assert {c.type: c.status for c in status.conditions} == {"Available": "True", "Progressing": "True"}


def test_without_the_mode_deployments_stay_unready() -> None:
    with FakeKube() as kube, kube.api_client() as api:
        apps = k8s.AppsV1Api(api)
        apps.create_namespaced_deployment("default", deployment("web"))
        time.sleep(DELAY_S)
        assert _ready(apps, "web") == (None, None)


def test_a_deployment_scaled_to_zero_reports_no_replica_counts() -> None:
    with FakeKube(ready_after_s=0) as kube, kube.api_client() as api:
        apps = k8s.AppsV1Api(api)
        apps.create_namespaced_deployment("default", deployment("idle", replicas=0))
        wait_until(lambda: apps.read_namespaced_deployment_status("idle", "default").status is not None, what="idle to get a status")
        raw = kube.store.get("deployments", "default", "idle")["status"]
        assert raw["observedGeneration"] == 1 and "readyReplicas" not in raw and "replicas" not in raw
