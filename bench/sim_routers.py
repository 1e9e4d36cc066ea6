"""Simulated routers for the controller benchmark: one admin port per ModelRollout, in one process.

Each simulated router serves `/stats` as a real one would (router.stats.RouterStats): counts
that grow with time (20 stable and 5 candidate requests a second), and the config generation it
serves, which follows the rollout's ConfigMap (read from one watch on the API) after
`apply_delay_s`. A control port lets the benchmark read the ports, trigger a breach (a burst of
candidate 5xx that lifts the window's error rate far above any sane bound) and read back when
each breached rollout's rollback config reached the routers' ConfigMap.

    python -m bench.sim_routers --api URL --count N --control-port P
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from router.stats import ErrorCounts, RouterStats, VariantStats

__all__ = ["Fleet", "SimRouter", "main"]

NAMESPACE = "default"
STABLE_RATE, CANDIDATE_RATE = 20, 5


@dataclass
class SimRouter:
    name: str
    generation: int | None = None
    candidate_weight: int = 0
    errors: int = 0
    breach_at: float | None = None
    rollback_at: float | None = None

    def stats(self, started_at: datetime, elapsed_s: float) -> bytes:
        candidate = int(CANDIDATE_RATE * elapsed_s)
        snapshot = RouterStats(
            instance_id=self.name,
            started_at=started_at,
            generation=self.generation,
            stable=VariantStats(requests=int(STABLE_RATE * elapsed_s)),
            candidate=VariantStats(requests=candidate, errors=ErrorCounts.model_validate({"status5xx": min(self.errors, candidate)})),
        )
        return snapshot.model_dump_json(by_alias=True).encode()


@dataclass
class Fleet:
    routers: dict[str, SimRouter]
    apply_delay_s: float
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    origin: float = field(default_factory=time.monotonic)
    by_port: dict[int, SimRouter] = field(default_factory=dict)

    def elapsed_s(self) -> float:
        return time.monotonic() - self.origin

    def on_config(self, name: str, config: dict[str, object]) -> None:
        router = self.routers.get(name)
        if router is None:
            return
        weights = config.get("weights") or {}
        weight = int(weights.get("candidate", 0)) if isinstance(weights, dict) else 0
        if router.breach_at is not None and router.rollback_at is None and weight == 0:
            router.rollback_at = time.monotonic()
        router.candidate_weight = weight
        generation = config.get("generation")
        asyncio.get_running_loop().call_later(self.apply_delay_s, self._apply, router, generation)

    @staticmethod
    def _apply(router: SimRouter, generation: object) -> None:
        if isinstance(generation, int) and (router.generation is None or generation > router.generation):
            router.generation = generation

    def breach(self, name: str) -> None:
        router = self.routers[name]
        router.breach_at = time.monotonic()
        # Half again as many errors as candidate calls so far: any window's error rate jumps past 30%.
        router.errors = int(CANDIDATE_RATE * self.elapsed_s() * 1.5) + 100


async def watch_configmaps(fleet: Fleet, api: str) -> None:
    """Follow every ConfigMap in the namespace; re-list and re-watch whenever the stream ends."""
    url = f"{api}/api/v1/namespaces/{NAMESPACE}/configmaps"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as session:
        while True:
            async with session.get(url) as response:
                listing = await response.json()
            for item in listing.get("items", []):
                _feed(fleet, item)
            version = listing["metadata"]["resourceVersion"]
            async with session.get(url, params={"watch": "true", "resourceVersion": version}) as stream:
                async for line in stream.content:
                    if line.strip():
                        event = json.loads(line)
                        if event.get("type") in ("ADDED", "MODIFIED"):
                            _feed(fleet, event["object"])


def _feed(fleet: Fleet, configmap: dict[str, Any]) -> None:
    name = str(configmap["metadata"]["name"])
    text = (configmap.get("data") or {}).get("router.json")
    if name.endswith("-router") and text:
        fleet.on_config(name.removesuffix("-router"), json.loads(text))


def control_app(fleet: Fleet) -> web.Application:
    async def ports(_request: web.Request) -> web.Response:
        return web.json_response({router.name: port for port, router in fleet.by_port.items()})

    async def breach(request: web.Request) -> web.Response:
        for name in (await request.json())["names"]:
            fleet.breach(name)
        return web.json_response({"ok": True})

    async def results(_request: web.Request) -> web.Response:
        breached = [r for r in fleet.routers.values() if r.breach_at is not None]
        latencies = [r.rollback_at - r.breach_at for r in breached if r.rollback_at is not None and r.breach_at is not None]
        return web.json_response({"breached": len(breached), "latencies_s": latencies})

    app = web.Application()
    app.router.add_get("/ports", ports)
    app.router.add_post("/breach", breach)
    app.router.add_get("/results", results)
    return app


def stats_app(fleet: Fleet) -> web.Application:
    async def stats(request: web.Request) -> web.Response:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        router = fleet.by_port[int(sockname[1])] if sockname else None
        if router is None:
            return web.Response(status=404)
        body = router.stats(fleet.started_at, fleet.elapsed_s())
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/stats", stats)
    return app


async def serve(api: str, count: int, control_port: int, apply_delay_s: float) -> None:
    fleet = Fleet({f"bench-{i}": SimRouter(f"bench-{i}") for i in range(count)}, apply_delay_s)
    runner = web.AppRunner(stats_app(fleet), access_log=None)
    await runner.setup()
    for router in fleet.routers.values():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        fleet.by_port[sock.getsockname()[1]] = router
        await web.SockSite(runner, sock).start()
    control = web.AppRunner(control_app(fleet), access_log=None)
    await control.setup()
    await web.TCPSite(control, "127.0.0.1", control_port).start()
    print(f"sim routers ready: {count}", flush=True)
    await watch_configmaps(fleet, api)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="base URL of the API stand-in")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--apply-delay", type=float, default=0.05, metavar="SECONDS")
    args = parser.parse_args()
    asyncio.run(serve(args.api, args.count, args.control_port, args.apply_delay))


if __name__ == "__main__":
    main()
