"""Certificates for a throwaway control plane, made with `cryptography`.

One CA signs the API server's serving certificate and the client certificates (an admin in
`system:masters`, the controller-manager); a separate key pair signs ServiceAccount tokens.
Keys are ECDSA P-256, as kubeadm makes them when asked for ECDSA.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "make_pki"]

_VALID = datetime.timedelta(days=365)
_SERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files a control plane needs."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    kcm_cert: Path
    kcm_key: Path
    sa_key: Path
    sa_pub: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID)
    )


def _ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = _name("modelrollout-test-ca")
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(directory / "ca.key", key)
    return cert, key


def _leaf(
    directory: Path, stem: str, subject: x509.Name, usage: x509.ObjectIdentifier, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    alt_names: list[x509.GeneralName] | None = None,
) -> tuple[Path, Path]:  # fmt: skip
    ca_cert, ca_key = ca
    key = _key()
    builder = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path = directory / f"{stem}.crt"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, _write_key(directory / f"{stem}.key", key)


def make_pki(directory: Path, service_ip: str) -> Pki:
    """A CA, serving and client certificates and the ServiceAccount signing keys, under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(directory)
    ips = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", service_ip)]
    server = _leaf(
        directory,
        "apiserver",
        _name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        ca,
        [*ips, *(x509.DNSName(n) for n in _SERVER_NAMES)],
    )
    admin = _leaf(directory, "admin", _name("kubernetes-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, ca)
    kcm = _leaf(directory, "kcm", _name("system:kube-controller-manager"), ExtendedKeyUsageOID.CLIENT_AUTH, ca)
    sa_key = _key()
    sa_pub = directory / "sa.pub"
    sa_pub.write_bytes(sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return Pki(
        ca_cert=directory / "ca.crt", ca_key=directory / "ca.key",
        server_cert=server[0], server_key=server[1], admin_cert=admin[0], admin_key=admin[1],
        kcm_cert=kcm[0], kcm_key=kcm[1], sa_key=_write_key(directory / "sa.key", sa_key), sa_pub=sa_pub,
    )  # fmt: skip
