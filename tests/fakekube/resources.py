"""The resource types the stand-in serves, as one table: adding a kind is adding one line.

Each `Resource` carries what differs between kinds in the behaviour the controller relies on:
whether it is namespaced, whether it has a status subresource (writes to the main resource then
keep the stored status, writes to `/status` keep everything else), whether a spec change bumps
`metadata.generation`, whether a PUT may omit `metadata.resourceVersion` (custom resources may
not), and which naming rule `metadata.name` follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from controller.api.resource import GROUP, KIND, PLURAL, SHORT_NAME, VERSION

__all__ = ["NameRule", "Resource", "Registry", "RESOURCES", "default_registry"]


class NameRule(Enum):
    """The DNS naming rule `metadata.name` must follow, as the API server checks it."""

    SUBDOMAIN = "subdomain"  # RFC 1123 subdomain: most kinds
    LABEL = "label"  # RFC 1123 label: namespaces
    DNS1035 = "dns1035"  # RFC 1035 label: services (first character a letter)


@dataclass(frozen=True)
class Resource:
    """One served resource type; identity is (group, version, plural)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    tracks_generation: bool = False
    unconditional_update: bool = True
    name_rule: NameRule = NameRule.SUBDOMAIN
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """How the API server names the type in messages: `deployments.apps`, `configmaps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, status_subresource=True, name_rule=NameRule.LABEL),
    Resource("", "v1", "configmaps", "ConfigMap"),
    Resource("", "v1", "services", "Service", status_subresource=True, name_rule=NameRule.DNS1035),
    Resource("", "v1", "serviceaccounts", "ServiceAccount"),
    Resource("", "v1", "pods", "Pod", status_subresource=True),
    Resource("", "v1", "events", "Event"),
    Resource("apps", "v1", "deployments", "Deployment", status_subresource=True, tracks_generation=True),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
    Resource("events.k8s.io", "v1", "events", "Event"),
    Resource(
        GROUP,
        VERSION,
        PLURAL,
        KIND,
        status_subresource=True,
        tracks_generation=True,
        unconditional_update=False,
        short_names=(SHORT_NAME,),
    ),
)


class Registry:
    """Lookup of resource types by (group, version, plural), or by `plural[.group]` for tests."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}
        self._by_name = {r.qualified: r for r in self._by_path.values()}

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._by_path.values())

    def find(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def named(self, name: str | Resource) -> Resource:
        """`configmaps`, `deployments.apps`, `deployments` (unique plural) or a Resource itself."""
        if isinstance(name, Resource):
            return name
        if name in self._by_name:
            return self._by_name[name]
        matches = [r for r in self._by_path.values() if r.plural == name]
        if len(matches) != 1:
            known = ", ".join(sorted(self._by_name))
            raise KeyError(f"resource {name!r} is not served or is ambiguous; expected one of: {known}")
        return matches[0]

    def versions_of(self, group: str) -> list[str]:
        return sorted({r.version for r in self._by_path.values() if r.group == group})

    def groups(self) -> list[str]:
        return sorted({r.group for r in self._by_path.values() if r.group})


def default_registry() -> Registry:
    return Registry(RESOURCES)
