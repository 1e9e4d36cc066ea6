"""Fault injection over HTTP, under `/fakekube/`, for a stand-in running as a separate process.

    POST   /fakekube/compact          forget the watch history (old watches get 410)
    POST   /fakekube/conflicts        {"resource", "namespace", "name", "count"}
    POST   /fakekube/failures         {"prefix", "status", "count", "method"}
    POST   /fakekube/latency          {"seconds", "prefix"}
    POST   /fakekube/close-watches    end every open watch stream
    DELETE /fakekube/faults           clear conflicts, failures and latency
    GET    /fakekube/stats            resourceVersion, open watches, requests by verb and resource

In-process tests use the same operations directly on `FakeKube`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tests.fakekube.errors import BadRequest
from tests.fakekube.faults import Faults
from tests.fakekube.rest import json_response
from tests.fakekube.store import Store
from tests.fakekube.streaming import WatchStreams

__all__ = ["PREFIX", "ConflictStorm", "PathFailure", "Latency", "add_admin_routes"]

PREFIX = "/fakekube"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Parsed = TypeVar("_Parsed", bound=_Body)


class ConflictStorm(_Body):
    resource: str = Field(min_length=1, description="plural or plural.group, e.g. modelrollouts")
    namespace: str = ""
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


class PathFailure(_Body):
    prefix: str = Field(min_length=1)
    status: int = Field(default=500, ge=400, le=599)
    count: int | None = Field(default=None, ge=0)
    method: str | None = None


class Latency(_Body):
    seconds: float = Field(ge=0)
    prefix: str = "/"


async def _parse(request: web.Request, model: type[_Parsed]) -> _Parsed:
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        raise BadRequest(f"{request.path}: {exc.errors(include_url=False)}") from exc


def add_admin_routes(app: web.Application, store: Store, faults: Faults, watches: WatchStreams, counts: Counter[tuple[str, str]]) -> None:
    async def compact(request: web.Request) -> web.Response:
        return json_response({"resourceVersion": store.compact()})

    async def conflicts(request: web.Request) -> web.Response:
        storm = await _parse(request, ConflictStorm)
        try:
            faults.conflict_storm(storm.resource, storm.namespace, storm.name, storm.count)
        except KeyError as exc:
            raise BadRequest(str(exc.args[0])) from exc
        return json_response(storm.model_dump())

    async def failures(request: web.Request) -> web.Response:
        failure = await _parse(request, PathFailure)
        faults.fail(failure.prefix, status=failure.status, count=failure.count, method=failure.method)
        return json_response(failure.model_dump())

    async def latency(request: web.Request) -> web.Response:
        delay = await _parse(request, Latency)
        faults.add_latency(delay.seconds, delay.prefix)
        return json_response(delay.model_dump())

    async def close_watches(request: web.Request) -> web.Response:
        closed = len(watches)
        watches.close_all()
        return json_response({"closed": closed})

    async def clear(request: web.Request) -> web.Response:
        faults.clear()
        return json_response({})

    async def stats(request: web.Request) -> web.Response:
        requests = {f"{verb} {resource}": n for (verb, resource), n in sorted(counts.items())}
        return json_response({"resourceVersion": store.resource_version, "watches": len(watches), "requests": requests})

    routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.Response]]]] = [
        ("POST", "compact", compact),
        ("POST", "conflicts", conflicts),
        ("POST", "failures", failures),
        ("POST", "latency", latency),
        ("POST", "close-watches", close_watches),
        ("DELETE", "faults", clear),
        ("GET", "stats", stats),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, f"{PREFIX}/{path}", handler)
