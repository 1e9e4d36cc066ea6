"""The webhook's certificate rotation as a pure function of time: simulated days in milliseconds."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509

from controller.kube.certificates import RotationPolicy, advance, merged_bundle, new_authority, read_bundle, start
from controller.kube.webhook_tls import bundle_operations

POLICY = RotationPolicy()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _serving_issuer(pem: bytes) -> x509.Name:
    return x509.load_pem_x509_certificate(pem).issuer


def test_over_three_ca_lifetimes_a_certificate_is_served_only_from_a_ca_published_hours_before_and_never_expired() -> None:
    state = start(["webhook.ns.svc"], T0, POLICY)
    published_since = {state.authority.cert.subject: T0}
    step = timedelta(minutes=10)
    now, issuers, first = T0, set(), _serving_issuer(state.serving.cert_pem)
    while now < T0 + POLICY.ca_valid_for * 3:
        now += step
        state = advance(state, now, POLICY)
        for ca in state.published:
            published_since.setdefault(ca.subject, now)
        issuer = _serving_issuer(state.serving.cert_pem)
        issuers.add(issuer)
        assert state.serving.expires_at > now, f"served an expired certificate at {now}"
        assert issuer == state.authority.cert.subject and state.authority.expires_at > now
        if issuer != first:
            assert now - published_since[issuer] >= POLICY.ca_valid_for / 8, "a new CA signs only after it has been in the bundle a while"
    assert len(issuers) >= 4


def test_the_serving_certificate_names_every_host_and_ends_with_its_ca_at_the_latest() -> None:
    policy = RotationPolicy(ca_valid_for=timedelta(days=8), serving_valid_for=timedelta(days=2))
    state = start(["webhook.ns.svc", "127.0.0.1"], T0, policy)
    cert = x509.load_pem_x509_certificate(state.serving.cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["webhook.ns.svc"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    late = advance(state, T0 + timedelta(days=7, hours=23), policy)
    assert late.serving.expires_at <= late.authority.expires_at


def test_the_bundle_keeps_other_replicas_live_cas_and_drops_expired_ones_once() -> None:
    old, other, ours = (new_authority(T0 + timedelta(days=d), timedelta(days=7)) for d in (0, 5, 6))
    current = old.pem + other.pem
    merged = merged_bundle(current, [ours.cert], T0 + timedelta(days=7, hours=1))
    assert [c.subject for c in read_bundle(merged)] == [other.cert.subject, ours.cert.subject]
    assert merged_bundle(merged, [ours.cert], T0 + timedelta(days=7, hours=1)) == merged, "nothing twice"


def test_bundle_operations_test_the_version_read_and_leave_a_current_bundle_alone() -> None:
    ours = new_authority(T0, timedelta(days=7))
    live: dict[str, Any] = {"metadata": {"resourceVersion": "42"}, "webhooks": [{"name": "a", "clientConfig": {"url": "https://x"}}]}
    operations = bundle_operations(live, [ours.cert], T0)
    assert operations[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "42"}
    assert operations[1]["op"] == "add" and operations[1]["path"] == "/webhooks/0/clientConfig/caBundle"
    live["webhooks"][0]["clientConfig"]["caBundle"] = operations[1]["value"]
    assert base64.b64decode(operations[1]["value"]) == ours.pem
    assert bundle_operations(live, [ours.cert], T0) == []


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ({"ca_valid_for": timedelta(days=1), "serving_valid_for": timedelta(days=1)}, "four times as long"),
        ({"renew_at": 1.5}, "renew_at 1.5"),
    ],
)
def test_a_rotation_policy_that_cannot_work_is_refused_by_name(policy: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        RotationPolicy(**policy)  # type: ignore[arg-type]
