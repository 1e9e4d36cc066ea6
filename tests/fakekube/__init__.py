"""An in-memory stand-in for the Kubernetes API server, served over real HTTP on loopback.

It behaves like the real server where the controller depends on it: resourceVersion
conflicts, status subresources, generation, owner-reference garbage collection, label and
field selectors, watch streams with bookmarks and 410 after compaction, and `Status` errors
with the real codes and reasons. The official `kubernetes` client talks to it unmodified
through the kubeconfig it writes.

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
