"""The operator's fixtures (model servers, the real control plane, a Scene), shared with tests/integration/kube."""

from __future__ import annotations

from tests.integration.kube.conftest import anyio_backend, backend, models, real_cluster, scene

__all__ = ["anyio_backend", "backend", "models", "real_cluster", "scene"]
