"""The data port's HTTP/1.1 server: httptools parsing straight into the raw ASGI app.

Chosen by measurement (one core, wrk with 32 connections, every feature on, 10% mirrored): in
front of the same `DataApp`, uvicorn's httptools server served 4,350-5,400 req/s and this one
5,400-5,800 in interleaved runs.
The difference is what a proxy does not need on its hot path: a regex check of every header
the app sends, a flow-control object and an event per request, and two socket writes per
answer (head, then body). Here an answer whose body comes in one message is written at once.

It keeps what the data port does need: keep-alive (HTTP/1.1 by default, HTTP/1.0 on request)
with an idle timeout, pipelined requests answered in order, request bodies streamed to the
app as they arrive (so a body over the limit is refused without being held whole),
`Expect: 100-continue`, back-pressure both ways, 400 for requests the parser rejects,
`http.disconnect` for a client gone mid-request, and a graceful stop: listening ends, idle
connections close, requests in flight get `drain_s` to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import unquote

import httptools
import orjson

from router.asgi import Message, Receive, Scope, Send

__all__ = ["DataServer"]

log = logging.getLogger("modelrollout.router")

ASGIApp = Any  # Callable[[Scope, Receive, Send], Awaitable[None]]; the app's own class types it

_HIGH_WATER: Final = 64 * 1024  # request body bytes buffered before the socket stops being read
_STATUS_LINES: Final = {int(s): b"HTTP/1.1 %d %s\r\n" % (s, s.phrase.encode()) for s in HTTPStatus}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST: Final = (
    b'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s'
)


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d \r\n" % status


class _Cycle:
    """One request and its answer: the ASGI `receive` and `send` the app is given."""

    __slots__ = ("_conn", "scope", "_body", "_more", "_waiter", "_continue", "_head", "_started", "done", "keep_alive", "disconnected")

    def __init__(self, conn: _Connection, scope: Scope, keep_alive: bool, expect_continue: bool) -> None:
        self._conn = conn
        self.scope = scope
        self._body: list[bytes] = []
        self._more = True
        self._waiter: asyncio.Future[None] | None = None
        self._continue = expect_continue
        self._head = b""
        self._started = False
        self.done = False
        self.keep_alive = keep_alive
        self.disconnected = False

    # fed by the connection's parser callbacks
    def add_body(self, chunk: bytes) -> int:
        self._body.append(chunk)
        self._wake()
        return sum(map(len, self._body))

    def end_body(self) -> None:
        self._more = False
        self._wake()

    def lose_client(self) -> None:
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> Message:
        if self._continue and self._more and not self.disconnected:
            self._continue = False
            self._conn.write(_CONTINUE)
        while not self._body and self._more and not self.disconnected:
            self._conn.resume_reading()
            self._waiter = self._conn.loop.create_future()
            await self._waiter
        if self.disconnected:
            return {"type": "http.disconnect"}
        chunk = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body.clear()
        self._conn.resume_reading()
        return {"type": "http.request", "body": chunk, "more_body": self._more}

    async def send(self, message: Message) -> None:
        if self.disconnected or self.done:
            return
        if not self._started:
            self._started = True
            self._head = self._head_bytes(message)
            return
        body: bytes = message.get("body", b"")
        if self.scope["method"] == "HEAD":
            body = b""
        more = message.get("more_body", False)
        if self._head:
            body, self._head = self._head + body, b""
        if body:
            await self._conn.write_and_drain(body)
        if not more:
            self.done = True

    def _head_bytes(self, message: Message) -> bytes:
        parts = [_status_line(message["status"])]
        says_close = False
        for name, value in message.get("headers", ()):
            if name.lower() == b"connection" and b"close" in value.lower():
                says_close = True
            parts += (name, b": ", value, b"\r\n")
        if says_close:
            self.keep_alive = False
        elif not self.keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except Exception:
            log.exception("the data port's app failed on %s %s", self.scope["method"], self.scope["path"])
            if not self._started:
                await self.send({"type": "http.response.start", "status": 500, "headers": [(b"content-length", b"0")]})
                await self.send({"type": "http.response.body", "body": b""})
            self.keep_alive = False
        if not self.done:  # the app returned without finishing its answer: the connection is unusable
            self.keep_alive = False
        self._conn.finished(self)


class _Connection(asyncio.Protocol):
    """One client connection: parses requests and runs their cycles one at a time, in order."""

    def __init__(self, server: DataServer) -> None:
        self._server = server
        self.loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._parsing: _Cycle | None = None  # the request whose bytes are arriving
        self._running: _Cycle | None = None  # the request the app is answering
        self._queue: deque[_Cycle] = deque()  # pipelined requests waiting their turn
        self._reading = True
        self._drain: asyncio.Future[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._client: tuple[str, int] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self._server.connections.add(self)
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        self._disarm_idle()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No upgrades here: the request was taken as plain HTTP; what follows cannot be parsed.
            if self._parsing is not None:
                self._parsing.keep_alive = False
        except httptools.HttpParserError as exc:
            self._reject(f"malformed HTTP request: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._server.connections.discard(self)
        self._disarm_idle()
        for cycle in (self._running, self._parsing, *self._queue):
            if cycle is not None:
                cycle.lose_client()
        self._queue.clear()
        self._wake_drain()

    def pause_writing(self) -> None:
        if self._drain is None:
            self._drain = self.loop.create_future()

    def resume_writing(self) -> None:
        self._wake_drain()

    # -- httptools callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        http_version = parser.get_http_version()
        url = httptools.parse_url(self._url)
        raw_path: bytes = url.path or b"/"
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": http_version,
            "method": parser.get_method().decode("ascii"),
            "scheme": "http",
            "path": unquote(raw_path.decode("ascii", "replace")),
            "raw_path": raw_path,
            "query_string": url.query or b"",
            "root_path": "",
            "headers": self._headers,
            "client": self._client,
            "server": self._server.address,
        }
        expect = any(name == b"expect" and value.lower() == b"100-continue" for name, value in self._headers)
        # llhttp's answer: HTTP/1.1 unless `connection: close`, HTTP/1.0 only with `keep-alive`.
        keep_alive = parser.should_keep_alive() and not self._server.stopping
        cycle = _Cycle(self, scope, keep_alive, expect)
        self._parsing = cycle
        if self._running is None:
            self._start(cycle)
        else:
            self._queue.append(cycle)
            self._pause_reading()  # one request in waiting is enough; the socket holds the rest

    def on_body(self, body: bytes) -> None:
        cycle = self._parsing
        if cycle is None or cycle.done:  # answered already (e.g. 413): the rest is dropped
            return
        if cycle.add_body(body) > _HIGH_WATER:
            self._pause_reading()

    def on_message_complete(self) -> None:
        if self._parsing is not None:
            self._parsing.end_body()

    # -- running requests ------------------------------------------------------------------------
    def _start(self, cycle: _Cycle) -> None:
        self._running = cycle
        task = self.loop.create_task(cycle.run(self._server.app))
        self._server.track(task)

    def finished(self, cycle: _Cycle) -> None:
        """A cycle's app returned: close, or go on with the next request."""
        self._running = None
        if self._transport is None:
            return
        if not cycle.keep_alive:
            self._transport.close()
            return
        if self._queue:
            following = self._queue.popleft()
            self.resume_reading()  # the rest of its body may still be in the socket
            self._start(following)
        elif self._server.stopping:
            self._transport.close()
        else:
            self.resume_reading()
            self._arm_idle()

    def write(self, data: bytes) -> None:
        # A transport we are closing (a parse error cut the connection) takes no more writes.
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    async def write_and_drain(self, data: bytes) -> None:
        self.write(data)
        if self._drain is not None:
            await self._drain

    def resume_reading(self) -> None:
        if not self._reading and self._transport is not None and not self._queue:
            self._reading = True
            self._transport.resume_reading()

    def _pause_reading(self) -> None:
        if self._reading and self._transport is not None:
            self._reading = False
            self._transport.pause_reading()

    def _wake_drain(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _reject(self, message: str) -> None:
        """Answer 400 and close: after a parse error nothing more on this connection can be trusted."""
        if self._transport is None:
            return
        if self._running is None:
            body = orjson.dumps({"error": message})
            self._transport.write(_BAD_REQUEST % (len(body), body))
        self._transport.close()

    # -- idle keep-alive ---------------------------------------------------------------------------
    def _arm_idle(self) -> None:
        self._disarm_idle()
        self._idle = self.loop.call_later(self._server.keep_alive_s, self.close_if_idle)

    def _disarm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def close_if_idle(self) -> None:
        if self._running is None and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class DataServer:
    """Serves `app` on one listening socket until `stop`."""

    def __init__(self, app: ASGIApp, host: str, port: int, *, keep_alive_s: float = 30.0, backlog: int = 4096) -> None:
        self.app = app
        self.address = (host, port)
        self.keep_alive_s = keep_alive_s
        self.stopping = False
        self.connections: set[_Connection] = set()
        self._backlog = backlog
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen; an OSError (address in use, not permitted) is the caller's to report."""
        host, port = self.address
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=self._backlog)

    def track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, drain_s: float) -> None:
        """Stop listening, close idle connections, give requests in flight `drain_s`, then cut the rest."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close_if_idle()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=drain_s)
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self.connections):
            connection.abort()
