"""The stand-in as its own process (`python -m tests.fakekube`), and the discovery it serves."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from tests.fakekube import FakeKube
from tests.unit.fakekube.sample_objects import configmap

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    kubeconfig = tmp_path / "kubeconfig"
    command = [
        sys.executable,
        "-m",
        "tests.fakekube",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        "default",
        "--namespace",
        "ml",
    ]
    child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield child, kubeconfig
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(5)


def test_the_process_serves_the_official_client_through_its_kubeconfig(process: tuple[subprocess.Popen[str], Path]) -> None:
    child, kubeconfig = process
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    assert line.startswith("fakekube listening on http://127.0.0.1:")
    url = line.rsplit(" ", 1)[1]

    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration, persist_config=False)
    assert configuration.host == url
    with k8s.ApiClient(configuration) as api:
        core = k8s.CoreV1Api(api)
        assert [ns.metadata.name for ns in core.list_namespace().items] == ["default", "ml"]
        created = core.create_namespaced_config_map("ml", configmap("cfg"))
        assert httpx.post(f"{url}/fakekube/compact").json()["resourceVersion"] == created.metadata.resource_version
        with pytest.raises(ApiException) as caught:
            list(watch.Watch().stream(core.list_namespaced_config_map, "ml", resource_version="1", timeout_seconds=1))
        assert caught.value.status == 410

    child.send_signal(signal.SIGTERM)
    assert child.wait(5) == 0


def test_a_taken_port_is_reported_and_exits_non_zero(kube: FakeKube) -> None:
    port = kube.url.rsplit(":", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "tests.fakekube", "--port", port], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_discovery_lists_every_served_group_and_resource(api: k8s.ApiClient) -> None:
    groups = {group.name: group.preferred_version.group_version for group in k8s.ApisApi(api).get_api_versions().groups}
    assert groups == {
        "apps": "apps/v1",
        "coordination.k8s.io": "coordination.k8s.io/v1",
        "discovery.k8s.io": "discovery.k8s.io/v1",
        "events.k8s.io": "events.k8s.io/v1",
        "modelrollout.io": "modelrollout.io/v1alpha1",
        "rbac.authorization.k8s.io": "rbac.authorization.k8s.io/v1",
    }
    apps = {resource.name: resource.namespaced for resource in k8s.AppsV1Api(api).get_api_resources().resources}
    assert apps == {"deployments": True, "deployments/status": True}
    core = {resource.name for resource in k8s.CoreV1Api(api).get_api_resources().resources}
    assert {"namespaces", "configmaps", "services", "serviceaccounts", "pods", "events", "pods/status"} <= core
    assert k8s.VersionApi(api).get_code().major == "1"
