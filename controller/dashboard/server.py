"""Running the dashboard: the watched cache, the app, and uvicorn on the chosen address until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator

import httpx
import uvicorn

from controller.dashboard.app import DashboardSettings, build_app
from controller.dashboard.feed import RolloutFeed
from controller.dashboard.prometheus import PrometheusHistory
from controller.kube.client import MODELROLLOUT, Kind, KubeClient
from controller.kube.errors import KubeError
from controller.kube.routers import RouterAddress, same_address

__all__ = ["visible_namespaces", "serve"]

log = logging.getLogger(__name__)

NAMESPACE = Kind("Namespace", "CoreV1Api", "namespace", cluster=True)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the caller owns SIGTERM and SIGINT and sets `stop`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _listen(server: uvicorn.Server) -> None:
    """uvicorn exits the process when it cannot bind; here that is an OSError the caller reports."""
    try:
        await server.serve()
    except SystemExit as exc:
        raise OSError(f"cannot listen on {server.config.host}:{server.config.port} (in use, or not an address of this machine)") from exc


async def visible_namespaces(client: KubeClient, asked: tuple[str, ...], fallback: str) -> tuple[str, ...]:
    """The namespaces to show: those asked for; else all when the caller may list across them; else each
    namespace whose ModelRollouts it may list, when it may list namespaces; else its kubeconfig's own."""
    if asked:
        return asked
    if await _may_list(client, None):
        return ()
    try:
        namespaces, _version = await client.list(NAMESPACE, None)
    except KubeError as exc:
        if exc.status != 403:
            raise
        log.info("cannot list ModelRollouts in every namespace, nor namespaces; showing namespace %s", fallback)
        return (fallback,)
    names = [str(n["metadata"]["name"]) for n in namespaces]
    allowed = await asyncio.gather(*(_may_list(client, name) for name in names))
    return tuple(name for name, ok in zip(names, allowed, strict=True) if ok) or (fallback,)


async def _may_list(client: KubeClient, namespace: str | None) -> bool:
    try:
        await client.list(MODELROLLOUT, namespace)
    except KubeError as exc:
        if exc.status != 403:
            raise
        return False
    return True


async def serve(
    client: KubeClient,
    namespaces: tuple[str, ...],
    address: str,
    port: int,
    settings: DashboardSettings,
    *,
    stop: asyncio.Event,
    reach: RouterAddress = same_address,
    on_listening: Callable[[str], None] = print,
    prometheus: str | None = None,
) -> None:
    """Serve until `stop` is set; `on_listening` gets the URL once the port is bound."""
    feed = RolloutFeed(client, namespaces, reach)
    await feed.start()
    http = httpx.AsyncClient(timeout=10.0)
    if prometheus is not None:
        settings = dataclasses.replace(settings, history=PrometheusHistory(prometheus, http))
    # Live streams end when the feed closes; the grace period covers a client that never reads again.
    config = uvicorn.Config(
        build_app(feed, settings), host=address, port=port, log_level="warning", lifespan="off", access_log=False,
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = _Server(config)
    task = asyncio.create_task(_listen(server), name="dashboard-http")
    try:
        while not server.started:
            if task.done():
                await task  # raises why it could not listen
            await asyncio.sleep(0.05)
        bound = server.servers[0].sockets[0].getsockname()[1]
        host = f"[{address}]" if ":" in address else address
        on_listening(f"http://{host}:{bound}/")
        await stop.wait()
    finally:
        await feed.close_streams()
        server.should_exit = True
        with contextlib.suppress(OSError):
            await task
        await http.aclose()
        await feed.stop()
