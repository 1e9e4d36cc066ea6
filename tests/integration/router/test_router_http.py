"""The data port's own HTTP/1.1 server: keep-alive, pipelining, 100-continue, chunked bodies, a graceful stop."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest
from router_harness import RouterFactory, RouterProcess

pytestmark = pytest.mark.integration


def _read_answers(connection: socket.socket, count: int, timeout_s: float = 5.0) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """`count` whole answers (status line, headers, body) read off one connection, in order."""
    connection.settimeout(timeout_s)
    buffer = b""
    answers = []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = connection.recv(65536)
            if not chunk:
                raise AssertionError(f"the connection closed after {len(answers)} answers")
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines)
        length = int(headers.get(b"content-length", b"0"))
        while len(buffer) < length:
            buffer += connection.recv(65536)
        answers.append((status, headers, buffer[:length]))
        buffer = buffer[length:]
    return answers


def _echo_request(tag: str, version: str = "1.1", extra: str = "") -> bytes:
    return f"GET /echo?tag={tag} HTTP/{version}\r\nhost: x\r\n{extra}\r\n".encode()


def test_pipelined_requests_are_answered_in_order_on_one_connection(module_router: RouterProcess) -> None:
    with socket.create_connection(("127.0.0.1", module_router.port)) as connection:
        connection.sendall(b"".join(_echo_request(str(i)) for i in range(5)))
        answers = _read_answers(connection, 5)
    assert [a[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 5
    assert [json.loads(a[2])["query"] for a in answers] == [f"tag={i}" for i in range(5)]
    assert len({a[1][b"x-request-id"] for a in answers}) == 5


def test_a_pipelined_request_whose_body_comes_later_is_read_once_its_turn_comes(module_router: RouterProcess) -> None:
    body = b'{"instances": [[0.5]]}'
    slow = b"GET /echo?tag=slow HTTP/1.1\r\nhost: x\r\nx-delay-ms: 200\r\n\r\n"
    second = b"POST /echo?tag=second HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", module_router.port)) as connection:
        connection.sendall(slow + second)  # the second waits its turn with its body still to come
        time.sleep(0.4)
        connection.sendall(body)
        answers = _read_answers(connection, 2)
    assert [json.loads(a[2])["query"] for a in answers] == ["tag=slow", "tag=second"]
    assert json.loads(answers[1][2])["body"] == body.decode()


def test_http_1_0_closes_unless_asked_to_keep_alive(module_router: RouterProcess) -> None:
    with socket.create_connection(("127.0.0.1", module_router.port)) as connection:
        connection.sendall(_echo_request("once", "1.0"))
        ((status, headers, _body),) = _read_answers(connection, 1)
        assert headers[b"connection"] == b"close"
        assert connection.recv(10) == b""  # closed by the router
    with socket.create_connection(("127.0.0.1", module_router.port)) as connection:
        for tag in ("a", "b"):
            connection.sendall(_echo_request(tag, "1.0", "connection: keep-alive\r\n"))
            ((status, headers, body),) = _read_answers(connection, 1)
            assert status.startswith(b"HTTP/1.1 200") and json.loads(body)["query"] == f"tag={tag}"


def test_http_1_1_closes_when_the_client_says_close(module_router: RouterProcess) -> None:
    with socket.create_connection(("127.0.0.1", module_router.port)) as connection:
        connection.sendall(_echo_request("last", "1.1", "connection: close\r\n"))
        ((status, headers, _body),) = _read_answers(connection, 1)
        assert status.startswith(b"HTTP/1.1 200") and headers[b"connection"] == b"close"
        assert connection.recv(10) == b""


def test_expect_100_continue_is_answered_before_the_body_is_sent(module_router: RouterProcess) -> None:
    body = json.dumps({"instances": [[0.5]]}).encode()
    head = f"POST /v1/models/m:predict HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\nexpect: 100-continue\r\n\r\n"
    with socket.create_connection(("127.0.0.1", module_router.port), timeout=5) as connection:
        connection.sendall(head.encode())
        assert connection.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        connection.sendall(body)
        ((status, _headers, answer),) = _read_answers(connection, 1)
    assert status.startswith(b"HTTP/1.1 200") and json.loads(answer) == {"predictions": [0.5]}


def test_a_chunked_body_reaches_the_model_whole(module_router: RouterProcess) -> None:
    parts = [b"first,", b"second,", b"third"]
    answer = module_router.client.post(module_router.url + "/echo", content=iter(parts))
    assert answer.status_code == 200 and answer.json()["body"] == "first,second,third"


def test_sigterm_lets_a_request_in_flight_finish_and_refuses_new_connections(
    start_router: RouterFactory, base_config: dict[str, Any]
) -> None:
    router = start_router(base_config)
    outcome: dict[str, Any] = {}

    def slow_call() -> None:
        outcome["answer"] = httpx.post(
            router.url + "/v1/models/m:predict", json={"instances": [[0.5]]}, headers={"x-delay-ms": "800"}, timeout=10
        )

    caller = threading.Thread(target=slow_call)
    caller.start()
    time.sleep(0.3)  # the call is at the model now
    assert router.process.stop() == 0
    caller.join(10)
    assert outcome["answer"].status_code == 200 and outcome["answer"].json() == {"predictions": [0.5]}
    with pytest.raises(httpx.ConnectError):
        httpx.get(router.url + "/echo", timeout=2)
