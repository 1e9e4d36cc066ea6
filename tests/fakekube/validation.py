"""The metadata checks the API server makes on every write, worded as it words them.

Only what the controller or a test harness could plausibly get wrong is checked: names (length
and DNS rule per kind), label keys and values, owner references, and the addresses of an
EndpointSlice (the real server refuses unspecified, loopback and link-local ones, so a router
cannot be listed at 127.0.0.1). Each problem is a (field, message) cause; the store turns a
non-empty list into 422 Invalid.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from tests.fakekube.resources import NameRule, Resource

__all__ = ["Cause", "check_endpoint_slice", "check_metadata", "check_name"]

Cause = tuple[str, str]

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_RULES: dict[NameRule, tuple[re.Pattern[str], int, str]] = {
    NameRule.SUBDOMAIN: (
        re.compile(rf"{_LABEL}(\.{_LABEL})*"),
        253,
        (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        ),
    ),
    NameRule.LABEL: (
        re.compile(_LABEL),
        63,
        (
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character"
        ),
    ),
    NameRule.DNS1035: (
        re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?"),
        63,
        (
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character"
        ),
    ),
}
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_PREFIX = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_OWNER_FIELDS = ("apiVersion", "kind", "name", "uid")
_KEY_RULE = (
    'a label key must be an optional DNS subdomain prefix and "/", then at most 63 alphanumeric characters, '
    "'-', '_' or '.', starting and ending with an alphanumeric character"
)
_VALUE_RULE = "a label value must be at most 63 characters, empty or alphanumeric with '-', '_' or '.' inside"


def check_name(rule: NameRule, name: str, field: str = "metadata.name") -> list[Cause]:
    pattern, limit, explanation = _RULES[rule]
    if len(name) > limit:
        return [(field, f'Invalid value: "{name}": must be no more than {limit} characters')]
    if not pattern.fullmatch(name):
        return [(field, f'Invalid value: "{name}": {explanation}')]
    return []


def _check_label_key(key: str) -> list[Cause]:
    prefix, _, name = key.rpartition("/")
    bad_prefix = "/" in key and (not prefix or len(prefix) > 253 or not _PREFIX.fullmatch(prefix))
    if bad_prefix or len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return [("metadata.labels", f'Invalid value: "{key}": {_KEY_RULE}')]
    return []


def _check_labels(labels: Any) -> list[Cause]:
    if not isinstance(labels, Mapping):
        return [("metadata.labels", f"Invalid value: {labels!r}: must be a map of strings to strings")]
    causes: list[Cause] = []
    for key, value in labels.items():
        causes += _check_label_key(str(key))
        if not isinstance(value, str):
            causes.append((f"metadata.labels[{key}]", f"Invalid value: {value!r}: must be a string"))
        elif len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            causes.append(("metadata.labels", f'Invalid value: "{value}": {_VALUE_RULE}'))
    return causes


def _check_owner_references(references: Any) -> list[Cause]:
    if not isinstance(references, list):
        return [("metadata.ownerReferences", f"Invalid value: {references!r}: must be a list")]
    causes: list[Cause] = []
    for index, reference in enumerate(references):
        for key in _OWNER_FIELDS:
            value = reference.get(key) if isinstance(reference, Mapping) else None
            if not isinstance(value, str) or not value:
                causes.append((f"metadata.ownerReferences[{index}].{key}", "Required value: must be a non-empty string"))
    return causes


def check_metadata(resource: Resource, obj: Mapping[str, Any]) -> list[Cause]:
    """Every cause to reject `obj` for; empty when the API server would store it."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return [("metadata", "Required value: metadata must be an object")]
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    causes = check_name(resource.name_rule, name)
    if "labels" in metadata and metadata["labels"] is not None:
        causes += _check_labels(metadata["labels"])
    if metadata.get("ownerReferences") is not None:
        causes += _check_owner_references(metadata["ownerReferences"])
    return causes


# The API server's own wording (ValidateEndpointIP), which a test may match.
_ADDRESS_RULES: tuple[tuple[str, str], ...] = (
    ("is_unspecified", "may not be unspecified ({address})"),
    ("is_loopback", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
    ("is_link_local", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
)
_LINK_LOCAL_MULTICAST = (ipaddress.ip_network("224.0.0.0/24"), ipaddress.ip_network("ff02::/16"))


def _check_endpoint_address(address: Any, field: str) -> list[Cause]:
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        return [(field, f'Invalid value: "{address}": must be a valid IP address')]
    causes = [
        (field, f'Invalid value: "{address}": {message.format(address=address)}') for test, message in _ADDRESS_RULES if getattr(ip, test)
    ]
    if any(ip in network for network in _LINK_LOCAL_MULTICAST if network.version == ip.version):
        causes.append((field, f'Invalid value: "{address}": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'))
    return causes


def check_endpoint_slice(obj: Mapping[str, Any]) -> list[Cause]:
    """The addresses an EndpointSlice may not hold: unspecified, loopback, link-local (uni- or multicast)."""
    causes: list[Cause] = []
    for index, endpoint in enumerate(obj.get("endpoints") or []):
        addresses = endpoint.get("addresses") if isinstance(endpoint, Mapping) else None
        for position, address in enumerate(addresses or []):
            causes += _check_endpoint_address(address, f"endpoints[{index}].addresses[{position}]")
    return causes
