"""Cluster DNS played by /etc/hosts inside the end-to-end's own mount namespace.

`HostsFile.publish(names)` writes a whole new hosts file and bind-mounts it over `/etc/hosts`:
a program resolving a name reads the old file or the new one, never half of one (rewriting one
bind-mounted file in place could be read half-written). Each publish stacks one more bind
mount; there are a few dozen in a run, and all of them end with the namespace. Only ever used
inside a mount namespace of the harness's own (`tests.loopnode.netns`), never on the machine's
own `/etc/hosts`.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["HostsFile", "service_names", "HOSTS_PATH"]

HOSTS_PATH = Path("/etc/hosts")
_BASE = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"


def service_names(name: str, namespace: str, cluster_domain: str = "cluster.local") -> list[str]:
    """The names cluster DNS answers for a Service, short of the search-path forms."""
    return [f"{name}.{namespace}.svc.{cluster_domain}", f"{name}.{namespace}.svc", f"{name}.{namespace}"]


class HostsFile:
    def __init__(self, directory: Path, target: Path = HOSTS_PATH) -> None:
        self._directory = directory
        self._target = target
        self._published: dict[str, tuple[str, ...]] | None = None
        self._generation = 0
        self._lock = threading.Lock()

    def publish(self, addresses: Mapping[str, Sequence[str]]) -> None:
        """Make `/etc/hosts` map each address to its names (nothing happens when they are unchanged)."""
        wanted = {address: tuple(names) for address, names in sorted(addresses.items())}
        with self._lock:
            if wanted == self._published:
                return
            self._generation += 1
            self._directory.mkdir(parents=True, exist_ok=True)
            path = self._directory / f"hosts.{self._generation}"
            path.write_text(_BASE + "".join(f"{address} {' '.join(names)}\n" for address, names in wanted.items()))
            subprocess.run(["mount", "--bind", str(path), str(self._target)], check=True, capture_output=True)
            self._published = wanted
