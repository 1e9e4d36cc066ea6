"""Watch streams: `?watch=1` answered with one JSON event per line until the watch ends.

A watch ends when its `timeoutSeconds` run out (with a final BOOKMARK when the client allows
bookmarks, as the real server sends one before it closes), when the client goes away, or when
the server closes every stream (shutdown, or a test simulating an API server restart), or
after an ERROR event (`Store.expire_watches`: the watcher fell behind the kept history). A start
from a resourceVersion older than the kept history is answered, as by the real server, with
HTTP 200 and a single ERROR event carrying a 410 Expired Status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from aiohttp import web

from tests.fakekube.channel import WatchChannel
from tests.fakekube.errors import BadRequest, Expired
from tests.fakekube.paths import Target
from tests.fakekube.store import Store
from tests.fakekube.watch import ERROR, WatchEvent

__all__ = ["WatchStreams"]


def _timeout_of(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        seconds = float(text)
    except ValueError as exc:
        raise BadRequest(f"timeoutSeconds {text!r} is not a number of seconds") from exc
    if seconds < 0:
        raise BadRequest(f"timeoutSeconds must be 0 or more, got {text}")
    return seconds or None


def _stream_response() -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    return response


class WatchStreams:
    """Every open watch stream of one server, so that they can all be ended at once."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Each open stream's channel, and how to unsubscribe it from the store.
        self._channels: dict[WatchChannel, Callable[[], None]] = {}

    def close_all(self) -> None:
        """End every open stream; call on the server's loop.

        Each is unsubscribed here and now, not when its writer next runs: a change committed
        after this returns must not reach a stream that is already over.
        """
        for channel, stop in list(self._channels.items()):
            stop()
            channel.close()

    def __len__(self) -> int:
        return len(self._channels)

    async def serve(self, request: web.Request, target: Target) -> web.StreamResponse:
        query = request.query
        allow_bookmarks = query.get("allowWatchBookmarks") in ("true", "1", "True")
        timeout_s = _timeout_of(query.get("timeoutSeconds"))
        channel = WatchChannel(asyncio.get_running_loop())
        response = _stream_response()
        try:
            subscription = self._store.watch(
                target.resource,
                target.namespace,
                query.get("resourceVersion"),
                channel.push,
                label_selector=query.get("labelSelector"),
                field_selector=query.get("fieldSelector"),
            )
        except Expired as exc:
            await response.prepare(request)
            await response.write(WatchEvent(ERROR, exc.status()).line())
            return response
        stop = partial(self._store.stop_watch, subscription, bookmark=allow_bookmarks)
        self._channels[channel] = stop
        try:
            await response.prepare(request)
            await self._pump(response, channel, timeout_s, stop)
        except ConnectionResetError:
            pass  # the client went away: nothing more to send
        finally:
            self._store.stop_watch(subscription)
            self._channels.pop(channel, None)
        return response

    async def _pump(self, response: web.StreamResponse, channel: WatchChannel, timeout_s: float | None, stop: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while not channel.closed:
            events = channel.drain()
            if events:
                await response.write(b"".join(event.line() for event in events))
                continue
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            await channel.wait(remaining)
        stop()
        events = channel.drain()
        if events:
            await response.write(b"".join(event.line() for event in events))
