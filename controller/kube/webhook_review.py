"""`admission.k8s.io/v1` AdmissionReview: the request the API server sends a webhook and the answer it reads.

Only the fields the sidecar injector uses are modelled; the rest of a request is ignored. A
body that is not a usable review raises `MalformedReview`, whose message names the field and
what was wrong, so the caller can answer 400 with it instead of failing on a KeyError.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MalformedReview", "GroupVersionKind", "AdmissionRequest", "AdmissionReview", "parse_review", "review_response"]

API_VERSION = "admission.k8s.io/v1"


class MalformedReview(ValueError):
    """The body is not an AdmissionReview this webhook can answer; the message says why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class GroupVersionKind(_Model):
    group: str = ""
    version: str
    kind: str


class AdmissionRequest(_Model):
    uid: str = Field(min_length=1)
    kind: GroupVersionKind
    operation: Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
    namespace: str = ""
    name: str = ""
    object: dict[str, Any] | None = None
    dry_run: bool = Field(default=False, alias="dryRun")


class AdmissionReview(_Model):
    api_version: Literal["admission.k8s.io/v1"] = Field(alias="apiVersion")
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


def _where(error: Any) -> str:
    return "." + ".".join(str(part) for part in error["loc"]) if error["loc"] else "the body"


def parse_review(body: bytes) -> AdmissionRequest:
    """The request of an `admission.k8s.io/v1` AdmissionReview in `body`, or MalformedReview naming the problem."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedReview(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedReview(f"the body is a JSON {type(data).__name__}, not an AdmissionReview object")
    try:
        return AdmissionReview.model_validate(data).request
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        given = f" (got {repr(first['input'])[:80]})" if first["type"] != "missing" else ""
        raise MalformedReview(f"AdmissionReview `{_where(first)}`: {first['msg']}{given}") from exc


def review_response(uid: str, patch: list[dict[str, Any]] | None = None, warnings: list[str] | None = None) -> dict[str, Any]:
    """An answer that admits the object, changed by `patch` (RFC 6902 operations) when there is one."""
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(orjson.dumps(patch)).decode("ascii")
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}
