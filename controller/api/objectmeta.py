"""The API server's checks of `metadata` on create, repeated for `modelrollout validate`.

The CRD's schema says nothing about `metadata` (Kubernetes owns it), so these are the rules of
Kubernetes' ObjectMeta that a hand-written manifest can break: known fields only, a name (or
generateName) that is a lowercase RFC 1123 subdomain, a namespace that is an RFC 1123 label,
labels and annotations as maps of text with qualified-name keys, label values of at most 63
characters. Fields only the server sets (uid, resourceVersion, managedFields...) are left to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from controller.api.messages import show_value

__all__ = ["metadata_problems"]

Problem = tuple[str, str]  # (`.metadata...` path, sentence)

_OBJECT_META = (
    "name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp"
    " deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields"
).split()
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NAME_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_SUBDOMAIN_MAX, _LABEL_MAX, _GENERATED_SUFFIX = 253, 63, 5
_ANNOTATIONS_MAX_BYTES = 256 * 1024
_SUBDOMAIN_RULE = "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"


def metadata_problems(metadata: Any) -> list[Problem]:
    """Every rule of ObjectMeta the document breaks; none for a non-mapping, which the model names."""
    if not isinstance(metadata, dict):
        return []
    return [
        *_unknown_fields(metadata),
        *_name_problems(metadata),
        *_namespace_problems(metadata.get("namespace")),
        *_map_problems(metadata.get("labels"), ".metadata.labels", label_values=True),
        *_map_problems(metadata.get("annotations"), ".metadata.annotations", label_values=False),
    ]


def _unknown_fields(metadata: dict[str, Any]) -> Iterator[Problem]:
    for key in metadata:
        if key not in _OBJECT_META:
            known = "name, generateName, namespace, labels, annotations"
            yield f".metadata.{key}", f"{key} is not a known field here; expected one of {known}"


def _name_problems(metadata: dict[str, Any]) -> Iterator[Problem]:
    name, prefix = metadata.get("name"), metadata.get("generateName")
    if name is None and not prefix:
        yield ".metadata.name", "is required; the API server needs a name (or generateName) for the object"
    elif name is not None:
        yield from _subdomain(name, ".metadata.name", _SUBDOMAIN_MAX)
    else:  # the server appends 5 characters to generateName, then checks the whole as a name
        yield from _subdomain(prefix, ".metadata.generateName", _SUBDOMAIN_MAX - _GENERATED_SUFFIX, suffixed=True)


def _subdomain(value: Any, path: str, limit: int, suffixed: bool = False) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield path, f"{show_value(value)} is not a string"
        return
    probe = value + "x" if suffixed else value  # a prefix may end in '-': the generated suffix follows it
    if len(value) > limit or not _SUBDOMAIN.fullmatch(probe):
        yield path, f"{show_value(value)} is not a valid name: {_SUBDOMAIN_RULE}, at most {limit} characters"


def _namespace_problems(namespace: Any) -> Iterator[Problem]:
    if namespace is None:
        return
    if not isinstance(namespace, str) or len(namespace) > _LABEL_MAX or not _LABEL.fullmatch(namespace):
        rule = "lowercase letters, digits and '-', starting and ending with a letter or digit"
        yield ".metadata.namespace", f"{show_value(namespace)} is not a valid namespace: {rule}, at most {_LABEL_MAX}"


def _map_problems(value: Any, path: str, label_values: bool) -> Iterator[Problem]:
    if value is None:
        return
    if not isinstance(value, dict):
        yield path, f"{show_value(value)} is not a mapping of text keys to text values"
        return
    for key, item in value.items():
        if not isinstance(item, str):
            yield f"{path}.{key}", f"{show_value(item)} is not a string; quote it"
        elif label_values and item and (len(item) > _LABEL_MAX or not _NAME_PART.fullmatch(item)):
            rule = "letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63"
            yield f"{path}.{key}", f"{show_value(item)} is not a valid label value: {rule}"
        yield from _qualified_name(key, f"{path}.{key}")
    size = sum(len(str(key).encode()) + len(str(item).encode()) for key, item in value.items())
    if not label_values and size > _ANNOTATIONS_MAX_BYTES:
        yield path, f"hold {size} bytes; the API server allows at most {_ANNOTATIONS_MAX_BYTES}"


def _qualified_name(key: str, path: str) -> Iterator[Problem]:
    """`prefix/name` or `name`: a DNS subdomain prefix, then at most 63 letters, digits, '-', '_' or '.'."""
    prefix, _, name = key.rpartition("/")
    prefix_ok = not prefix or (len(prefix) <= _SUBDOMAIN_MAX and _SUBDOMAIN.fullmatch(prefix))
    if not prefix_ok or len(name) > _LABEL_MAX or not _NAME_PART.fullmatch(name):
        rule = "an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_' or '.'"
        yield path, f"{show_value(key)} is not a valid key: {rule}"
