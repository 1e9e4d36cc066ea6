"""Predictions out of a model's response, and whether two sets of them agree (pure).

Protocols: KServe v1 (`{"predictions": [...]}`), Open Inference Protocol v2 (on
`/v2/models/<m>/infer`: every `outputs[].data`, in order), or a configured JSON path; `auto`
picks v2 by path and v1 by the `predictions` key. Nested lists are flattened and objects
contribute their values in key order, so a response becomes one flat list of scalars.
Floats are scores (compared within a tolerance, binned for drift); ints, strings, booleans
and nulls are labels (compared for equality, counted by category).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson

from router.config import Predictions
from router.jsonpath import compile_path, evaluate

__all__ = ["Comparison", "Extractor", "SAMPLE_CHARS", "Scalar", "compare", "flatten", "label_key", "shape_of"]

Scalar = float | int | str | bool | None

# How much of an unreadable answer's shape is kept: enough to recognise a protocol, never a value.
SAMPLE_CHARS = 120


def flatten(value: Any) -> list[Scalar]:
    """`value` as a flat list of scalars: lists in order, objects by sorted key."""
    if isinstance(value, list):
        return [item for element in value for item in flatten(element)]
    if isinstance(value, dict):
        return [item for key in sorted(value) for item in flatten(value[key])]
    return [value]


def label_key(value: Scalar) -> str:
    """The category a non-float prediction is counted under."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Extractor:
    """Finds the predictions in a response body, as configured; None when it cannot.

    `unreadable_sample` is the shape of the last answer it could not read (`shape_of`), so a
    protocol setting that reads nothing can say what the answers look like. Only on a failure is
    anything kept, and then only the first few top-level keys: it is formatted when asked for,
    so a setting that fails every answer costs the hot path a slice, not a string.
    """

    __slots__ = ("_protocol", "_steps", "_unreadable")

    def __init__(self, predictions: Predictions) -> None:
        self._protocol = predictions.protocol
        self._steps = compile_path(predictions.json_path) if predictions.json_path else ()
        # The last unreadable answer, reduced: a fixed description, or (kind, detail) to describe it by.
        self._unreadable: str | tuple[type, Any] | None = None

    @property
    def unreadable_sample(self) -> str | None:
        unreadable = self._unreadable
        if unreadable is None or isinstance(unreadable, str):
            return unreadable
        kind, detail = unreadable
        if kind is dict:
            return shape_of(dict.fromkeys(detail))
        return f"a list of {detail}" if kind is list else "a JSON " + _JSON_KINDS.get(kind, "value")

    def extract(self, path: str, body: bytes) -> list[Scalar] | None:
        if not body:
            self._unreadable = "an empty body"
            return None
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            self._unreadable = "not JSON"
            return None
        found = self._find(path, document)
        if found is None:
            self._unreadable = _reduced(document)
            return None
        return flatten(found)

    def _find(self, path: str, document: Any) -> Any:
        if self._protocol == "jsonpath":
            return evaluate(document, self._steps)
        if self._protocol == "oip-v2" or (self._protocol == "auto" and _is_oip_infer(path)):
            return _oip_outputs(document)
        return _kserve_predictions(document)


# More keys than these would not fit in a sample anyway.
_SAMPLE_KEYS = 16


def _reduced(document: Any) -> tuple[type, Any]:
    """What an unreadable answer's sample is made of: a few keys, a length or a kind, never a value."""
    if isinstance(document, dict):
        return dict, tuple(islice(document, _SAMPLE_KEYS))
    if isinstance(document, list):
        return list, len(document)
    return type(document), None


_JSON_KINDS: dict[type, str] = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def shape_of(document: Any) -> str:
    """A JSON document's top-level keys with every value elided, at most `SAMPLE_CHARS` long.

    Only keys are kept: values may be a user's data, and this ends up in events and logs.
    """
    if isinstance(document, dict):
        inner = ", ".join(f"{orjson.dumps(str(key)).decode()}: ..." for key in document)
        text = "{" + inner + "}"
    elif isinstance(document, list):
        text = f"a list of {len(document)}"
    else:
        text = "a JSON " + _JSON_KINDS.get(type(document), "value")
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 4] + "...}"


def _is_oip_infer(path: str) -> bool:
    return path.startswith("/v2/models/") and path.endswith("/infer")


def _oip_outputs(document: Any) -> list[Any] | None:
    outputs = document.get("outputs") if isinstance(document, dict) else None
    if not isinstance(outputs, list):
        return None
    data = [output["data"] for output in outputs if isinstance(output, dict) and "data" in output]
    return data or None


def _kserve_predictions(document: Any) -> Any:
    if isinstance(document, dict) and isinstance(document.get("predictions"), list):
        return document["predictions"]
    return None


@dataclass(frozen=True, slots=True)
class Comparison:
    """`agreed`: every pair equal (labels) or within tolerance (scores); the largest score gap."""

    agreed: bool
    max_abs_diff: float | None


def compare(first: list[Scalar], second: list[Scalar], tolerance: float) -> Comparison:
    """Pairwise agreement of two prediction lists; different lengths never agree."""
    if len(first) != len(second):
        return Comparison(False, None)
    agreed = True
    widest: float | None = None
    for a, b in zip(first, second):
        gap = _score_gap(a, b)
        if gap is not None:
            widest = gap if widest is None or gap > widest else widest
            agreed = agreed and gap <= tolerance
        elif a != b or isinstance(a, bool) != isinstance(b, bool):
            agreed = False
    return Comparison(agreed, widest)


def _score_gap(a: Scalar, b: Scalar) -> float | None:
    """|a - b| for two numbers of which one is a float (scores); None for labels, booleans and two ints."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    return abs(a - b) if isinstance(a, float) or isinstance(b, float) else None
