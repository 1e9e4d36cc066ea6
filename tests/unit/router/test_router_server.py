"""The data port's HTTP/1.1 server on a loopback socket, driven by scripted handlers.

The router's own tests (tests/integration/router) cover it behind the real proxy; these cover
what only a handler written for the purpose can provoke: a handler that raises, answers that
come later or at once for thousands of pipelined requests, the idle sweep, a stop with a call
in flight, and what is still held once requests are answered and connections closed.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import pytest

from router.server import DataServer, Exchange, Request

JSON = b"content-type: application/json\r\n"


class _Later:
    """An exchange that answers its body back after `delay_s`, from a timer: as an upstream callback would."""

    def __init__(self, request: Request, delay_s: float, log: list[str]) -> None:
        self.request = request
        self.delay_s = delay_s
        self.log = log

    def body_in(self) -> None:
        asyncio.get_running_loop().call_later(self.delay_s, self.request.respond, 200, JSON, self.request.body)

    def too_large(self) -> None:
        self.log.append("too large")
        self.request.respond(413, b"", b"too large")

    def abandoned(self) -> None:
        self.log.append("abandoned")

    def malformed(self, message: str) -> None:
        self.log.append("malformed")
        self.request.keep_alive = False
        self.request.respond(400, JSON, message.encode())


class ScriptedHandler:
    """`GET /now?...` answers at once with the query; `/raise` raises; anything else echoes its body later."""

    def __init__(self, delay_s: float = 0.05, body_limit: int = 1000) -> None:
        self.delay_s = delay_s
        self.body_limit = body_limit
        self.log: list[str] = []

    def open(self, request: Request) -> Exchange | None:
        if request.raw_path == b"/raise":
            raise RuntimeError("a bug in the handler")
        if request.raw_path == b"/now":
            request.respond(200, b"", request.target.partition(b"?")[2])
            return None
        request.body_limit = self.body_limit
        return _Later(request, self.delay_s, self.log)


async def _serving(handler: ScriptedHandler, test: Callable[[DataServer, int], Awaitable[None]], **options: float) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DataServer(handler, "127.0.0.1", port, **options)  # type: ignore[arg-type]
    await server.start()
    try:
        await asyncio.wait_for(test(server, port), timeout=20)
    finally:
        await server.stop(drain_s=1)


def run(handler: ScriptedHandler, test: Callable[[DataServer, int], Awaitable[None]], **options: float) -> None:
    asyncio.run(_serving(handler, test, **options))


async def read_answers(reader: asyncio.StreamReader, count: int) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    answers = []
    for _ in range(count):
        head = await reader.readuntil(b"\r\n\r\n")
        status, *lines = head[:-4].split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines)
        answers.append((status, headers, await reader.readexactly(int(headers.get(b"content-length", b"0")))))
    return answers


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n%s\r\n%s" % (path.encode(), len(body), extra, body)


def test_an_answer_given_later_from_a_callback_reaches_the_client_whole() -> None:
    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/echo", b'{"instances": [[1]]}'))
        ((status, headers, body),) = await read_answers(reader, 1)
        assert status == b"HTTP/1.1 200 OK" and headers[b"content-type"] == b"application/json"
        assert body == b'{"instances": [[1]]}'
        writer.close()

    run(ScriptedHandler(), scenario)


def test_thousands_of_pipelined_requests_answered_at_once_come_back_in_order() -> None:
    count = 3000

    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # The first is answered later, so the rest queue up behind it; each of those is answered
        # the moment its turn comes, which a server that went on down its queue from inside the
        # previous answer would turn into a recursion thousands deep.
        writer.write(post("/echo", b"first") + b"".join(b"GET /now?%d HTTP/1.1\r\nhost: x\r\n\r\n" % i for i in range(count)))
        answers = await read_answers(reader, count + 1)
        assert [body for _, _, body in answers] == [b"first"] + [b"%d" % i for i in range(count)]
        writer.close()

    run(ScriptedHandler(), scenario)


def test_a_handler_that_raises_gets_a_500_and_a_closed_connection_and_the_server_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /raise HTTP/1.1\r\nhost: x\r\n\r\n")
        ((status, headers, body),) = await read_answers(reader, 1)
        assert status.startswith(b"HTTP/1.1 500") and headers[b"connection"] == b"close" and b"see its log" in body
        assert await reader.read() == b""  # closed by the server
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /now?fine HTTP/1.1\r\nhost: x\r\n\r\n")
        assert (await read_answers(reader, 1))[0][2] == b"fine"
        writer.close()

    run(ScriptedHandler(), scenario)
    assert "a bug in the handler" in caplog.text


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives() -> None:
    handler = ScriptedHandler(body_limit=10)

    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n8\r\n12345678\r\n")
        await asyncio.sleep(0.1)
        assert handler.log == []  # 8 bytes: under the limit, still reading
        writer.write(b"8\r\n12345678\r\n")  # no end chunk: refused before the body is whole
        ((status, headers, _body),) = await read_answers(reader, 1)
        assert status.startswith(b"HTTP/1.1 413") and headers[b"connection"] == b"close"
        assert handler.log == ["too large"]

    run(handler, scenario)


def test_a_client_gone_before_its_body_is_in_is_reported_to_the_handler() -> None:
    handler = ScriptedHandler()

    async def scenario(server: DataServer, port: int) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.close()
        for _ in range(100):
            if handler.log:
                break
            await asyncio.sleep(0.02)
        assert handler.log == ["abandoned"]

    run(handler, scenario)


def test_idle_kept_alive_connections_are_closed_after_the_idle_timeout() -> None:
    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /now?a HTTP/1.1\r\nhost: x\r\n\r\n")
        await read_answers(reader, 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""
        assert 0.2 <= loop.time() - started <= 2.5  # 0.3 s idle, found by a sweep that runs every second

    run(ScriptedHandler(), scenario, keep_alive_s=0.3)


@pytest.mark.parametrize(
    ("stalled", "log"),
    [
        (b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-le", []),  # half a head
        (b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nhalf a bo", ["abandoned"]),
    ],
    ids=["mid-head", "mid-body"],
)
def test_a_client_stalled_half_way_through_a_request_is_cut_off_after_the_idle_timeout(stalled: bytes, log: list[str]) -> None:
    handler = ScriptedHandler()

    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(stalled)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""
        assert 0.2 <= loop.time() - started <= 2.5
        assert handler.log == log

    run(handler, scenario, keep_alive_s=0.3)


def test_a_slow_answer_is_not_cut_off_by_the_idle_timeout() -> None:
    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/echo", b"slow"))  # answered 1.5 s later, with the idle timeout at 0.3 s
        ((status, _headers, body),) = await read_answers(reader, 1)
        assert status == b"HTTP/1.1 200 OK" and body == b"slow"
        writer.close()

    run(ScriptedHandler(delay_s=1.5), scenario, keep_alive_s=0.3)


def test_stop_lets_an_answer_in_flight_go_out_then_closes() -> None:
    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/echo", b"late"))
        await asyncio.sleep(0.05)  # the request is in, its answer 0.3 s away
        stopping = asyncio.get_running_loop().create_task(server.stop(drain_s=5))
        ((status, headers, body),) = await read_answers(reader, 1)
        assert status == b"HTTP/1.1 200 OK" and body == b"late" and headers[b"connection"] == b"close"
        await stopping
        assert await reader.read() == b""
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)

    run(ScriptedHandler(delay_s=0.3), scenario)


async def _read_to_close(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout=5)


def test_a_chunk_size_that_is_not_hex_is_answered_400_by_the_handler_not_counted_as_gone() -> None:
    handler = ScriptedHandler()

    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)  # the head is in and the exchange open when the bad chunk comes
        writer.write(b"zz\r\nhello\r\n0\r\n\r\n")
        answer = await _read_to_close(reader)
        assert answer.startswith(b"HTTP/1.1 400 ") and b"connection: close" in answer
        assert handler.log == ["malformed"]

    run(handler, scenario)


@pytest.mark.parametrize("split_at", [None, 20, 45, 60])
def test_conflicting_content_lengths_get_400_however_the_bytes_arrive(split_at: int | None) -> None:
    request = b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nhello"

    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        parts = [request] if split_at is None else [request[:split_at], request[split_at:]]
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.02)
        assert (await _read_to_close(reader)).startswith(b"HTTP/1.1 400 ")

    run(ScriptedHandler(), scenario)


@pytest.mark.parametrize("first", [b"GET /now?first HTTP/1.1\r\nhost: x\r\n\r\n", post("/echo", b"first")])
def test_a_valid_request_followed_by_pipelined_garbage_gets_its_answer_then_400(first: bytes) -> None:
    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(first + b"GARBAGE \x01\r\n\r\n")
        answer = await _read_to_close(reader)
        ok, _, rest = answer.partition(b"\r\n\r\nfirst")
        assert ok.startswith(b"HTTP/1.1 200 "), answer
        assert rest.startswith(b"HTTP/1.1 400 ") and b"malformed HTTP request" in rest, answer

    run(ScriptedHandler(), scenario)


def test_pipelined_requests_before_the_garbage_are_all_answered_in_order() -> None:
    async def scenario(server: DataServer, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/echo", b"one") + post("/echo", b"two") + b"GET / HTTP/1.1\r\ncontent-length: x\r\n\r\n")
        answer = await _read_to_close(reader)
        assert answer.count(b"HTTP/1.1 200 ") == 2 and answer.index(b"one") < answer.index(b"two") < answer.index(b"HTTP/1.1 400 ")

    run(ScriptedHandler(), scenario)


@contextmanager
def no_garbage_collection() -> Iterator[None]:
    """What is freed inside is freed by reference counting alone, as in a router that runs no full collection for a while."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def alive(module: str, *names: str) -> Counter[str]:
    """How many objects of `module`'s classes `names` are still in memory."""
    return Counter(name for o in gc.get_objects() if type(o).__module__ == module and (name := type(o).__qualname__) in names)


def test_closed_connections_and_their_requests_are_freed_without_a_garbage_collection() -> None:
    async def scenario(server: DataServer, port: int) -> None:
        with no_garbage_collection():
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(post("/echo", b"x" * 100_000) + b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhalf")
                assert (await read_answers(reader, 1))[0][2] == b"x" * 100_000
                writer.close()  # the second request's body never comes
                await writer.wait_closed()
            while server.connections:  # until the server has seen every close
                await asyncio.sleep(0.01)
            assert alive("router.server", "_Connection", "Request") == Counter()

    run(ScriptedHandler(body_limit=200_000), scenario)


def test_a_kept_alive_connection_holds_nothing_of_the_requests_it_answered() -> None:
    async def scenario(server: DataServer, port: int) -> None:
        with no_garbage_collection():
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(3):
                writer.write(post("/echo", b"x" * 100_000))
                assert (await read_answers(reader, 1))[0][2] == b"x" * 100_000
            # Open and idle: its requests, and so their bodies, are gone.
            assert alive("router.server", "_Connection", "Request") == Counter({"_Connection": 1})
            writer.close()

    run(ScriptedHandler(body_limit=200_000), scenario)
