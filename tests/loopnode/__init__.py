"""A loopback node: the kubelet's part for a real control plane, played by a test harness.

    node      `LoopbackNode`: registers a Node, keeps it alive, binds and reports Pods through a `PodRuntime`
    runtime   `ProcessRuntime`: each container of a Pod as a local process on the Pod's IP, probed for readiness
    images    which program an image names (the project's image, the demo model with its scenario in the tag)
    proxy     `ServiceProxy`: kube-proxy (a TCP forwarder per cluster IP and port) and the Services' host names
    hosts     `HostsFile`: cluster DNS as /etc/hosts, bind-mounted inside the harness's own mount namespace
    netns     the network, mount and PID namespaces the whole end-to-end runs in (`unshare`, as root)
    watching  `Mirror`: list-then-watch of one kind of object in a thread
    cluster   `LoopbackCluster`: all of the above around a `ControlPlane`
"""

from __future__ import annotations

from tests.loopnode.node import LoopbackNode, PodRuntime, ReadyAtOnce, pod_key

__all__ = ["LoopbackNode", "PodRuntime", "ReadyAtOnce", "pod_key"]
