"""A lean HTTP/1.1 client for calls to model servers: kept-alive connections, httptools parsing.

A call is `pool.send(method, target, headers, body, on_answer)`. `on_answer` is called exactly
once, with the `UpstreamResponse` or the `UpstreamError`, straight from the connection's parser
callbacks: no task, future or timer per call. On the router's hot path those cost more than the
rest of a call (see router/app.py for the measurements). A task is made only to open a new
connection.

It does only what a proxy to a model server needs: one request at a time per connection, whole
bodies in memory, a response timeout, at most `max_connections` connections (calls beyond them
wait, in order, for one to come free), and a fresh connection for a request whose kept-alive one
turns out to have been closed by the server before any byte of the request was sent: found
closed when taken from the pool (the end of the stream is already in its socket), or refusing
the write. A request that did reach the server is never sent twice: if the server then closes
without answering, that is the call's error.

Timeouts are checked by one sweep every `SWEEP_S` while calls are in flight or waiting, so a
call times out between `timeout_s` and `timeout_s + SWEEP_S` after it was sent.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable
from typing import NamedTuple, cast
from urllib.parse import urlsplit

import httptools

from router.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

__all__ = ["SWEEP_S", "OnAnswer", "UpstreamPool", "UpstreamResponse"]

log = logging.getLogger("modelrollout.router")

SWEEP_S = 0.05
# How long a pooled connection may sit unused before the router closes it, as nginx's upstream
# keepalive_timeout (60 s): after a burst the model server is not left holding hundreds of sockets
# for a router that no longer needs them.
IDLE_TIMEOUT_S = 60.0
_PEEK_AFTER_IDLE_S = 0.5

_UNTIL_CLOSE_EXEMPT = (b"content-length", b"transfer-encoding")


class UpstreamResponse(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


OnAnswer = Callable[[UpstreamResponse | UpstreamError], None]


def _deliver(on_answer: OnAnswer, outcome: UpstreamResponse | UpstreamError) -> None:
    # The caller's bug must not break the connection whose parser is calling back.
    try:
        on_answer(outcome)
    except Exception:
        log.exception("handling an upstream answer failed")


class _Connection(asyncio.Protocol):
    """One upstream connection and the call on it, if any.

    Between calls it holds nothing of the last one (request, answer), so what an idle pooled
    connection costs does not depend on the bodies it carried; and once closed it lets go of its
    parser, which calls back into it, so it is freed at once by reference counting, not at the
    next full garbage collection (which an idle router may not run for a long time).
    """

    __slots__ = (
        "_answering", "_body", "_head", "_headers", "_on_answer", "_parser", "_payload", "_pool", "_reused", "_unsent",
        "counted", "deadline", "idle_since", "loop", "transport",
    )  # fmt: skip

    def __init__(self, pool: UpstreamPool, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self.loop = loop
        # Made once connected: a connection refused or timed out never gets one, so leaves no cycle behind.
        self._parser: httptools.HttpResponseParser | None = None
        self.transport: asyncio.Transport | None = None
        self._on_answer: OnAnswer | None = None
        self._payload = b""
        self._reused = False
        self._unsent = False  # the write of the call's request failed at once: no byte of it left
        self._head = False
        self._answering = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self.deadline = 0.0
        self.counted = False  # counted in the pool's open connections (from connect to close)
        self.idle_since = 0.0

    def start(self, payload: bytes, head: bool, on_answer: OnAnswer, *, reused: bool, deadline: float) -> None:
        self._on_answer, self._payload, self._head, self._reused, self._answering = on_answer, payload, head, reused, False
        self.deadline = deadline
        self._pool.busy(self)
        transport = self.transport
        if transport is None:
            raise RuntimeError("a request was started on an upstream connection that is not open")
        transport.write(payload)
        # asyncio tries the send at once; a transport closing right after it means the send failed.
        self._unsent = transport.is_closing()

    def stale(self, now: float) -> bool:
        """Unfit to carry a request: closed, or, after a quiet spell, the server's end of stream (or
        stray bytes) already in the socket. Servers close idle connections after a keep-alive
        timeout of a second or more, so one reused sooner is not looked at: no cost under load."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return True
        if now - self.idle_since < _PEEK_AFTER_IDLE_S:
            return False
        wrapped = transport.get_extra_info("socket")
        if wrapped is None:
            return False
        probe = socket.socket(wrapped.family, wrapped.type, fileno=wrapped.fileno())
        try:
            probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False  # nothing waiting: the connection is open and quiet
        except OSError:
            return True
        finally:
            probe.detach()  # the descriptor stays the transport's
        return True  # the end of the stream, or bytes nobody asked for: not a connection to reuse

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's protocol is always handed a Transport; asyncio types it as the base.
        self.transport = cast(asyncio.Transport, transport)
        self._parser = httptools.HttpResponseParser(self)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # closed: nothing more is read
            return
        self._answering = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"{self._pool.url} sent an invalid HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._pool.forget(self)
        parser, self._parser = self._parser, None  # nothing parses after this; see the class doc
        if self._on_answer is None:
            self._payload = b""
            return
        if self._answering and self._reads_until_close() and parser is not None:
            self._finish(parser.get_status_code())
        elif self._answering:
            self._fail(UpstreamConnectError(f"{self._pool.url} closed the connection mid-answer"))
        elif self._reused and self._unsent:  # closed by the server as we reused it; nothing of the request left
            on_answer, self._on_answer = self._on_answer, None
            self._pool.resend(self._payload, self._head, on_answer, self.deadline)
        else:
            self._fail(UpstreamConnectError(f"{self._pool.url} closed the connection without answering"))
        self._payload, self._headers, self._body = b"", [], []

    # -- httptools callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers = []
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._head and self._parser is not None:  # no body follows, whatever content-length says
            self._finish(self._parser.get_status_code())
            self.abort()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        parser = self._parser
        if parser is None:
            return
        status = parser.get_status_code()
        if 100 <= status < 200 or self.transport is None:
            return  # informational (the real answer follows), or answered already (HEAD)
        on_answer, self._on_answer = self._on_answer, None
        response = self._response(status)
        self._payload, self._headers, self._body = b"", [], []  # the answer has them now; an idle connection keeps none
        # Released before the answer is handed on, so its handler can reuse it; a call waiting for
        # a connection may take it at once, which is why the answer was taken off it first.
        if parser.should_keep_alive():
            self._pool.release(self)
        else:
            self.close()
        if on_answer is not None:
            _deliver(on_answer, response)

    # -- ending calls --------------------------------------------------------------------------------
    def expire(self) -> None:
        self._fail(UpstreamTimeout(f"{self._pool.url} did not answer within {self._pool.timeout_s:g}s"))

    def abort(self) -> None:
        """Drop the connection at once: its state is unknown (timeout, error)."""
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
        self._pool.forget(self)

    def close(self) -> None:
        """Close the connection politely: it is idle, or the server asked for it."""
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self._pool.forget(self)

    def _finish(self, status: int) -> None:
        on_answer, self._on_answer = self._on_answer, None
        if on_answer is not None:
            _deliver(on_answer, self._response(status))

    def _response(self, status: int) -> UpstreamResponse:
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        return UpstreamResponse(status, self._headers, body)

    def _fail(self, error: UpstreamError) -> None:
        on_answer, self._on_answer = self._on_answer, None
        self.abort()
        if on_answer is not None:
            _deliver(on_answer, error)

    def _reads_until_close(self) -> bool:
        return not any(name.lower() in _UNTIL_CLOSE_EXEMPT for name, _ in self._headers)


class UpstreamPool:
    """Kept-alive connections to one model server (`url`: scheme, host, port, path prefix)."""

    def __init__(
        self, url: str, *, connect_timeout_s: float, timeout_s: float, max_connections: int = 256, max_idle: int = 512,
        idle_timeout_s: float = IDLE_TIMEOUT_S, on_retry: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        parts = urlsplit(url)
        https = parts.scheme == "https"
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if https else 80)
        self._ssl = ssl.create_default_context() if https else None
        self._start = b"".join((b" ", parts.path.rstrip("/").encode()))
        self._host_line = b"".join((b" HTTP/1.1\r\nhost: ", parts.netloc.encode(), b"\r\ncontent-length: "))
        self._idle: list[_Connection] = []  # oldest first: a call takes the newest, the reaper closes the oldest
        self._max_idle = max_idle
        self.idle_timeout_s = idle_timeout_s
        self._reaper: asyncio.TimerHandle | None = None
        self.max_connections = max_connections
        self._on_retry = on_retry
        self._open_count = 0  # connections open or being opened
        self._waiting: deque[tuple[bytes, bool, OnAnswer, float]] = deque()  # calls waiting for a connection
        self._closed = False
        self._busy: set[_Connection] = set()  # connections with a call on them, for the timeout sweep
        self._opening: set[asyncio.Task[None]] = set()
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def saturated(self) -> bool:
        """Every connection allowed is in use, or calls already wait for one."""
        return bool(self._waiting) or (not self._idle and self._open_count >= self.max_connections)

    def send(self, method: bytes, target: bytes, headers: bytes, body: bytes, on_answer: OnAnswer) -> None:
        """Send one request; `headers` is a block of `name: value\\r\\n` lines, `target` the path."""
        payload = b"".join((method, self._start, target, self._host_line, b"%d\r\n" % len(body), headers, b"\r\n", body))
        head = method == b"HEAD"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        if self._waiting:  # calls before this one wait already: keep the order
            self._wait(payload, head, on_answer, deadline, loop)
        elif not self._send_pooled(payload, head, on_answer, deadline):
            self._send_fresh(payload, head, on_answer, deadline, loop)

    def resend(self, payload: bytes, head: bool, on_answer: OnAnswer, deadline: float) -> None:
        """A pooled connection was closed before any byte of `payload` left: send it again, counted."""
        if self._on_retry is not None:
            self._on_retry()
        if not self._send_pooled(payload, head, on_answer, deadline):
            self._send_fresh(payload, head, on_answer, deadline, asyncio.get_running_loop())

    def _send_pooled(self, payload: bytes, head: bool, on_answer: OnAnswer, deadline: float) -> bool:
        while self._idle:
            connection = self._idle.pop()
            if connection.stale(connection.loop.time()):
                connection.close()
                if self._on_retry is not None:
                    self._on_retry()
                continue
            connection.start(payload, head, on_answer, reused=True, deadline=deadline)
            return True
        return False

    def _send_fresh(self, payload: bytes, head: bool, on_answer: OnAnswer, deadline: float, loop: asyncio.AbstractEventLoop) -> None:
        if self._open_count >= self.max_connections:
            self._wait(payload, head, on_answer, deadline, loop)
            return
        self._open_count += 1
        task = loop.create_task(self._open(payload, head, on_answer, deadline))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    def _wait(self, payload: bytes, head: bool, on_answer: OnAnswer, deadline: float, loop: asyncio.AbstractEventLoop) -> None:
        self._waiting.append((payload, head, on_answer, deadline))
        self._arm_sweep(loop)

    def _next_waiting(self) -> None:
        """A connection came free or closed: the oldest waiting call goes next."""
        while self._waiting:
            payload, head, on_answer, deadline = self._waiting[0]
            if self._send_pooled(payload, head, on_answer, deadline):
                self._waiting.popleft()
            elif self._open_count < self.max_connections:
                self._waiting.popleft()
                self._send_fresh(payload, head, on_answer, deadline, asyncio.get_running_loop())
            else:
                return

    def busy(self, connection: _Connection) -> None:
        self._busy.add(connection)
        self._arm_sweep(connection.loop)

    def _arm_sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sweep is None:
            self._sweep = loop.call_later(SWEEP_S, self._expire_overdue, loop)

    def release(self, connection: _Connection) -> None:
        self._busy.discard(connection)
        if self._closed or len(self._idle) >= self._max_idle:
            connection.close()
        else:
            connection.idle_since = connection.loop.time()
            self._idle.append(connection)
            if self._reaper is None:
                self._reaper = connection.loop.call_later(self.idle_timeout_s, self._reap_idle, connection.loop)
            if self._waiting:
                self._next_waiting()

    def _reap_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the connections idle for idle_timeout_s; come back when the next oldest will be."""
        self._reaper = None
        overdue = loop.time() - self.idle_timeout_s
        while self._idle and self._idle[0].idle_since <= overdue:
            self._idle.pop(0).close()
        if self._idle:
            self._reaper = loop.call_at(self._idle[0].idle_since + self.idle_timeout_s, self._reap_idle, loop)

    def forget(self, connection: _Connection) -> None:
        """`connection` is closed (or closing): it no longer counts against the limit."""
        self._busy.discard(connection)
        if connection in self._idle:  # closed by the server while idle: known gone, nothing to move
            self._idle.remove(connection)
        if connection.counted:
            connection.counted = False
            self._open_count -= 1
            if self._waiting:
                self._next_waiting()

    def close(self) -> None:
        """Close idle connections now; busy ones close when their answer is in."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        while self._idle:
            self._idle.pop().close()

    async def _open(self, payload: bytes, head: bool, on_answer: OnAnswer, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self, loop),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                )
        except TimeoutError:
            self._opening_failed(on_answer, UpstreamTimeout(f"connecting to {self.url} took over {self.connect_timeout_s:g}s"))
            return
        except OSError as exc:
            self._opening_failed(on_answer, UpstreamConnectError(f"cannot connect to {self.url}: {_reason(exc)}"))
            return
        connection.counted = True
        if connection.transport is None:  # closed between connecting and now
            self.forget(connection)
            _deliver(on_answer, UpstreamConnectError(f"{self.url} closed the connection before the request was sent"))
            return
        connection.start(payload, head, on_answer, reused=False, deadline=deadline)

    def _opening_failed(self, on_answer: OnAnswer, error: UpstreamError) -> None:
        self._open_count -= 1
        _deliver(on_answer, error)
        if self._waiting:
            self._next_waiting()

    def _expire_overdue(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in [c for c in self._busy if c.deadline <= now]:
            connection.expire()
        while self._waiting and self._waiting[0][3] <= now:  # deadlines are in arrival order
            on_answer = self._waiting.popleft()[2]
            _deliver(
                on_answer,
                UpstreamTimeout(f"{self.url}: no connection came free within {self.timeout_s:g}s (at most {self.max_connections} open)"),
            )
        self._sweep = None
        if self._busy or self._waiting:
            self._arm_sweep(loop)


def _reason(exc: OSError) -> str:
    """What went wrong, in words: a certificate check says what failed about the certificate."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    return str(exc.strerror or exc)
