"""The webhook's serving certificate at run time: the SSL context, and who keeps the certificate fresh.

    ServingContext     the context the HTTPS server is built with; `use(pair)` makes every new
                       handshake present `pair` (connections already open keep theirs)
    SelfSignedKeeper   this replica's CA and serving certificate (controller.kube.certificates),
                       and the caBundle of the MutatingWebhookConfiguration kept in step
    MountedKeeper      cert-manager's Secret mounted as files; cert-manager keeps the caBundle

A keeper's `refresh()` is called on a timer; it never raises for an API error, it logs and
tries again on the next call, so a slow API server never stops the webhook serving.
"""

from __future__ import annotations

import base64
import logging
import ssl
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from controller.kube.certificates import CertificateState, RotationPolicy, advance, merged_bundle, start
from controller.kube.client import MUTATING_WEBHOOK_CONFIGURATION, KubeClient
from controller.kube.errors import KubeError

__all__ = ["ServingContext", "CertificateKeeper", "SelfSignedKeeper", "MountedKeeper", "bundle_operations", "TLS_CERT", "TLS_KEY"]

log = logging.getLogger(__name__)

# The file names of a kubernetes.io/tls Secret, as cert-manager writes it and the kubelet mounts it.
TLS_CERT, TLS_KEY = "tls.crt", "tls.key"


def _context_for(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # The ssl module loads keys from files only; the private key lives on disk for as long as this call.
    with tempfile.TemporaryDirectory(prefix="modelrollout-webhook-") as directory:
        cert_path, key_path = Path(directory) / TLS_CERT, Path(directory) / TLS_KEY
        cert_path.write_bytes(cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context


class ServingContext:
    """One SSL context for the server; its SNI callback hands each new handshake the latest certificate's context.

    The callback runs for every handshake, with or without a server name (the API server sends
    none when the webhook's URL names an IP address).
    """

    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        self.context = _context_for(cert_pem, key_pem)
        self._current = self.context
        self.context.sni_callback = self._choose

    def use(self, cert_pem: bytes, key_pem: bytes) -> None:
        self._current = _context_for(cert_pem, key_pem)

    def _choose(self, connection: ssl.SSLObject | ssl.SSLSocket, _server_name: str | None, _context: ssl.SSLContext) -> None:
        connection.context = self._current


class CertificateKeeper(Protocol):
    serving: ServingContext

    async def refresh(self) -> None: ...


def bundle_operations(live: dict[str, Any], ours: Sequence[x509.Certificate], now: datetime) -> list[dict[str, Any]]:
    """JSON patch operations that put `ours` into every webhook's caBundle; none when all have them.

    The first operation tests the resourceVersion read, so a concurrent writer (another
    replica, a `helm upgrade`) makes the patch fail instead of being overwritten.
    """
    operations: list[dict[str, Any]] = []
    for index, webhook in enumerate(live.get("webhooks") or []):
        config = webhook.get("clientConfig") or {}
        current = base64.b64decode(config.get("caBundle") or "")
        merged = merged_bundle(current, ours, now)
        if merged != current:
            op = "replace" if "caBundle" in config else "add"
            operations.append({"op": op, "path": f"/webhooks/{index}/clientConfig/caBundle", "value": base64.b64encode(merged).decode()})
    if not operations:
        return []
    return [{"op": "test", "path": "/metadata/resourceVersion", "value": live["metadata"]["resourceVersion"]}, *operations]


class SelfSignedKeeper:
    """This replica's own CA and serving certificate, renewed by `RotationPolicy`, its CAs kept in the caBundle."""

    def __init__(
        self, client: KubeClient, configuration: str, hosts: Sequence[str], policy: RotationPolicy, now: Callable[[], datetime]
    ) -> None:
        self._client = client
        self._configuration = configuration
        self._policy = policy
        self._now = now
        self.state: CertificateState = start(hosts, now(), policy)
        self.serving = ServingContext(self.state.serving.cert_pem, self.state.serving.key_pem)

    async def refresh(self) -> None:
        """Publish first, then serve: a certificate from a new CA is served only once its CA is in the bundle."""
        state = advance(self.state, self._now(), self._policy)
        await self.publish(state)
        if state.serving is not self.state.serving:
            self.serving.use(state.serving.cert_pem, state.serving.key_pem)
            log.info("webhook serving certificate renewed, valid until %s", state.serving.expires_at.isoformat())
        self.state = state

    async def publish(self, state: CertificateState | None = None, attempts: int = 3) -> bool:
        """Make sure the webhook configuration trusts this replica's CAs; False when the API server could not be told.

        Replicas starting together race for the same object: the loser's patch fails its test of
        the version read, and reading again at once settles it.
        """
        published = (state or self.state).published
        for attempt in range(1, attempts + 1):
            try:
                live = await self._client.get(MUTATING_WEBHOOK_CONFIGURATION, "", self._configuration)
                operations = bundle_operations(live, published, self._now())
                if operations:
                    await self._client.json_patch(MUTATING_WEBHOOK_CONFIGURATION, "", self._configuration, operations)
                    log.info("caBundle of MutatingWebhookConfiguration %s updated", self._configuration)
                return True
            except KubeError as exc:
                if attempt == attempts:
                    log.warning("could not keep the caBundle of MutatingWebhookConfiguration %s in step: %s", self._configuration, exc)
        return False


class MountedKeeper:
    """Serves the certificate cert-manager writes into a mounted Secret, re-read whenever its files change."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._files = self._read()
        self.serving = ServingContext(*self._files)

    def _read(self) -> tuple[bytes, bytes]:
        try:
            return (self._directory / TLS_CERT).read_bytes(), (self._directory / TLS_KEY).read_bytes()
        except OSError as exc:
            raise ValueError(f"webhook certificate directory {self._directory} lacks a readable {TLS_CERT} and {TLS_KEY}: {exc}") from exc

    async def refresh(self) -> None:
        try:
            files = self._read()
            if files != self._files:
                self.serving.use(*files)
                self._files = files
                log.info("webhook serving certificate reloaded from %s", self._directory)
        except (ValueError, ssl.SSLError) as exc:  # a half-written update: the next refresh reads it whole
            log.warning("webhook certificate not reloaded: %s", exc)
