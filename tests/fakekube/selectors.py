"""Label and field selectors, parsed from their query-string form as the API server reads them.

Label selectors take the whole grammar: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`,
`a notin (x,y)`, comma-separated (commas inside parentheses belong to the set). Field selectors
take `path=value`, `path==value` and `path!=value` on any dotted path (`metadata.name`,
`involvedObject.uid`): the real server allows only a few paths per kind, a superset does no harm.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakekube.errors import BadRequest

__all__ = ["Selector", "ObjectFilter", "parse_label_selector", "parse_field_selector", "MATCH_ALL"]

_SPLIT = re.compile(r",(?![^()]*\))")
_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"[-A-Za-z0-9_.]*"
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")
_EQUALITY = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s*\(([^()]*)\)$")
_FIELD = re.compile(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$")

Test = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class Selector:
    """A conjunction of requirements on a flat string map (labels, or fields read from an object)."""

    text: str
    tests: tuple[Test, ...]

    def matches(self, values: Mapping[str, str]) -> bool:
        return all(test(values) for test in self.tests)

    def __bool__(self) -> bool:
        return bool(self.tests)


MATCH_ALL = Selector("", ())


def _requirement(term: str, text: str) -> Test:
    if found := _EXISTS.match(term):
        negate, key = found.group(1) == "!", found.group(2)
        return lambda labels: (key in labels) != negate
    if found := _EQUALITY.match(term):
        key, op, value = found.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if found := _SET.match(term):
        key, op, members = found.group(1), found.group(2), frozenset(v.strip() for v in found.group(3).split(","))
        if op == "in":
            return lambda labels: labels.get(key) in members
        return lambda labels: labels.get(key) not in members
    raise BadRequest(
        f"unable to parse requirement {term!r} in label selector {text!r}: expected key, !key, key=value, key!=value or key in (v1,v2)"
    )


def parse_label_selector(text: str | None) -> Selector:
    if not text or not text.strip():
        return MATCH_ALL
    terms = [term.strip() for term in _SPLIT.split(text)]
    return Selector(text, tuple(_requirement(term, text) for term in terms))


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value)


def _field_test(path: str, op: str, value: str) -> Test:
    if op == "!=":
        return lambda fields: fields.get(path, "") != value
    return lambda fields: fields.get(path, "") == value


def parse_field_selector(text: str | None) -> tuple[Selector, tuple[str, ...]]:
    """The selector over field values, and the dotted paths whose values it needs."""
    if not text or not text.strip():
        return MATCH_ALL, ()
    tests: list[Test] = []
    paths: list[str] = []
    for term in (t.strip() for t in text.split(",")):
        found = _FIELD.match(term)
        if not found:
            raise BadRequest(f"invalid field selector term {term!r} in {text!r}: expected path=value or path!=value")
        path, op, value = found.group(1), found.group(2), found.group(3).strip()
        paths.append(path)
        tests.append(_field_test(path, op, value))
    return Selector(text, tuple(tests)), tuple(paths)


@dataclass(frozen=True)
class ObjectFilter:
    """Which objects a list or watch sees: one namespace (None for all) and both selectors."""

    namespace: str | None = None
    labels: Selector = MATCH_ALL
    fields: Selector = MATCH_ALL
    field_paths: tuple[str, ...] = ()

    @classmethod
    def parse(cls, namespace: str | None, label_selector: str | None = None, field_selector: str | None = None) -> ObjectFilter:
        fields, paths = parse_field_selector(field_selector)
        return cls(namespace, parse_label_selector(label_selector), fields, paths)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        if self.namespace is not None and metadata.get("namespace", "") != self.namespace:
            return False
        if self.labels and not self.labels.matches(metadata.get("labels") or {}):
            return False
        return not self.fields or self.fields.matches({path: _field_value(obj, path) for path in self.field_paths})
