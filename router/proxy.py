"""The data port: every request goes to one variant, its answer comes back, all of it measured.

Per request: one pass over the headers (forwarded block, request id, routing keys), a routing
choice, the body read up to the limit, one upstream call (and, if configured, one retry of a
failed candidate call on the stable), the answer sent, then predictions extracted and the
shadow copy handed to the mirror. Router-made answers are JSON errors:
400 malformed request header, 413 body over the limit, 502 upstream refused or broken,
503 no config yet, 504 upstream timeout. Every answer carries x-request-id, and once a config
is in force, x-model-variant.
"""

from __future__ import annotations

import random
from time import perf_counter
from typing import Final

from router.asgi import Receive, Scope, Send, send_bytes, send_json
from router.errors import UpstreamError, UpstreamTimeout
from router.feedback import PredictionLog
from router.measure import Measurements
from router.mirror import Mirror, ShadowRequest
from router.selection import BUCKETS, CANDIDATE, STABLE, BucketSequence
from router.state import Active, ConfigKeeper
from router.upstream import UpstreamResponse

__all__ = ["REQUEST_ID_MAX", "DataApp"]

REQUEST_ID_MAX: Final = 200
_REQUEST_ID_CHARS: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/+="
_NOT_FORWARDED: Final = frozenset(
    (b"host", b"content-length", b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization",
     b"te", b"trailer", b"transfer-encoding", b"upgrade", b"expect", b"x-request-id")
)  # fmt: skip
_NOT_RETURNED: Final = frozenset(
    (b"content-length", b"connection", b"keep-alive", b"proxy-authenticate", b"trailer", b"transfer-encoding",
     b"upgrade", b"x-model-variant", b"x-request-id")
)  # fmt: skip
_NOT_RETURNED_BUT_LENGTH: Final = _NOT_RETURNED - {b"content-length"}
_VARIANT_HEADERS: Final = {STABLE: (b"x-model-variant", b"stable"), CANDIDATE: (b"x-model-variant", b"candidate")}


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class DataApp:
    """The raw ASGI app behind the data port."""

    def __init__(self, keeper: ConfigKeeper, measurements: Measurements, predictions: PredictionLog, mirror: Mirror) -> None:
        self._keeper = keeper
        self._measurements = measurements
        self._counters = measurements.variants
        self._predictions = predictions
        self._mirror = mirror
        self._buckets = BucketSequence(random.randrange(BUCKETS))
        self._mirror_draw = random.Random().random
        self._id_bits = random.Random().getrandbits  # seeded from os.urandom; ids need uniqueness, not secrecy
        self._methods: dict[str, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        active = self._keeper.active
        if active is None:
            await send_json(send, 503, {"error": "the router has no valid config yet"}, [(b"x-request-id", self._new_request_id())])
            return
        forwarded, given_id, declared, seen = _scan_headers(scope["headers"], active.table.watched)
        variant = active.table.choose(seen, self._buckets.draw())
        request_id = given_id if given_id is not None and _valid_request_id(given_id) else self._new_request_id()
        if given_id is not None and request_id is not given_id:
            message = f"x-request-id must be 1-{REQUEST_ID_MAX} characters from [A-Za-z0-9-_.:/+=]"
            await _reject(send, 400, message, [_VARIANT_HEADERS[variant], (b"x-request-id", request_id)])
            return
        body = await self._read(receive, send, declared, active.config.max_body_bytes, [_VARIANT_HEADERS[variant], (b"x-request-id", request_id)])
        if body is not None:
            await self._proxy(active, scope, send, variant, (forwarded + b"x-request-id: " + request_id + b"\r\n", request_id, body))

    async def _read(self, receive: Receive, send: Send, declared: bytes | None, limit: int, headers: list[tuple[bytes, bytes]]) -> bytes | None:
        """The request body; None once answered with 413 or when the client is gone."""
        try:
            return await _read_body(receive, declared, limit)
        except _BodyTooLarge:
            await _reject(send, 413, f"request body is over the {limit}-byte limit", [*headers, (b"connection", b"close")])
        except _ClientGone:
            self._measurements.client_disconnects += 1
        return None

    async def _proxy(self, active: Active, scope: Scope, send: Send, variant: str, request: tuple[bytes, bytes, bytes]) -> None:
        headers, request_id, body = request
        method = self._method(scope["method"])
        target = _target(scope)
        outcome = await self._call(active, variant, method, target, headers, body)
        if variant == CANDIDATE and active.config.retry_candidate_on_stable and _failed(outcome):
            variant = STABLE
            outcome = await self._call(active, STABLE, method, target, headers, body)
        answer_headers = [_VARIANT_HEADERS[variant], (b"x-request-id", request_id)]
        if isinstance(outcome, UpstreamError):
            await _reject(send, 504 if isinstance(outcome, UpstreamTimeout) else 502, str(outcome), answer_headers)
            return
        head = method == b"HEAD"  # its answer has no body, but says how long the body would be
        await send_bytes(send, outcome.status, outcome.body, _returned_headers(outcome.headers, answer_headers, head), length_given=head)
        path = scope["path"]
        predictions = active.extractor.extract(path, outcome.body)
        self._counters[variant].predicted(predictions)
        rid = request_id.decode()
        if predictions is not None:
            self._predictions.record(rid, variant, predictions)
        if active.table.mirrors(variant, int(self._mirror_draw() * BUCKETS)):
            self._mirror.submit(active, ShadowRequest(method, target, path, headers, body, rid, predictions))

    async def _call(
        self, active: Active, variant: str, method: bytes, target: bytes, headers: bytes, body: bytes
    ) -> UpstreamResponse | UpstreamError:
        counters = self._counters[variant]
        started = perf_counter()
        try:
            response = await active.pool(variant).request(method, target, headers, body)
        except UpstreamError as exc:
            counters.fail(exc.kind, perf_counter() - started)
            return exc
        counters.observe(response.status, perf_counter() - started)
        return response

    def _new_request_id(self) -> bytes:
        return b"%032x" % self._id_bits(128)

    def _method(self, name: str) -> bytes:
        method = self._methods.get(name)
        if method is None:
            method = self._methods[name] = name.encode("latin-1")
        return method


def _scan_headers(
    headers: list[tuple[bytes, bytes]], watched: frozenset[bytes]
) -> tuple[bytes, bytes | None, bytes | None, list[tuple[bytes, bytes]]]:
    """One pass: the block to forward, the request id, content-length, routing headers seen."""
    parts: list[bytes] = []
    seen: list[tuple[bytes, bytes]] = []
    request_id: bytes | None = None
    declared: bytes | None = None
    for name, value in headers:
        if name in watched:
            seen.append((name, value))
        if name not in _NOT_FORWARDED:
            parts += (name, b": ", value, b"\r\n")
        elif name == b"x-request-id":
            request_id = value
        elif name == b"content-length":
            declared = value
    return b"".join(parts), request_id, declared, seen


def _valid_request_id(value: bytes) -> bool:
    return 0 < len(value) <= REQUEST_ID_MAX and not value.translate(None, _REQUEST_ID_CHARS)


async def _read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    if declared is not None and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _target(scope: Scope) -> bytes:
    path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return path + b"?" + query if query else path


def _failed(outcome: UpstreamResponse | UpstreamError) -> bool:
    return isinstance(outcome, UpstreamError) or outcome.status >= 500


def _returned_headers(upstream: list[tuple[bytes, bytes]], ours: list[tuple[bytes, bytes]], keep_length: bool) -> list[tuple[bytes, bytes]]:
    dropped = _NOT_RETURNED_BUT_LENGTH if keep_length else _NOT_RETURNED
    headers = [(lower, value) for name, value in upstream if (lower := name.lower()) not in dropped]
    headers += ours
    return headers


async def _reject(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    request_id = next(value for name, value in headers if name == b"x-request-id").decode()
    await send_json(send, status, {"error": message, "requestId": request_id}, headers)
