"""The sidecar injector's HTTPS server: `POST /mutate-pods` answers AdmissionReviews, `GET /healthz` says it serves.

    server = WebhookServer(client, WebhookConfig(listen=("0.0.0.0", 9443), hosts=("svc.ns.svc",)))
    await server.run(stop)          # serves, and renews its certificate, until `stop` is set

Every replica of the controller serves the webhook, leader or not: the API server calls
whichever the webhook Service picks. A body that is not an AdmissionReview is answered 400
with a JSON error naming the problem; the API server then admits the Pod unchanged
(`failurePolicy: Ignore`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from controller.kube.certificates import RotationPolicy
from controller.kube.client import KubeClient
from controller.kube.objects import DEFAULT_ROUTER_IMAGE
from controller.kube.webhook_admission import PodInjector
from controller.kube.webhook_review import MalformedReview, parse_review
from controller.kube.webhook_tls import CertificateKeeper, MountedKeeper, SelfSignedKeeper

__all__ = ["WebhookConfig", "WebhookServer", "MUTATE_PATH", "DEFAULT_CONFIGURATION"]

log = logging.getLogger(__name__)

MUTATE_PATH = "/mutate-pods"
DEFAULT_CONFIGURATION = "modelrollout-sidecar-injector"
# A Pod with many containers and volumes is well under this; the API server caps requests at 3 MiB.
_MAX_BODY_BYTES = 4 * 1024 * 1024


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WebhookConfig:
    listen: tuple[str, int]
    # DNS names and IP addresses the API server reaches the webhook by (the certificate's names).
    hosts: tuple[str, ...] = ()
    # The MutatingWebhookConfiguration whose caBundle this replica keeps in step.
    configuration: str = DEFAULT_CONFIGURATION
    # cert-manager's Secret mounted here: serve its tls.crt/tls.key; cert-manager keeps the caBundle.
    cert_dir: Path | None = None
    rotation: RotationPolicy = field(default_factory=RotationPolicy)
    refresh_every_s: float = 30.0
    identity: str = "modelrollout-controller"
    # The controller's router image, for rollouts that set no spec.router.image (as the managed router).
    router_image: str = DEFAULT_ROUTER_IMAGE

    def __post_init__(self) -> None:
        if self.cert_dir is None and not self.hosts:
            raise ValueError("the webhook needs --webhook-host (the names it is reached by) unless --webhook-cert-dir is given")
        if self.refresh_every_s <= 0:
            raise ValueError(f"refresh_every_s {self.refresh_every_s} must be positive")


class WebhookServer:
    def __init__(self, client: KubeClient, config: WebhookConfig, now: Callable[[], datetime] = _utc_now) -> None:
        self._config = config
        self._injector = PodInjector(client, now, config.identity, config.router_image)
        self.keeper: CertificateKeeper = (
            MountedKeeper(config.cert_dir)
            if config.cert_dir is not None
            else SelfSignedKeeper(client, config.configuration, config.hosts, config.rotation, now)
        )
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        """Publish this replica's CA (when it keeps its own), then listen."""
        if isinstance(self.keeper, SelfSignedKeeper):
            await self.keeper.publish()
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        app.router.add_post(MUTATE_PATH, self._mutate)
        app.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        host, port = self._config.listen
        # Bound here so that port 0 (a free one, in tests) can be read back.
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock, ssl_context=self.keeper.serving.context).start()
        log.info("sidecar injector serving https://%s:%d%s", host, self.port, MUTATE_PATH)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._config.refresh_every_s)
                if not stop.is_set():
                    await self.keeper.refresh()
        finally:
            await self.stop()

    async def _mutate(self, request: web.Request) -> web.Response:
        try:
            review = parse_review(await request.read())
        except MalformedReview as exc:
            log.warning("refused a malformed AdmissionReview from %s: %s", request.remote, exc)
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(await self._injector.review(review))

    async def _health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})
