"""A whole cluster without Docker: the real control plane, a loopback node running Pods as processes,
Services forwarded and named. Only inside the namespaces `tests.loopnode.netns` makes.

    with LoopbackCluster(assets, workdir, namespaces=["modelrollout-system", "models"]) as cluster:
        cluster.apply_file(Path("manifests/install.yaml"))
        ...  # cluster.api_client, cluster.runtime.pids(key), cluster.plane.audit_events()

On entering: `lo` gets the pod and service ranges, the control plane starts (etcd,
kube-apiserver, kube-controller-manager on loopback), then the Service proxy (kube-proxy and
DNS, `tests.loopnode.proxy`) and the node (`tests.loopnode.node` with
`tests.loopnode.runtime.ProcessRuntime`). On leaving, everything is stopped in reverse order
and every process a Pod ran has ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml
from kubernetes import client as k8s
from kubernetes import utils as k8s_utils

from tests.controlplane import ControlPlane
from tests.loopnode.hosts import HostsFile
from tests.loopnode.netns import configure_network
from tests.loopnode.node import LoopbackNode
from tests.loopnode.proxy import ServiceProxy
from tests.loopnode.runtime import ProcessRuntime

__all__ = ["LoopbackCluster"]


class LoopbackCluster:
    def __init__(self, assets: Path, workdir: Path, *, namespaces: Iterable[str] | None = None) -> None:
        self.workdir = workdir
        self.plane = ControlPlane(assets, workdir / "control-plane")
        self._namespaces = list(namespaces) if namespaces is not None else None
        self._stack = contextlib.ExitStack()
        self.api_client: k8s.ApiClient
        self.runtime: ProcessRuntime
        self.node: LoopbackNode
        self.proxy: ServiceProxy

    def __enter__(self) -> Self:
        configure_network()
        try:
            self._stack.enter_context(self.plane)
            self.api_client = self._stack.enter_context(self.plane.api_client())
            self.runtime = ProcessRuntime(self.workdir, self._token_kubeconfig)
            self._stack.callback(self.runtime.close)
            self.proxy = ServiceProxy(self.plane.api_client(), HostsFile(self.workdir / "hosts")).start()
            self._stack.callback(self.proxy.stop)
            self.node = LoopbackNode(self.plane.api_client(), namespaces=self._namespaces, runtime=self.runtime).start()
            self._stack.callback(self.node.stop)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stack.close()

    def _token_kubeconfig(self, path: Path, namespace: str, service_account: str) -> Path:
        return self.plane.token_kubeconfig(path, namespace, service_account)

    def apply_file(self, path: Path, transform: Any = None) -> None:
        """Create every document of a YAML file, in order, as the admin; `transform(doc)` may edit each."""
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                k8s_utils.create_from_dict(self.api_client, transform(document) if transform else document)
