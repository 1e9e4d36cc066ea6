"""pydantic validation errors rewritten as sentences a person can act on.

pydantic reports `('spec', 'strategy', 'canary', 'steps', 2, 'setWeight')` and "Input should
be less than or equal to 100"; a user wants `.spec.strategy.canary.steps[2].setWeight: 140
is outside 0..100`. The CRD's structural schema supplies what pydantic's error lacks: both
bounds of a range, the allowed values of an enum, the field names near a misspelt one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from pydantic_core import ErrorDetails

from controller.api.base import FieldIssue

__all__ = ["describe_errors", "show_value"]

Schema = dict[str, Any]
_KEY = "[key]"  # pydantic's loc marker for an error in a mapping's key rather than its value


def describe_errors(errors: list[ErrorDetails], schema: Schema) -> list[tuple[str, str]]:
    """(`.spec...` path, sentence) for each pydantic error, checked against the resource's structural schema.

    A value that fits no member of a union (`int | str`) gets one sentence, not one per member.
    """
    located: list[tuple[str, ErrorDetails, Schema, Schema]] = []
    expected_kinds: dict[str, list[str]] = {}
    for error in map(_at_the_field, errors):
        path, node, parent = _walk(error, schema)
        if _is_kind_error(error):
            seen = path in expected_kinds
            expected_kinds.setdefault(path, []).append(_KINDS[error["type"]])
            if seen:
                continue  # another member of the same union refused the same value
        located.append((path, error, node, parent))
    return [
        (path, _sentence(error, node, parent, expected_kinds.get(path, []))) for path, error, node, parent in located
    ]


def _at_the_field(error: ErrorDetails) -> ErrorDetails:
    """A model validator's FieldIssue located at the field it names, not at the model."""
    issue = error.get("ctx", {}).get("error")
    if isinstance(issue, FieldIssue):
        return {**error, "loc": (*error["loc"], *issue.at)}
    return error


def show_value(value: object) -> str:
    """A value as the user wrote it, quoted if text, cut short if long."""
    if isinstance(value, bool):
        return "true" if value else "false"  # as YAML and JSON write it, not Python's True
    text = repr(value) if isinstance(value, str) else "null" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_kind_error(error: ErrorDetails) -> bool:
    return error["type"] in _KINDS and not (error["loc"] and error["loc"][-1] == _KEY)


def _sentence(error: ErrorDetails, node: Schema, parent: Schema, kinds: list[str]) -> str:
    value = show_value(error["input"])
    if _is_kind_error(error):
        return f"{value} is not {' or '.join(dict.fromkeys(kinds))}"
    if error["loc"] and error["loc"][-1] == _KEY:
        expected = error.get("ctx", {}).get("expected")
        return f"{value} is not an allowed key here" + (f"; expected {expected}" if expected else "")
    return _SENTENCES.get(error["type"], _generic)(error, node, parent)


def _walk(error: ErrorDetails, schema: Schema) -> tuple[str, Schema, Schema]:
    """Follow the error's loc through the schema: the printable path, the node reached, and its parent object.

    A loc also holds union-member tags ('str', 'function-after[...]'): they are not fields and are
    left out. A key the schema does not know is kept only where it is the subject of the error.
    """
    loc = error["loc"]
    path, node, parent = "", schema, schema
    for position, key in enumerate(loc):
        child = _child(node, key)
        following = loc[position + 1] if position + 1 < len(loc) else None
        unknown_field = following is None and error["type"] == "extra_forbidden"
        if child is None and not unknown_field and following != _KEY:
            continue
        parent, node = node, child or {}
        path += f"[{key}]" if isinstance(key, int) else f".{key}"
    return path or ".", node, parent


def _child(node: Schema, key: int | str) -> Schema | None:
    if isinstance(key, int):
        items: Schema | None = node.get("items") if node.get("type") == "array" else None
        return items
    if key in node.get("properties", {}):
        child: Schema = node["properties"][key]
        return child
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _range(error: ErrorDetails, node: Schema, parent: Schema) -> str:
    value = show_value(error["input"])
    low, high = node.get("minimum"), node.get("maximum")
    exclusive = node.get("exclusiveMinimum") or node.get("exclusiveMaximum")
    if low is not None and high is not None and not exclusive:
        return f"{value} is outside {_number(low)}..{_number(high)}"
    ctx = error.get("ctx", {})
    words = {"ge": "at least", "gt": "greater than", "le": "at most", "lt": "less than"}
    limits = [f"{words[key]} {_number(ctx[key])}" for key in words if key in ctx]
    return (
        f"{value} is not allowed; expected a number {' and '.join(limits)}" if limits else _generic(error, node, parent)
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _choices(error: ErrorDetails, node: Schema, _parent: Schema) -> str:
    if "enum" in node:
        return f"{show_value(error['input'])} is not allowed; expected one of {', '.join(map(str, node['enum']))}"
    return (
        f"{show_value(error['input'])} is not allowed; expected {error.get('ctx', {}).get('expected', 'another value')}"
    )


def _unknown_field(error: ErrorDetails, _node: Schema, parent: Schema) -> str:
    name = str(error["loc"][-1])
    known = list(parent.get("properties", {}))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"expected one of {', '.join(known)}"
    return f"{name} is not a known field here; {hint}"


def _length(error: ErrorDetails, _node: Schema, _parent: Schema) -> str:
    ctx = error.get("ctx", {})
    if error["type"] == "string_too_short":
        return (
            "must not be empty"
            if ctx.get("min_length") == 1
            else f"must have at least {ctx.get('min_length')} characters"
        )
    if error["type"] == "string_too_long":
        return f"{show_value(error['input'])} is longer than {ctx.get('max_length')} characters"
    if error["type"] == "too_short":
        return f"has {ctx.get('actual_length')} items; at least {ctx.get('min_length')} needed"
    return f"has {ctx.get('actual_length')} items; at most {ctx.get('max_length')} allowed"


def _value_error(error: ErrorDetails, _node: Schema, _parent: Schema) -> str:
    return str(error.get("ctx", {}).get("error", error["msg"]))


def _pattern(error: ErrorDetails, _node: Schema, _parent: Schema) -> str:
    return f"{show_value(error['input'])} does not match the pattern {error.get('ctx', {}).get('pattern')}"


def _url(error: ErrorDetails, _node: Schema, _parent: Schema) -> str:
    return f"{show_value(error['input'])} is not a valid URL ({error.get('ctx', {}).get('error', error['msg'])})"


def _generic(error: ErrorDetails, _node: Schema, _parent: Schema) -> str:
    message = error["msg"]
    return f"{show_value(error['input'])} is invalid: {message[:1].lower()}{message[1:]}"


_KINDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "list_type": "a list",
    "datetime_parsing": "a date-time such as 2024-05-01T12:00:00Z",
    "datetime_type": "a date-time such as 2024-05-01T12:00:00Z",
}

_SENTENCES: dict[str, Callable[[ErrorDetails, Schema, Schema], str]] = {
    "missing": lambda _error, _node, _parent: "is required",
    "extra_forbidden": _unknown_field,
    "greater_than": _range,
    "greater_than_equal": _range,
    "less_than": _range,
    "less_than_equal": _range,
    "literal_error": _choices,
    "enum": _choices,
    "string_pattern_mismatch": _pattern,
    "string_too_short": _length,
    "string_too_long": _length,
    "too_short": _length,
    "too_long": _length,
    "value_error": _value_error,
    "assertion_error": _value_error,
    "url_parsing": _url,
    "url_scheme": _url,
    "url_type": _url,
}
