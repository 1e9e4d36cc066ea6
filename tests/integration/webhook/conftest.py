"""Fixtures for the sidecar injector's tests: the CRD, an admin client, a webhook configuration of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.kube.client import KubeClient, load_configuration
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import apply_crd


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def admin(control_plane: ControlPlane) -> Iterator[k8s.ApiClient]:
    with control_plane.api_client() as api_client:
        apply_crd(api_client)
        yield api_client


@pytest.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[KubeClient]:
    """The controller's own client, as the admin."""
    client = KubeClient(load_configuration(str(control_plane.kubeconfig_path)), threads=4)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def configuration_name(admin: k8s.ApiClient, real_namespace: str) -> Iterator[str]:
    """A MutatingWebhookConfiguration name for this test; whatever the test made under it is deleted after."""
    name = f"modelrollout-sidecar-{real_namespace}"
    yield name
    try:
        k8s.AdmissionregistrationV1Api(admin).delete_mutating_webhook_configuration(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
