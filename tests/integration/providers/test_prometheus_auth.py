"""Prometheus sources with credentials and TLS, against Debian's real Prometheus run with its own
`--web.config.file` (TLS and basic auth) and, for bearer tokens, nginx in front of it checking one.

Credentials come from Secret keys as the chart mounts them: files `<dir>/<secret>/<key>`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from controller.analysis.observations import MetricObservation
from controller.api import MetricSpec, ModelRollout, ModelRolloutSpec
from controller.engine.inputs import MeasurementRequest
from controller.local.processes import free_port
from controller.providers.prometheus import PrometheusProvider
from controller.providers.secrets import SecretFiles

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus")
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
USER, PASSWORD, TOKEN = "modelrollout", "correct horse", "s3cret-token"


@dataclass(frozen=True)
class Servers:
    prometheus: str  # https, basic auth
    bearer: str  # http, nginx checking a bearer token in front of it
    secrets: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificates(directory: Path) -> None:
    """A CA, and a server certificate for 127.0.0.1 and localhost it signed."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    names = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    server = (
        x509.CertificateBuilder().subject_name(_name("prometheus")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(names, critical=False).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    pkcs8 = serialization.PrivateFormat.PKCS8
    (directory / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()))


def _mounted_secrets(directory: Path, tls: Path) -> None:
    """Secret keys as the chart mounts them."""
    for secret, key, value in (
        ("prom-basic", "username", USER), ("prom-basic", "password", PASSWORD), ("prom-wrong", "password", "guess"),
        ("prom-token", "token", TOKEN), ("prom-ca", "ca.crt", (tls / "ca.crt").read_text()),
    ):  # fmt: skip
        (directory / secret).mkdir(parents=True, exist_ok=True)
        (directory / secret / key).write_text(value + "\n")


def _wait(what: str, ready: Any, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, f"{what} exited with {process.returncode}"
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{what} not ready after {timeout_s}s"
        time.sleep(0.2)


def _nginx_config(prefix: Path, port: int, prometheus_port: int) -> str:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    temp = "\n".join(f"  {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      if ($http_authorization != "Bearer {TOKEN}") {{ return 401; }}
      proxy_pass https://127.0.0.1:{prometheus_port};
      proxy_set_header Authorization "Basic {basic}";
    }}
  }}
}}
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    if PROMETHEUS is None or NGINX is None:
        pytest.skip("Debian's prometheus and nginx packages are needed (.ci/run installs them)")
    work = tmp_path_factory.mktemp("prometheus-auth")
    _certificates(work)
    secrets = work / "secrets"
    _mounted_secrets(secrets, work)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (work / "web.yml").write_text(
        f"tls_server_config: {{cert_file: {work / 'server.crt'}, key_file: {work / 'server.key'}}}\n"
        f"basic_auth_users: {{{USER}: '{hashed}'}}\n"
    )
    (work / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    port, nginx_port = free_port(), free_port()
    prometheus = subprocess.Popen([
        PROMETHEUS, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={work / 'web.yml'}",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    (work / "nginx").mkdir()
    (work / "nginx" / "nginx.conf").write_text(_nginx_config(work / "nginx", nginx_port, port))
    nginx = subprocess.Popen([NGINX, "-p", str(work / "nginx"), "-c", str(work / "nginx" / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    address = f"https://127.0.0.1:{port}"
    try:
        ready = f"{address}/-/ready"
        trusted = ssl.create_default_context(cafile=str(work / "ca.crt"))
        _wait("prometheus", lambda: httpx.get(ready, verify=trusted, auth=(USER, PASSWORD)).status_code == 200, prometheus)
        bearer = f"http://127.0.0.1:{nginx_port}"
        _wait("nginx", lambda: httpx.get(f"{bearer}/-/ready", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200, nginx)
        yield Servers(address, bearer, secrets)
    finally:
        for process in (nginx, prometheus):
            process.terminate()
            process.wait(timeout=10)


def _measure(servers: Servers, address: str, **source: Any) -> MetricObservation:
    metric = MetricSpec.model_validate({
        "name": "score", "max": 1,
        "prometheus": {"address": address, "query": "vector(0.25)", "timeout": "5s", **source},
    })  # fmt: skip
    spec = ModelRolloutSpec.model_validate(
        {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}, "strategy": {"canary": {"steps": [{"setWeight": 100}]}}}
    )
    now = dt.datetime.now(dt.UTC)
    request = MeasurementRequest(scope="background", metric=metric, window_start=now - dt.timedelta(minutes=1))

    async def go() -> MetricObservation:
        async with httpx.AsyncClient() as client:
            provider = PrometheusProvider(client, SecretFiles(servers.secrets))
            return await provider.measure(ModelRollout(metadata={"name": "demo"}, spec=spec), request, now)

    return asyncio.run(go())


BASIC = {"basicAuth": {"username": {"name": "prom-basic", "key": "username"}, "password": {"name": "prom-basic", "key": "password"}}}
CA = {"ca": {"name": "prom-ca", "key": "ca.crt"}}


def test_basic_auth_and_a_ca_bundle_read_the_value(servers: Servers) -> None:
    observation = _measure(servers, servers.prometheus, **BASIC, **CA)
    assert observation.error is None and observation.candidate is not None
    assert observation.candidate.value == pytest.approx(0.25)


def test_insecure_skip_verify_reads_without_the_ca(servers: Servers) -> None:
    observation = _measure(servers, servers.prometheus, **BASIC, insecureSkipVerify=True)
    assert observation.error is None and observation.candidate is not None and observation.candidate.value == pytest.approx(0.25)


def test_a_certificate_no_known_ca_signed_is_an_error_naming_it(servers: Servers) -> None:
    observation = _measure(servers, servers.prometheus, **BASIC)
    assert "CERTIFICATE_VERIFY_FAILED" in (observation.error or "")


def test_no_credentials_is_an_error_saying_to_set_them(servers: Servers) -> None:
    observation = _measure(servers, servers.prometheus, **CA)
    assert "refused the credentials (HTTP 401): set bearerToken or basicAuth" in (observation.error or "")


def test_a_wrong_password_is_an_error_naming_the_credentials(servers: Servers) -> None:
    wrong = {"basicAuth": {"username": BASIC["basicAuth"]["username"], "password": {"name": "prom-wrong", "key": "password"}}}
    observation = _measure(servers, servers.prometheus, **wrong, **CA)
    assert "refused the credentials (HTTP 401): check the Secret keys" in (observation.error or "")


def test_a_bearer_token_is_sent_and_a_wrong_one_refused(servers: Servers) -> None:
    good = _measure(servers, servers.bearer, bearerToken={"name": "prom-token", "key": "token"})
    assert good.error is None and good.candidate is not None and good.candidate.value == pytest.approx(0.25)
    bad = _measure(servers, servers.bearer, bearerToken={"name": "prom-basic", "key": "password"})
    assert "HTTP 401" in (bad.error or "")


def test_a_secret_the_controller_does_not_mount_is_an_error_saying_how_to_mount_it(servers: Servers) -> None:
    observation = _measure(servers, servers.prometheus, bearerToken={"name": "elsewhere", "key": "token"}, **CA)
    assert "Secret elsewhere key token is not mounted" in (observation.error or "")
    assert "providerSecrets" in (observation.error or "")
