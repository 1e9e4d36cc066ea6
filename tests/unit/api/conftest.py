"""Fixtures for the API tests: the generated CRD, and a stand-in for the API server's admission checks.

`ApiServerCheck` does what the API server does with a ModelRollout before storing it:
OpenAPI v3 schema validation with strict field validation (unknown fields are errors, as with
`kubectl apply` since 1.27), then every CEL `x-kubernetes-validations` rule, evaluated with
cel-python on the object the rule sits on, numbers typed by the schema as Kubernetes does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import pytest
import yaml

from controller.api.crd import build_crd

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES_DIR = REPO_ROOT / "manifests" / "examples"

Schema = dict[str, Any]


def format_path(parts: Iterator[str | int] | list[str | int]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts) or "."


def closed(schema: Schema) -> Schema:
    """A copy where every object with listed properties rejects unknown ones (strict field validation)."""
    out = copy.deepcopy(schema)
    stack = [out]
    while stack:
        node = stack.pop()
        if "properties" in node:
            node.setdefault("additionalProperties", False)
            stack.extend(node["properties"].values())
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                stack.append(node[key])
        stack.extend(node.get("anyOf", []))
    return out


def typed(value: Any, schema: Schema) -> Any:
    """`value` with numbers as the schema types them: CEL sees `min: 1` on a number field as the double 1.0."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            key: typed(item, properties.get(key, extra if isinstance(extra, dict) else {}))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [typed(item, schema.get("items", {})) for item in value]
    if schema.get("type") == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


class ApiServerCheck:
    """Schema and CEL validation of one object against one structural schema, errors as `path: message`."""

    def __init__(self, schema: Schema) -> None:
        # OpenAPI v3.0 (as in a CRD) writes exclusive bounds as booleans, the JSON Schema draft 4 way.
        jsonschema.Draft4Validator.check_schema(schema)
        self.schema = schema
        self._validator = jsonschema.Draft4Validator(closed(schema), format_checker=jsonschema.FormatChecker())
        self._env = celpy.Environment()
        self._programs: dict[str, Any] = {}

    def errors(self, document: Any) -> list[str]:
        schema_errors = [
            f"{format_path(list(e.absolute_path))}: {e.message}" for e in self._validator.iter_errors(document)
        ]
        if schema_errors:
            return sorted(schema_errors)
        return list(self._cel_errors(self.schema, document, []))

    def _cel_errors(self, schema: Schema, value: Any, path: list[str | int]) -> Iterator[str]:
        for rule in schema.get("x-kubernetes-validations", []):
            if not self.evaluate(rule["rule"], typed(value, schema)):
                # fieldPath places the error below the object the rule sits on, as the API server does.
                where = (format_path(path) if path else "") + rule.get("fieldPath", "")
                yield f"{where or '.'}: {rule['message']}"
        if isinstance(value, dict):
            for key, item in value.items():
                child = schema.get("properties", {}).get(key) or schema.get("additionalProperties")
                if isinstance(child, dict):
                    yield from self._cel_errors(child, item, [*path, key])
        elif isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                yield from self._cel_errors(schema["items"], item, [*path, index])

    def evaluate(self, rule: str, self_value: Any) -> bool:
        if rule not in self._programs:
            self._programs[rule] = self._env.program(self._env.compile(rule))
        result = self._programs[rule].evaluate({"self": celpy.json_to_cel(self_value)})
        if not isinstance(result, celpy.celtypes.BoolType):
            raise TypeError(f"CEL rule {rule!r} gave {result!r}, expected a bool")
        return bool(result)


@pytest.fixture(scope="session")
def crd() -> Schema:
    return build_crd()


@pytest.fixture(scope="session")
def openapi(crd: Schema) -> Schema:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.fixture(scope="session")
def apiserver(openapi: Schema) -> ApiServerCheck:
    return ApiServerCheck(openapi)


@pytest.fixture(scope="session")
def check_against() -> type[ApiServerCheck]:
    """The checker class, for schemas other than the whole resource's (one model's, a broken one)."""
    return ApiServerCheck


@pytest.fixture(scope="session")
def example_paths() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.yaml"))


@pytest.fixture
def example() -> Callable[[str], Any]:
    """Loads a fresh copy of one example manifest, ready to be changed by a test."""

    def load(name: str) -> Any:
        return yaml.safe_load((EXAMPLES_DIR / name).read_text(encoding="utf-8"))

    return load
