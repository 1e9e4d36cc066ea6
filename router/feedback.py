"""Accuracy from delayed labels: remember recent predictions by request id, join labels to them.

The log is bounded (oldest forgotten first) and an entry is removed once its label arrives,
so each prediction is judged at most once. Responses with more than `MAX_KEPT_PREDICTIONS`
predictions are not kept: a label for them comes back as unmatched.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from router.compare import Scalar, compare, flatten

__all__ = ["FEEDBACK_LIST", "MAX_KEPT_PREDICTIONS", "Feedback", "PredictionLog", "Recorded", "judge_label"]

MAX_KEPT_PREDICTIONS: Final = 256


class Feedback(BaseModel):
    """The true label for one earlier request, named by its `x-request-id`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    request_id: str = Field(min_length=1, max_length=256)
    label: Any


FEEDBACK_LIST: TypeAdapter[list[Feedback]] = TypeAdapter(list[Feedback])


@dataclass(slots=True)
class Recorded:
    """What answered a request: the serving variant's predictions and, if mirrored, the shadow's."""

    variant: str
    predictions: list[Scalar]
    shadow: list[Scalar] | None = None


class PredictionLog:
    """request id -> what answered it, holding at most `capacity` requests (oldest forgotten first).

    Entries are tuples of scalars, which the garbage collector stops tracking, so a full log
    does not lengthen collection pauses on the hot path.
    """

    __slots__ = ("_served", "_shadowed", "capacity")

    def __init__(self, capacity: int) -> None:
        # OrderedDict pops its oldest entry in O(1); a plain dict slows down as it churns.
        self._served: OrderedDict[str, tuple[str, tuple[Scalar, ...]]] = OrderedDict()
        self._shadowed: OrderedDict[str, tuple[Scalar, ...]] = OrderedDict()
        self.capacity = capacity

    def __len__(self) -> int:
        return len(self._served)

    def record(self, request_id: str, variant: str, predictions: list[Scalar]) -> None:
        if self.capacity == 0 or len(predictions) > MAX_KEPT_PREDICTIONS:
            return
        served = self._served
        served.pop(request_id, None)
        served[request_id] = (variant, tuple(predictions))
        self._evict()

    def record_shadow(self, request_id: str, predictions: list[Scalar]) -> None:
        if request_id in self._served and len(predictions) <= MAX_KEPT_PREDICTIONS:
            self._shadowed[request_id] = tuple(predictions)
            self._evict()

    def take(self, request_id: str) -> Recorded | None:
        """The entry for `request_id`, removed so the same label is never counted twice."""
        entry = self._served.pop(request_id, None)
        shadow = self._shadowed.pop(request_id, None)
        if entry is None:
            return None
        return Recorded(entry[0], list(entry[1]), list(shadow) if shadow is not None else None)

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self._evict()

    def _evict(self) -> None:
        for entries in (self._served, self._shadowed):
            while len(entries) > self.capacity:
                entries.popitem(last=False)


def judge_label(recorded: Recorded, label: Any, tolerance: float) -> list[tuple[str, bool]]:
    """(variant, correct) for the serving variant and, when mirrored, for the shadow."""
    truth = flatten(label)
    verdicts = [(recorded.variant, compare(recorded.predictions, truth, tolerance).agreed)]
    if recorded.shadow is not None:
        verdicts.append(("shadow", compare(recorded.shadow, truth, tolerance).agreed))
    return verdicts
