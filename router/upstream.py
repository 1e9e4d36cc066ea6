"""A lean HTTP/1.1 client for calls to model servers: kept-alive connections, httptools parsing.

A call is `pool.send(method, target, headers, body, on_answer)`. `on_answer` is called exactly
once, with the `UpstreamResponse` or the `UpstreamError`, straight from the connection's parser
callbacks: no task, future or timer per call. On the router's hot path those cost more than the
rest of a call (see router/app.py for the measurements). A task is made only to open a new
connection.

It does only what a proxy to a model server needs: one request at a time per connection, whole
bodies in memory, a response timeout, and one retry on a fresh connection when a kept-alive one
turns out to have been closed by the server before it answered.

Timeouts are checked by one sweep every `SWEEP_S` while calls are in flight, so a call times
out between `timeout_s` and `timeout_s + SWEEP_S` after it was sent.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import NamedTuple
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
    """One upstream connection and the call on it, if any."""

    def __init__(self, pool: UpstreamPool, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self.loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self._on_answer: OnAnswer | None = None
        self._payload = b""
        self._reused = False
        self._head = False
        self._answering = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self.deadline = 0.0

    def start(self, payload: bytes, head: bool, on_answer: OnAnswer, *, reused: bool) -> None:
        self._on_answer, self._payload, self._head, self._reused, self._answering = on_answer, payload, head, reused, False
        self.deadline = self.loop.time() + self._pool.timeout_s
        self._pool.busy(self)
        self.transport.write(payload)  # type: ignore[union-attr]

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._answering = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"{self._pool.url} sent an invalid HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._pool.forget(self)
        if self._on_answer is None:
            return
        if self._answering and self._reads_until_close():
            self._finish(self._parser.get_status_code())
        elif self._answering:
            self._fail(UpstreamConnectError(f"{self._pool.url} closed the connection mid-answer"))
        elif self._reused:  # the server closed this kept-alive connection as we reused it
            on_answer, self._on_answer = self._on_answer, None
            self._pool.open(self._payload, self._head, on_answer)
        else:
            self._fail(UpstreamConnectError(f"{self._pool.url} closed the connection without answering"))

    # -- httptools callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers = []
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._head:  # no body follows, whatever content-length says
            self._finish(self._parser.get_status_code())
            self.abort()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 or self.transport is None:
            return  # informational (the real answer follows), or answered already (HEAD)
        if self._parser.should_keep_alive():
            self._pool.release(self)  # before the answer is handed on, so its handler can reuse it
        else:
            self.close()
        self._finish(status)

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
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            _deliver(on_answer, UpstreamResponse(status, self._headers, body))

    def _fail(self, error: UpstreamError) -> None:
        on_answer, self._on_answer = self._on_answer, None
        self.abort()
        if on_answer is not None:
            _deliver(on_answer, error)

    def _reads_until_close(self) -> bool:
        return not any(name.lower() in _UNTIL_CLOSE_EXEMPT for name, _ in self._headers)


class UpstreamPool:
    """Kept-alive connections to one model server (`url`: scheme, host, port, path prefix)."""

    def __init__(self, url: str, *, connect_timeout_s: float, timeout_s: float, max_idle: int = 512) -> None:
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
        self._idle: list[_Connection] = []
        self._max_idle = max_idle
        self._closed = False
        self._busy: set[_Connection] = set()  # connections with a call on them, for the timeout sweep
        self._opening: set[asyncio.Task[None]] = set()
        self._sweep: asyncio.TimerHandle | None = None

    def send(self, method: bytes, target: bytes, headers: bytes, body: bytes, on_answer: OnAnswer) -> None:
        """Send one request; `headers` is a block of `name: value\\r\\n` lines, `target` the path."""
        payload = b"".join((method, self._start, target, self._host_line, b"%d\r\n" % len(body), headers, b"\r\n", body))
        head = method == b"HEAD"
        while self._idle:
            connection = self._idle.pop()
            if connection.transport is not None and not connection.transport.is_closing():
                connection.start(payload, head, on_answer, reused=True)
                return
        self.open(payload, head, on_answer)

    def open(self, payload: bytes, head: bool, on_answer: OnAnswer) -> None:
        """Send `payload` on a new connection."""
        task = asyncio.get_running_loop().create_task(self._open(payload, head, on_answer))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    def busy(self, connection: _Connection) -> None:
        self._busy.add(connection)
        if self._sweep is None:
            self._sweep = connection.loop.call_later(SWEEP_S, self._expire_overdue, connection.loop)

    def release(self, connection: _Connection) -> None:
        self._busy.discard(connection)
        if self._closed or len(self._idle) >= self._max_idle:
            connection.close()
        else:
            self._idle.append(connection)

    def forget(self, connection: _Connection) -> None:
        self._busy.discard(connection)

    def close(self) -> None:
        """Close idle connections now; busy ones close when their answer is in."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    async def _open(self, payload: bytes, head: bool, on_answer: OnAnswer) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self, loop), self._host, self._port, ssl=self._ssl, server_hostname=self._host if self._ssl else None
                )
        except TimeoutError:
            _deliver(on_answer, UpstreamTimeout(f"connecting to {self.url} took over {self.connect_timeout_s:g}s"))
            return
        except OSError as exc:
            _deliver(on_answer, UpstreamConnectError(f"cannot connect to {self.url}: {exc.strerror or exc}"))
            return
        connection.start(payload, head, on_answer, reused=False)

    def _expire_overdue(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in [c for c in self._busy if c.deadline <= now]:
            connection.expire()
        self._sweep = loop.call_later(SWEEP_S, self._expire_overdue, loop) if self._busy else None
