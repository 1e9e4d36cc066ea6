"""Secret keys a provider needs, read from files the chart mounted (`<dir>/<secret>/<key>`), never through the API.

Read at each use, so a rotated Secret is picked up as soon as the kubelet updates the files.
"""

from __future__ import annotations

from pathlib import Path

from controller.api.credentials import SecretKeyRef

__all__ = ["SecretFiles", "SecretUnavailable"]


class SecretUnavailable(Exception):
    """A referenced Secret key is not mounted; the message says how to mount it."""


class SecretFiles:
    def __init__(self, root: Path | None) -> None:
        self._root = root

    def path(self, ref: SecretKeyRef) -> Path:
        if self._root is None:
            raise SecretUnavailable(
                f"Secret {ref.name} (key {ref.key}) is referenced but the controller mounts no Secrets; "
                "list it in the chart value providerSecrets (or pass --provider-secrets-dir)"
            )
        path = self._root / ref.name / ref.key
        if not path.is_file():
            raise SecretUnavailable(
                f"Secret {ref.name} key {ref.key} is not mounted at {path}; list the Secret in the chart value "
                "providerSecrets (it must be in the controller's namespace) and check the key"
            )
        return path

    def read(self, ref: SecretKeyRef) -> str:
        try:
            return self.path(ref).read_text().strip()
        except OSError as exc:
            raise SecretUnavailable(f"Secret {ref.name} key {ref.key} cannot be read: {exc}") from exc
