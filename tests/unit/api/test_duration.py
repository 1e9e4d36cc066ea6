"""Durations: the model's parser, its formatter, and the CRD's pattern agree."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from controller.api.base import DURATION_PATTERN, Duration, format_duration, parse_duration

ADAPTER: TypeAdapter[float] = TypeAdapter(Duration)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("1m30s500ms", 90.5), ("0s", 0), ("2h", 7200)],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad", ["", "5", "5 minutes", "1d", "30s5m", "-5s", "m", " 5m", "5m\n", "\uff15m", True, None, -1, 60, 1.5]
)
def test_parse_refuses_with_the_value_named(bad: object) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        parse_duration(bad)


@pytest.mark.parametrize(("number", "hint"), [(60, "60s"), (1.5, "1500ms"), (-1, "30s")])
def test_a_bare_number_is_refused_with_a_unit_suggested(number: float, hint: str) -> None:
    # The CRD types durations as strings: the API server refuses 60, so the model does too.
    with pytest.raises(ValueError, match=f"is a number, not a duration; write it with a unit, e.g. {hint}$"):
        parse_duration(number)


@pytest.mark.parametrize(
    ("seconds", "text"), [(30, "30s"), (300, "5m"), (5400, "1h30m"), (0.25, "250ms"), (0, "0s"), (3661, "1h1m1s")]
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_format_then_parse_round_trips_to_the_millisecond(millis: int) -> None:
    assert parse_duration(format_duration(millis / 1000)) == pytest.approx(millis / 1000, abs=1e-9)


@given(st.text(alphabet="0123456789hms \n\uff15\u0663", max_size=10))
def test_crd_pattern_accepts_what_the_parser_accepts(text: str) -> None:
    # Spaces, a trailing newline and digits of other scripts: RE2 on the API server refuses them all.
    try:
        parse_duration(text)
        parsed = True
    except ValueError:
        parsed = False
    assert bool(text and re.fullmatch(DURATION_PATTERN, text)) == parsed  # fullmatch: anchored as RE2 is


def test_model_field_reads_text_and_writes_canonical_text() -> None:
    assert ADAPTER.validate_python("90s") == 90
    assert ADAPTER.dump_python(90.0, mode="json") == "1m30s"
    with pytest.raises(ValidationError, match="is not a duration"):
        ADAPTER.validate_python("soon")
