"""The REST verbs on one target: get, list, create, update, patch, delete (watch is in `streaming`).

Each handler reads the request, calls the store, and answers JSON; the store's `ApiError`s are
turned into `Status` answers by the server, one level up.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakekube.errors import BadRequest, MethodNotAllowed, conflict
from tests.fakekube.faults import Faults
from tests.fakekube.patches import patch_type_of
from tests.fakekube.paths import Target
from tests.fakekube.store import BACKGROUND, FOREGROUND, ORPHAN, Store
from tests.fakekube.writes import STALE

__all__ = ["RestHandlers", "json_response", "verb_of", "TRUE"]

TRUE = ("true", "1", "True")
_PROPAGATION = (ORPHAN, BACKGROUND, FOREGROUND)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def verb_of(method: str, target: Target, watch: bool) -> str:
    """The Kubernetes verb of a request; 405 for a method the target does not serve."""
    if target.name is None:
        verb = {"GET": "watch" if watch else "list", "POST": "create"}.get(method)
    elif target.subresource:
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch"}.get(method)
    else:
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
    if verb is None:
        what = target.resource.qualified + (f"/{target.subresource}" if target.subresource else "")
        raise MethodNotAllowed(f"the server does not allow this method on the requested resource ({method} {what})")
    return verb


async def _json_body(request: web.Request, *, empty: Any = None) -> Any:
    raw = await request.read()
    if not raw.strip():
        if empty is None:
            raise BadRequest(f"{request.method} {request.path} needs a JSON body")
        return empty
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from exc


class RestHandlers:
    def __init__(self, store: Store, faults: Faults) -> None:
        self._store = store
        self._faults = faults

    async def handle(self, verb: str, request: web.Request, target: Target) -> web.Response:
        handler = getattr(self, f"_{verb}")
        return await handler(request, target)

    def _check_injected_conflict(self, target: Target) -> None:
        if target.name and self._faults.take_conflict(target.resource, target.namespace, target.name):
            raise conflict(target.resource, target.name, STALE)

    async def _get(self, request: web.Request, target: Target) -> web.Response:
        return json_response(self._store.get(target.resource, target.namespace, str(target.name)))

    async def _list(self, request: web.Request, target: Target) -> web.Response:
        query = request.query
        items, rv = self._store.list(
            target.resource, target.namespace, label_selector=query.get("labelSelector"), field_selector=query.get("fieldSelector")
        )
        resource = target.resource
        return json_response(
            {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": {"resourceVersion": rv}, "items": items}
        )

    async def _create(self, request: web.Request, target: Target) -> web.Response:
        body = await _json_body(request)
        return json_response(self._store.create(target.resource, target.namespace, body), status=201)

    async def _update(self, request: web.Request, target: Target) -> web.Response:
        body = await _json_body(request)
        self._check_injected_conflict(target)
        status = target.subresource == "status"
        return json_response(self._store.replace(target.resource, target.namespace, str(target.name), body, status=status))

    async def _patch(self, request: web.Request, target: Target) -> web.Response:
        patch_type = patch_type_of(request.headers.get("Content-Type", ""))
        body = await _json_body(request)
        self._check_injected_conflict(target)
        status = target.subresource == "status"
        return json_response(self._store.patch(target.resource, target.namespace, str(target.name), body, patch_type, status=status))

    async def _delete(self, request: web.Request, target: Target) -> web.Response:
        options = await _json_body(request, empty={})
        if not isinstance(options, dict):
            raise BadRequest(f"DeleteOptions must be a JSON object, got {type(options).__name__}")
        propagation = request.query.get("propagationPolicy") or options.get("propagationPolicy") or BACKGROUND
        if propagation not in _PROPAGATION:
            raise BadRequest(f"propagationPolicy {propagation!r} is not supported: expected one of {', '.join(_PROPAGATION)}")
        preconditions = options.get("preconditions") or {}
        if not isinstance(preconditions, dict):
            raise BadRequest(f"DeleteOptions.preconditions must be a JSON object, got {type(preconditions).__name__}")
        deleted = self._store.delete(
            target.resource, target.namespace, str(target.name), propagation=propagation, preconditions=preconditions
        )
        details = {"name": target.name, "kind": target.resource.plural, "uid": deleted["metadata"]["uid"]}
        if target.resource.group:
            details["group"] = target.resource.group
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
