"""Running the stand-in: `FakeKube` serves it from a background thread for in-process tests.

    with FakeKube(ready_after_s=0.05) as kube:
        api = kubernetes.client.CoreV1Api(kube.api_client())
        kube.store.get("configmaps", "default", "x")      # direct inspection
        kube.faults.conflict_storm("modelrollouts", "default", "demo", 3)

The server runs on its own event loop in its own thread; the store, the faults and the
request counts may be used from the test's thread while it runs.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.fakekube.deployments import DeploymentReadiness
from tests.fakekube.faults import Faults
from tests.fakekube.kubeconfig import write_kubeconfig
from tests.fakekube.server import ApiServer, SeenRequest
from tests.fakekube.store import Admission, Store

__all__ = ["FakeKube", "bind_socket", "serve_until"]

_START_TIMEOUT_S = 10.0


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to (host, port); port 0 picks a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def serve_until(
    server: ApiServer, sock: socket.socket, stopping: asyncio.Event, ready_after_s: float | None, started: Callable[[str], None]
) -> None:
    """Serve on `sock` until `stopping` is set; `started(url)` once requests are accepted."""
    url = await server.start(sock)
    readiness = None
    if ready_after_s is not None:
        readiness = DeploymentReadiness(server.store, asyncio.get_running_loop(), ready_after_s)
        readiness.attach()
    try:
        started(url)
        await stopping.wait()
    finally:
        if readiness is not None:
            readiness.cancel()
        await server.stop()


class FakeKube:
    def __init__(
        self,
        *,
        ready_after_s: float | None = None,
        history_size: int = 10_000,
        admission: Mapping[str, Admission] | None = None,
        namespaces: Iterable[str] = ("default",),
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.store = Store(history_size=history_size, admission=admission, seed=seed)
        self.server = ApiServer(self.store)
        self._namespaces = tuple(namespaces)
        self._address = (host, port)
        self._ready_after_s = ready_after_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: Exception | None = None
        self._workdir: Path | None = None
        self.url = ""
        self.kubeconfig_path = Path()

    @property
    def faults(self) -> Faults:
        return self.server.faults

    @property
    def request_counts(self) -> Counter[tuple[str, str]]:
        """Requests served, by (verb, resource): e.g. ("list", "deployments.apps")."""
        return self.server.request_counts

    @property
    def requests(self) -> list[SeenRequest]:
        """API requests in arrival order (the newest `REQUEST_LOG_SIZE`), those answered by an injected fault too."""
        return list(self.server.requests)

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("this FakeKube is already started")
        for namespace in self._namespaces:
            self.store.create("namespaces", None, {"metadata": {"name": namespace}})
        sock = bind_socket(*self._address)
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fakekube", daemon=True)
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT_S):
            raise RuntimeError(f"the Kubernetes API stand-in did not start within {_START_TIMEOUT_S} s")
        if self._error is not None:
            raise RuntimeError(f"the Kubernetes API stand-in failed to start: {self._error}") from self._error
        self._workdir = Path(tempfile.mkdtemp(prefix="fakekube-"))
        self.kubeconfig_path = write_kubeconfig(self._workdir / "kubeconfig", self.url)
        return self

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve(sock))
        except Exception as exc:  # noqa: BLE001 -- reported to start(), which is waiting for it
            self._error = exc
            self._started.set()
        finally:
            loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await serve_until(self.server, sock, self._stopping, self._ready_after_s, self._on_started)

    def _on_started(self, url: str) -> None:
        self.url = url
        self._started.set()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(_START_TIMEOUT_S)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def close_watches(self) -> None:
        """End every open watch stream now, as an API server restart would."""
        self.call_on_loop(self.server.watches.close_all)

    def call_on_loop(self, function: Callable[[], None]) -> None:
        """Run `function` on the server's event loop, between two of its steps, and wait for it."""
        if self._loop is None:
            raise RuntimeError("this FakeKube is not running")
        done = threading.Event()

        def run() -> None:
            try:
                function()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        if not done.wait(_START_TIMEOUT_S):
            raise RuntimeError(f"the Kubernetes API stand-in's loop did not run a call within {_START_TIMEOUT_S} s")

    def configuration(self) -> k8s.Configuration:
        """A client configuration read from the kubeconfig file, as a controller would read it."""
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(config_file=str(self.kubeconfig_path), client_configuration=configuration, persist_config=False)
        return configuration

    def api_client(self) -> k8s.ApiClient:
        return k8s.ApiClient(self.configuration())
