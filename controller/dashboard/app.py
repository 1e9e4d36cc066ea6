"""The dashboard's HTTP surface: two pages, their JSON and live streams, and one POST per action.

GET  /                                        every visible rollout (filter and sort in the page)
GET  /rollouts/{ns}/{name}                    one rollout
GET  /api/rollouts[/{ns}/{name}]              the same data as JSON
GET  /api/stream[/{ns}/{name}]                server-sent events: the data again whenever it changes
POST /api/rollouts/{ns}/{name}/actions/{a}    promote, promote-full, abort, retry, pause, resume, undo
GET  /static/...                              the page's script, style and plotly.js, all from the package
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from plotly.offline import get_plotlyjs
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from controller.dashboard.actions import act
from controller.dashboard.feed import RolloutFeed
from controller.dashboard.history import rollout_start, step_names
from controller.dashboard.identity import kube_user_for
from controller.dashboard.prometheus import HistoryError, PrometheusHistory
from controller.dashboard.security import CSRF_HEADER, LOOPBACK_HOSTS, SESSION_COOKIE, Denied, Guard
from controller.dashboard.views import detail, row
from controller.engine.inputs import ManualAction
from controller.kube.errors import KubeError, NotFound
from controller.kube.manual_send import Pending

__all__ = ["DashboardSettings", "build_app"]

_STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
_KEEPALIVE_S = 15.0
# Live updates are coalesced: at most one build (and push) per stream in this long, however busy the cluster.
_COALESCE_S = 0.5
# A rollout page's Events and router generations change without the rollout changing: read them this often.
_DETAIL_REFRESH_S = 5.0


@dataclass(frozen=True)
class DashboardSettings:
    guard: Guard
    who: str  # who acts, as the Event says: the kubeconfig's user locally, the token's holder otherwise
    history: PrometheusHistory | None = None  # charts of every router metric, when a Prometheus is given


@cache
def _plotly_js() -> bytes:
    return get_plotlyjs().encode()


def _environment() -> Environment:
    return Environment(loader=PackageLoader("controller.dashboard", "templates"), autoescape=True, undefined=StrictUndefined)


def build_app(feed: RolloutFeed, settings: DashboardSettings) -> Starlette:
    guard = settings.guard
    templates = _environment()

    def rows() -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return [row(obj, now) for obj in feed.rollouts()]

    async def one(namespace: str, name: str) -> dict[str, Any] | None:
        obj = feed.get(namespace, name)
        if obj is None:
            return None
        events, routers = await asyncio.gather(feed.events(namespace), feed.routers(namespace, name))
        now = datetime.now(UTC)
        data = detail(obj, step_names(obj), events, routers, now)
        if settings.history is not None:
            try:
                data["charts"] = await settings.history.charts(namespace, name, rollout_start(obj, events, now), now) + data["charts"]
            except HistoryError as exc:
                data["historyNote"] = str(exc)
        return data

    def page(request: Request, template: str, data: Any, title: str) -> Response:
        session = request.cookies.get(SESSION_COOKIE) or guard.new_session()
        context = {"title": title, "data": data, "csrf": guard.csrf_token(session), "actions_enabled": guard.actions_enabled,
                   "needs_token": guard.needs_token, "read_only_reason": "" if guard.actions_enabled else guard.why_read_only(),
                   "namespaces": ", ".join(feed.namespaces) or "all namespaces"}  # fmt: skip
        response = HTMLResponse(templates.get_template(template).render(**context))
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    async def list_page(request: Request) -> Response:
        return page(request, "list.html.j2", {"rows": rows()}, "ModelRollouts")

    async def rollout_page(request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        data = await one(namespace, name)
        if data is None:
            return HTMLResponse(templates.get_template("missing.html.j2").render(namespace=namespace, name=name), status_code=404)
        return page(request, "detail.html.j2", data, f"{namespace}/{name}")

    async def list_json(_request: Request) -> Response:
        return JSONResponse({"rows": rows()})

    async def rollout_json(request: Request) -> Response:
        data = await one(request.path_params["namespace"], request.path_params["name"])
        return JSONResponse(data) if data is not None else JSONResponse({"error": "not found"}, status_code=404)

    def stream(build: Callable[[], Awaitable[Any]], key: Callable[[], Any]) -> Response:
        """Server-sent events: `build()` again when `key()` changes or every refresh period, sent when it differs."""

        async def events() -> AsyncIterator[str]:
            loop = asyncio.get_running_loop()
            seen, sent, last_key = -1, "", object()
            built_at = quiet_since = loop.time() - _DETAIL_REFRESH_S
            while True:
                seen = await feed.wait_change(seen, _DETAIL_REFRESH_S)
                if feed.closed:
                    return
                now, current = loop.time(), key()
                if current != last_key or now - built_at >= _DETAIL_REFRESH_S:
                    last_key, built_at = current, now
                    payload = json.dumps(await build(), separators=(",", ":"))
                    if payload != sent:
                        sent, quiet_since = payload, now
                        yield f"data: {payload}\n\n"
                    await asyncio.sleep(_COALESCE_S)  # however busy the cluster, at most one build per _COALESCE_S
                elif now - quiet_since >= _KEEPALIVE_S:
                    quiet_since = now
                    yield ": keep-alive\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def list_stream(_request: Request) -> Response:
        async def build() -> Any:
            return {"rows": rows()}

        return stream(build, lambda: feed.version)

    async def rollout_stream(request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]

        def key() -> Any:
            obj = feed.get(namespace, name)
            return (obj or {}).get("metadata", {}).get("resourceVersion")

        async def build() -> Any:
            return await one(namespace, name) or {"missing": True}

        return stream(build, key)

    async def action(request: Request) -> Response:
        namespace, name, verb = request.path_params["namespace"], request.path_params["name"], request.path_params["action"]
        try:
            wanted = ManualAction(verb)
        except ValueError:
            return JSONResponse({"error": f"unknown action {verb!r}; one of {', '.join(a.value for a in ManualAction)}"}, status_code=404)
        try:
            kube_token = guard.check_action(request.cookies.get(SESSION_COOKIE), request.headers.get(CSRF_HEADER),
                                            request.headers.get("origin"), request.headers.get("host"),
                                            request.headers.get("authorization"))  # fmt: skip
            obj = feed.get(namespace, name)
            if obj is None:
                return JSONResponse({"error": f"modelrollout {namespace}/{name} not found"}, status_code=404)
            who = await _who(kube_token, request, namespace, name)
        except Denied as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        try:
            sent = await act(feed.client, obj, wanted, who)
        except Pending as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except NotFound:
            return JSONResponse({"error": f"modelrollout {namespace}/{name} not found"}, status_code=404)
        except KubeError as exc:
            return JSONResponse({"error": f"the Kubernetes API refused the request: {exc}"}, status_code=502)
        return JSONResponse(
            {"request": sent.id, "action": wanted.value, "message": f"{wanted.value} requested; waiting for the controller"},
            status_code=202,
        )

    async def _who(kube_token: str | None, request: Request, namespace: str, name: str) -> str:
        """Who asked, as the Event records it: a Kubernetes user, the token's holder, or the local user."""
        if kube_token is not None:
            return await kube_user_for(feed.client, kube_token, namespace, name)
        if guard.local and not guard.needs_token:
            return settings.who
        address = request.client.host if request.client else "an unknown address"
        return f"a holder of the dashboard token at {address}" if guard.token is not None else f"{settings.who} at {address}"

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return Response(_plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})
        if name not in _STATIC:
            return Response("not found", status_code=404)
        body = files("controller.dashboard").joinpath("static", name).read_bytes()
        return Response(body, media_type=_STATIC[name], headers={"Cache-Control": "no-cache"})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "rollouts": len(feed.store)})

    routes = [
        Route("/", list_page),
        Route("/rollouts/{namespace}/{name}", rollout_page),
        Route("/api/rollouts", list_json),
        Route("/api/rollouts/{namespace}/{name}", rollout_json),
        Route("/api/stream", list_stream),
        Route("/api/stream/{namespace}/{name}", rollout_stream),
        Route("/api/rollouts/{namespace}/{name}/actions/{action}", action, methods=["POST"]),
        Route("/static/{name}", static),
        Route("/healthz", healthz),
    ]
    # Bound to loopback, only a loopback name may be asked for: a page whose own name an attacker
    # re-points at 127.0.0.1 (DNS rebinding) would otherwise read it, and post with its CSRF token.
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_HOSTS))] if guard.local else []
    return Starlette(routes=routes, middleware=middleware)
