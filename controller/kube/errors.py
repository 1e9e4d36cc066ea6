"""Errors the Kubernetes adapter raises, translated from the client's at one boundary.

    DependencyError (controller.errors)
     └── KubeError            the API server refused or could not be reached: status, reason
          ├── NotFound        404: the object is gone (deleted, or never created)
          ├── Conflict        409 on a write with a stale resourceVersion: re-read, decide again
          ├── AlreadyExists   409 on create: someone created it first
          └── Gone            410: a watch's resourceVersion is too old; list again
"""

from __future__ import annotations

from controller.errors import DependencyError

__all__ = ["KubeError", "NotFound", "Conflict", "AlreadyExists", "Gone", "error_for_status"]


class KubeError(DependencyError):
    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"Kubernetes API answered {status} {reason}: {message}" if status else message)


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    pass


class AlreadyExists(KubeError):
    pass


class Gone(KubeError):
    pass


def error_for_status(status: int, reason: str, message: str) -> KubeError:
    """The narrowest error for an API status; `reason` is the Status object's reason field."""
    if status == 404:
        return NotFound(status, reason, message)
    if status == 409:
        return AlreadyExists(status, reason, message) if reason == "AlreadyExists" else Conflict(status, reason, message)
    if status == 410:
        return Gone(status, reason, message)
    return KubeError(status, reason, message)
