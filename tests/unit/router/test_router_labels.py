"""Labels judging predictions: within a tolerance, exactly, by a threshold on a score, or by argmax."""

from __future__ import annotations

from typing import Any

import pytest

from router.compare import flatten
from router.config import LabelMatch
from router.feedback import Recorded
from router.labels import judge, judge_recorded, truth


def right(predictions: list[Any], label: Any, **match: Any) -> bool:
    """As the router judges: the answer's predictions flattened, as the extractor keeps them."""
    setting = LabelMatch(**match)
    return judge(flatten(predictions), truth(label, setting), setting)


def test_a_score_above_the_threshold_is_class_one() -> None:
    assert right([0.87], 1, match="threshold")
    assert right([0.87], True, match="threshold")
    assert not right([0.87], 0, match="threshold")
    assert right([0.2, 0.7], [0, 1], match="threshold", threshold=0.6)
    assert not right([0.2, 0.5], [0, 1], match="threshold", threshold=0.6)


def test_argmax_picks_the_largest_position_per_instance() -> None:
    assert right([[0.1, 0.7, 0.2]], 1, match="argmax")
    assert right([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]], [1, 0], match="argmax")
    assert right([[0.1, 0.7, 0.2]], "dog", match="argmax", classes=("cat", "dog", "bird"))
    assert not right([[0.1, 0.7, 0.2]], "cat", match="argmax", classes=("cat", "dog", "bird"))
    assert not right([0.1, 0.7, 0.2], [1, 0], match="argmax")  # three scores cannot split into two vectors


def test_exact_needs_equal_values_and_tolerance_allows_a_regression_error() -> None:
    assert right(["cat"], "cat", match="exact")
    assert not right([1.0000001], 1.0, match="exact")
    assert right([10.4], 10.0, match="tolerance", tolerance=0.5)
    assert not right([10.6], 10.0, match="tolerance", tolerance=0.5)
    assert not right([0.5, 1.0], 0.5)  # one label for two predictions: never right


@pytest.mark.parametrize(
    ("label", "match", "words"),
    [("cat", {"match": "threshold"}, "not a class under threshold"), (0.3, {"match": "threshold"}, "expected 0 or 1"),
     ("owl", {"match": "argmax", "classes": ("cat", "dog")}, "one of ['cat', 'dog']"), (-1, {"match": "argmax"}, "position"),
     ([], {}, "empty")],
)  # fmt: skip
def test_a_label_that_cannot_be_a_class_is_refused_naming_it(label: Any, match: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError) as caught:
        truth(label, LabelMatch(**match))
    assert words in str(caught.value)


def test_the_shadow_is_judged_against_the_same_label() -> None:
    setting = LabelMatch(match="threshold")
    recorded = Recorded("stable", [0.9], [0.2])
    assert judge_recorded(recorded, truth(1, setting), setting) == [("stable", True), ("shadow", False)]
