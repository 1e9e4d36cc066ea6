"""HTTPS to a model server: the certificate is checked against the trusted CAs, and a refusal says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from router_harness import Backend, RouterFactory

from tests.controlplane.pki import Pki, make_pki

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA and a serving certificate for 127.0.0.1 signed by it."""
    return make_pki(tmp_path_factory.mktemp("tls"), "10.96.0.1")


@pytest.fixture(scope="module")
def tls_backend(pki: Pki) -> Iterator[Backend]:
    backend = Backend.start("tls", "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), ca_file=str(pki.ca_cert))
    yield backend
    backend.stop()


def test_a_model_server_whose_certificate_is_trusted_is_served_over_https(
    start_router: RouterFactory, tls_backend: Backend, pki: Pki
) -> None:
    router = start_router({"generation": 1, "upstreams": {"stable": tls_backend.url}}, env={"SSL_CERT_FILE": str(pki.ca_cert)})
    answer = router.client.post(router.url + PREDICT, json={"instances": [[0.25]]})
    assert answer.status_code == 200 and answer.json() == {"predictions": [0.25]}
    assert answer.headers["x-backend"] == "tls"


def test_a_certificate_from_an_untrusted_ca_is_refused_with_502_naming_the_cause(
    start_router: RouterFactory, tls_backend: Backend, tmp_path: Path
) -> None:
    other = make_pki(tmp_path / "other", "10.96.0.1")  # trusts a different CA
    router = start_router({"generation": 1, "upstreams": {"stable": tls_backend.url}}, env={"SSL_CERT_FILE": str(other.ca_cert)})
    answer = router.client.post(router.url + PREDICT, json={"instances": [[0.25]]})
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert "TLS certificate not accepted: certificate signature failure" in error, error  # what OpenSSL found wrong
    assert router.stats()["stable"]["errors"]["connect"] == 1
