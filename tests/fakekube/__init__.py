"""An in-memory stand-in for the Kubernetes API server, served over real HTTP on loopback.

It behaves like the real server where the controller depends on it: resourceVersion
conflicts, status subresources, generation, owner-reference garbage collection, label and
field selectors, watch streams with bookmarks and 410 after compaction, the addresses an
EndpointSlice may not hold, and `Status` errors with the real codes and reasons. The official
`kubernetes` client talks to it unmodified through the kubeconfig it writes.

What it is kept for, now that the tests also start a real control plane (`tests.controlplane`):
the faults a real server cannot be made to produce on demand, and speed.

- conflict storms: the next N writes of one object answered 409 Conflict (`faults.conflict_storm`);
- injected errors and latency: any status code on chosen paths and verbs, slow answers
  (`faults.fail`, `faults.add_latency`);
- cut watches: every open watch ended at once, as an API server restart would (`close_watches`);
- expired watches: an in-stream 410 Gone, as when the server's history moved on (`Store.expire_watches`);
- thousands of rollouts for the controller benchmark, with no control plane to start.

What it does not do, where only the real server tells: RBAC (every request is allowed),
validation of custom resources against the CRD's schema and CEL rules (a spec the real server
refuses is stored here, which is how the controller's own InvalidSpec check is tested),
defaulting and dropping of zero values (it keeps an object as sent), admission, finalizers,
Pods, ReplicaSets and EndpointSlices made by controllers, and the delay of the real garbage
collector (collection here is immediate).

    store       objects, versions, deletion and collection, watch fan-out (no I/O)
    server      the HTTP layer (aiohttp): paths, verbs, watch streams, discovery, faults
    harness     `FakeKube`: the server on a background thread, for pytest fixtures
    __main__    the server as a process: `python -m tests.fakekube --port P`
"""

from __future__ import annotations

from tests.fakekube.deployments import DeploymentReadiness, ready_status
from tests.fakekube.errors import ApiError
from tests.fakekube.faults import Faults
from tests.fakekube.harness import FakeKube, bind_socket
from tests.fakekube.kubeconfig import write_kubeconfig
from tests.fakekube.patches import PatchType
from tests.fakekube.resources import RESOURCES, Registry, Resource
from tests.fakekube.server import ApiServer
from tests.fakekube.store import Store
from tests.fakekube.watch import WatchEvent

__all__ = [
    "FakeKube",
    "Store",
    "ApiServer",
    "Faults",
    "ApiError",
    "PatchType",
    "Resource",
    "Registry",
    "RESOURCES",
    "WatchEvent",
    "DeploymentReadiness",
    "ready_status",
    "bind_socket",
    "write_kubeconfig",
]
