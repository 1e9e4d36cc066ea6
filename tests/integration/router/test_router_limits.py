"""The router's limits under hostile load, through the real process: each one hit, answered with a fast
503 that says so (with retry-after), counted by reason in /metrics, while stable traffic goes on."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from router_harness import Backend, RouterFactory, RouterProcess, wait_until

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"
TO_CANDIDATE = {"x-to": "candidate"}
BODY = {"instances": [[0.5]]}


@pytest.fixture(scope="module")
def slow_candidate() -> Iterator[Backend]:
    backend = Backend.start("slow-candidate", "--delay-ms", "800")
    yield backend
    backend.stop()


def metric(router: RouterProcess, name: str) -> float:
    """One sample of the router's /metrics, e.g. 'shed_total{reason="mirror"}' or 'buffered_bytes'."""
    match = re.search(rf"^modelrollout_router_{re.escape(name)} (\S+)$", router.metrics(), re.MULTILINE)
    assert match, f"no sample modelrollout_router_{name}"
    return float(match.group(1))


def shed(router: RouterProcess, reason: str) -> float:
    return metric(router, f'shed_total{{reason="{reason}"}}')


def assert_stable_serves(router: RouterProcess) -> None:
    answer = router.client.post(router.url + PREDICT, json=BODY)
    assert (answer.status_code, answer.headers["x-model-variant"]) == (200, "stable")


def assert_fast_503(answer: httpx.Response, words: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
    assert words in answer.json()["error"]
    assert answer.elapsed.total_seconds() < 0.5  # refused at once, not after waiting for room


def routed_config(stable: Backend, candidate: Backend, **fields: Any) -> dict[str, Any]:
    """Stable by default; requests with `x-to: candidate` to the candidate."""
    return {
        "generation": 1, "upstreams": {"stable": stable.url, "candidate": candidate.url},
        "headerRoutes": [{"header": "x-to", "value": "candidate", "variant": "candidate"}], **fields,
    }  # fmt: skip


@contextmanager
def candidate_calls_in_flight(router: RouterProcess, count: int) -> Iterator[httpx.Client]:
    """`count` calls to the (slow) candidate held open until the block ends, then answered."""
    with httpx.Client(timeout=10) as client:
        held = [
            threading.Thread(target=client.post, args=(router.url + PREDICT,), kwargs={"json": BODY, "headers": TO_CANDIDATE})
            for _ in range(count)
        ]
        for thread in held:
            thread.start()
        wait_until(lambda: metric(router, 'in_flight{variant="candidate"}') == count, what=f"{count} candidate calls in flight")
        yield client
        for thread in held:
            thread.join()


def _open(port: int, data: bytes = b"") -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    if data:
        connection.sendall(data)
    return connection


def test_connections_past_the_limit_get_503_at_once_and_the_held_ones_still_serve(
    start_router: RouterFactory, stable_backend: Backend
) -> None:
    router = start_router({"generation": 1, "upstreams": {"stable": stable_backend.url}, "maxClientConnections": 4})
    with ExitStack() as held:
        connections = [held.enter_context(_open(router.port)) for _ in range(4)]
        wait_until(lambda: metric(router, "client_connections") == 4, what="four connections in")
        with _open(router.port) as extra:
            head, _, body = extra.makefile("rb").read().partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in head
        assert "client connections" in json.loads(body)["error"]
        payload = json.dumps(BODY).encode()
        connections[0].sendall(b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (PREDICT.encode(), len(payload), payload))
        assert connections[0].recv(65536).startswith(b"HTTP/1.1 200 ")  # a connection already in is served
    assert shed(router, "client_connections") == 1
    wait_until(lambda: router.client.post(router.url + PREDICT, json=BODY).status_code == 200, what="room again once they closed")


def test_requests_in_flight_past_the_limit_of_a_variant_get_503_and_the_other_variant_is_untouched(
    start_router: RouterFactory, stable_backend: Backend, slow_candidate: Backend
) -> None:
    router = start_router(routed_config(stable_backend, slow_candidate, maxInFlightPerVariant=3))
    with candidate_calls_in_flight(router, 3) as client:
        refused = client.post(router.url + PREDICT, json=BODY, headers=TO_CANDIDATE)
        assert_fast_503(refused, "3 requests in flight to the candidate")
        assert refused.headers["x-model-variant"] == "candidate" and refused.json()["requestId"] == refused.headers["x-request-id"]
        for _ in range(10):
            assert_stable_serves(router)
    assert router.client.post(router.url + PREDICT, json=BODY, headers=TO_CANDIDATE).status_code == 200  # room again
    assert shed(router, "in_flight") == 1


def test_bodies_held_past_the_byte_budget_get_503_and_small_requests_still_pass(
    start_router: RouterFactory, stable_backend: Backend
) -> None:
    config = {"generation": 1, "upstreams": {"stable": stable_backend.url}, "maxBodyBytes": 1000, "maxBufferedBytes": 3000}
    router = start_router(config)
    head = b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n" % PREDICT.encode()
    with ExitStack() as held:
        for _ in range(3):  # 3 x 900 bytes of bodies not yet whole: 2,700 of 3,000 held
            held.enter_context(_open(router.port, head + b" " * 900))
        wait_until(lambda: metric(router, "buffered_bytes") == 2700, what="2,700 bytes held")
        with _open(router.port, head + b" " * 400) as over:  # 3,100: over the budget
            answer_head, _, body = over.makefile("rb").read().partition(b"\r\n\r\n")
        assert answer_head.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in answer_head
        assert "request bytes" in json.loads(body)["error"]
        assert_stable_serves(router)  # 30 bytes still fit
    assert shed(router, "buffered_bytes") == 1
    wait_until(lambda: router.stats()["clientDisconnects"] >= 3, what="the held clients counted gone")
    big = router.client.post(router.url + PREDICT, content=json.dumps({"instances": [[0.5]] * 60}).encode())
    assert big.status_code == 200  # the budget came back when they left


def test_mirrored_copies_are_shed_first_while_the_candidate_is_half_full(
    start_router: RouterFactory, stable_backend: Backend, slow_candidate: Backend
) -> None:
    router = start_router(routed_config(stable_backend, slow_candidate, mirrorPercent=100, maxInFlightPerVariant=4))
    # Two of four candidate slots taken: live candidate traffic comes before copies.
    with candidate_calls_in_flight(router, 2):
        for _ in range(5):
            assert_stable_serves(router)
    assert shed(router, "mirror") == 5
    assert router.stats()["shadowComparison"]["mirrored"] == 0
