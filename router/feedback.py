"""The prediction log that delayed labels join: request id -> what answered it, for a retention window.

Memory is bounded by generations, not by per-entry bookkeeping. Requests are recorded into the
current generation; it retires (becomes the previous one) when it holds half of `capacity` or is
older than `retention_s`. A label joins a prediction in the current or previous generation: so a
prediction stays joinable for at least `retention_s` unless more than `capacity / 2` requests come
after it, and for at most twice that. The generation retired before the previous one is kept only
to tell a late label (its prediction was forgotten lately) from an unknown id, and the one before
that is freed a few entries per request, so no request pays for freeing a whole generation.
In all, at most `2 * capacity` entries are held.

Recording is one dict store of a few bytes (and freeing two old entries): about 1 us a request,
measured in a full log of the default capacity, against about 3 us for the first log (an ordered
dict trimmed on every request); `bench/router.py` prices it against the router's CPU per request.
Entries are marshalled bytes, not tuples: small, and a dict holding only strings and bytes is
never tracked by the garbage collector, so no collection ever walks the log. Not orjson's bytes:
each of those keeps the allocation orjson wrote into (about 4 KB), so a full log of the default
capacity held 660 MB; marshal's are allocated to size.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from router.compare import Scalar

__all__ = ["FEEDBACK_LIST", "MAX_KEPT_PREDICTIONS", "Feedback", "Found", "PredictionLog", "Recorded"]

MAX_KEPT_PREDICTIONS: Final = 256
# Entries of a dying generation freed per request recorded, and per tick when traffic is idle:
# at two per request a dying generation is gone before the next one retires.
_FREED_PER_RECORD: Final = 2
_FREED_PER_TICK: Final = 10_000

# What became of a label's request id: joined, forgotten lately (late), or not held here.
Found = Literal["matched", "late", "missing"]


class Feedback(BaseModel):
    """The true label for one earlier request, named by its `x-request-id`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    request_id: str = Field(min_length=1, max_length=256)
    label: Any


FEEDBACK_LIST: TypeAdapter[list[Feedback]] = TypeAdapter(list[Feedback])


@dataclass(frozen=True, slots=True)
class Recorded:
    """What answered a request: the serving variant's predictions and, if mirrored, the shadow's."""

    variant: str
    predictions: list[Scalar]
    shadow: list[Scalar] | None = None


class _Generation:
    """Entries recorded between two retirements, marshalled: (variant, *predictions) by request id, and shadows."""

    __slots__ = ("served", "shadowed", "started_s")

    def __init__(self, started_s: float) -> None:
        self.served: dict[str, bytes] = {}
        self.shadowed: dict[str, bytes] = {}
        self.started_s = started_s


class PredictionLog:
    """request id -> what answered it, in bounded memory for a retention window (see the module doc)."""

    __slots__ = ("_current", "_dying", "_expired", "_generation_size", "_now_s", "_previous", "capacity", "retention_s")

    def __init__(self, capacity: int, retention_s: float = 3600.0, now_s: float = 0.0) -> None:
        self._now_s = now_s
        self._current = _Generation(now_s)
        self._previous = _Generation(now_s)
        self._expired = _Generation(now_s)
        self._dying: list[dict[str, bytes]] = []
        self.capacity = capacity
        self.retention_s = retention_s
        self._generation_size = max(1, capacity // 2)

    def __len__(self) -> int:
        """Predictions a label can still join."""
        return len(self._current.served) + len(self._previous.served)

    @property
    def held(self) -> int:
        """Entries in memory, the forgotten ones kept to recognise late labels included."""
        generations = (self._current, self._previous, self._expired)
        return sum(len(g.served) + len(g.shadowed) for g in generations) + sum(len(d) for d in self._dying)

    def record(self, request_id: str, variant: str, predictions: list[Scalar]) -> None:
        if self.capacity == 0 or len(predictions) > MAX_KEPT_PREDICTIONS:
            return
        served = self._current.served
        served[request_id] = marshal.dumps((variant, *predictions))
        if len(served) >= self._generation_size:
            self._retire()
        elif self._dying:
            self._free(_FREED_PER_RECORD)

    def record_shadow(self, request_id: str, predictions: list[Scalar]) -> None:
        if len(predictions) > MAX_KEPT_PREDICTIONS:
            return
        for generation in (self._current, self._previous):
            if request_id in generation.served:
                generation.shadowed[request_id] = marshal.dumps(tuple(predictions))
                return

    def take(self, request_id: str) -> Recorded | None:
        """The entry for `request_id`, removed so the same label is never counted twice."""
        for generation in (self._current, self._previous):
            raw = generation.served.pop(request_id, None)
            if raw is not None:
                entry = marshal.loads(raw)
                shadow = generation.shadowed.pop(request_id, None)
                return Recorded(str(entry[0]), list(entry[1:]), list(marshal.loads(shadow)) if shadow is not None else None)
        return None

    def find(self, request_id: str) -> tuple[Found, Recorded | None]:
        """`take`, and when nothing is held for the id, whether it was forgotten lately (a late label, counted once)."""
        recorded = self.take(request_id)
        if recorded is not None:
            return "matched", recorded
        if self._expired.served.pop(request_id, None) is not None:
            return "late", None
        return "missing", None

    def tick(self, now_s: float) -> None:
        """Time passes: retire the current generation once it is `retention_s` old; free what is dying."""
        self._now_s = now_s
        if now_s - self._current.started_s >= self.retention_s:
            self._retire()
        if self._dying:
            self._free(_FREED_PER_TICK)

    def resize(self, capacity: int, retention_s: float | None = None) -> None:
        """A new bound: a smaller one retires the current generation at once if it is over it."""
        self.capacity = capacity
        if retention_s is not None:
            self.retention_s = retention_s
        self._generation_size = max(1, capacity // 2)
        if capacity == 0:
            for _ in range(3):
                self._retire()
        elif len(self._current.served) >= self._generation_size:
            self._retire()

    def _retire(self) -> None:
        dying = self._expired
        self._dying += [d for d in (dying.served, dying.shadowed) if d]
        self._expired, self._previous, self._current = self._previous, self._current, _Generation(self._now_s)

    def _free(self, count: int) -> None:
        dying = self._dying
        while count > 0 and dying:
            entries = dying[-1]
            # popitem takes the newest entry in O(1); which ones go first does not matter here.
            for _ in range(min(count, len(entries))):
                entries.popitem()
                count -= 1
            if not entries:
                dying.pop()
