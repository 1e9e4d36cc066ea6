"""The webhook's own certificates rotate, CA included, while clients that trust the published caBundle never fail a handshake.

Lifetimes are shrunk to seconds so several serving certificates and a CA switch happen within
the test; the handshakes are real TLS on loopback, each one trusting exactly the caBundle the
MutatingWebhookConfiguration held a moment before (what the API server would trust). Also:
replicas starting together, and cert-manager's mounted certificate renewed in place.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from kubernetes import client as k8s

from controller.kube.certificates import RotationPolicy, start
from controller.kube.client import KubeClient
from controller.kube.webhook_server import WebhookConfig, WebhookServer
from controller.kube.webhook_tls import TLS_CERT, TLS_KEY
from tests.integration.webhook.webhookkit import published_bundle, running_webhook, trusting, webhook_configuration

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# The CA switch comes at 12 s; each serving certificate is renewed halfway through its 4 s.
FAST = RotationPolicy(ca_valid_for=timedelta(seconds=16), serving_valid_for=timedelta(seconds=4), renew_at=0.5)


async def _handshake(server: WebhookServer, verify: ssl.SSLContext) -> bytes:
    """One fresh TLS connection and a health request on it; the served certificate (DER)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=verify, server_hostname="127.0.0.1")
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        assert status.startswith(b"HTTP/1.1 200"), status
        served = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return bytes(served)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_rotation_keeps_serving_without_a_failed_handshake(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    registration = k8s.AdmissionregistrationV1Api(admin)
    registration.create_mutating_webhook_configuration(webhook_configuration(configuration_name, real_namespace, "https://127.0.0.1:1/x"))
    config = WebhookConfig(
        listen=("127.0.0.1", 0), hosts=("127.0.0.1",), configuration=configuration_name, rotation=FAST, refresh_every_s=0.1
    )
    served: dict[bytes, x509.Certificate] = {}
    failures: list[str] = []
    handshakes = 0
    async with running_webhook(kube, config) as server:
        deadline = time.monotonic() + 60
        # Until a certificate of the second CA has been served, and one more after it.
        while len({cert.issuer for cert in served.values()}) < 2 or len(served) < 5:
            assert time.monotonic() < deadline, f"no CA switch within 60 s: {len(served)} certificates served"
            bundle = await asyncio.to_thread(published_bundle, admin, configuration_name)
            try:
                der = await _handshake(server, trusting(bundle))
                served.setdefault(hashlib.sha256(der).digest(), x509.load_der_x509_certificate(der))
            except (ssl.SSLError, OSError, AssertionError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            handshakes += 1
    assert failures == [], f"{len(failures)} of {handshakes} handshakes failed: {failures[:3]}"


async def test_replicas_starting_together_are_each_trusted_through_the_one_bundle(
    admin: k8s.ApiClient, kube: KubeClient, real_namespace: str, configuration_name: str
) -> None:
    """Two controller replicas, two CAs in memory, one caBundle: the API server may call either."""
    registration = k8s.AdmissionregistrationV1Api(admin)
    registration.create_mutating_webhook_configuration(webhook_configuration(configuration_name, real_namespace, "https://127.0.0.1:1/x"))
    config = WebhookConfig(listen=("127.0.0.1", 0), hosts=("127.0.0.1",), configuration=configuration_name)
    replicas = [WebhookServer(kube, config) for _ in range(2)]
    try:
        await asyncio.gather(*(replica.start() for replica in replicas))  # both read, both patch: one patch's test fails
        verify = trusting(published_bundle(admin, configuration_name))
        served = [x509.load_der_x509_certificate(await _handshake(replica, verify)) for replica in replicas]
    finally:
        for replica in replicas:
            await replica.stop()
    assert served[0].issuer != served[1].issuer, "each replica signs with a CA of its own"


async def test_with_cert_managers_files_a_renewed_certificate_is_served_once_written(kube: KubeClient, tmp_path: Path) -> None:
    """cert-manager's Secret as the kubelet mounts it: tls.crt and tls.key, replaced in place on renewal."""
    before, after = (start(["127.0.0.1"], datetime.now(UTC), RotationPolicy()) for _ in range(2))
    (tmp_path / TLS_CERT).write_bytes(before.serving.cert_pem)
    (tmp_path / TLS_KEY).write_bytes(before.serving.key_pem)
    config = WebhookConfig(listen=("127.0.0.1", 0), cert_dir=tmp_path, refresh_every_s=0.1)
    both = trusting(before.authority.pem + after.authority.pem)
    async with running_webhook(kube, config) as server:
        assert x509.load_der_x509_certificate(await _handshake(server, both)).issuer == before.authority.cert.subject
        (tmp_path / TLS_CERT).write_bytes(after.serving.cert_pem)  # for a moment the key does not match: not loaded
        (tmp_path / TLS_KEY).write_bytes(after.serving.key_pem)
        deadline = time.monotonic() + 30
        while x509.load_der_x509_certificate(await _handshake(server, both)).issuer != after.authority.cert.subject:
            assert time.monotonic() < deadline, "the renewed certificate was never served"
            await asyncio.sleep(0.05)
