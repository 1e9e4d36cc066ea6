"""The HTTP face of a `Store`: Kubernetes REST paths, watch streams, discovery, injected faults.

One aiohttp application with a single catch-all route; `paths.parse_path` decides what a
request is about, so the served kinds come from the resource table alone. Every `ApiError`
becomes a `Status` answer with its code; anything else is a fault of the stand-in and answers
500 with the exception named, so a test sees it rather than a hang.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter, deque
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakekube.admin import PREFIX, add_admin_routes
from tests.fakekube.discovery import discovery_document
from tests.fakekube.errors import ApiError, InternalError, injected_failure
from tests.fakekube.faults import Faults
from tests.fakekube.paths import Discovery, parse_path
from tests.fakekube.rest import TRUE, RestHandlers, json_response, verb_of
from tests.fakekube.store import Store
from tests.fakekube.streaming import WatchStreams

__all__ = ["ApiServer", "SeenRequest"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeenRequest:
    """One API request as it arrived, before any injected fault answered it."""

    method: str
    path: str
    query: dict[str, str]

    @property
    def watch(self) -> bool:
        return self.query.get("watch") in TRUE


# The newest requests kept in `ApiServer.requests`; a long-running stand-in must not grow forever.
REQUEST_LOG_SIZE = 100_000


class ApiServer:
    """Serves one store over HTTP; `start` on a bound socket, `stop` ends watches and closes."""

    def __init__(self, store: Store, faults: Faults | None = None) -> None:
        self.store = store
        self.faults = faults or Faults(store.registry)
        self.request_counts: Counter[tuple[str, str]] = Counter()
        self.requests: deque[SeenRequest] = deque(maxlen=REQUEST_LOG_SIZE)
        self.watches = WatchStreams(store)
        self._rest = RestHandlers(store, self.faults)
        self._runner: web.AppRunner | None = None
        self.address = ""

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._injected_faults], client_max_size=3 * 1024 * 1024)
        add_admin_routes(app, self.store, self.faults, self.watches, self.request_counts)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self, sock: socket.socket) -> str:
        """Serve on `sock` (bound, not yet listening); the base URL."""
        self._runner = web.AppRunner(self.application(), handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        host, port = sock.getsockname()[:2]
        self.address = f"{host}:{port}"
        return f"http://{self.address}"

    async def stop(self) -> None:
        self.watches.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return json_response(exc.status(), exc.code)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug here must reach the test as an answer, not a dropped connection
            log.exception("fakekube failed on %s %s", request.method, request.path)
            error = InternalError(f"fakekube failed on {request.method} {request.path}: {type(exc).__name__}: {exc}")
            return json_response(error.status(), error.code)

    @web.middleware
    async def _injected_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(f"{PREFIX}/"):
            return await handler(request)
        self.requests.append(SeenRequest(request.method, request.path, dict(request.query)))
        delay_s = self.faults.latency_for(request.path)
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        status = self.faults.take_failure(request.method, request.path)
        if status is not None:
            raise injected_failure(status, request.method, request.path)
        return await handler(request)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        target = parse_path(self.store.registry, request.path)
        if isinstance(target, Discovery):
            return json_response(discovery_document(self.store.registry, target, self.address))
        verb = verb_of(request.method, target, request.query.get("watch") in TRUE)
        self.request_counts[(verb, target.resource.qualified)] += 1
        if verb == "watch":
            return await self.watches.serve(request, target)
        return await self._rest.handle(verb, request, target)
