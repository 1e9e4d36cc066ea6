"""Real HTTP gates on a free loopback port: yes, no, 500, a gate that never answers, one that says no a few times first."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from controller.local.processes import free_port

__all__ = ["GateServer", "gate_server", "model_server"]


@dataclass
class GateServer:
    base: str
    calls: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, list[Any]] = field(default_factory=dict)
    # /flaky says no this many times, then yes.
    flaky_noes: int = 2
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"


def _app(state: GateServer) -> web.Application:
    async def gate(request: web.Request) -> web.Response:
        path = request.match_info["path"]
        state.calls[path] += 1
        state.bodies.setdefault(path, []).append(await request.json())
        if path == "hang":
            await state.release.wait()
        if path == "fail":
            return web.Response(status=500, text="gate is broken")
        if path == "no" or (path == "flaky" and state.calls[path] <= state.flaky_noes):
            return web.Response(status=403, text="change freeze until 14:00")
        if path == "incident":
            return web.Response(text="open incident INC-42")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{path}", gate)
    return app


@asynccontextmanager
async def gate_server() -> AsyncIterator[GateServer]:
    port = free_port()
    state = GateServer(base=f"http://127.0.0.1:{port}")
    runner = web.AppRunner(_app(state))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


@asynccontextmanager
async def model_server() -> AsyncIterator[str]:
    """A model server answering KServe v1 predictions, and 200 on / for readiness."""

    async def predict(request: web.Request) -> web.Response:
        return web.json_response({"predictions": [0.5]})

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", health)
    app.router.add_post("/v1/models/demo:predict", predict)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
