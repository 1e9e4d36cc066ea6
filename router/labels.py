"""Judging a delayed label against what a variant predicted (pure).

How predictions become something a label can be right or wrong about is set per rollout
(`predictions.labels` in the router config, read through `Predictions.judging`):

    tolerance  each prediction within `tolerance` of its label (regression); other values equal
    exact      each prediction equal to its label (class names, ids, booleans)
    threshold  each score is class 1 when >= `threshold`, else 0; labels are 0/1 or false/true
    argmax     the predictions are one score vector per label; the class is the vector's largest
               position, named by `classes` when given; labels are a position or a class name

A label is one value or a list, one per instance; nested lists are flattened as predictions are.
A label that cannot be a class under the setting (a string under `threshold`, say) is refused
when it arrives (`truth` raises ValueError) rather than counted wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from router.compare import Scalar, compare, flatten
from router.config import LabelMatch
from router.feedback import Recorded

__all__ = ["judge", "judge_recorded", "truth"]

_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})


def truth(label: Any, match: LabelMatch) -> list[Scalar]:
    """The label as the flat list the setting compares with; ValueError naming the bad value."""
    values = flatten(label)
    if not values:
        raise ValueError("label is empty; expected a value or a list with one per instance")
    if match.match == "threshold":
        return [_binary(value) for value in values]
    if match.match == "argmax":
        return [_position(value, match.classes) for value in values]
    return values


def judge(predictions: Sequence[Scalar], expected: list[Scalar], match: LabelMatch) -> bool:
    """Whether `predictions` got the label right (`expected` as `truth` returns it)."""
    if match.match == "tolerance":
        return compare(list(predictions), expected, match.tolerance if match.tolerance is not None else 1e-6).agreed
    if match.match == "exact":
        return compare(list(predictions), expected, 0.0).agreed
    if match.match == "threshold":
        classes = [_score_class(p, match.threshold) for p in predictions]
        return len(classes) == len(expected) and classes == expected
    return _argmax_classes(predictions, len(expected)) == expected


def judge_recorded(recorded: Recorded, expected: list[Scalar], match: LabelMatch) -> list[tuple[str, bool]]:
    """(variant, correct) for the serving variant and, when mirrored, for the shadow."""
    verdicts = [(recorded.variant, judge(recorded.predictions, expected, match))]
    if recorded.shadow is not None:
        verdicts.append(("shadow", judge(recorded.shadow, expected, match)))
    return verdicts


def _binary(value: Scalar) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return 1 if value.strip().lower() in _TRUE else 0
    raise ValueError(f"label {value!r} is not a class under threshold; expected 0 or 1 (or false/true)")


def _position(value: Scalar, classes: tuple[str, ...] | None) -> int:
    if isinstance(value, str) and classes is not None and value in classes:
        return classes.index(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0 and (classes is None or value < len(classes)):
        return value
    named = f"one of {list(classes)} or a position below {len(classes)}" if classes is not None else "a position (0, 1, ...)"
    raise ValueError(f"label {value!r} is not a class under argmax; expected {named}")


def _score_class(value: Scalar, threshold: float) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return 1 if value >= threshold else 0
    return None  # a non-numeric prediction has no class: never right


def _argmax_classes(predictions: Sequence[Scalar], count: int) -> list[Scalar] | None:
    """One class per label: the position of the largest score in each of `count` equal groups."""
    if count == 0 or not predictions or len(predictions) % count:
        return None
    width = len(predictions) // count
    classes: list[Scalar] = []
    for start in range(0, len(predictions), width):
        group = predictions[start : start + width]
        if not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in group):
            return None
        scores = [float(p) for p in group]  # type: ignore[arg-type]  # all numbers, checked above
        classes.append(scores.index(max(scores)))
    return classes
