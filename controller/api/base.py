"""Shared building blocks for the API models: camelCase wire names, strict fields, durations."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

__all__ = ["ApiModel", "Duration", "Percent", "parse_duration", "format_duration"]


class ApiModel(BaseModel):
    """Base of every resource model: camelCase on the wire, unknown fields rejected, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict Kubernetes stores: camelCase keys, unset optionals left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"


def parse_duration(value: object) -> float:
    """Seconds from a Kubernetes-style duration ("90s", "5m", "1h30m", "250ms") or a number."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; expected e.g. 30s, 5m, 1h")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value!r} is negative; a duration must be >= 0")
        return float(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a duration; expected e.g. 30s, 5m, 1h")
    match = _DURATION.match(value.strip())
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
