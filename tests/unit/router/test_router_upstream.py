"""The upstream client against scripted HTTP servers on loopback: reuse, framing, every failure, and what it holds after."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import tracemalloc
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from router import upstream
from router.errors import UpstreamConnectError, UpstreamError, UpstreamProtocolError, UpstreamTimeout
from router.upstream import UpstreamPool, UpstreamResponse

# Reads one request (head and a content-length body) and answers with the bytes it returns;
# None closes the connection without answering; an empty answer sends nothing at all.
Script = Callable[[bytes, int], bytes | None]


class ScriptedServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next((line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), b"0")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.script(request, len(self.requests))
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def ok(body: bytes = b'{"predictions": [1]}') -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=20))


def pool(url: str, timeout_s: float = 5.0) -> UpstreamPool:
    return UpstreamPool(url, connect_timeout_s=2.0, timeout_s=timeout_s)


async def call(client: UpstreamPool, method: bytes, target: bytes, headers: bytes, body: bytes) -> UpstreamResponse:
    """One call, awaited: the answer, or its UpstreamError raised."""
    answer: asyncio.Future[UpstreamResponse | UpstreamError] = asyncio.get_running_loop().create_future()
    client.send(method, target, headers, body, answer.set_result)
    outcome = await answer
    if isinstance(outcome, UpstreamError):
        raise outcome
    return outcome


def test_requests_reuse_one_kept_alive_connection_and_carry_host_length_and_prefix() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda request, n: ok(b"%d" % n)).start()
        client = pool(server.url + "/base/")
        answers = [await call(client, b"POST", b"/v1/models/m:predict?x=1", b"x-a: 1\r\n", b"{}") for _ in range(5)]
        assert [a.body for a in answers] == [b"1", b"2", b"3", b"4", b"5"]
        assert all(a.status == 200 for a in answers)
        assert (b"content-type", b"application/json") in answers[0].headers
        assert server.connections == 1
        first = server.requests[0]
        assert first.startswith(b"POST /base/v1/models/m:predict?x=1 HTTP/1.1\r\n")
        assert f"host: {server.url.removeprefix('http://')}\r\n".encode() in first
        assert b"content-length: 2\r\n" in first and b"x-a: 1\r\n" in first and first.endswith(b"\r\n\r\n{}")
        client.close()

    run(scenario)


def test_chunked_and_read_until_close_bodies_are_assembled() -> None:
    async def scenario() -> None:
        chunked = await ScriptedServer(
            lambda r, n: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        ).start()
        until_close = await ScriptedServer(lambda r, n: b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it").start()
        assert (await call(pool(chunked.url), b"GET", b"/", b"", b"")).body == b"hello world"
        assert (await call(pool(until_close.url), b"GET", b"/", b"", b"")).body == b"all of it"

    run(scenario)


def test_a_request_the_server_read_before_closing_is_never_sent_twice() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: None if n == 2 else ok(b"%d" % n)).start()
        retries: list[int] = []
        client = UpstreamPool(server.url, connect_timeout_s=2.0, timeout_s=5.0, on_retry=lambda: retries.append(1))
        assert (await call(client, b"GET", b"/", b"", b"")).body == b"1"
        with pytest.raises(UpstreamConnectError, match="without answering"):
            await call(client, b"POST", b"/", b"", b"{}")  # read by the server, then dropped: its error
        assert len(server.requests) == 2 and retries == []

    run(scenario)


def test_a_pooled_connection_the_server_closed_after_a_quiet_spell_is_left_for_a_fresh_one_and_counted() -> None:
    async def scenario() -> None:
        # Answers once per connection, then closes it without saying so, as an idle timeout does.
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(ok(head.split(b" ")[1]))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        retries: list[int] = []
        client = UpstreamPool(url, connect_timeout_s=2.0, timeout_s=5.0, on_retry=lambda: retries.append(1))
        answer: asyncio.Future[UpstreamResponse | UpstreamError] = asyncio.get_running_loop().create_future()

        def second_call(first: UpstreamResponse | UpstreamError) -> None:
            # The server's close is in the socket by now, but this loop has not read it: only a look
            # into the socket tells the pooled connection is over before the request goes out.
            time.sleep(0.8)
            client.send(b"GET", b"/second", b"", b"", answer.set_result)

        client.send(b"GET", b"/first", b"", b"", second_call)
        outcome = await answer
        assert isinstance(outcome, UpstreamResponse) and outcome.body == b"/second"
        assert retries == [1]
        server.close()

    run(scenario)


def test_a_fresh_connection_closed_without_an_answer_is_a_connect_error() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: None).start()
        with pytest.raises(UpstreamConnectError, match="without answering"):
            await call(pool(server.url), b"GET", b"/", b"", b"")

    run(scenario)


def test_closing_mid_answer_is_a_connect_error() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(
            lambda r, n: b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\nonly a part"
        ).start()
        with pytest.raises(UpstreamConnectError, match="mid-answer"):
            await call(pool(server.url), b"GET", b"/", b"", b"")

    run(scenario)


def test_no_answer_within_the_timeout_is_a_timeout_and_the_connection_is_dropped() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: b"" if n == 1 else ok()).start()
        client = pool(server.url, timeout_s=0.2)
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout, match=r"within 0\.2s"):
            await call(client, b"GET", b"/", b"", b"")
        assert 0.15 < time.monotonic() - started < 2
        assert (await call(client, b"GET", b"/", b"", b"")).status == 200
        assert server.connections == 2

    run(scenario)


def test_a_refused_connection_is_a_connect_error_naming_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def scenario() -> None:
        with pytest.raises(UpstreamConnectError, match=f"cannot connect to http://127.0.0.1:{port}"):
            await call(pool(f"http://127.0.0.1:{port}"), b"GET", b"/", b"", b"")

    run(scenario)


def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: b"SSH-2.0-OpenSSH\r\n\r\n").start()
        with pytest.raises(UpstreamProtocolError, match="invalid HTTP response"):
            await call(pool(server.url), b"GET", b"/", b"", b"")

    run(scenario)


def test_head_answers_end_at_their_headers() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n").start()
        answer = await call(pool(server.url, timeout_s=2), b"HEAD", b"/", b"", b"")
        assert answer.status == 200 and answer.body == b""

    run(scenario)


def test_informational_answers_are_skipped() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"done")).start()
        answer = await call(pool(server.url), b"POST", b"/", b"", b"x")
        assert (answer.status, answer.body) == (200, b"done")

    run(scenario)


def test_each_call_is_answered_exactly_once_and_a_handler_can_reuse_the_connection_it_was_answered_on() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: ok(b"%d" % n)).start()
        client = pool(server.url)
        outcomes: list[bytes] = []
        both = asyncio.get_running_loop().create_future()

        def second(outcome: UpstreamResponse | UpstreamError) -> None:
            assert isinstance(outcome, UpstreamResponse)
            outcomes.append(outcome.body)
            both.set_result(None)

        def first(outcome: UpstreamResponse | UpstreamError) -> None:
            assert isinstance(outcome, UpstreamResponse)
            outcomes.append(outcome.body)
            client.send(b"GET", b"/", b"", b"", second)  # from inside the answer's own callback

        client.send(b"GET", b"/", b"", b"", first)
        await both
        await asyncio.sleep(0.05)
        assert outcomes == [b"1", b"2"]
        assert server.connections == 1  # the connection was back in the pool before `first` ran

    run(scenario)


def test_a_handler_that_raises_is_logged_and_leaves_the_connection_usable(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: ok(b"%d" % n)).start()
        client = pool(server.url)
        called = asyncio.get_running_loop().create_future()

        def broken(outcome: UpstreamResponse | UpstreamError) -> None:
            called.set_result(None)
            raise RuntimeError("a bug in the caller")

        client.send(b"GET", b"/", b"", b"", broken)
        await called
        assert (await call(client, b"GET", b"/", b"", b"")).body == b"2"
        assert server.connections == 1

    run(scenario)
    assert "handling an upstream answer failed" in caplog.text and "a bug in the caller" in caplog.text


def test_concurrent_calls_reuse_connections_without_mixing_answers() -> None:
    def echo_path(request: bytes, n: int) -> bytes:
        return ok(request.split(b" ")[1])

    async def worker(client: UpstreamPool, name: int) -> list[bool]:
        paths = [b"/w%d/r%d" % (name, n) for n in range(15)]
        return [(await call(client, b"GET", p, b"", b"")).body == p for p in paths]

    async def scenario() -> None:
        server = await ScriptedServer(echo_path).start()
        client = pool(server.url)
        results = await asyncio.gather(*(worker(client, n) for n in range(40)))
        assert all(all(r) for r in results)
        assert server.connections <= 40

    run(scenario)


def test_calls_beyond_the_connection_limit_wait_their_turn_and_reuse_the_connections() -> None:
    async def scenario() -> None:
        open_now: list[int] = [0]
        most: list[int] = [0]

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])
            try:
                while head := await reader.readuntil(b"\r\n\r\n"):
                    await asyncio.sleep(0.05)
                    writer.write(ok(head.split(b" ")[1]))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            open_now[0] -= 1
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        client = UpstreamPool(
            f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", connect_timeout_s=2.0, timeout_s=5.0, max_connections=2
        )
        answers = await asyncio.gather(*(call(client, b"GET", b"/%d" % n, b"", b"") for n in range(7)))
        assert [a.body for a in answers] == [b"/%d" % n for n in range(7)]
        assert most[0] == 2
        client.close()
        server.close()

    run(scenario)


def test_a_call_waiting_behind_a_hung_one_times_out_on_its_own_deadline() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: b"").start()  # reads, never answers
        client = UpstreamPool(server.url, connect_timeout_s=2.0, timeout_s=0.3, max_connections=1)
        first = asyncio.ensure_future(call(client, b"GET", b"/", b"", b""))
        await asyncio.sleep(0.1)
        with pytest.raises(UpstreamTimeout):
            await call(client, b"GET", b"/", b"", b"")
        with pytest.raises(UpstreamTimeout):
            await first
        assert server.connections == 2  # the hung connection was dropped, the waiting call got a new one

    run(scenario)


def test_an_idle_pooled_connection_holds_neither_its_last_request_nor_its_answer() -> None:
    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: ok(b"a" * 1_000_000)).start()
        client = pool(server.url)
        body = b"x" * 2_000_000
        answers: list[UpstreamResponse | UpstreamError] = []
        done = asyncio.Event()

        def answered(outcome: UpstreamResponse | UpstreamError) -> None:
            answers.append(outcome)
            done.set()

        tracemalloc.start()
        try:
            client.send(b"POST", b"/", b"", body, answered)
            await done.wait()
            assert isinstance(answers[0], UpstreamResponse) and len(answers[0].body) == 1_000_000
            answers.clear()
            snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, upstream.__file__)])
        finally:
            tracemalloc.stop()
        held = sum(stat.size for stat in snapshot.statistics("filename"))
        # The connection's own objects: not the 2 MB request it sent nor the 1 MB answer it read.
        assert held < 100_000
        client.close()

    run(scenario)


def test_closed_and_refused_connections_are_freed_without_a_garbage_collection() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]

    def alive() -> int:
        return sum(1 for o in gc.get_objects() if type(o).__module__ == upstream.__name__ and type(o).__qualname__ == "_Connection")

    async def scenario() -> None:
        server = await ScriptedServer(lambda r, n: ok()).start()
        client, refusing = pool(server.url), pool(f"http://127.0.0.1:{nobody}")
        await asyncio.gather(*(call(client, b"GET", b"/", b"", b"") for _ in range(5)))
        client.close()  # its idle connections close
        for _ in range(5):  # uvloop makes the protocol before it connects: a refused one is made too
            with pytest.raises(UpstreamConnectError):
                await call(refusing, b"GET", b"/", b"", b"")
        for _ in range(100):  # until the closes have been seen
            if not alive():
                break
            await asyncio.sleep(0.01)
        assert alive() == 0

    gc.collect()
    gc.disable()
    try:
        uvloop.run(asyncio.wait_for(scenario(), timeout=20))
    finally:
        gc.enable()


def test_connections_idle_past_the_idle_timeout_are_closed_and_ones_in_use_are_kept() -> None:
    async def scenario() -> None:
        opened, closed = 0, 0

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal opened, closed
            opened += 1
            try:
                while True:
                    await reader.readuntil(b"\r\n\r\n")
                    await asyncio.sleep(0.05)  # long enough that two calls at once need two connections
                    writer.write(ok())
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                closed += 1  # the router closed its end
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        client = UpstreamPool(
            f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", connect_timeout_s=2.0, timeout_s=5.0, idle_timeout_s=1.0
        )
        await asyncio.gather(*(call(client, b"GET", b"/", b"", b"") for _ in range(2)))
        assert opened == 2
        # One connection stays in use, a call every 0.1 s, well inside the timeout; the other sits idle.
        loop = asyncio.get_running_loop()
        until = loop.time() + 2.5
        while loop.time() < until:
            await call(client, b"GET", b"/", b"", b"")
            await asyncio.sleep(0.1)
        assert (opened, closed) == (2, 1)
        await asyncio.sleep(1.5)  # now the second one has been idle past the timeout too
        assert closed == 2
        await call(client, b"GET", b"/", b"", b"")  # and a new call opens a fresh connection
        assert opened == 3
        client.close()
        server.close()

    run(scenario)
