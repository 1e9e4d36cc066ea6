"""The admission webhook's TLS without cert-manager: a private CA, serving certificates it signs, and when to renew.

The API server trusts the webhook through the `caBundle` of its MutatingWebhookConfiguration.
Each controller replica keeps its own CA in memory (the controller may not read Secrets), adds
it to that bundle, and serves a short-lived certificate the CA signs. Renewing the serving
certificate changes nothing the API server holds; renewing the CA is done in two moves so no
handshake ever fails: the next CA joins the bundle at half of the current one's life and
signs the served certificate only from three quarters on, long after the API server has
read the bundle that names it. CAs leave the bundle once they expire.

Pure: every function takes `now`; nothing here reads a clock or touches a file or a socket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "Authority",
    "ServingPair",
    "RotationPolicy",
    "CertificateState",
    "new_authority",
    "issue_serving",
    "start",
    "advance",
    "read_bundle",
    "merged_bundle",
]

# A clock a little behind ours must not see a certificate from the future.
_BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate, its key, and when it was made (its life runs from there, not from the backdated notBefore)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    issued_at: datetime
    expires_at: datetime

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def at(self, fraction: float) -> datetime:
        """The moment `fraction` of this CA's life has passed."""
        return self.issued_at + (self.expires_at - self.issued_at) * fraction


@dataclass(frozen=True)
class ServingPair:
    """A serving certificate chain and its key, as PEM, and when to replace it."""

    cert_pem: bytes
    key_pem: bytes
    issued_at: datetime
    expires_at: datetime
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class RotationPolicy:
    ca_valid_for: timedelta = timedelta(days=7)
    serving_valid_for: timedelta = timedelta(days=1)
    # A serving certificate is renewed when this share of its life has passed.
    renew_at: float = 2 / 3

    def __post_init__(self) -> None:
        if self.serving_valid_for * 4 > self.ca_valid_for:
            raise ValueError(
                f"serving certificates valid for {self.serving_valid_for} need a CA valid at least four times as long, "
                f"not {self.ca_valid_for}"
            )
        if not 0 < self.renew_at < 1:
            raise ValueError(f"renew_at {self.renew_at} is not a share of a certificate's life between 0 and 1")


@dataclass(frozen=True)
class CertificateState:
    """What one replica holds: the CA that signs what it serves, the next CA once published, and the served pair."""

    authority: Authority
    serving: ServingPair
    next_authority: Authority | None = None

    @property
    def published(self) -> tuple[x509.Certificate, ...]:
        """The CAs the API server must trust for this replica, now and after its next switch."""
        return (self.authority.cert,) + ((self.next_authority.cert,) if self.next_authority else ())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "modelrollout"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _whole_seconds(moment: datetime) -> datetime:
    """X.509 times carry whole seconds: what the certificate says, not a moment later."""
    return moment.replace(microsecond=0)


def new_authority(now: datetime, valid_for: timedelta) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    expires_at = _whole_seconds(now + valid_for)
    name = _name(f"modelrollout-webhook-ca-{now.strftime('%Y%m%dT%H%M%S.%f')}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(expires_at)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(cert=cert, key=key, issued_at=now, expires_at=expires_at)


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_serving(authority: Authority, hosts: Sequence[str], now: datetime, valid_for: timedelta) -> ServingPair:
    """A serving certificate for `hosts` (DNS names or IP addresses), never outliving the CA that signs it."""
    if not hosts:
        raise ValueError("a serving certificate needs at least one DNS name or IP address")
    key = ec.generate_private_key(ec.SECP256R1())
    expires_at = min(_whole_seconds(now + valid_for), authority.expires_at)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(expires_at)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_alt_name(h) for h in hosts]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ServingPair(cert.public_bytes(serialization.Encoding.PEM), key_pem, now, expires_at, tuple(hosts))


def start(hosts: Sequence[str], now: datetime, policy: RotationPolicy) -> CertificateState:
    authority = new_authority(now, policy.ca_valid_for)
    return CertificateState(authority, issue_serving(authority, hosts, now, policy.serving_valid_for))


def advance(state: CertificateState, now: datetime, policy: RotationPolicy) -> CertificateState:
    """The state for `now`: the next CA published at half life, switched to at three quarters, the serving pair renewed."""
    authority, upcoming = state.authority, state.next_authority
    if upcoming is None and now >= authority.at(1 / 2):
        return replace(state, next_authority=new_authority(now, policy.ca_valid_for))
    serving = state.serving
    if upcoming is not None and (_switch_due(authority, upcoming, now) or now >= serving.expires_at):
        return CertificateState(upcoming, issue_serving(upcoming, serving.hosts, now, policy.serving_valid_for))
    if now >= serving.issued_at + (serving.expires_at - serving.issued_at) * policy.renew_at:
        return replace(state, serving=issue_serving(authority, serving.hosts, now, policy.serving_valid_for))
    return state


def _switch_due(authority: Authority, upcoming: Authority, now: datetime) -> bool:
    """At three quarters of the current CA's life, once the next one has been in the bundle an eighth of a life."""
    lead = (authority.expires_at - authority.issued_at) / 8
    return now >= authority.at(3 / 4) and now >= upcoming.issued_at + lead


def read_bundle(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM bundle; an empty or unreadable one holds none."""
    if not pem.strip():
        return []
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def merged_bundle(current: bytes, ours: Sequence[x509.Certificate], now: datetime) -> bytes:
    """The bundle with `ours` added and expired CAs dropped: other replicas' live CAs stay trusted."""
    kept: dict[bytes, x509.Certificate] = {}
    for cert in [*read_bundle(current), *ours]:
        if cert.not_valid_after_utc > now:
            kept.setdefault(cert.fingerprint(hashes.SHA256()), cert)
    ordered = sorted(kept.values(), key=lambda c: (c.not_valid_before_utc, c.serial_number))
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in ordered)
