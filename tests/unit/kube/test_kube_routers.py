"""Router pods from EndpointSlices: only ready ones, at their admin port."""

from __future__ import annotations

from typing import Any

from controller.kube.routers import endpoints_of
from controller.routing.polling import RouterEndpoint


def _slice(endpoints: list[dict[str, Any]], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"endpoints": endpoints, "ports": ports}


def _endpoint(address: str, pod: str | None = None, ready: bool | None = True) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"addresses": [address]}
    if ready is not None:
        endpoint["conditions"] = {"ready": ready}
    if pod:
        endpoint["targetRef"] = {"kind": "Pod", "name": pod}
    return endpoint


ADMIN = [{"name": "admin", "port": 9090}]


def test_ready_and_unknown_endpoints_count_and_not_ready_ones_do_not() -> None:
    slices = [
        _slice([_endpoint("10.0.0.1", "r-1"), _endpoint("10.0.0.2", "r-2", ready=False), _endpoint("10.0.0.3", "r-3", ready=None)], ADMIN)
    ]
    assert endpoints_of(slices) == [
        RouterEndpoint("r-1", "http://10.0.0.1:9090"),
        RouterEndpoint("r-3", "http://10.0.0.3:9090"),
    ]


def test_a_slice_without_the_admin_port_lists_no_router() -> None:
    assert endpoints_of([_slice([_endpoint("10.0.0.1", "r-1")], [{"name": "data", "port": 8080}])]) == []


def test_ipv6_addresses_are_bracketed_and_a_pod_without_a_name_is_keyed_by_address() -> None:
    (endpoint,) = endpoints_of([_slice([_endpoint("fd00::1")], ADMIN)])
    assert endpoint == RouterEndpoint("fd00::1:9090", "http://[fd00::1]:9090")


def test_routers_on_one_host_are_told_apart_by_port() -> None:
    slices = [_slice([_endpoint("127.0.0.1", "r-1")], [{"name": "admin", "port": 1001}]),
              _slice([_endpoint("127.0.0.1", "r-2")], [{"name": "admin", "port": 1002}])]  # fmt: skip
    assert [e.url for e in endpoints_of(slices)] == ["http://127.0.0.1:1001", "http://127.0.0.1:1002"]
