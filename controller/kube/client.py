"""The one module that imports the Kubernetes client: the official client, async, objects as plain dicts.

The official client is synchronous, so requests run on a small thread pool and watches on a
thread each; callers see coroutines and an async iterator. Responses are read raw and parsed
with orjson into dicts (the typed models cost memory and time the controller has no use for).
Every `ApiException` or connection failure leaves this module as a `KubeError` subclass.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
import pydantic
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.utils.quantity import parse_quantity
from kubernetes.watch.watch import iter_resp_lines

from controller.api.resource import GROUP, PLURAL, VERSION
from controller.kube.errors import KubeError, error_for_status

__all__ = [
    "parse_quantity",
    "Kind",
    "MODELROLLOUT",
    "DEPLOYMENT",
    "SERVICE",
    "CONFIGMAP",
    "SERVICE_ACCOUNT",
    "ROLE",
    "ROLE_BINDING",
    "ENDPOINT_SLICE",
    "POD",
    "LEASE",
    "EVENT",
    "JOB",
    "MUTATING_WEBHOOK_CONFIGURATION",
    "SUBJECT_ACCESS_REVIEW",
    "KIND_BY_NAME",
    "WatchEvent",
    "KubeClient",
    "load_configuration",
    "current_namespace",
]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class Kind:
    """How to reach one resource type through the official client's API classes.

    Built-in kinds name their API class and the method suffix (`namespaced_deployment`); the
    ModelRollout goes through `CustomObjectsApi` with its group, version and plural.
    """

    name: str
    api: str
    suffix: str = ""
    plural: str = ""
    group: str = ""
    version: str = ""
    # Cluster-scoped: the API class's methods take no namespace; callers pass "" for it.
    cluster: bool = False

    @property
    def custom(self) -> bool:
        return self.api == "CustomObjectsApi"


MODELROLLOUT = Kind("ModelRollout", "CustomObjectsApi", plural=PLURAL, group=GROUP, version=VERSION)
DEPLOYMENT = Kind("Deployment", "AppsV1Api", "deployment")
SERVICE = Kind("Service", "CoreV1Api", "service")
CONFIGMAP = Kind("ConfigMap", "CoreV1Api", "config_map")
SERVICE_ACCOUNT = Kind("ServiceAccount", "CoreV1Api", "service_account")
ROLE = Kind("Role", "RbacAuthorizationV1Api", "role")
ROLE_BINDING = Kind("RoleBinding", "RbacAuthorizationV1Api", "role_binding")
ENDPOINT_SLICE = Kind("EndpointSlice", "DiscoveryV1Api", "endpoint_slice")
POD = Kind("Pod", "CoreV1Api", "pod")
LEASE = Kind("Lease", "CoordinationV1Api", "lease")
EVENT = Kind("Event", "CoreV1Api", "event")
JOB = Kind("Job", "BatchV1Api", "job")
MUTATING_WEBHOOK_CONFIGURATION = Kind(
    "MutatingWebhookConfiguration", "AdmissionregistrationV1Api", "mutating_webhook_configuration", cluster=True
)
SUBJECT_ACCESS_REVIEW = Kind("SubjectAccessReview", "AuthorizationV1Api", "subject_access_review", cluster=True)

KIND_BY_NAME = {
    k.name: k
    for k in (MODELROLLOUT, DEPLOYMENT, SERVICE, CONFIGMAP, SERVICE_ACCOUNT, ROLE, ROLE_BINDING, ENDPOINT_SLICE, POD, LEASE, EVENT)
}


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict[str, Any]


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> k8s.Configuration:
    """A kubeconfig file when given (or found in the usual places), else the pod's service account."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False)
    except (ConfigException, OSError, TypeError) as exc:
        if kubeconfig is not None:
            raise KubeError(0, "", f"kubeconfig {kubeconfig} cannot be used: {exc}") from exc
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except ConfigException as inner:
            raise KubeError(0, "", f"no kubeconfig found and not running in a pod: {inner}") from inner
    return configuration


def current_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's context (as kubectl picks it); "default" when it names none."""
    try:
        contexts, active = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError, TypeError):
        return "default"
    chosen = next((c for c in contexts if c.get("name") == context), active) if context else active
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


def _translate(exc: Exception) -> KubeError:
    if isinstance(exc, ApiException):
        reason, message = str(exc.reason or ""), ""
        if exc.body:
            try:
                body = orjson.loads(exc.body)
                reason, message = str(body.get("reason") or reason), str(body.get("message") or "")
            except (orjson.JSONDecodeError, AttributeError):
                message = str(exc.body)[:300]
        return error_for_status(int(exc.status or 0), reason, message or str(exc.reason or ""))
    return KubeError(0, "", f"Kubernetes API unreachable: {type(exc).__name__}: {exc}")


class KubeClient:
    """Async verbs on any `Kind`: get, list, create, patch, replace, replace_status, delete, watch."""

    def __init__(self, configuration: k8s.Configuration, *, threads: int = 8, request_timeout_s: float = 30.0) -> None:
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, threads + 16)
        self._api_client = k8s.ApiClient(configuration)
        self._apis: dict[str, Any] = {}
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kube-api")
        self._timeout_s = request_timeout_s

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._api_client.close()

    def _api(self, name: str) -> Any:
        if name not in self._apis:
            self._apis[name] = getattr(k8s, name)(self._api_client)
        return self._apis[name]

    def _method(self, kind: Kind, verb: str, namespace: str | None) -> tuple[Callable[..., Any], dict[str, Any]]:
        """The client method for (kind, verb) and the keyword arguments that say which kind and namespace."""
        api = self._api(kind.api)
        scoped = {"namespace": namespace} if namespace is not None else {}
        if kind.custom:
            scope = "namespaced" if namespace is not None else "cluster"
            name = f"replace_{scope}_custom_object_status" if verb == "replace_status" else f"{verb}_{scope}_custom_object"
            return getattr(api, name), {"group": kind.group, "version": kind.version, "plural": kind.plural, **scoped}
        if kind.cluster:
            return getattr(api, f"{'read' if verb == 'get' else verb}_{kind.suffix}"), {}
        if namespace is None:
            return getattr(api, f"list_{kind.suffix}_for_all_namespaces"), {}
        return getattr(api, f"{'read' if verb == 'get' else verb}_namespaced_{kind.suffix}"), scoped

    def _call_sync(self, kind: Kind, verb: str, namespace: str | None, **kwargs: Any) -> Any:
        """Run one request and parse its JSON body; every failure becomes a KubeError."""
        method, which = self._method(kind, verb, namespace)
        try:
            response = method(**which, **kwargs, _preload_content=False, _request_timeout=self._timeout_s)
            data = response.data
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _translate(exc) from exc
        except pydantic.ValidationError as exc:  # the client's typed models refused the body before sending it
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise error_for_status(422, "Invalid", f"the request body was refused before it was sent: {where}: {first['msg']}") from exc
        return orjson.loads(data) if data else {}

    async def _call(self, kind: Kind, verb: str, namespace: str | None, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(self._call_sync, kind, verb, namespace, **kwargs))

    async def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
        return await self._call(kind, "get", namespace, name=name)

    async def list(self, kind: Kind, namespace: str | None, label_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """(items, the list's resourceVersion to start a watch from)."""
        kwargs = {"label_selector": label_selector} if label_selector else {}
        body = await self._call(kind, "list", namespace, **kwargs)
        return list(body.get("items") or []), str(body.get("metadata", {}).get("resourceVersion", ""))

    async def create(self, kind: Kind, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call(kind, "create", namespace, body=body)

    async def patch(self, kind: Kind, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch: the fields given replace the live ones, lists as a whole."""
        return await self._call(kind, "patch", namespace, name=name, body=body, _content_type=MERGE_PATCH)

    async def json_patch(self, kind: Kind, namespace: str, name: str, operations: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """An RFC 6902 JSON patch; a leading `test` of the resourceVersion makes it apply to the version read only."""
        return await self._call(kind, "patch", namespace, name=name, body=[*operations], _content_type=JSON_PATCH)

    async def replace(self, kind: Kind, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A full update; with `metadata.resourceVersion` set it fails with Conflict if the object moved on."""
        return await self._call(kind, "replace", namespace, name=name, body=body)

    async def replace_status(self, kind: Kind, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call(kind, "replace_status", namespace, name=name, body=body)

    async def delete(self, kind: Kind, namespace: str, name: str) -> None:
        await self._call(kind, "delete", namespace, name=name)

    def watch(
        self, kind: Kind, namespace: str | None, resource_version: str, label_selector: str | None = None, timeout_s: int = 300
    ) -> AsyncGenerator[WatchEvent, None]:
        """Events after `resource_version` until the server ends the watch; raises Gone when it is too old."""
        return _WatchStream(self, kind, namespace, resource_version, label_selector, timeout_s).events()

    def _open_watch(self, kind: Kind, namespace: str | None, rv: str, selector: str | None, timeout_s: int) -> Any:
        method, which = self._method(kind, "list", namespace)
        kwargs: dict[str, Any] = {"watch": True, "resource_version": rv, "allow_watch_bookmarks": True, "timeout_seconds": timeout_s}
        if selector:
            kwargs["label_selector"] = selector
        try:
            return method(**which, **kwargs, _preload_content=False, _request_timeout=(10, timeout_s + 30))
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _translate(exc) from exc


class _WatchStream:
    """One watch request read on its own thread; events cross to the event loop through a queue."""

    _END = object()

    def __init__(self, client: KubeClient, kind: Kind, namespace: str | None, rv: str, selector: str | None, timeout_s: int) -> None:
        self._open = partial(client._open_watch, kind, namespace, rv, selector, timeout_s)
        self._response: Any = None
        self._closed = threading.Event()

    async def events(self) -> AsyncGenerator[WatchEvent, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        thread = threading.Thread(target=self._pump, args=(loop, queue), name="kube-watch", daemon=True)
        thread.start()
        try:
            while (item := await queue.get()) is not self._END:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._close()

    def _pump(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            self._response = self._open()
            for event in self._read(self._response):
                if self._closed.is_set():
                    break
                put(event)
        except KubeError as exc:
            put(exc)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if not self._closed.is_set():
                put(_translate(exc))
        finally:
            try:
                put(self._END)
            except RuntimeError:
                pass  # the loop is closed: nobody is listening any more

    @staticmethod
    def _read(response: Any) -> Iterator[WatchEvent]:
        for line in iter_resp_lines(response):
            if not line:
                continue
            event = orjson.loads(line)
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                raise error_for_status(int(status.get("code", 0)), str(status.get("reason", "")), str(status.get("message", "")))
            yield WatchEvent(str(event.get("type")), event.get("object") or {})

    def _close(self) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(AttributeError, OSError, RuntimeError):
                response.shutdown()  # unblocks the reading thread; fails once the stream has ended
            response.release_conn()
