"""The router process: the data and admin ports on one uvloop event loop, fed by one config source.

Stack, chosen by measurement (one core for the proxy, wrk with 32 connections on the other, a
tiny JSON POST, nginx backends; req/s):

    bare uvicorn (httptools, uvloop) raw ASGI app, no proxying    ~33,800
    bare aiohttp.web app, no proxying                             ~22,300
    aiohttp.web server + aiohttp ClientSession upstream            ~6,400
    uvicorn raw ASGI + aiohttp ClientSession upstream              ~6,800
    uvicorn raw ASGI + router.upstream (httptools, kept-alive)    ~17,400

so upstream calls go through `router.upstream`. With every feature on (90/10 split, all
measurements, prediction extraction, feedback log, 10% mirrored), the data port then moved
from uvicorn to an HTTP/1.1 server of its own on httptools, still behind a raw ASGI app (+26%
req/s), and then off ASGI altogether: `router.server` calls the proxy back when a request's
headers and body are in, `router.upstream` calls it back when the model server's answer is,
and nothing on the way makes a task, a future or a timer. In interleaved runs that took the
router from ~6,300 to ~8,300 req/s, and the p50 it adds at ~1,000 req/s from ~0.6 to ~0.3 ms
(a bare callback proxy with no features, for reference: ~15,500 req/s). `bench/router.py`
reports the figures against nginx. The admin port, which serves a poll every few seconds,
stays on uvicorn.
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
from router.load import Load
from router.logs import AccessLog
from router.measure import Measurements
from router.memory import HeapTrimmer, glibc_allocator
from router.mirror import Mirror
from router.proxy import DataProxy
from router.server import DataServer
from router.sources import ConfigMapSource, ConfigSource, FileSource
from router.state import ConfigKeeper

__all__ = ["Address", "RouterOptions", "serve"]

log = logging.getLogger("modelrollout.router")

_DRAIN_S = 10.0  # what a request in flight gets to finish after SIGTERM


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
    # Share of answered requests written to the access log; 0 (the default) writes none.
    access_log_sample: float = 0.0


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve`, so two can share one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(options: RouterOptions) -> int:
    """Run until SIGTERM or SIGINT; the exit code (2 when the config file or the data port is unusable at start)."""
    measurements = Measurements(DEFAULT_PREDICTION_BINS, max_labels=100)
    predictions = PredictionLog(capacity=100_000, now_s=asyncio.get_running_loop().time())
    keeper = ConfigKeeper(measurements, predictions)
    source = _source(options, keeper)
    if not source.prepare():
        return 2
    load = Load(keeper, measurements)
    mirror = Mirror(measurements, predictions, load)
    identity = (uuid.uuid4().hex, datetime.now(UTC))
    access_log = AccessLog(options.access_log_sample) if options.access_log_sample > 0 else None
    proxy = DataProxy(keeper, measurements, predictions, mirror, load, access_log)
    data = DataServer(proxy, options.listen.host, options.listen.port, budget=load)
    admin = _server(AdminApp(keeper, measurements, predictions, identity, load), options.admin_listen)
    try:
        await data.start()
    except OSError as exc:
        log.error("cannot listen on %s:%d for the data port: %s", options.listen.host, options.listen.port, exc.strerror or exc)
        return 2
    stopping = asyncio.Event()
    _stop_on_signals(stopping)
    # Everything built so far lives as long as the process: keep it out of every later garbage
    # collection, which would otherwise walk it all and stall the hot path for tens of ms.
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    watcher = loop.create_task(source.watch())
    ticking = loop.create_task(_tick(predictions, HeapTrimmer(glibc_allocator())))
    serving_admin = loop.create_task(admin.serve())
    try:
        await asyncio.wait([serving_admin, loop.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
        log.info("stopping: finishing requests in flight")
        await data.stop(drain_s=_DRAIN_S)
        admin.should_exit = True
        await serving_admin
    finally:
        watcher.cancel()
        ticking.cancel()
        keeper.close()
    return 0


async def _tick(predictions: PredictionLog, trimmer: HeapTrimmer) -> None:
    """Once a second: the prediction log's clock (it retires a generation once the retention window
    has passed), and memory freed since given back to the system (see router.memory)."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(1.0)
        now = loop.time()
        predictions.tick(now)
        trimmer.tick(now)


def _source(options: RouterOptions, keeper: ConfigKeeper) -> ConfigSource:
    if options.config_file is not None:
        return FileSource(options.config_file, keeper)
    if options.configmap is None:
        raise ValueError("RouterOptions needs config_file or configmap")
    namespace, name = options.configmap
    return ConfigMapSource(namespace, name, keeper, options.kubeconfig)


def _server(app: AdminApp, address: Address) -> _Server:
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


def _stop_on_signals(stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
