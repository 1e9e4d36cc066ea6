"""Patch application: JSON merge patch (RFC 7386) and JSON patch (RFC 6902, through `jsonpatch`).

Strategic merge patch is applied as a JSON merge patch: the two agree except for lists of
objects with merge keys (containers, ports), where strategic merge merges by key and merge
patch replaces the list. The controller sends merge patches, so the difference does not arise.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import jsonpatch

from tests.fakekube.errors import BadRequest, Invalid, UnsupportedMedia

__all__ = ["PatchType", "patch_type_of", "apply_patch", "merge_patch"]


class PatchType(Enum):
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    JSON = "application/json-patch+json"


def patch_type_of(content_type: str) -> PatchType:
    media = content_type.split(";", 1)[0].strip().lower()
    for patch_type in PatchType:
        if patch_type.value == media:
            return patch_type
    served = ", ".join(p.value for p in PatchType)
    raise UnsupportedMedia(f"the body of the request was in an unknown format {media!r}: expected one of {served}")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(target: dict[str, Any], patch: Any, patch_type: PatchType) -> dict[str, Any]:
    """The patched copy of `target`; `target` itself is left as it was."""
    if patch_type is PatchType.JSON:
        if not isinstance(patch, list):
            raise BadRequest(f"a JSON patch must be a list of operations, got {type(patch).__name__}")
        try:
            result = jsonpatch.apply_patch(target, patch, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise Invalid(f"the JSON patch cannot be applied: {exc}") from exc
    else:
        if not isinstance(patch, dict):
            raise BadRequest(f"a merge patch must be a JSON object, got {type(patch).__name__}")
        result = merge_patch(target, patch)
    if not isinstance(result, dict):
        raise Invalid(f"the patched object must be a JSON object, got {type(result).__name__}")
    return result
