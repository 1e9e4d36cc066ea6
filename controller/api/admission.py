"""A ModelRollout document as the API server reads it, before its schema and CEL rules judge it.

`modelrollout validate` must accept exactly what `kubectl apply` gets past the API server. The
server does not judge the YAML a user wrote but the JSON it decodes, after a few steps of its
own; `server_view` repeats them, so the models then judge the same document:

- the document travels as JSON: mapping keys become strings, YAML dates become text;
- a null where the schema has a typed field is dropped (pruned), as if the field were absent,
  while a null list item stays and is refused;
- `status` is ignored on create and update (it has its own subresource);
- an integer beyond 64 bits is no integer to the server's decoder;
- `metadata` is checked as Kubernetes checks ObjectMeta (`objectmeta.metadata_problems`): a
  name (or generateName) that is a lowercase RFC 1123 subdomain, labels and annotations.

Types are then checked strictly (`"3"` is not an integer, `1` is not `true`), as the schema does.
"""

from __future__ import annotations

import json
import math
from typing import Any

from controller.api.objectmeta import metadata_problems

__all__ = ["server_view"]

Schema = dict[str, Any]
Problem = tuple[str, str]  # (`.spec...` path, sentence)

_INT64 = (-(2**63), 2**63 - 1)


def server_view(document: dict[str, Any], schema: Schema) -> tuple[dict[str, Any], list[Problem]]:
    """The document the server's schema would judge, and what its decoding and metadata checks refuse."""
    wire = json.loads(json.dumps(document, default=str))  # keys and YAML dates as JSON has them
    wire.pop("status", None)
    problems: list[Problem] = metadata_problems(wire.get("metadata"))
    pruned = _prune(wire, schema, "", problems)
    return pruned, problems


def _prune(value: Any, schema: Schema, path: str, problems: list[Problem]) -> Any:
    """`value` with the nulls the server drops removed, noting integers and numbers it cannot decode."""
    if isinstance(value, dict):
        return _prune_object(value, schema, path, problems)
    if isinstance(value, list):
        listed = schema.get("items")
        items: Schema = listed if isinstance(listed, dict) else {}
        return [_prune(item, items, f"{path}[{index}]", problems) for index, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value) and "type" not in schema:
        # A typed number field says so itself (not a finite number); a free-form one (the pod template) cannot.
        problems.append((path or ".", f"{value} is not a number JSON can carry"))
    elif _is_integer(value) and schema.get("type") == "integer" and not _INT64[0] <= value <= _INT64[1]:
        problems.append((path or ".", f"{value} is too large: the API server reads integers as 64-bit"))
    return value


def _prune_object(value: dict[str, Any], schema: Schema, path: str, problems: list[Problem]) -> dict[str, Any]:
    properties: Schema = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    typed = bool(properties) or isinstance(extra, dict)
    out: dict[str, Any] = {}
    for key, item in value.items():
        child = properties.get(key, extra if isinstance(extra, dict) else {})
        if item is None and typed and not child.get("nullable"):
            continue  # pruned: a typed field given null is absent to the server
        out[key] = _prune(item, child, f"{path}.{key}", problems)
    return out


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
