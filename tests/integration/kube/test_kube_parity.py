"""Where the stand-in once differed from the real API server, both now answer alike.

Each test runs the same request on both servers; a difference found later gets its test here,
beside the fix in `tests.fakekube`.
"""

from __future__ import annotations

import orjson
import pytest
from kubernetes.client.exceptions import ApiException

from tests.integration.kube.backends import Backend
from tests.integration.kube.conftest import ON_BOTH
from tests.integration.kube.rest import Rest

pytestmark = [pytest.mark.integration]

SLICES = "endpointslices.discovery.k8s.io"


def _slice(name: str, address: str) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "admin", "port": 9090, "protocol": "TCP"}],
    }


@ON_BOTH
@pytest.mark.parametrize("address, words", [
    ("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
    ("169.254.10.1", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("0.0.0.0", "may not be unspecified (0.0.0.0)"),
    ("224.0.0.9", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"),
], ids=["loopback", "link-local", "unspecified", "multicast"])  # fmt: skip
def test_an_endpoint_slice_may_not_list_a_loopback_or_link_local_address(backend: Backend, address: str, words: str) -> None:
    api = Rest(backend.admin)
    with pytest.raises(ApiException) as refused:
        api.create(SLICES, backend.namespace, _slice("refused", address))
    answer = orjson.loads(refused.value.body)
    assert refused.value.status == 422 and answer["reason"] == "Invalid"
    assert (
        answer["message"]
        == f'EndpointSlice.discovery.k8s.io "refused" is invalid: endpoints[0].addresses[0]: Invalid value: "{address}": {words}'
    )
    # An address of the pod range, where the Scene lists its routers, is kept.
    kept = api.create(SLICES, backend.namespace, _slice("kept", "10.244.255.1"))
    assert kept["endpoints"][0]["addresses"] == ["10.244.255.1"]
