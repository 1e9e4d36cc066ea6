"""Shared building blocks for the API models: camelCase wire names, strict fields, durations."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

__all__ = [
    "ApiModel",
    "Duration",
    "FieldIssue",
    "HttpAddress",
    "HTTP_URL_PATTERN",
    "Percent",
    "parse_duration",
    "format_duration",
]


class ApiModel(BaseModel):
    """Base of every resource model: camelCase on the wire, unknown fields rejected, frozen.

    NaN and infinities are refused: JSON, and so the API server, cannot carry them.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict Kubernetes stores: camelCase keys, unset optionals left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class FieldIssue(ValueError):
    """A model validator's finding about one field below the model, `at` its wire path from there.

    pydantic places a model validator's error on the model itself; `describe_errors` appends
    `at`, so the message names the field that is wrong (`.spec.service.ports[1]`), as the CRD's
    CEL rule with the same `fieldPath` does.
    """

    def __init__(self, message: str, at: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.at = at


# ASCII digits only ([0-9], not \d, which also matches other scripts' digits) and the whole text,
# so the parser accepts exactly what the CRD's pattern does: the API server matches it with RE2.
_DURATION = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m(?!s))?(?:([0-9]+)s)?(?:([0-9]+)ms)?")
DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"


def parse_duration(value: object) -> float:
    """Seconds from a Kubernetes-style duration: "90s", "5m", "1h30m", "250ms".

    Only text: the CRD types a duration as a string, so a bare number (`60`) is refused here
    as the API server refuses it, and the unit is never guessed.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        hint = "30s" if not 0 <= value < 10**9 else f"{value:.0f}s" if value == int(value) else format_duration(value)
        raise ValueError(f"{value!r} is a number, not a duration; write it with a unit, e.g. {hint}")
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a duration; expected e.g. 30s, 5m, 1h")
    match = _DURATION.fullmatch(value)
    if not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration; expected e.g. 30s, 5m, 1h30m, 500ms")
    hours, minutes, seconds, millis = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def format_duration(seconds: float) -> str:
    """The shortest duration string that parses back to `seconds` (to the millisecond)."""
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    whole = millis // 1000
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


# Stored as the string the user wrote in canonical form, used as float seconds in Python.
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "pattern": DURATION_PATTERN, "description": "Duration such as 30s, 5m, 1h30m or 500ms."}
    ),
]

Percent = Annotated[int, Field(ge=0, le=100)]


# An http(s) URL as the providers call it: a DNS name, IPv4 or bracketed IPv6 host, an optional
# port up to 65535, then any printable ASCII. One pattern for the model and the CRD, so
# `modelrollout validate` and the API server accept the same addresses (pydantic's HttpUrl
# refuses some that the CRD's `format: uri` lets through, e.g. `prometheus:9090`).
_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?"
_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HTTP_URL_PATTERN = rf"^https?://({_LABEL}(\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(:{_PORT})?([/?#][!-~]*)?$"
_HTTP_URL = re.compile(HTTP_URL_PATTERN)


def _http_url(value: object) -> object:
    if isinstance(value, str) and not _HTTP_URL.fullmatch(value):
        raise ValueError(f"{value!r} is not an http(s) URL such as http://prometheus.monitoring:9090")
    return value


HttpAddress = Annotated[
    str,
    Field(max_length=2083),
    AfterValidator(_http_url),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 2083,
            "pattern": HTTP_URL_PATTERN,
            "description": "An http or https URL, e.g. http://prometheus.monitoring:9090.",
        }
    ),
]
