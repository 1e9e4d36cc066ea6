"""Suite-wide fixtures: the real Kubernetes control plane (one per session) and a namespace per test.

The control plane's binaries are found through KUBEBUILDER_ASSETS, as envtest finds them; without
them the tests that need it skip with a line saying how to get them. CI always sets it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.controlplane import ASSETS_HINT, ControlPlane, find_assets


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    assets = find_assets()
    if assets is None:
        if os.environ.get("MODELROLLOUT_REQUIRE_CONTROL_PLANE") == "1":
            pytest.fail(f"MODELROLLOUT_REQUIRE_CONTROL_PLANE=1 but no control plane: {ASSETS_HINT}")
        pytest.skip(f"no real Kubernetes control plane: {ASSETS_HINT}")
    with ControlPlane(assets, tmp_path_factory.mktemp("control-plane")) as plane:
        yield plane


@pytest.fixture
def real_namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace on the real control plane, deleted (with everything in it) after the test."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    with control_plane.api_client() as api_client:
        core = k8s.CoreV1Api(api_client)
        core.create_namespace({"metadata": {"name": name}})
        yield name
        try:
            core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
