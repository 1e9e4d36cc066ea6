"""Real HTTP receivers on free loopback ports: one that accepts, one that answers 500, one that never answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from controller.local.processes import free_port

__all__ = ["Received", "Receivers", "receivers"]


@dataclass
class Received:
    body: Any
    headers: dict[str, str]


@dataclass
class Receivers:
    base: str
    accepted: dict[str, list[Received]] = field(default_factory=dict)
    failed_tries: int = 0
    hanging: int = 0  # requests that arrived at /hang and are still held
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    def bodies(self, path: str) -> list[Any]:
        return [r.body for r in self.accepted.get(path, [])]


def _app(state: Receivers) -> web.Application:
    async def accept(request: web.Request) -> web.Response:
        path = request.match_info["path"]
        state.accepted.setdefault(path, []).append(Received(await request.json(), dict(request.headers)))
        return web.Response(text="ok")

    async def fail(request: web.Request) -> web.Response:
        state.failed_tries += 1
        return web.Response(status=500, text="receiver is broken")

    async def hang(request: web.Request) -> web.Response:
        state.hanging += 1
        try:
            await state.release.wait()
        finally:
            state.hanging -= 1
        return web.Response(text="late")

    app = web.Application()
    app.router.add_post("/fail", fail)
    app.router.add_post("/hang", hang)
    app.router.add_post("/ok/{path}", accept)
    return app


@asynccontextmanager
async def receivers() -> AsyncIterator[Receivers]:
    port = free_port()
    state = Receivers(base=f"http://127.0.0.1:{port}")
    runner = web.AppRunner(_app(state))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()
