"""Every bad input gets its status code, and the router keeps serving afterwards."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from router_harness import Backend, RouterFactory, RouterProcess, free_port

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"
LIMIT = 4096


@pytest.fixture(scope="module")
def router(module_router: RouterProcess, base_config: dict[str, Any]) -> Iterator[RouterProcess]:
    module_router.reconfigure({**base_config, "maxBodyBytes": LIMIT, "timeoutSeconds": 0.5})
    yield module_router
    assert "Traceback" not in module_router.process.output()


@pytest.fixture(autouse=True)
def still_serving(router: RouterProcess) -> Iterator[None]:
    yield
    answer = router.client.post(router.url + PREDICT, json={"instances": [[0.5]]})
    assert answer.status_code == 200 and answer.json() == {"predictions": [0.5]}


def exchange(port: int, data: bytes, *, close_after_send: bool = False) -> bytes:
    """Send raw bytes on a fresh connection; what came back until the server closed or went quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as connection:
        connection.sendall(data)
        if close_after_send:
            return b""
        chunks = []
        try:
            while chunk := connection.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and not close_after_send:
                    connection.settimeout(0.3)
        except TimeoutError:
            pass
        return b"".join(chunks)


def assert_json_error(answer: httpx.Response, status: int, words: str) -> None:
    assert answer.status_code == status
    assert words in answer.json()["error"]
    assert answer.json()["requestId"] == answer.headers["x-request-id"]
    assert answer.headers["x-model-variant"] in ("stable", "candidate")


def test_a_body_over_the_limit_is_413(router: RouterProcess) -> None:
    assert_json_error(router.client.post(router.url + PREDICT, content=b"x" * (LIMIT + 1)), 413, f"{LIMIT}-byte limit")
    chunked = router.client.post(router.url + PREDICT, content=iter([b"y" * 3000, b"y" * 3000]))
    assert_json_error(chunked, 413, "limit")
    assert router.client.post(router.url + "/echo", content=b"z" * LIMIT).json()["body"] == "z" * LIMIT


def test_non_json_is_proxied_untouched_and_counted_as_not_analysed(router: RouterProcess) -> None:
    before = router.stats()["stable"]["notAnalysed"]
    binary = bytes(range(256)) * 4
    echoed = router.client.post(router.url + "/echo", content=binary, headers={"content-type": "application/octet-stream"})
    assert echoed.status_code == 200 and echoed.json()["body"].encode("latin-1") == binary
    text = router.client.get(router.url + "/text")
    assert (text.status_code, text.text) == (200, "plain words, not JSON")
    assert text.headers["content-type"].startswith("text/plain")
    unknown_protocol = router.client.post(router.url + "/status/200", json={"something": "else"})
    assert unknown_protocol.status_code == 200 and unknown_protocol.json() == {}
    assert router.stats()["stable"]["notAnalysed"] - before == 3


def test_a_refused_upstream_is_502_with_a_json_error(router: RouterProcess, base_config: dict[str, Any]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    router.reconfigure({**base_config, "upstreams": {"stable": dead}, "maxBodyBytes": LIMIT, "timeoutSeconds": 0.5})
    try:
        before = router.stats()["stable"]["errors"]["connect"]
        assert_json_error(router.client.post(router.url + PREDICT, json={"instances": [[0.5]]}), 502, f"cannot connect to {dead}")
        assert router.stats()["stable"]["errors"]["connect"] == before + 1
    finally:
        router.reconfigure({**base_config, "maxBodyBytes": LIMIT, "timeoutSeconds": 0.5})


def test_an_upstream_that_hangs_up_is_502(router: RouterProcess) -> None:
    assert_json_error(router.client.post(router.url + "/drop", json={}), 502, "closed the connection")


def test_an_upstream_timeout_is_504(router: RouterProcess) -> None:
    before = router.stats()["stable"]["errors"]["timeout"]
    started = time.monotonic()
    answer = router.client.post(router.url + PREDICT, json={"instances": [[0.5]]}, headers={"x-delay-ms": "3000"})
    assert_json_error(answer, 504, "within 0.5s")
    assert time.monotonic() - started < 2.5
    assert router.stats()["stable"]["errors"]["timeout"] == before + 1


def test_a_client_gone_mid_body_is_counted_and_nothing_leaks(router: RouterProcess) -> None:
    before = router.stats()["clientDisconnects"]
    head = f"POST {PREDICT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"
    exchange(router.port, head.encode() + b'{"instan', close_after_send=True)
    deadline = time.monotonic() + 5
    while router.stats()["clientDisconnects"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert router.stats()["clientDisconnects"] == before + 1


def test_a_client_gone_while_the_model_answers_leaks_nothing(router: RouterProcess) -> None:
    body = json.dumps({"instances": [[0.5]]})
    request = f"POST {PREDICT} HTTP/1.1\r\nhost: x\r\nx-delay-ms: 300\r\ncontent-length: {len(body)}\r\n\r\n{body}"
    before = router.stats()["stable"]["requests"]
    for _ in range(5):
        exchange(router.port, request.encode(), close_after_send=True)
    time.sleep(0.6)
    assert router.stats()["stable"]["requests"] == before + 5
    assert "Error" not in router.process.output()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nhost: x\r\nthis line has no colon\r\n\r\n",
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nhost: x\r\nbad\x01name: v\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
)
def test_malformed_requests_are_400(router: RouterProcess, request_bytes: bytes) -> None:
    assert exchange(router.port, request_bytes).startswith(b"HTTP/1.1 400 ")


def test_a_chunk_size_that_is_not_hex_is_400_with_the_request_id_and_no_disconnect_counted(router: RouterProcess) -> None:
    before = router.stats()["clientDisconnects"]
    with socket.create_connection(("127.0.0.1", router.port), timeout=3) as connection:
        connection.sendall(f"POST {PREDICT} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n".encode())
        time.sleep(0.1)  # the head is in before the bad chunk, as a slow client sends it
        connection.sendall(b"zz\r\nhello\r\n0\r\n\r\n")
        head, _, body = connection.makefile("rb").read().partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"x-request-id: " in head
    assert json.loads(body)["error"].startswith("malformed HTTP request")
    assert router.stats()["clientDisconnects"] == before


def test_a_valid_request_then_pipelined_garbage_gets_200_then_400(router: RouterProcess) -> None:
    body = json.dumps({"instances": [[0.5]]})
    valid = f"POST {PREDICT} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n{body}"
    answer = exchange(router.port, valid.encode() + b"GARBAGE \x01\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and b'{"predictions":[0.5]}' in answer.replace(b" ", b"")
    assert b"\r\nHTTP/1.1 400 " in answer or b"}HTTP/1.1 400 " in answer


@pytest.mark.parametrize("request_id", ["has space", "x" * 201, "semi;colon"])
def test_a_malformed_request_id_is_400_naming_the_header(router: RouterProcess, request_id: str) -> None:
    answer = router.client.post(router.url + PREDICT, json={"instances": [[0.5]]}, headers={"x-request-id": request_id})
    assert_json_error(answer, 400, "x-request-id")
    assert answer.headers["x-request-id"] != request_id


def test_a_failed_candidate_can_be_retried_on_the_stable(start_router: RouterFactory, stable_backend: Backend) -> None:
    upstreams = {"stable": stable_backend.url, "candidate": f"http://127.0.0.1:{free_port()}"}
    config = {"generation": 1, "upstreams": upstreams, "weights": {"stable": 0, "candidate": 100}, "retryCandidateOnStable": True}
    router = start_router(config)
    answers = [router.client.post(router.url + PREDICT, json={"instances": [[0.5]]}) for _ in range(10)]
    assert {(a.status_code, a.headers["x-model-variant"]) for a in answers} == {(200, "stable")}
    stats = router.stats()
    assert (stats["candidate"]["requests"], stats["candidate"]["errors"]["connect"], stats["stable"]["requests"]) == (10, 10, 10)
    router.reconfigure({**config, "retryCandidateOnStable": False})
    assert router.client.post(router.url + PREDICT, json={"instances": [[0.5]]}).status_code == 502


def test_head_answers_keep_the_upstream_length_and_no_body(router: RouterProcess) -> None:
    answer = router.client.head(router.url + "/text")
    full = router.client.get(router.url + "/text")
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-length"] == full.headers["content-length"] == str(len(full.content))
