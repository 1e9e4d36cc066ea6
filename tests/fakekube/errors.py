"""Errors of the stand-in, each one a Kubernetes `Status` with the code and reason the real server uses.

    ApiError                  code, reason, message; `.status()` is the wire form
     ├── BadRequest           400: unparsable body, name or namespace not matching the URL
     ├── NotFound             404: no such object, or no such resource type
     ├── MethodNotAllowed     405: a verb the resource does not serve
     ├── AlreadyExists        409: create of a name that is taken
     ├── Conflict             409: stale resourceVersion or failed precondition
     ├── Expired              410: a watch from a resourceVersion older than the kept history
     ├── UnsupportedMedia     415: a patch type the stand-in does not apply
     ├── Invalid              422: an object the API server would reject, with its causes
     └── InternalError        500: a fault in the stand-in itself

`injected_failure` builds an ApiError with any error code, for failures a test asks for.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from tests.fakekube.resources import Resource

__all__ = [
    "ApiError",
    "BadRequest",
    "NotFound",
    "MethodNotAllowed",
    "AlreadyExists",
    "Conflict",
    "Expired",
    "UnsupportedMedia",
    "Invalid",
    "InternalError",
    "not_found",
    "already_exists",
    "conflict",
    "invalid",
    "injected_failure",
]


class ApiError(Exception):
    code = 500
    reason = "InternalError"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class NotFound(ApiError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(ApiError):
    code, reason = 405, "MethodNotAllowed"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"


class Conflict(ApiError):
    code, reason = 409, "Conflict"


class Expired(ApiError):
    code, reason = 410, "Expired"


class UnsupportedMedia(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(ApiError):
    code, reason = 422, "Invalid"


class InternalError(ApiError):
    code, reason = 500, "InternalError"


def _details(resource: Resource, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return details


def not_found(resource: Resource, name: str) -> NotFound:
    return NotFound(f'{resource.qualified} "{name}" not found', _details(resource, name))


def already_exists(resource: Resource, name: str) -> AlreadyExists:
    return AlreadyExists(f'{resource.qualified} "{name}" already exists', _details(resource, name))


def conflict(resource: Resource, name: str, why: str) -> Conflict:
    return Conflict(f'Operation cannot be fulfilled on {resource.qualified} "{name}": {why}', _details(resource, name))


def invalid(resource: Resource, name: str, causes: list[tuple[str, str]]) -> Invalid:
    """422 naming every (field, message) cause, worded as the API server words it."""
    summary = ", ".join(f"{field}: {message}" for field, message in causes)
    group = f".{resource.group}" if resource.group else ""
    details = _details(resource, name)
    details["kind"] = resource.kind
    details["causes"] = [{"reason": "FieldValueInvalid", "message": message, "field": field} for field, message in causes]
    return Invalid(f'{resource.kind}{group} "{name}" is invalid: {summary}', details)


def injected_failure(code: int, method: str, path: str) -> ApiError:
    """An error with HTTP status `code` and the reason the real server would give it (e.g. ServiceUnavailable)."""
    error = ApiError(f"injected failure: {method} {path} answers {code}")
    error.code = code
    error.reason = HTTPStatus(code).phrase.replace(" ", "").replace("-", "")
    return error
