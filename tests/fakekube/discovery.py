"""Discovery documents built from the resource table, enough for clients that look before they call."""

from __future__ import annotations

from typing import Any

from tests.fakekube.errors import NotFound
from tests.fakekube.paths import Discovery
from tests.fakekube.resources import Registry, Resource

__all__ = ["discovery_document", "SERVER_VERSION"]

SERVER_VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0-fakekube",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "2024-04-17T00:00:00Z",
    "goVersion": "go1.22",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _group_version(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}" if group else version, "version": version}


def _group(registry: Registry, group: str) -> dict[str, Any]:
    versions = [_group_version(group, version) for version in registry.versions_of(group)]
    if not versions:
        raise NotFound(f"the server could not find the requested resource (group {group!r})")
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": versions[0]}


def _entries(resource: Resource) -> list[dict[str, Any]]:
    main = {
        "name": resource.plural,
        "singularName": resource.kind.lower(),
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": _VERBS,
    }
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if not resource.status_subresource:
        return [main]
    status = {
        "name": f"{resource.plural}/status",
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": ["get", "patch", "update"],
    }
    return [main, status]


def _resources(registry: Registry, group: str, version: str) -> dict[str, Any]:
    served = [r for r in registry if r.group == group and r.version == version]
    if not served:
        raise NotFound(f"the server could not find the requested resource ({group or 'core'}/{version})")
    entries = [entry for resource in served for entry in _entries(resource)]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": served[0].api_version, "resources": entries}


def discovery_document(registry: Registry, request: Discovery, server_address: str) -> dict[str, Any]:
    if request.what == "version":
        return SERVER_VERSION
    if request.what == "api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }
    if request.what == "apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(registry, group) for group in registry.groups()]}
    if request.what == "group":
        return _group(registry, request.group)
    return _resources(registry, request.group, request.version)
