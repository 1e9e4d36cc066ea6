"""Where configs come from: a file (polled) or a Kubernetes ConfigMap (list + watch).

Both hand every new text to `ConfigKeeper.apply_text`, which keeps the last good config when a
new one is invalid. The ConfigMap's config is read from the first of `CONFIGMAP_KEYS` present
(the controller writes `router.json`). The Kubernetes client is blocking, so the ConfigMap
watch runs in a daemon thread and passes texts to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from router.errors import ConfigError
from router.state import ConfigKeeper

__all__ = ["CONFIGMAP_KEYS", "ConfigMapSource", "FileSource"]

CONFIGMAP_KEYS = ("router.json", "router.yaml", "config.yaml")
log = logging.getLogger("modelrollout.router")


class ConfigSource(Protocol):
    def prepare(self) -> bool:
        """Get ready to watch (at start, before serving); False, with the reason logged, if it cannot."""
        ...

    async def watch(self) -> None:
        """Apply every new config until cancelled."""
        ...


class FileSource:
    """Reads the config file at start, then again whenever its inode, size or mtime change.

    A change is read once the file has looked the same for two polls in a row, so a writer
    that is not atomic is not caught half-way (and counted as an invalid config).
    """

    def __init__(self, path: Path, keeper: ConfigKeeper, poll_interval_s: float = 0.1) -> None:
        self._path = path
        self._keeper = keeper
        self._poll_interval_s = poll_interval_s
        self._loaded: tuple[int, int, int] | None = None

    def prepare(self) -> bool:
        """Without a valid file at start there is no config to serve: refuse to start."""
        return self.load()

    def load(self) -> bool:
        """Apply the file as it is now; False if it is missing or invalid."""
        self._loaded = None
        try:
            self._loaded = _signature(self._path)
            text = self._path.read_bytes()
        except OSError as exc:  # remembered as seen: retried only once the file changes again
            self._keeper.reject(str(self._path), ConfigError("", f"cannot read the config file: {exc.strerror or exc}"))
            return False
        return self._keeper.apply_text(text, str(self._path))

    async def watch(self) -> None:
        previous = self._loaded
        while True:
            await asyncio.sleep(self._poll_interval_s)
            try:
                current: tuple[int, int, int] | None = _signature(self._path)
            except OSError:
                current = None
            if current == previous and current != self._loaded:
                self.load()
            previous = current


def _signature(path: Path) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class ConfigMapSource:
    """Lists the ConfigMap, then watches it from that resourceVersion; re-lists on 410 Gone."""

    def __init__(self, namespace: str, name: str, keeper: ConfigKeeper, kubeconfig: str | None = None) -> None:
        self._namespace = namespace
        self._name = name
        self._keeper = keeper
        self._kubeconfig = kubeconfig
        self._stop = threading.Event()
        self._api: Any = None

    @property
    def source(self) -> str:
        return f"ConfigMap {self._namespace}/{self._name}"

    def prepare(self) -> bool:
        """Load the Kubernetes credentials now, so bad ones stop the router at once."""
        from kubernetes.config import ConfigException

        try:
            self._api = _core_api(self._kubeconfig)
        except (ConfigException, OSError) as exc:
            log.error("%s: cannot load Kubernetes credentials: %s", self.source, exc)
            return False
        return True

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        thread = threading.Thread(target=self._run, args=(loop,), name="configmap-watch", daemon=True)
        thread.start()
        try:
            await asyncio.Event().wait()
        finally:
            self._stop.set()

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        from kubernetes.client.exceptions import ApiException

        delay_s = 0.5
        while not self._stop.is_set():
            try:
                self._list_and_watch(self._api, loop)
                delay_s = 0.5
            except ApiException as exc:
                if exc.status == 410:
                    continue  # our resourceVersion is too old: list again at once
                log.warning("%s: Kubernetes API error %s %s; retrying in %.1fs", self.source, exc.status, exc.reason, delay_s)
            except Exception as exc:  # noqa: BLE001 - any failure of the API connection: back off and retry
                log.warning("%s: %s; retrying in %.1fs", self.source, exc, delay_s)
            if self._stop.wait(delay_s):
                return
            delay_s = min(delay_s * 2, 30.0)

    def _list_and_watch(self, api: Any, loop: asyncio.AbstractEventLoop) -> None:
        from kubernetes import watch

        selector = f"metadata.name={self._name}"
        listed = api.list_namespaced_config_map(self._namespace, field_selector=selector, _request_timeout=30)
        for item in listed.items:
            self._deliver(loop, item.data)
        version = listed.metadata.resource_version
        while not self._stop.is_set():
            stream = watch.Watch()
            for event in stream.stream(
                api.list_namespaced_config_map, self._namespace, field_selector=selector,
                resource_version=version, timeout_seconds=60, _request_timeout=90,
            ):  # fmt: skip
                if event["type"] in ("ADDED", "MODIFIED"):
                    self._deliver(loop, event["raw_object"].get("data"))
                elif event["type"] == "DELETED":
                    log.warning("%s was deleted; generation %s stays in force", self.source, self._keeper.generation)
                if self._stop.is_set():
                    stream.stop()
            version = stream.resource_version or version

    def _deliver(self, loop: asyncio.AbstractEventLoop, data: dict[str, str] | None) -> None:
        loop.call_soon_threadsafe(self._apply, dict(data or {}))

    def _apply(self, data: dict[str, str]) -> None:
        key = next((k for k in CONFIGMAP_KEYS if k in data), None)
        if key is None:
            keys = ", ".join(CONFIGMAP_KEYS)
            self._keeper.reject(self.source, ConfigError("data", f"has none of the keys {keys}; found {sorted(data)}"))
            return
        self._keeper.apply_text(data[key], f"{self.source} key {key}")


def _core_api(kubeconfig: str | None) -> Any:
    """A CoreV1Api on its own client: in-cluster credentials in a pod, else the kubeconfig."""
    from kubernetes import client, config

    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.CoreV1Api(client.ApiClient(configuration))
    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
