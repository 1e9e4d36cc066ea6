"""A real Kubernetes control plane for tests, found through `KUBEBUILDER_ASSETS` (envtest's convention).

    pki       certificates and ServiceAccount keys, made with `cryptography`
    server    `ControlPlane`: etcd, kube-apiserver and kube-controller-manager on free loopback ports
"""

from __future__ import annotations

from tests.controlplane.server import ASSETS_HINT, ControlPlane, ControlPlaneError, find_assets

__all__ = ["ASSETS_HINT", "ControlPlane", "ControlPlaneError", "find_assets"]
