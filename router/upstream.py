"""A lean HTTP/1.1 client for calls to model servers: kept-alive connections, httptools parsing.

Chosen by measurement (see router/app.py): on the router's hot path this client costs about a
third of aiohttp's per call. It does only what a proxy to a model server needs: one request
at a time per connection, whole bodies in memory, a response timeout, one retry when a
kept-alive connection turns out to be closed by the server before it answered.

Timeouts are checked by one sweep every `SWEEP_S` while calls are in flight rather than by a
timer per call (a timer costs more than the rest of the call's bookkeeping), so a call times
out between `timeout_s` and `timeout_s + SWEEP_S` after it was sent.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import NamedTuple
from urllib.parse import urlsplit

import httptools

from router.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

__all__ = ["SWEEP_S", "UpstreamPool", "UpstreamResponse"]

SWEEP_S = 0.05

_UNTIL_CLOSE_EXEMPT = (b"content-length", b"transfer-encoding")


class UpstreamResponse(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _ClosedBeforeAnswer(UpstreamConnectError):
    """The server closed the connection without sending a byte of its answer."""


class _Connection(asyncio.Protocol):
    """One upstream connection; answers arrive through `waiter`, set by the parser callbacks."""

    def __init__(self, pool: UpstreamPool, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self.loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[UpstreamResponse] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._answering = False
        self._head = False

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
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._answering and self._reads_until_close():
            self._finish(self._parser.get_status_code())
        elif self._answering:
            waiter.set_exception(UpstreamConnectError(f"{self._pool.url} closed the connection mid-answer"))
        else:
            waiter.set_exception(_ClosedBeforeAnswer(f"{self._pool.url} closed the connection without answering"))

    def send(self, payload: bytes, head: bool) -> asyncio.Future[UpstreamResponse]:
        waiter: asyncio.Future[UpstreamResponse] = self.loop.create_future()
        self._waiter, self._head, self._answering = waiter, head, False
        self.transport.write(payload)  # type: ignore[union-attr]
        return waiter

    def expire(self) -> None:
        self._fail(UpstreamTimeout(f"{self._pool.url} did not answer within {self._pool.timeout_s:g}s"))

    def abort(self) -> None:
        """Drop the connection at once: its state is unknown (timeout, error, cancelled call)."""
        if self.transport is not None:
            self.transport.abort()
            self.transport = None

    def close(self) -> None:
        """Close the connection politely: it is idle, or the server asked for it."""
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    # httptools callbacks
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
        if 100 <= status < 200:
            return  # informational: the real answer follows
        self._finish(status)
        if self._parser.should_keep_alive():
            self._pool.release(self)
        else:
            self.close()

    def _finish(self, status: int) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(UpstreamResponse(status, self._headers, b"".join(self._body)))

    def _fail(self, error: UpstreamError) -> None:
        waiter, self._waiter = self._waiter, None
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

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
        # call in flight -> (loop time by which its answer must be in, its connection); keyed by the
        # call, as a connection goes back to the pool before its caller has even resumed
        self._deadlines: dict[asyncio.Future[UpstreamResponse], tuple[float, _Connection]] = {}
        self._sweep: asyncio.TimerHandle | None = None

    async def request(self, method: bytes, target: bytes, headers: bytes, body: bytes) -> UpstreamResponse:
        """Send one request; `headers` is a block of `name: value\\r\\n` lines, `target` the path."""
        payload = b"".join((method, self._start, target, self._host_line, b"%d\r\n" % len(body), headers, b"\r\n", body))
        head = method == b"HEAD"
        connection = self._take_idle()
        if connection is not None:
            try:
                return await self._exchange(connection, payload, head)
            except _ClosedBeforeAnswer:
                pass  # the server closed this kept-alive connection as we reused it: try a fresh one
        return await self._exchange(await self._connect(), payload, head)

    def release(self, connection: _Connection) -> None:
        if self._closed or len(self._idle) >= self._max_idle:
            connection.close()
        else:
            self._idle.append(connection)

    def close(self) -> None:
        """Close idle connections now; busy ones close when their answer is in."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.transport is not None and not connection.transport.is_closing():
                return connection
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self, loop), self._host, self._port, ssl=self._ssl, server_hostname=self._host if self._ssl else None
                )
        except TimeoutError:
            raise UpstreamTimeout(f"connecting to {self.url} took over {self.connect_timeout_s:g}s") from None
        except OSError as exc:
            raise UpstreamConnectError(f"cannot connect to {self.url}: {exc.strerror or exc}") from exc
        return connection

    async def _exchange(self, connection: _Connection, payload: bytes, head: bool) -> UpstreamResponse:
        waiter = connection.send(payload, head)
        loop = connection.loop
        self._deadlines[waiter] = (loop.time() + self.timeout_s, connection)
        if self._sweep is None:
            self._sweep = loop.call_later(SWEEP_S, self._expire_overdue, loop)
        try:
            return await waiter
        finally:
            del self._deadlines[waiter]
            if not waiter.done() or waiter.cancelled():
                connection.abort()

    def _expire_overdue(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for waiter, (deadline, connection) in list(self._deadlines.items()):
            if deadline <= now and not waiter.done():
                connection.expire()
        self._sweep = loop.call_later(SWEEP_S, self._expire_overdue, loop) if self._deadlines else None
