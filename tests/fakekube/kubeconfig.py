"""A kubeconfig pointing at the stand-in: plain HTTP, a dummy bearer token, one context.

`kubernetes.config.load_kube_config(path)` reads it unmodified, as would kubectl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONTEXT", "TOKEN", "kubeconfig_document", "write_kubeconfig"]

CONTEXT = "fakekube"
TOKEN = "fakekube-token"


def kubeconfig_document(url: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {"token": TOKEN}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, url: str, namespace: str = "default") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig_document(url, namespace), sort_keys=False))
    path.chmod(0o600)
    return path
