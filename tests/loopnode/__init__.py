"""A loopback node: the kubelet's part for a real control plane, played by a test harness.

    node      `LoopbackNode`: registers a Node, binds and reports Pods through a `PodRuntime`
"""

from __future__ import annotations

from tests.loopnode.node import LoopbackNode, PodRuntime, ReadyAtOnce, pod_key

__all__ = ["LoopbackNode", "PodRuntime", "ReadyAtOnce", "pod_key"]
