"""The small JSON path used for predictions: compiled once, clear errors, safe on any document."""

from __future__ import annotations

import pytest

from router.jsonpath import WILDCARD, compile_path, evaluate


def test_paths_compile_into_steps() -> None:
    assert compile_path("outputs[0].data") == ("outputs", 0, "data")
    assert compile_path("$.a.b[*][-1]") == ("a", "b", WILDCARD, -1)
    assert compile_path("predictions") == ("predictions",)


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("$", "empty"), ("a..b", "empty key"), ("a[1", "key[index]"), ("a[x]", "[x]"), ("a[1]b", "key[index]")],
)
def test_bad_paths_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        compile_path(text)


def test_evaluation_follows_keys_indexes_and_wildcards() -> None:
    document = {"a": [{"b": 1}, {"b": 2}, {"c": 3}]}
    assert evaluate(document, compile_path("a[*].b")) == [1, 2]
    assert evaluate(document, compile_path("a[-1].c")) == [3]
    assert evaluate(document, compile_path("a[5].b")) is None
    assert evaluate(document, compile_path("a.b")) is None
    assert evaluate([1, 2], compile_path("a")) is None
