"""The ASGI plumbing both ports share: the protocol's types and how to answer in one call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

__all__ = ["Message", "Receive", "Scope", "Send", "send_bytes", "send_json"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")


async def send_bytes(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], *, length_given: bool = False) -> None:
    """A whole response; content-length is set here unless `headers` carry it (answers to HEAD)."""
    if not length_given:
        headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, document: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send_bytes(send, status, orjson.dumps(document), [_JSON, *(headers or [])])
