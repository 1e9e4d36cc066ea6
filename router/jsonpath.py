"""A small JSON path: dotted keys, `[index]` and `[*]`, compiled once, walked per response.

`outputs[0].data`, `$.result.scores[*].label` and `predictions` are valid paths. Compiling
turns the text into a tuple of steps so the hot path never parses or matches patterns.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["WILDCARD", "Step", "compile_path", "evaluate"]

WILDCARD: Final = "*"
Step = str | int  # a key, a list index, or WILDCARD (every element)


def compile_path(text: str) -> tuple[Step, ...]:
    """Steps of `text`; raises ValueError naming the offending part."""
    body = text.strip()
    if body.startswith("$"):
        body = body[1:].lstrip(".")
    if not body:
        raise ValueError(f"json path {text!r} is empty; expected e.g. outputs[0].data")
    steps: list[Step] = []
    for part in body.split("."):
        steps.extend(_compile_part(part, text))
    return tuple(steps)


def _compile_part(part: str, text: str) -> list[Step]:
    key, _, rest = part.partition("[")
    steps: list[Step] = [key] if key else []
    if not key and not rest:
        raise ValueError(f"json path {text!r} has an empty key; expected keys joined by dots")
    while rest:
        index, closed, rest = rest.partition("]")
        if not closed or (rest and not rest.startswith("[")):
            raise ValueError(f"json path {text!r}: {part!r} is not key[index]; expected e.g. data[0]")
        steps.append(_index(index, text))
        rest = rest[1:]
    return steps


def _index(index: str, text: str) -> Step:
    if index == WILDCARD:
        return WILDCARD
    try:
        return int(index)
    except ValueError:
        raise ValueError(f"json path {text!r}: [{index}] is not an integer index or [*]") from None


def evaluate(document: Any, steps: tuple[Step, ...]) -> list[Any] | None:
    """Values at `steps` in `document` (a wildcard may yield many); None if the path is absent."""
    current: list[Any] = [document]
    for step in steps:
        current = _advance(current, step)
        if not current:
            return None
    return current


def _advance(values: list[Any], step: Step) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if step == WILDCARD:
            if isinstance(value, list):
                found.extend(value)
        elif isinstance(step, int):
            if isinstance(value, list) and -len(value) <= step < len(value):
                found.append(value[step])
        elif isinstance(value, dict) and step in value:
            found.append(value[step])
    return found
