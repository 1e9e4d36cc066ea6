"""The real control plane the operator tests run on: it authorizes, collects garbage, audits and stops cleanly."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.controlplane import ControlPlane, find_assets

pytestmark = [pytest.mark.integration]


def _eventually(what: str, check: Callable[[], object], timeout_s: float = 30.0) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def test_a_service_account_without_a_role_is_refused_and_the_refusal_is_audited(
    control_plane: ControlPlane, real_namespace: str, tmp_path: Path
) -> None:
    with control_plane.api_client() as admin:
        k8s.CoreV1Api(admin).create_namespaced_service_account(real_namespace, {"metadata": {"name": "nobody"}})
    kubeconfig = control_plane.token_kubeconfig(tmp_path / "kubeconfig", real_namespace, "nobody")
    with control_plane.api_client(kubeconfig) as as_nobody, pytest.raises(ApiException) as refused:
        k8s.CoreV1Api(as_nobody).list_namespaced_secret(real_namespace)
    assert refused.value.status == 403
    user = f"system:serviceaccount:{real_namespace}:nobody"
    audited = _eventually("the refusal in the audit log", lambda: [
        e for e in control_plane.audit_events()
        if e["user"]["username"] == user and e.get("objectRef", {}).get("resource") == "secrets"
    ])  # fmt: skip
    assert isinstance(audited, list) and audited[0]["responseStatus"]["code"] == 403


def test_the_controller_manager_makes_pods_for_a_deployment_and_collects_them_with_it(
    control_plane: ControlPlane, real_namespace: str
) -> None:
    labels = {"app": "probe"}
    deployment = {
        "metadata": {"name": "probe"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "probe:1"}]}}},
    }  # fmt: skip
    with control_plane.api_client() as admin:
        apps, core = k8s.AppsV1Api(admin), k8s.CoreV1Api(admin)
        apps.create_namespaced_deployment(real_namespace, deployment)
        _eventually("two Pods", lambda: len(core.list_namespaced_pod(real_namespace, label_selector="app=probe").items) == 2)
        apps.delete_namespaced_deployment("probe", real_namespace)
        _eventually("the Pods collected", lambda: not core.list_namespaced_pod(real_namespace, label_selector="app=probe").items)
        assert not apps.list_namespaced_replica_set(real_namespace).items


def test_stop_ends_every_process_it_started(tmp_path: Path) -> None:
    assets = find_assets()
    if assets is None:
        pytest.skip("no control plane assets (KUBEBUILDER_ASSETS)")
    plane = ControlPlane(assets, tmp_path, controller_manager=False).start()
    processes = plane.processes
    assert [p.poll() for p in processes] == [None, None]  # etcd and kube-apiserver run
    plane.stop()
    assert all(p.poll() is not None for p in processes)


def test_without_assets_nothing_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    assert find_assets() is None
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))  # a directory without the binaries
    assert find_assets() is None
