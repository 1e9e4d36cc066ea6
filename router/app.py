"""The router process: the data and admin ports on one uvloop event loop, fed by one config source.

Stack, chosen by measurement (one core for the proxy, wrk with 32 connections on the other, a
tiny JSON POST, nginx backends; req/s):

    bare uvicorn (httptools, uvloop) raw ASGI app, no proxying    ~33,800
    bare aiohttp.web app, no proxying                             ~22,300
    aiohttp.web server + aiohttp ClientSession upstream            ~6,400
    uvicorn raw ASGI + aiohttp ClientSession upstream              ~6,800
    uvicorn raw ASGI + router.upstream (httptools, kept-alive)    ~17,400

so the data port is uvicorn with httptools on uvloop running a raw ASGI app, and upstream
calls go through `router.upstream`. With every feature on (90/10 split, all measurements,
prediction extraction, feedback log), `bench/router.py` on a shared two-core machine measured in
its calmer runs 9,500-11,500 req/s without mirroring and 8,200-9,700 with 10% mirrored, against
nginx's 29,000-38,000 as a 90/10 proxy in the same run (26-32%), and 0.64-0.85 ms added to the
p50 at ~1,000 req/s (nginx: 0.13-0.22 ms). When the machine is busy single rounds fall far
lower, hence the bench's medians. Saturated, a request costs the router 70-100 us of CPU and a
shadow copy a little over half that again, so mirroring 10% costs about 5% of throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from router.admin import AdminApp
from router.config import DEFAULT_PREDICTION_BINS
from router.feedback import PredictionLog
from router.measure import Measurements
from router.mirror import Mirror
from router.proxy import DataApp
from router.sources import ConfigMapSource, ConfigSource, FileSource
from router.state import ConfigKeeper

__all__ = ["Address", "RouterOptions", "serve"]

log = logging.getLogger("modelrollout.router")


@dataclass(frozen=True)
class Address:
    host: str
    port: int


@dataclass(frozen=True)
class RouterOptions:
    """Exactly one of `config_file` and `configmap` (namespace, name) is set."""

    listen: Address
    admin_listen: Address
    config_file: Path | None = None
    configmap: tuple[str, str] | None = None
    kubeconfig: str | None = None


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve`, so two can share one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(options: RouterOptions) -> int:
    """Run until SIGTERM or SIGINT; the exit code (2 when the config file is unusable at start)."""
    measurements = Measurements(DEFAULT_PREDICTION_BINS, max_labels=100)
    predictions = PredictionLog(capacity=100_000)
    keeper = ConfigKeeper(measurements, predictions)
    source = _source(options, keeper)
    if not source.prepare():
        return 2
    mirror = Mirror(measurements, predictions)
    identity = (uuid.uuid4().hex, datetime.now(UTC))
    data = _server(DataApp(keeper, measurements, predictions, mirror), options.listen)
    admin = _server(AdminApp(keeper, measurements, predictions, identity), options.admin_listen)
    _stop_on_signals([data, admin])
    # Everything built so far lives as long as the process: keep it out of every later garbage
    # collection, which would otherwise walk it all and stall the hot path for tens of ms.
    gc.collect()
    gc.freeze()
    watcher = asyncio.get_running_loop().create_task(source.watch())
    try:
        await asyncio.gather(data.serve(), admin.serve())
    finally:
        watcher.cancel()
        await mirror.close()
        keeper.close()
    return 0


def _source(options: RouterOptions, keeper: ConfigKeeper) -> ConfigSource:
    if options.config_file is not None:
        return FileSource(options.config_file, keeper)
    if options.configmap is None:
        raise ValueError("RouterOptions needs config_file or configmap")
    namespace, name = options.configmap
    return ConfigMapSource(namespace, name, keeper, options.kubeconfig)


def _server(app: DataApp | AdminApp, address: Address) -> _Server:
    config = uvicorn.Config(
        app,
        host=address.host,
        port=address.port,
        http="httptools",
        ws="none",
        lifespan="off",
        interface="asgi3",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        log_config=None,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,
        backlog=4096,
    )
    return _Server(config)


def _stop_on_signals(servers: list[_Server]) -> None:
    def stop() -> None:
        log.info("stopping: finishing requests in flight")
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
