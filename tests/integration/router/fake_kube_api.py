"""A tiny stand-in for the Kubernetes API: one ConfigMap, list and watch, on a loopback port.

It speaks just enough of the real API for the official client: `GET
/api/v1/namespaces/<ns>/configmaps?fieldSelector=metadata.name=<name>` lists, and with
`watch=true` streams JSON-lines events from the given `resourceVersion`. The first `failing_calls` calls answer 500. `expire()` makes every
version seen so far too old, so a watch gets an ERROR event with code 410, as a compacted etcd
would answer. It runs on its own event loop in a thread; tests drive it through methods.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["FakeKubeApi"]


@dataclass
class _State:
    namespace: str
    name: str
    data: dict[str, str] | None = None
    version: int = 100
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    expired_below: int = 0
    closing: bool = False
    failures_left: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)


class FakeKubeApi:
    def __init__(self, namespace: str, name: str, data: dict[str, str] | None, *, failing_calls: int = 0) -> None:
        self._state = _State(namespace, name, data, failures_left=failing_calls)
        self._loop = asyncio.new_event_loop()
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> FakeKubeApi:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        self._call(self._close)  # open watches end now instead of at their timeout
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
            "users": [{"name": "tester", "user": {"token": "test-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tester"}}],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config))
        return path

    def set_data(self, data: dict[str, str]) -> None:
        self._call(self._change, "MODIFIED" if self._state.data is not None else "ADDED", data)

    def expire(self) -> None:
        """Every resourceVersion handed out so far becomes too old to watch from."""
        self._call(self._expire)

    @property
    def requests(self) -> list[dict[str, str]]:
        return list(self._state.requests)

    def _call(self, function: Any, *args: Any) -> None:
        async def run() -> None:
            function(*args)
            assert self._changed is not None
            async with self._changed:
                self._changed.notify_all()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def _change(self, kind: str, data: dict[str, str]) -> None:
        state = self._state
        state.version += 1
        state.data = data
        state.events.append((state.version, kind, self._object()))

    def _close(self) -> None:
        self._state.closing = True

    def _expire(self) -> None:
        self._state.version += 1
        self._state.expired_below = self._state.version

    def _object(self) -> dict[str, Any]:
        state = self._state
        metadata = {"name": state.name, "namespace": state.namespace, "resourceVersion": str(state.version)}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": state.data}

    async def _serve(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_get(f"/api/v1/namespaces/{self._state.namespace}/configmaps", self._configmaps)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _configmaps(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self._state.requests.append(query)
        if self._state.failures_left > 0:  # an API server having a bad moment
            self._state.failures_left -= 1
            return web.json_response({"kind": "Status", "code": 500, "message": "etcdserver: request timed out"}, status=500)
        if query.get("fieldSelector") != f"metadata.name={self._state.name}":
            return web.json_response({"kind": "Status", "code": 403, "message": "only this ConfigMap, by name"}, status=403)
        if query.get("watch") in ("true", "1", "True"):
            return await self._watch(request, int(query.get("resourceVersion", "0")), float(query.get("timeoutSeconds", "30")))
        items = [self._object()] if self._state.data is not None else []
        return web.json_response({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": str(self._state.version)}, "items": items})

    async def _watch(self, request: web.Request, since: int, timeout_s: float) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "application/json"})
        await response.prepare(request)
        assert self._changed is not None
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline and not self._state.closing:
            if since < self._state.expired_below:
                gone = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "too old resource version", "reason": "Expired", "code": 410}
                await response.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                break
            for version, kind, obj in [e for e in self._state.events if e[0] > since]:
                await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                since = version
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=max(0.01, deadline - asyncio.get_running_loop().time()))
                except TimeoutError:
                    break
        await response.write_eof()
        return response
