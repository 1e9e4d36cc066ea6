"""URL paths of the Kubernetes API, parsed into what a request is about.

    /api/v1[/namespaces/{ns}]/{plural}[/{name}[/status]]
    /apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/status]]
    /version, /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}   (discovery)

A namespaced plural without a namespace is the list or watch across all namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakekube.errors import NotFound
from tests.fakekube.resources import Registry, Resource

__all__ = ["Target", "Discovery", "parse_path", "SUBRESOURCES"]

SUBRESOURCES = ("status",)


@dataclass(frozen=True)
class Target:
    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str = ""


@dataclass(frozen=True)
class Discovery:
    """A discovery document: `what` is version, api, apis, group or resources."""

    what: str
    group: str = ""
    version: str = ""


def _missing(path: str) -> NotFound:
    return NotFound(f"the server could not find the requested resource ({path})")


def _discovery(parts: list[str]) -> Discovery | None:
    if parts == ["version"]:
        return Discovery("version")
    if parts[:1] == ["api"] and len(parts) <= 2:
        return Discovery("resources", "", parts[1]) if len(parts) == 2 else Discovery("api")
    if parts[:1] == ["apis"] and len(parts) <= 3:
        return Discovery(("apis", "group", "resources")[len(parts) - 1], *parts[1:])
    return None


def _target(resource: Resource | None, namespace: str | None, rest: list[str], path: str) -> Target:
    if resource is None or (namespace is not None and not resource.namespaced) or len(rest) > 2:
        raise _missing(path)
    name = rest[0] if rest else None
    subresource = rest[1] if len(rest) > 1 else ""
    if subresource and (subresource not in SUBRESOURCES or not resource.status_subresource):
        raise _missing(path)
    if resource.namespaced and namespace is None and name is not None:
        raise _missing(path)
    return Target(resource, namespace, name, subresource)


def parse_path(registry: Registry, path: str) -> Target | Discovery:
    parts = [part for part in path.split("/") if part]
    if (discovery := _discovery(parts)) is not None:
        return discovery
    if parts[:1] == ["api"]:
        group, version, segments = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"]:
        group, version, segments = parts[1], parts[2], parts[3:]
    else:
        raise _missing(path)
    if len(segments) >= 3 and segments[0] == "namespaces":
        return _target(registry.find(group, version, segments[2]), segments[1], segments[3:], path)
    return _target(registry.find(group, version, segments[0]), None, segments[1:], path)
