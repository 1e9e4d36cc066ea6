"""The data port's HTTP/1.1 server: httptools parsing straight into the proxy's callbacks.

Chosen by measurement (one core for the proxy, every feature on, 10% mirrored; see
router/app.py). A request costs no task, future, timer or ASGI message here: the handler is
called when the headers are in and again when the body is, and answers with one call to
`Request.respond`, now or from an upstream callback later, which writes the whole answer at once.

What the data port needs is kept: keep-alive (HTTP/1.1 by default, HTTP/1.0 on request) with an
idle timeout that also takes clients stalled half-way through a request, pipelined requests
answered in order, request bodies counted as they arrive (so one over the limit is refused
without being held whole), `Expect: 100-continue`, back-pressure both ways, 400 for requests the
parser rejects (after the answers to the requests parsed whole before them), word to the handler
of a client gone before its body was in, and a graceful stop: listening ends, idle connections
close, requests in flight get `drain_s` to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import Final, Protocol, cast
from urllib.parse import unquote

import httptools
import orjson

__all__ = ["Budget", "DataServer", "Exchange", "Handler", "Request"]

log = logging.getLogger("modelrollout.router")

_HIGH_WATER: Final = 64 * 1024  # body bytes of a waiting pipelined request buffered before reading stops
_IDLE_SWEEP_S: Final = 1.0
_STATUS_LINES: Final = {int(s): b"HTTP/1.1 %d %s\r\n" % (s, s.phrase.encode()) for s in HTTPStatus}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST: Final = (
    b'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s'
)
_SERVER_ERROR: Final = b'{"error": "the router failed on this request; see its log"}'
_NO_ROOM: Final = b'{"error": "the router is at its limit of client connections; retry later"}'
_TOO_MANY_CONNECTIONS: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_NO_ROOM), _NO_ROOM)
)


class Exchange(Protocol):
    """What the handler keeps for one request once its headers are in."""

    def body_in(self) -> None:
        """The whole body is in `Request.body`: answer, now or later."""

    def too_large(self) -> None:
        """The body went over `Request.body_limit`: answer now; the connection closes after."""

    def abandoned(self) -> None:
        """The client went away before its body was in; no answer is needed."""

    def malformed(self, message: str) -> None:
        """The request's body could not be parsed (`message` says why): answer 400 now; the connection closes after."""

    def overloaded(self, reason: str) -> None:
        """The body took the server over its byte budget: answer 503 now; the connection closes after."""


class Budget(Protocol):
    """The server's limits: client connections, and bytes of request bodies held in memory."""

    def admit_connection(self) -> bool:
        """Count one more client connection; False (and not counted) when that would go over the limit."""

    def connection_closed(self) -> None: ...

    def hold(self, size: int) -> bool:
        """Count `size` more bytes; False once over the budget."""

    def free(self, size: int) -> None: ...


class _Unbounded:
    def admit_connection(self) -> bool:
        return True

    def connection_closed(self) -> None:
        return None

    def hold(self, size: int) -> bool:
        return True

    def free(self, size: int) -> None:
        return None


class Handler(Protocol):
    def open(self, request: Request) -> Exchange | None:
        """The headers are in: answer at once and return None, or set `body_limit` and return the exchange."""


class Request:
    """One request on the data port and, once `respond` is called, its answer."""

    __slots__ = (
        "_chunks", "_conn", "answered", "body", "body_limit", "complete", "exchange", "expect_continue",
        "headers", "held", "keep_alive", "method", "on_done", "raw_path", "size", "target",
    )  # fmt: skip

    def __init__(self, conn: _Connection, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]], keep_alive: bool) -> None:
        self._conn = conn
        self.method = method
        if url[:1] == b"/":  # origin form, the usual one: no need to parse it
            raw_path, _, query = url.partition(b"?")
        else:
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path or b"/", parsed.query or b""
        self.target = raw_path + b"?" + query if query else raw_path  # what goes upstream, as the client wrote it
        self.raw_path = raw_path
        self.headers = headers  # names in lower case
        self.keep_alive = keep_alive
        self.expect_continue = any(name == b"expect" and value.lower() == b"100-continue" for name, value in headers)
        self.body = b""
        self.body_limit = 0
        self.complete = False
        self.answered = False
        self.exchange: Exchange | None = None
        self._chunks: list[bytes] = []
        self.size = 0  # body bytes so far
        self.held = 0  # body bytes counted against the server's budget until the request is done
        self.on_done: Callable[[], None] | None = None  # called once, when answered or dropped

    def respond(self, status: int, headers: bytes, body: bytes, *, length_in_headers: bool = False) -> None:
        """Write the whole answer; `headers` is a block of `name: value\\r\\n` lines.

        content-length is added unless `length_in_headers` (an answer to HEAD that says how long
        the body would be). An answer to HEAD carries no body. Calls after the first are ignored.
        """
        if self.answered:
            return
        self.answered = True
        if self._conn.stopping:  # say so, so that the client does not send another request on it
            self.keep_alive = False
        line = _STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status
        length = b"" if length_in_headers else b"content-length: %d\r\n" % len(body)
        close = b"" if self.keep_alive else b"connection: close\r\n"
        if self.method == b"HEAD":
            body = b""
        self._conn.write(b"".join((line, headers, length, close, b"\r\n", body)))
        self._conn.finished(self)

    @property
    def path(self) -> str:
        """The path, percent-decoded; worked out on demand, as only the analysis after the answer reads it."""
        return unquote(self.raw_path.decode("ascii", "replace"))

    def add_body(self, chunk: bytes) -> int:
        self._chunks.append(chunk)
        self.size += len(chunk)
        return self.size

    def end_body(self) -> None:
        self.complete = True
        chunks = self._chunks
        self.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []


class _Connection(asyncio.Protocol):
    """One client connection: parses requests and hands them to the handler one at a time, in order.

    What a connection holds goes when it closes, by reference counting: the parser (which calls
    back into the connection) and the requests (which point back at it) are let go in
    `connection_lost`, and a request lets go of its exchange once answered. Left as reference
    cycles they waited for a full garbage collection, which an idle router never runs: after the
    soak benchmark's 2,000 clients had gone, their connections and last requests held ~14 MB
    (by tracemalloc's count) until then.
    """

    __slots__ = (
        "_broken", "_current", "_headers", "_parser", "_parsing", "_queue", "_reading", "_server", "_transport", "_url",
        "_writing", "loop", "quiet_since",
    )  # fmt: skip

    def __init__(self, server: DataServer) -> None:
        self._server = server
        self.loop = asyncio.get_running_loop()
        self._parser: httptools.HttpRequestParser | None = None  # made once the connection is admitted
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._parsing: Request | None = None  # the request whose bytes are arriving
        self._current: Request | None = None  # the request being answered
        self._queue: deque[Request] = deque()  # pipelined requests waiting their turn
        self._reading = True
        self._writing = True
        self._broken: str | None = None  # why parsing failed: answered with 400 once the requests before it are
        self.quiet_since = 0.0  # loop time of the last byte in or the last answer out

    @property
    def stopping(self) -> bool:
        return self._server.stopping

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream server's protocol is always handed a Transport; asyncio types it as the base.
        stream = cast(asyncio.Transport, transport)
        server = self._server
        if not server.budget.admit_connection():
            stream.write(_TOO_MANY_CONNECTIONS)
            stream.close()
            return
        self._transport = stream
        self._parser = httptools.HttpRequestParser(self)
        server.connections.add(self)
        self.quiet_since = self.loop.time()

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # refused at connection_made, or closed
            return
        self.quiet_since = self.loop.time()
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No upgrades here: the request was taken as plain HTTP; what follows cannot be parsed.
            if self._parsing is not None:
                self._parsing.keep_alive = False
        except httptools.HttpParserError as exc:
            self._reject(f"malformed HTTP request: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:  # refused at connection_made: never counted
            return
        self._transport = None
        self._server.connections.discard(self)
        self._server.budget.connection_closed()
        current = self._current
        if current is not None and not current.complete and current.exchange is not None:
            self._current = None
            current.answered = True  # nobody is left to answer
            self._server.request_done()
            self._server.guard(current, current.exchange.abandoned)
            self._server.retire(current)
        for waiting in self._queue:
            self._server.retire(waiting)
        self._queue.clear()
        if self._parsing is not None and self._parsing is not current:
            self._server.retire(self._parsing)  # its head was in, its turn never came
        # Nothing parses after this: drop what points back here (see the class doc). A request still
        # with its upstream stays `_current` until its answer comes, which retires it.
        self._parser = self._parsing = None
        self._headers = []

    def pause_writing(self) -> None:
        self._writing = False

    def resume_writing(self) -> None:
        self._writing = True
        if self._current is None and self._queue:
            self._next()

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
        if parser is None:  # only the parser calls this, and it is there while it parses
            return
        # llhttp's answer: HTTP/1.1 unless `connection: close`, HTTP/1.0 only with `keep-alive`.
        keep_alive = parser.should_keep_alive() and not self._server.stopping
        request = Request(self, parser.get_method(), self._url, self._headers, keep_alive)
        self._parsing = request
        if self._current is None and not self._queue and self._writing:
            self._begin(request)
        else:
            self._queue.append(request)
            self._pause_reading()  # one request in waiting is enough; the socket holds the rest

    def on_body(self, body: bytes) -> None:
        request = self._parsing
        if request is None or request.answered:  # answered already (e.g. 413): the rest is dropped
            return
        size = request.add_body(body)
        request.held += len(body)
        within_budget = self._server.budget.hold(len(body))
        if request is not self._current:
            if size > _HIGH_WATER:
                self._pause_reading()
        elif size > request.body_limit:
            self._too_large(request)
        elif not within_budget and request.exchange is not None:
            request.keep_alive = False
            exchange = request.exchange
            self._server.guard(request, lambda: exchange.overloaded("buffered_bytes"))

    def on_message_complete(self) -> None:
        request = self._parsing
        if request is None:
            return
        request.end_body()
        if request is self._current and not request.answered and request.exchange is not None:
            try:
                request.exchange.body_in()
            except Exception:
                self._server.failed(request)

    # -- running requests ------------------------------------------------------------------------
    def _begin(self, request: Request) -> None:
        self._current = request
        self._server.request_started()
        server = self._server
        try:
            request.exchange = server.handler.open(request)
        except Exception:
            server.failed(request)
            return
        if request.answered or request.exchange is None:
            return
        if request.size > request.body_limit:
            self._too_large(request)
        elif request.complete:
            server.guard(request, request.exchange.body_in)
        else:
            if request.expect_continue:
                self.write(_CONTINUE)
            self.resume_reading()

    def _too_large(self, request: Request) -> None:
        request.keep_alive = False
        if request.exchange is not None:
            self._server.guard(request, request.exchange.too_large)

    def finished(self, request: Request) -> None:
        """`request` is answered: close, or go on with the next request."""
        self._server.retire(request)
        if request is self._parsing:  # a kept-alive connection must not keep its last request (and body) alive
            self._parsing = None
        if request is not self._current:
            return  # answered after its client went away
        self._current = None
        self._server.request_done()
        if self._transport is None:
            return
        if not request.keep_alive:
            self._transport.close()
        elif self._broken is not None and not self._queue:
            self._answer_bad_request(self._broken)
        elif self._queue:
            if self._writing:
                # Not from here: a handler answering at once would otherwise recurse through the queue.
                self.loop.call_soon(self._next)
        elif self._server.stopping:
            self._transport.close()
        else:
            self.resume_reading()
            self.quiet_since = self.loop.time()

    def _next(self) -> None:
        if self._current is not None or not self._queue or self._transport is None:
            return
        following = self._queue.popleft()
        self.resume_reading()  # the rest of its body may still be in the socket
        self._begin(following)

    def write(self, data: bytes) -> None:
        # A transport we are closing (a parse error cut the connection) takes no more writes.
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def resume_reading(self) -> None:
        # After a parse error the parser takes no more bytes: the connection only finishes what it has.
        if not self._reading and self._transport is not None and not self._queue and self._broken is None:
            self._reading = True
            self._transport.resume_reading()

    def _pause_reading(self) -> None:
        if self._reading and self._transport is not None:
            self._reading = False
            self._transport.pause_reading()

    def _reject(self, message: str) -> None:
        """A parse error: nothing after it on this connection can be trusted, so it ends with a 400.

        Requests parsed whole before the bad bytes are answered first, in order, as nginx does. When
        the bad bytes are the body of the request being answered, its handler answers the 400.
        """
        if self._transport is None or self._broken is not None:
            return
        self._broken = message
        self._pause_reading()
        parsing = self._parsing
        if parsing is not None and not parsing.complete:
            if parsing is self._current:
                if parsing.exchange is not None and not parsing.answered:
                    exchange = parsing.exchange
                    self._server.guard(parsing, lambda: exchange.malformed(message))
                    return
            elif parsing in self._queue:
                self._queue.remove(parsing)
        if self._current is None and not self._queue:
            self._answer_bad_request(message)

    def _answer_bad_request(self, message: str) -> None:
        if self._transport is not None:
            body = orjson.dumps({"error": message})
            self._transport.write(_BAD_REQUEST % (len(body), body))
            self._transport.close()

    def close_if_idle(self) -> None:
        if self._current is None and self._transport is not None:
            self._transport.close()

    def close_if_quiet_since(self, cutoff: float) -> None:
        """Close if nothing came or went since `cutoff`, unless a whole request is being answered.

        That takes idle kept-alive connections, and also clients that stopped half-way through a
        request's head or body, which would otherwise hold their connection for ever.
        """
        current = self._current
        if self._transport is not None and self.quiet_since <= cutoff and (current is None or not current.complete):
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class DataServer:
    """Serves `handler` on one listening socket until `stop`."""

    def __init__(
        self, handler: Handler, host: str, port: int, *, keep_alive_s: float = 30.0, backlog: int = 4096, budget: Budget | None = None
    ) -> None:
        self.handler = handler
        self.budget: Budget = budget or _Unbounded()
        self.address = (host, port)
        self.keep_alive_s = keep_alive_s
        self.stopping = False
        self.connections: set[_Connection] = set()
        self._backlog = backlog
        self._in_flight = 0
        self._drained: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._idle_sweep: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Listen; an OSError (address in use, not permitted) is the caller's to report."""
        host, port = self.address
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=self._backlog)
        self._idle_sweep = loop.call_later(_IDLE_SWEEP_S, self._close_idle, loop)

    def request_started(self) -> None:
        self._in_flight += 1

    def request_done(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0 and self._drained is not None:
            self._drained.set()

    def retire(self, request: Request) -> None:
        """`request` is answered or dropped: give back the bytes it held, tell whoever waits on it."""
        if request.held:
            self.budget.free(request.held)
            request.held = 0
        request.exchange = None  # the exchange points back at the request: let both go by reference counting
        on_done, request.on_done = request.on_done, None
        if on_done is not None:
            on_done()

    def guard(self, request: Request, step: Callable[[], None]) -> None:
        """Run one of the handler's steps; if it raises, answer 500 and close."""
        try:
            step()
        except Exception:
            self.failed(request)

    def failed(self, request: Request) -> None:
        log.exception("the data port's handler failed on %s %s", request.method.decode("latin-1"), request.path)
        request.keep_alive = False
        request.respond(500, b"content-type: application/json\r\n", _SERVER_ERROR)

    async def stop(self, drain_s: float) -> None:
        """Stop listening, close idle connections, give requests in flight `drain_s`, then cut the rest."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        if self._idle_sweep is not None:
            self._idle_sweep.cancel()
        for connection in list(self.connections):
            connection.close_if_idle()
        if self._in_flight > 0:
            self._drained = asyncio.Event()
            try:
                await asyncio.wait_for(self._drained.wait(), drain_s)
            except TimeoutError:
                log.warning("%d requests still in flight after %gs: cutting them off", self._in_flight, drain_s)
        for connection in list(self.connections):
            connection.abort()

    def _close_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        # One sweep a second instead of a timer per connection, armed and cancelled per request.
        cutoff = loop.time() - self.keep_alive_s
        for connection in list(self.connections):
            connection.close_if_quiet_since(cutoff)
        self._idle_sweep = loop.call_later(_IDLE_SWEEP_S, self._close_idle, loop)
