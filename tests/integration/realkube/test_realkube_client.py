"""The Kubernetes adapter's client against the real API server: what it refuses is a KubeError naming the field."""

from __future__ import annotations

import pytest

from controller.kube.client import DEPLOYMENT, KubeClient, load_configuration
from controller.kube.errors import KubeError
from tests.controlplane import ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_a_body_the_client_refuses_before_sending_is_a_kube_error_naming_the_field(
    control_plane: ControlPlane, real_namespace: str
) -> None:
    client = KubeClient(load_configuration(str(control_plane.kubeconfig_path)), threads=1)
    container = {"name": "m", "image": "x", "resources": {"requests": {"cpu": 0.5}}}  # a number: its typed model wants a string
    body = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "numeric"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [container]}}},
    }  # fmt: skip
    try:
        with pytest.raises(KubeError, match=r"refused before it was sent: .*resources\.requests\.cpu"):
            await client.create(DEPLOYMENT, real_namespace, body)
    finally:
        client.close()
